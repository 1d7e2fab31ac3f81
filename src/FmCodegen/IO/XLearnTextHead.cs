using FmCodegen.Data;
using static FmCodegen.IO.TextModelParts;

namespace FmCodegen.IO;

/// <summary>
/// What xLearn's FM and FFM text models share: a <c>bias: b</c> line first, then <c>i_j: w_j</c> for every feature
/// in order, then the factor lines (<c>v_j:</c> for FM, <c>v_j_f:</c> for FFM, read by each format), every line
/// ended. Reads the first two sections and checks the end of the file; writes the first two sections.
/// </summary>
internal sealed class XLearnTextHead(string sourceName)
{
    private readonly FloatList _one = new();

    /// <summary>The linear weights read so far, feature by feature.</summary>
    public FloatList Weights { get; } = new() { Source = sourceName };

    public float Bias { get; private set; }

    public bool HasBias { get; private set; }

    /// <summary>Reads the line when it is the bias or a weight line (true); any other line is the caller's (false).
    /// <paramref name="factorsSeen"/>: a factor line came before, so a weight line is out of place.</summary>
    public bool TryRead(ReadOnlySpan<byte> line, long lineNumber, bool factorsSeen)
    {
        if (line.StartsWith("bias:"u8))
        {
            if (HasBias || Weights.Count > 0 || factorsSeen)
            {
                throw Error(sourceName, lineNumber, line, 0, "a second 'bias:' line, or one after the weights");
            }

            if (ParseNumbers(line, 5, _one, sourceName, lineNumber) != 1)
            {
                throw Error(sourceName, lineNumber, line, 5, "'bias:' must be followed by exactly one number");
            }

            Bias = _one.Items[0];
            HasBias = true;
            return true;
        }

        if (!line.StartsWith("i_"u8))
        {
            return false;
        }

        RequireBias(line, lineNumber);
        int end = NumberText.ParseIndex(line, 2, out int feature);
        if (end < 0 || end >= line.Length || line[end] != (byte)':')
        {
            throw Error(sourceName, lineNumber, line, 2, "expected a feature number and ':' after 'i_'");
        }

        if (factorsSeen)
        {
            throw Error(sourceName, lineNumber, line, 0, "an 'i_' line after the 'v_' lines");
        }

        if (feature != Weights.Count)
        {
            throw Error(sourceName, lineNumber, line, 2, $"expected i_{Weights.Count}, found i_{feature} (features must come in order 0, 1, 2, ...)");
        }

        if (ParseNumbers(line, end + 1, Weights, sourceName, lineNumber) != 1)
        {
            throw Error(sourceName, lineNumber, line, end + 1, "an 'i_' line must hold exactly one number");
        }

        return true;
    }

    /// <summary>Refuses a weight or factor line before the bias line.</summary>
    public void RequireBias(ReadOnlySpan<byte> line, long lineNumber)
    {
        if (!HasBias)
        {
            throw Error(sourceName, lineNumber, line, 0, "the 'bias:' line must come first");
        }
    }

    /// <summary>After the last line: it was ended (xLearn ends every line), and there was a bias line.</summary>
    public void CheckEnd(ByteLineReader lines)
    {
        if (!lines.LastLineTerminated)
        {
            throw Error(sourceName, lines.LineNumber, "the file ends inside a line (truncated?): xLearn ends every line with a line end");
        }

        if (!HasBias)
        {
            throw new ModelFileException($"{sourceName}: no 'bias:' line; this is not an xLearn model");
        }
    }

    /// <summary>Writes the bias line and one weight line per feature.</summary>
    public static void Write(Utf8Output output, float bias, int numFeatures, Func<int, float> weight)
    {
        output.Text("bias: ");
        output.Float(bias);
        output.Byte((byte)'\n');
        for (int j = 0; j < numFeatures; j++)
        {
            output.Text("i_");
            output.Int(j);
            output.Text(": ");
            output.Float(weight(j));
            output.Byte((byte)'\n');
        }
    }
}
