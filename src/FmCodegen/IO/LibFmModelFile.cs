using FmCodegen.Data;
using static FmCodegen.IO.TextModelParts;

namespace FmCodegen.IO;

/// <summary>
/// libFM's text model (<c>-save_model</c>): optional <c>#global bias W0</c> section (one number), optional
/// <c>#unary interactions Wj</c> section (one number per feature), then <c>#pairwise interactions Vj,f</c> (one line of
/// k numbers per feature). Sections are recognised by their header text, so files written with <c>-dim '0,...'</c>
/// or <c>'.,0,.'</c> load (the missing part is zero), and k = 1 loads (libFM itself cannot read that back).
/// A file whose last line has no line end, whose sections disagree on the feature count, or whose factor lines
/// differ in length is refused as truncated or damaged.
/// </summary>
internal static class LibFmModelFile
{
    private const string BiasHeader = "#global bias W0";
    private const string UnaryHeader = "#unary interactions Wj";
    private const string PairwiseHeader = "#pairwise interactions Vj,f";

    /// <summary>Loads a libFM model file (gzip detected).</summary>
    public static ModelFile Load(string path)
    {
        using Stream stream = TextModelParts.OpenModel(path);
        return Read(stream, path);
    }

    /// <summary>Reads a libFM model from a stream.</summary>
    /// <exception cref="ModelFileException">The text is not a complete libFM model, or its gzip stream is damaged.</exception>
    public static ModelFile Read(Stream stream, string sourceName)
    {
        try
        {
            return ReadModel(stream, sourceName);
        }
        catch (InvalidDataException e)
        {
            throw new ModelFileException(e.Message, e);
        }
        catch (DataFormatException e)
        {
            throw new ModelFileException(e.Message, e);
        }
    }

    private static ModelFile ReadModel(Stream stream, string sourceName)
    {
        using var lines = new ByteLineReader(stream, leaveOpen: true, bufferSize: 1 << 16, sourceName: sourceName);
        var weights = new FloatList();
        var factors = new FloatList();
        float bias = 0;
        bool hasBias = false, hasUnary = false, hasPairwise = false;
        int k = -1;
        int pairwiseRows = 0;
        var scratch = new FloatList();
        char section = ' ';
        long sectionLine = 0;

        while (lines.TryReadLine(out ReadOnlySpan<byte> line))
        {
            long lineNumber = lines.LineNumber;
            ReadOnlySpan<byte> trimmed = line.TrimEnd(" \t"u8);
            if (trimmed.Length > 0 && trimmed[0] == (byte)'#')
            {
                string header = System.Text.Encoding.UTF8.GetString(trimmed);
                char next = header.StartsWith("#global bias", StringComparison.Ordinal) ? 'b'
                    : header.StartsWith("#unary interactions", StringComparison.Ordinal) ? 'u'
                    : header.StartsWith("#pairwise interactions", StringComparison.Ordinal) ? 'p'
                    : '?';
                if (next == '?')
                {
                    throw Error(sourceName, lineNumber, line, 0, $"unknown section header (a libFM model has '{BiasHeader}', '{UnaryHeader}' and '{PairwiseHeader}')");
                }

                bool misplaced = (next == 'b' && section != ' ') || (next == 'u' && section is 'u' or 'p') || (next == 'p' && section == 'p');
                if (misplaced)
                {
                    throw Error(sourceName, lineNumber, line, 0, "section out of order or repeated (libFM writes bias, unary, pairwise)");
                }

                if (section == 'b' && !hasBias)
                {
                    throw Error(sourceName, lineNumber, $"the '{BiasHeader}' section has no value");
                }

                section = next;
                sectionLine = lineNumber;
                hasUnary |= next == 'u';
                hasPairwise |= next == 'p';
                continue;
            }

            switch (section)
            {
                case ' ':
                    throw Error(sourceName, lineNumber, line, 0, $"not a libFM model: it must start with a section header such as '{BiasHeader}' or '{PairwiseHeader}'");
                case 'b':
                    if (hasBias)
                    {
                        throw Error(sourceName, lineNumber, line, 0, "the bias section holds more than one number");
                    }

                    scratch.Clear();
                    if (ParseNumbers(line, 0, scratch, sourceName, lineNumber) != 1)
                    {
                        throw Error(sourceName, lineNumber, line, 0, "the bias section must hold exactly one number");
                    }

                    bias = scratch.Items[0];
                    hasBias = true;
                    break;
                case 'u':
                    if (ParseNumbers(line, 0, weights, sourceName, lineNumber) != 1)
                    {
                        throw Error(sourceName, lineNumber, line, 0, "a line of the unary section must hold exactly one number (the weight of one feature)");
                    }

                    break;
                default:
                    int count = ParseNumbers(line, 0, factors, sourceName, lineNumber);
                    if (count == 0 && k > 0)
                    {
                        // a blank line someone added: libFM never writes one when k > 0
                        continue;
                    }

                    if (k < 0)
                    {
                        k = count;
                    }
                    else if (count != k)
                    {
                        throw Error(sourceName, lineNumber, line, 0,
                            $"feature {pairwiseRows} has {count} factors, but the first feature has {k} (a truncated or damaged file?)");
                    }

                    pairwiseRows++;
                    break;
            }
        }

        if (!lines.LastLineTerminated)
        {
            throw Error(sourceName, lines.LineNumber, "the file ends inside a line (truncated?): libFM ends every line with a line end");
        }

        if (!hasPairwise)
        {
            throw new ModelFileException(lines.LineNumber == 0
                ? $"{sourceName}: the file is empty; it is not a libFM model"
                : $"{sourceName}: the '{PairwiseHeader}' section is missing (a truncated file, or not a libFM model)");
        }

        if (section == 'b' && !hasBias)
        {
            throw Error(sourceName, sectionLine, $"the '{BiasHeader}' section has no value");
        }

        if (hasUnary && weights.Count != pairwiseRows)
        {
            throw new ModelFileException(
                $"{sourceName}: the unary section has {weights.Count:N0} features but the pairwise section has {pairwiseRows:N0} (a truncated or damaged file?)");
        }

        // -dim '.,.,0': every factor line is empty; keep the linear model with k = 1 zero factors
        int storedK = Math.Max(k, 1);
        FmModel model = Build(bias, hasUnary ? weights.Items : default, k > 0 ? factors.Items : default, pairwiseRows, storedK, sourceName);
        return new ModelFile(model, null, hasBias, hasUnary) { Format = ModelFormat.LibFm };
    }

    /// <summary>Saves a model as libFM text, atomically. Sections the file says are absent are not written.
    /// Numbers are written in the shortest form that reads back exactly (libFM itself writes 6 digits).</summary>
    public static void Save(ModelFile file, string path) => AtomicFile.Write(path, stream => Write(file, stream));

    /// <summary>Writes a model as libFM text.</summary>
    public static void Write(ModelFile file, Stream stream)
    {
        ArgumentNullException.ThrowIfNull(file);
        ArgumentNullException.ThrowIfNull(stream);
        FmModel model = file.Model;
        if (model.Order != 2)
        {
            throw new ArgumentException("libFM's model text holds order-2 models (pairs) only; this model has order 3 (save it in the native format).", nameof(file));
        }

        var output = new Utf8Output(stream);
        if (file.HasBias)
        {
            output.Text(BiasHeader + "\n");
            output.Float(model.Bias);
            output.Byte((byte)'\n');
        }

        if (file.HasLinear)
        {
            output.Text(UnaryHeader + "\n");
            for (int i = 0; i < model.NumFeatures; i++)
            {
                output.Float(model.Weight(i));
                output.Byte((byte)'\n');
            }
        }

        output.Text(PairwiseHeader + "\n");
        for (int i = 0; i < model.NumFeatures; i++)
        {
            ReadOnlySpan<float> row = model.FactorRow(i);
            for (int f = 0; f < row.Length; f++)
            {
                if (f > 0)
                {
                    output.Byte((byte)' ');
                }

                output.Float(row[f]);
            }

            output.Byte((byte)'\n');
        }

        output.Flush();
    }
}
