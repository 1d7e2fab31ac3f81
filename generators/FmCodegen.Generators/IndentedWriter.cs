using System.Text;

namespace FmCodegen.Generators;

/// <summary>Builds source text line by line with four-space indentation.</summary>
internal sealed class IndentedWriter
{
    private readonly StringBuilder _builder = new();
    private int _depth;

    public IndentedWriter Line(string text = "")
    {
        if (text.Length > 0)
        {
            _builder.Append(' ', _depth * 4);
        }

        _builder.Append(text).Append('\n');
        return this;
    }

    /// <summary>Writes several lines at the current depth (each line of a raw string keeps its own extra indent).</summary>
    public IndentedWriter Lines(string text)
    {
        foreach (string line in text.Replace("\r\n", "\n").Split('\n'))
        {
            Line(line.TrimEnd());
        }

        return this;
    }

    public IndentedWriter Indent(int levels)
    {
        _depth += levels;
        return this;
    }

    public IndentedWriter Open(string text)
    {
        if (text.Length > 0)
        {
            Line(text);
        }

        Line("{");
        _depth++;
        return this;
    }

    public IndentedWriter Close(string suffix = "")
    {
        _depth--;
        Line("}" + suffix);
        return this;
    }

    public override string ToString() => _builder.ToString();
}
