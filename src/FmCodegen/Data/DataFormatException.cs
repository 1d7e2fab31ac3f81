using System.Text;

namespace FmCodegen.Data;

/// <summary>
/// A data file holds something that is not valid data. The message names the file, the line and the column
/// (1-based, in bytes) and shows the offending line with a caret under the column.
/// </summary>
public sealed class DataFormatException : FormatException
{
    private const int MaxShownBytes = 240;

    public DataFormatException()
        : this("(unknown)", 0, 0, string.Empty, "invalid data")
    {
    }

    public DataFormatException(string message)
        : base(message)
    {
        SourceName = "(unknown)";
        LineText = string.Empty;
        Reason = message;
    }

    public DataFormatException(string message, Exception innerException)
        : base(message, innerException)
    {
        SourceName = "(unknown)";
        LineText = string.Empty;
        Reason = message;
    }

    public DataFormatException(string sourceName, long lineNumber, int column, string lineText, string reason)
        : base(Format(sourceName, lineNumber, column, lineText, reason))
    {
        SourceName = sourceName;
        LineNumber = lineNumber;
        Column = column;
        LineText = lineText;
        Reason = reason;
    }

    /// <summary>The file (or stream name) being read.</summary>
    public string SourceName { get; }

    /// <summary>The 1-based line number.</summary>
    public long LineNumber { get; }

    /// <summary>The 1-based byte column where the problem starts.</summary>
    public int Column { get; }

    /// <summary>The offending line (without its line end), cut after a few hundred bytes.</summary>
    public string LineText { get; }

    /// <summary>What is wrong, without the location.</summary>
    public string Reason { get; }

    internal static DataFormatException At(string source, long lineNumber, ReadOnlySpan<byte> line, int position, string reason)
    {
        int shown = Math.Min(line.Length, Math.Max(MaxShownBytes, position + 40));
        string text = Encoding.UTF8.GetString(line[..shown]);
        if (shown < line.Length)
        {
            text += " ...";
        }

        return new DataFormatException(source, lineNumber, position + 1, text, reason);
    }

    /// <summary>The token that starts at <paramref name="position"/>, for messages: up to the next space, tab or line end.</summary>
    internal static string TokenAt(ReadOnlySpan<byte> line, int position)
    {
        int end = position;
        while (end < line.Length && line[end] != (byte)' ' && line[end] != (byte)'\t' && end - position < 60)
        {
            end++;
        }

        return Encoding.UTF8.GetString(line[position..end]);
    }

    private static string Format(string source, long lineNumber, int column, string lineText, string reason)
    {
        var sb = new StringBuilder();
        sb.Append(source).Append(':').Append(lineNumber).Append(':').Append(column).Append(": ").Append(reason);
        if (lineText.Length > 0 || column > 0)
        {
            sb.Append(Environment.NewLine).Append("    ").Append(lineText).Append(Environment.NewLine).Append("    ");
            // keep tabs so the caret lines up under the column
            for (int i = 0; i < column - 1 && i < lineText.Length; i++)
            {
                sb.Append(lineText[i] == '\t' ? '\t' : ' ');
            }

            sb.Append('^');
        }

        return sb.ToString();
    }
}
