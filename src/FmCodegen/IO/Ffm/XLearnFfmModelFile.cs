using FmCodegen.Data;
using FmCodegen.Kernels;
using static FmCodegen.IO.TextModelParts;

namespace FmCodegen.IO;

/// <summary>
/// xLearn's FFM text model (<c>xlearn_train -s 2 -t FILE</c>): <c>bias: b</c>, <c>i_j: w_j</c> for every feature,
/// then <c>v_j_f: k values</c> for every feature j (outer) and field f (inner). The file does not record whether
/// xLearn's instance normalisation was on (its default): the caller says (<see cref="FfmNormalization.XLearn"/>).
/// </summary>
public static class XLearnFfmModelFile
{
    /// <summary>True when the text has FFM factor lines (<c>v_j_f:</c>) rather than FM ones (<c>v_j:</c>).
    /// Reads lines until the first <c>v_</c> line.</summary>
    public static bool IsFieldAware(string path)
    {
        using Stream stream = DataFile.OpenRead(path);
        using var lines = new ByteLineReader(stream, leaveOpen: true, bufferSize: 1 << 16);
        while (lines.TryReadLine(out ReadOnlySpan<byte> line))
        {
            if (line.StartsWith("v_"u8))
            {
                int end = NumberText.ParseIndex(line, 2, out _);
                return end > 0 && end < line.Length && line[end] == (byte)'_';
            }
        }

        return false;
    }

    /// <summary>Loads an xLearn FFM text model (gzip detected).</summary>
    public static FfmModelFile Load(string path, bool instanceNormalization = false)
    {
        using Stream stream = DataFile.OpenRead(path);
        return Read(stream, path, instanceNormalization);
    }

    /// <summary>Reads an xLearn FFM text model.</summary>
    /// <exception cref="ModelFileException">The text is not a complete xLearn FFM model; the message names the line.</exception>
    public static FfmModelFile Read(Stream stream, string sourceName, bool instanceNormalization = false)
    {
        using var lines = new ByteLineReader(stream, leaveOpen: true, bufferSize: 1 << 16);
        var head = new XLearnTextHead(sourceName);
        var factors = new FloatList { Source = sourceName };
        int k = -1, fields = -1;
        long blocks = 0;

        while (lines.TryReadLine(out ReadOnlySpan<byte> line))
        {
            long lineNumber = lines.LineNumber;
            if (line.TrimEnd(" \t"u8).IsEmpty || head.TryRead(line, lineNumber, factorsSeen: blocks > 0))
            {
                continue;
            }

            if (!line.StartsWith("v_"u8))
            {
                throw Error(sourceName, lineNumber, line, 0, "not an xLearn FFM model line (expected 'bias:', 'i_<j>:' or 'v_<j>_<f>:')");
            }

            head.RequireBias(line, lineNumber);
            int end = NumberText.ParseIndex(line, 2, out int feature);
            if (end < 0 || end >= line.Length || line[end] != (byte)'_')
            {
                throw Error(sourceName, lineNumber, line, 2, end >= 0 && end < line.Length && line[end] == (byte)':'
                    ? "this is an xLearn FM model (v_<feature>:), not FFM; read it as an FM model"
                    : "expected 'v_<feature>_<field>:'");
            }

            int fieldEnd = NumberText.ParseIndex(line, end + 1, out int field);
            if (fieldEnd < 0 || fieldEnd >= line.Length || line[fieldEnd] != (byte)':')
            {
                throw Error(sourceName, lineNumber, line, end + 1, "expected a field number and ':' after 'v_<feature>_'");
            }

            long expectedFeature = fields > 0 ? blocks / fields : 0;
            long expectedField = fields > 0 ? blocks % fields : blocks;
            if (fields < 0 && feature == 1 && field == 0)
            {
                // the first row of feature 1: feature 0 had 'blocks' fields
                fields = (int)blocks;
                expectedFeature = 1;
                expectedField = 0;
            }

            if (feature != expectedFeature || field != expectedField)
            {
                throw Error(sourceName, lineNumber, line, 2, $"expected v_{expectedFeature}_{expectedField}, found v_{feature}_{field} (features, and within them fields, must come in order 0, 1, 2, ...)");
            }

            int count = ParseNumbers(line, fieldEnd + 1, factors, sourceName, lineNumber);
            if (k < 0)
            {
                if (count < 1 || count > FfmLayout.MaxEmbeddingSize)
                {
                    throw Error(sourceName, lineNumber, line, fieldEnd + 1, $"a 'v_' line must hold 1 to {FfmLayout.MaxEmbeddingSize} factors; it holds {count}");
                }

                k = count;
            }
            else if (count != k)
            {
                throw Error(sourceName, lineNumber, line, fieldEnd + 1, $"v_{feature}_{field} has {count} factors, but v_0_0 has {k} (a truncated or damaged file?)");
            }

            blocks++;
        }

        head.CheckEnd(lines);
        if (blocks == 0)
        {
            throw new ModelFileException($"{sourceName}: no 'v_<feature>_<field>:' lines; this is not an xLearn FFM model (a linear xLearn model reads as FM)");
        }

        if (fields < 0)
        {
            fields = (int)blocks; // one feature
        }

        FloatList weights = head.Weights;
        int n = weights.Count;
        if (blocks != (long)n * fields)
        {
            throw new ModelFileException(
                $"{sourceName}: {n:N0} 'i_' lines and {fields} fields need {(long)n * fields:N0} 'v_' lines; the file has {blocks:N0} (a truncated or damaged file?)");
        }

        ModelLimits.CheckFfmTable(n, fields, k, sourceName);
        var table = new FfmTable(n, fields, k);
        ReadOnlySpan<float> all = factors.Items;
        for (int j = 0; j < n; j++)
        {
            for (int f = 0; f < fields; f++)
            {
                all.Slice((int)(((long)j * fields + f) * k), k).CopyTo(table.Block(j, f));
            }
        }

        var w = new float[n + 1];
        weights.Items.CopyTo(w);
        FfmModel model = FfmModel.FromParts(head.Bias, w, table, instanceNormalization ? FfmNormalization.XLearn : FfmNormalization.None, sourceName);
        return new FfmModelFile(model, FfmModelFormat.XLearn);
    }

    /// <summary>Saves a model as xLearn FFM text, atomically.</summary>
    public static void Save(FfmModelFile file, string path) => AtomicFile.Write(path, stream => Write(file, stream));

    /// <summary>Writes a model as xLearn FFM text (numbers in the shortest form that reads back exactly).</summary>
    public static void Write(FfmModelFile file, Stream stream)
    {
        ArgumentNullException.ThrowIfNull(file);
        ArgumentNullException.ThrowIfNull(stream);
        FfmModel model = file.Model;
        var output = new Utf8Output(stream);
        XLearnTextHead.Write(output, model.Bias, model.NumFeatures, model.Weight);
        for (int j = 0; j < model.NumFeatures; j++)
        {
            for (int f = 0; f < model.NumFields; f++)
            {
                output.Text("v_");
                output.Int(j);
                output.Byte((byte)'_');
                output.Int(f);
                output.Byte((byte)':');
                foreach (float v in model.FactorBlock(j, f))
                {
                    output.Byte((byte)' ');
                    output.Float(v);
                }

                output.Byte((byte)'\n');
            }
        }

        output.Flush();
    }
}
