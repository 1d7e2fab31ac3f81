namespace FmCodegen.IO;

/// <summary>A model file is damaged, truncated or not in the expected format. The message names the file
/// (and the line, for text formats) and says what is wrong.</summary>
public sealed class ModelFileException : IOException
{
    public ModelFileException()
    {
    }

    public ModelFileException(string message)
        : base(message)
    {
    }

    public ModelFileException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
