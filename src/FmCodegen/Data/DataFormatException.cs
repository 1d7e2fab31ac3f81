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

    /// <summary>A problem found at a line but at no column (column 0), e.g. a gzip stream damaged there.</summary>
    public DataFormatException(string sourceName, long lineNumber, int column, string lineText, string reason, Exception innerException)
        : base(Format(sourceName, lineNumber, column, lineText, reason), innerException)
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

    /// <summary>The 1-based byte column where the problem starts; 0 when the problem has no column.</summary>
    public int Column { get; }

    /// <summary>The offending line (without its line end), cut after a few hundred bytes.</summary>
    public string LineText { get; }

    /// <summary>What is wrong, without the location.</summary>
    public string Reason { get; }

    internal static DataFormatException At(string source, long lineNumber, ReadOnlySpan<byte> line, int position, string reason)
    {
        int shown = Math.Min(line.Length, Math.Max(MaxShownBytes, position + 40));
        string text = Visible(Encoding.UTF8.GetString(line[..shown]));
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

        return Visible(Encoding.UTF8.GetString(line[position..end]));
    }

    /// <summary>Control characters (NUL, CR, ...) as their visible symbols (U+2400 ..), a stray byte order mark as
    /// [BOM]: a message must not hide the character it complains about. Tabs stay, so carets line up.</summary>
    internal static string Visible(string text)
    {
        if (!text.AsSpan().ContainsAnyInRange('\0', '\u0008') && !text.AsSpan().ContainsAnyInRange('\u000A', '\u001F')
            && !text.Contains('\u007F', StringComparison.Ordinal) && !text.Contains('\uFEFF', StringComparison.Ordinal))
        {
            return text;
        }

        var sb = new StringBuilder(text.Length + 8);
        foreach (char c in text)
        {
            sb.Append(c switch
            {
                '\t' => "\t",
                < ' ' => ((char)(0x2400 + c)).ToString(),
                '\u007F' => "\u2421",
                '\uFEFF' => "[BOM]",
                _ => c.ToString(),
            });
        }

        return sb.ToString();
    }

    private static string Format(string source, long lineNumber, int column, string lineText, string reason)
    {
        var sb = new StringBuilder();
        sb.Append(source).Append(':').Append(lineNumber);
        if (column > 0)
        {
            sb.Append(':').Append(column);
        }

        sb.Append(": ").Append(reason);
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
