using System.CommandLine;
using System.Security;
using FmCodegen.Data;
using FmCodegen.IO;

namespace FmCodegen.Cli;

/// <summary>
/// Runs a verb's body with the tool's error policy: user mistakes (<see cref="CliUserException"/>, bad data or model
/// files, missing files, I/O failures) print "fm VERB: error: message" on stderr and exit 1, without a stack trace;
/// anything else is a bug: it prints the full exception and exits 70. Verbs write their output files atomically
/// (<see cref="AtomicFile"/>), so a failure leaves no partial file.
/// </summary>
public static class CliRunner
{
    /// <summary>The exit code of a user mistake (also what System.CommandLine returns for a parse error).</summary>
    public const int UserErrorExitCode = 1;

    /// <summary>The exit code of an internal error (EX_SOFTWARE).</summary>
    public const int InternalErrorExitCode = 70;

    /// <summary>Sets <paramref name="command"/>'s action to <paramref name="body"/> wrapped in the error policy.</summary>
    public static void SetAction(Command command, Func<ParseResult, CliContext, int> body)
    {
        ArgumentNullException.ThrowIfNull(command);
        ArgumentNullException.ThrowIfNull(body);
        string verb = command.Name;
        command.SetAction(parseResult => Run(verb, parseResult, body));
    }

    private static int Run(string verb, ParseResult parseResult, Func<ParseResult, CliContext, int> body)
    {
        var context = new CliContext(parseResult.InvocationConfiguration.Output, parseResult.InvocationConfiguration.Error);
        try
        {
            return body(parseResult, context);
        }
        catch (Exception e) when (IsUserError(e))
        {
            context.Error.WriteLine($"fm {verb}: error: {UserMessage(e)}");
            return UserErrorExitCode;
        }
        catch (OutOfMemoryException)
        {
            // a safety net: sizes are checked before the large allocations, so this is an allocation none of the
            // checks foresaw; still the user's situation, not a crash
            context.Error.WriteLine($"fm {verb}: error: out of memory (this process may use {Data.MemoryBudget.Size(GC.GetGCMemoryInfo().TotalAvailableMemoryBytes)}); the input needs more: use a machine (or container) with more memory or a smaller input.");
            return UserErrorExitCode;
        }
        catch (Exception e)
        {
            context.Error.WriteLine($"fm {verb}: internal error (please report it): {e}");
            return InternalErrorExitCode;
        }
    }

    /// <summary>True for the exceptions that mean the user's input is wrong rather than the tool: bad options, data,
    /// model files, files that cannot be read or written, and sizes the process has no memory for (refused by a
    /// check before the allocation, never a real <see cref="OutOfMemoryException"/>).</summary>
    public static bool IsUserError(Exception e) => e is CliUserException or DataFormatException or ModelFileException
        or FileNotFoundException or DirectoryNotFoundException or UnauthorizedAccessException or SecurityException
        or PathTooLongException or InvalidDataException or IOException or InsufficientMemoryException;

    /// <summary>The message shown for a user error: without the " (Parameter 'x')" the runtime appends to argument
    /// errors (the user gave a flag, not a parameter).</summary>
    public static string UserMessage(Exception e)
    {
        ArgumentNullException.ThrowIfNull(e);
        Exception shown = e is CliUserException { InnerException: ArgumentException inner } && e.Message == inner.Message ? inner : e;
        string message = shown.Message;
        if (shown is ArgumentException { ParamName: { } name })
        {
            message = message.Replace($" (Parameter '{name}')", string.Empty, StringComparison.Ordinal);
        }

        return message;
    }
}

/// <summary>Where a verb writes: the invocation's stdout and stderr (tests pass their own).</summary>
public sealed record CliContext(TextWriter Output, TextWriter Error);
