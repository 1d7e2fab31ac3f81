using FmCodegen.Data;
using static FmCodegen.IO.TextModelParts;

namespace FmCodegen.IO;

/// <summary>
/// xLearn's FM text model (<c>xlearn_train -t FILE</c>): <c>bias: b</c>, then <c>i_j: w_j</c> for every feature, then
/// <c>v_j: v_j,0 ... v_j,k-1</c> for every feature. The file does not record whether xLearn's instance
/// normalisation was on (its default); scoring with it is the caller's choice (<see cref="ModelFile.InstanceNormalization"/>).
/// FFM files (<c>v_j_f:</c>) are refused, and so is a file without <c>v_</c> lines (cut before its factors, or a
/// linear model): the sections must agree on the features and every <c>v_</c> line on k.
/// </summary>
internal static class XLearnModelFile
{
    /// <summary>Loads an xLearn FM text model (gzip detected).</summary>
    public static ModelFile Load(string path, bool instanceNormalization = false)
    {
        using Stream stream = TextModelParts.OpenModel(path);
        return Read(stream, path, instanceNormalization);
    }

    /// <summary>Reads an xLearn FM text model from a stream.</summary>
    /// <exception cref="ModelFileException">The text is not a complete xLearn FM model.</exception>
    public static ModelFile Read(Stream stream, string sourceName, bool instanceNormalization = false)
    {
        try
        {
            return ReadModel(stream, sourceName, instanceNormalization);
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

    private static ModelFile ReadModel(Stream stream, string sourceName, bool instanceNormalization)
    {
        using var lines = new ByteLineReader(stream, leaveOpen: true, bufferSize: 1 << 16, sourceName: sourceName);
        var head = new XLearnTextHead(sourceName);
        var factors = new FloatList { Source = sourceName };
        int k = -1;
        int factorRows = 0;

        while (lines.TryReadLine(out ReadOnlySpan<byte> line))
        {
            long lineNumber = lines.LineNumber;
            if (line.TrimEnd(" \t"u8).IsEmpty || head.TryRead(line, lineNumber, factorsSeen: factorRows > 0))
            {
                continue;
            }

            if (!line.StartsWith("v_"u8))
            {
                throw Error(sourceName, lineNumber, line, 0, "not an xLearn FM model line (expected 'bias:', 'i_<j>:' or 'v_<j>:')");
            }

            int end = NumberText.ParseIndex(line, 2, out int feature);
            if (end > 0 && end < line.Length && line[end] == (byte)'_')
            {
                throw Error(sourceName, lineNumber, line, 0, "this is an xLearn FFM model (v_<feature>_<field>); only FM models are supported");
            }

            if (end < 0 || end >= line.Length || line[end] != (byte)':')
            {
                throw Error(sourceName, lineNumber, line, 2, "expected a feature number and ':' after 'v_'");
            }

            head.RequireBias(line, lineNumber);
            if (feature != factorRows)
            {
                throw Error(sourceName, lineNumber, line, 2, $"expected v_{factorRows}, found v_{feature} (features must come in order 0, 1, 2, ...)");
            }

            int count = ParseNumbers(line, end + 1, factors, sourceName, lineNumber);
            if (k < 0)
            {
                if (count == 0)
                {
                    throw Error(sourceName, lineNumber, line, end + 1, "a 'v_' line without factors");
                }

                k = count;
            }
            else if (count != k)
            {
                throw Error(sourceName, lineNumber, line, end + 1, $"v_{feature} has {count} factors, but v_0 has {k} (a truncated or damaged file?)");
            }

            factorRows++;
        }

        head.CheckEnd(lines);
        FloatList weights = head.Weights;
        if (factorRows == 0)
        {
            throw new ModelFileException(weights.Count == 0
                ? $"{sourceName}: the model has a bias but no 'i_' and no 'v_' lines (a truncated file?)"
                : $"{sourceName}: {weights.Count:N0} 'i_' lines but no 'v_' lines: an xLearn FM model has factors for every feature (a file cut before its factors, or a linear model, which this reader does not take)");
        }

        if (factorRows != weights.Count)
        {
            throw new ModelFileException(
                $"{sourceName}: {weights.Count:N0} 'i_' lines but {factorRows:N0} 'v_' lines; an FM model has both for every feature (a truncated or damaged file?)");
        }

        FmModel model = Build(head.Bias, weights.Items, factors.Items, weights.Count, k, sourceName);
        return new ModelFile(model.WithInstanceNormalization(instanceNormalization)) { Format = ModelFormat.XLearn };
    }

    /// <summary>Saves a model as xLearn FM text, atomically.</summary>
    public static void Save(ModelFile file, string path) => AtomicFile.Write(path, stream => Write(file, stream));

    /// <summary>Writes a model as xLearn FM text (numbers in the shortest form that reads back exactly).</summary>
    public static void Write(ModelFile file, Stream stream)
    {
        ArgumentNullException.ThrowIfNull(file);
        ArgumentNullException.ThrowIfNull(stream);
        FmModel model = file.Model;
        if (model.Order != 2)
        {
            throw new ArgumentException("xLearn's model text holds order-2 models (pairs) only; this model has order 3 (save it in the native format).", nameof(file));
        }

        var output = new Utf8Output(stream);
        XLearnTextHead.Write(output, model.Bias, model.NumFeatures, model.Weight);
        for (int i = 0; i < model.NumFeatures; i++)
        {
            output.Text("v_");
            output.Int(i);
            output.Byte((byte)':');
            foreach (float v in model.FactorRow(i))
            {
                output.Byte((byte)' ');
                output.Float(v);
            }

            output.Byte((byte)'\n');
        }

        output.Flush();
    }
}
