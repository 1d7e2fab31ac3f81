namespace FmCodegen.Cli;

/// <summary>
/// A mistake of the user (a bad option value, a missing file, bad data): <see cref="CliRunner"/> prints its message
/// on stderr, without a stack trace, and the process exits with <see cref="CliRunner.UserErrorExitCode"/>.
/// </summary>
public sealed class CliUserException : Exception
{
    public CliUserException()
    {
    }

    public CliUserException(string message)
        : base(message)
    {
    }

    public CliUserException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
