using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using FmCodegen.Kernels;

namespace FmCodegen.IO;

/// <summary>
/// An ML.NET FieldAwareFactorizationMachine model zip (<c>mlContext.Model.Save</c>). The predictor entry (model
/// signature <c>FAFAMAPD</c>) holds, after ML.NET's 256-byte model header: one byte normalisation, int32 fieldCount,
/// int32 featureCount, int32 latentDim, int32 length + the linear weights, int32 length + the latent weights
/// [j, f, c] unpadded. The prediction transformer entry (<c>FAFMPRED</c>) names the feature columns in field order,
/// and the zip's <c>TrainSchema</c> gives each column's width, so libffm data (field, index) maps onto ML.NET's
/// feature id (width of the earlier columns + index). No bias; Probability = sigmoid(Score).
/// </summary>
public static class MlNetFfmModelFile
{
    private const int ModelHeaderSize = 256;
    private static ReadOnlySpan<byte> HeaderSignature => "ML\0MODEL"u8;

    /// <summary>True when the bytes start like a zip archive.</summary>
    public static bool LooksLikeZip(ReadOnlySpan<byte> head) => head.Length >= 4 && head[..4].SequenceEqual("PK\x03\x04"u8);

    /// <summary>Loads an ML.NET FFM model zip.</summary>
    /// <exception cref="ModelFileException">The zip is not an ML.NET field-aware model, or is damaged.</exception>
    public static FfmModelFile Load(string path)
    {
        ZipArchive zip;
        try
        {
            zip = ZipFile.OpenRead(path);
        }
        catch (InvalidDataException e)
        {
            throw new ModelFileException($"{path}: not a zip archive ({e.Message}); an ML.NET model is a zip written by mlContext.Model.Save", e);
        }

        using (zip)
        {
            byte[]? predictor = null, transformer = null;
            string predictorName = "";
            foreach (ZipArchiveEntry entry in zip.Entries)
            {
                if (!entry.FullName.EndsWith("Model.key", StringComparison.Ordinal))
                {
                    continue;
                }

                string? signature = ModelSignature(entry);
                if (signature == "FAFAMAPD")
                {
                    predictor = ReadEntry(entry, path);
                    predictorName = entry.FullName;
                }
                else if (signature == "FAFMPRED")
                {
                    transformer = ReadEntry(entry, path);
                }
            }

            if (predictor is null)
            {
                throw new ModelFileException($"{path}: no ML.NET field-aware FM predictor (model signature FAFAMAPD) in the zip; this is not an ML.NET FieldAwareFactorizationMachine model");
            }

            string source = $"{path} ({predictorName})";
            (FfmModel model, int fieldCount) = ReadPredictor(predictor, source);
            IReadOnlyList<FfmColumn> columns = Columns(zip, transformer, fieldCount, model.NumFeatures, path);
            return new FfmModelFile(model, FfmModelFormat.MlNet, FmTask.BinaryClassification, HasBias: false, HasLinear: true, Columns: columns);
        }
    }

    private static string? ModelSignature(ZipArchiveEntry entry)
    {
        if (entry.Length < ModelHeaderSize)
        {
            return null;
        }

        using Stream stream = entry.Open();
        Span<byte> head = stackalloc byte[0x48];
        if (stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false) < head.Length || !head[..8].SequenceEqual(HeaderSignature))
        {
            return null;
        }

        return Encoding.ASCII.GetString(head[0x40..0x48]);
    }

    private static byte[] ReadEntry(ZipArchiveEntry entry, string path)
    {
        if (entry.Length > Array.MaxLength)
        {
            throw new ModelFileException($"{path}: entry {entry.FullName} is {entry.Length:N0} bytes, more than one array holds");
        }

        var bytes = new byte[entry.Length];
        using Stream stream = entry.Open();
        try
        {
            stream.ReadExactly(bytes);
        }
        catch (Exception e) when (e is EndOfStreamException or InvalidDataException)
        {
            throw new ModelFileException($"{path}: entry {entry.FullName} is damaged ({e.Message})", e);
        }

        return bytes;
    }

    /// <summary>Where the model data lies: ML.NET's header holds its offset and size at bytes 16 and 24.</summary>
    private static ReadOnlySpan<byte> ModelData(byte[] entry, string source)
    {
        long offset = BinaryPrimitives.ReadInt64LittleEndian(entry.AsSpan(16));
        long size = BinaryPrimitives.ReadInt64LittleEndian(entry.AsSpan(24));
        if (offset < ModelHeaderSize || size < 0 || offset > entry.Length || size > entry.Length - offset)
        {
            throw new ModelFileException($"{source}: the ML.NET header puts the model data at {offset} (+{size} bytes), outside the entry's {entry.Length} bytes");
        }

        return entry.AsSpan((int)offset, (int)size);
    }

    private static (FfmModel Model, int FieldCount) ReadPredictor(byte[] entry, string source)
    {
        ReadOnlySpan<byte> data = ModelData(entry, source);
        if (data.Length < 17)
        {
            throw new ModelFileException($"{source}: {data.Length} bytes of model data, fewer than the 17 of its fixed part");
        }

        bool normalize = data[0] != 0;
        int fields = BinaryPrimitives.ReadInt32LittleEndian(data[1..]);
        int features = BinaryPrimitives.ReadInt32LittleEndian(data[5..]);
        int k = BinaryPrimitives.ReadInt32LittleEndian(data[9..]);
        if (fields < 1 || features < 0 || k < 1 || k > FfmLayout.MaxEmbeddingSize)
        {
            throw new ModelFileException($"{source}: fieldCount {fields}, featureCount {features}, latentDim {k}; expected fieldCount >= 1, featureCount >= 0, 1 <= latentDim <= {FfmLayout.MaxEmbeddingSize}");
        }

        int linearLength = BinaryPrimitives.ReadInt32LittleEndian(data[13..]);
        if (linearLength != features)
        {
            throw new ModelFileException($"{source}: {linearLength} linear weights for {features} features");
        }

        long latentAt = 17 + ((long)features * 4);
        long latentCount = (long)features * fields * k;
        if (latentAt + 4 > data.Length || BinaryPrimitives.ReadInt32LittleEndian(data[(int)latentAt..]) != latentCount
            || latentAt + 4 + (latentCount * 4) > data.Length)
        {
            throw new ModelFileException($"{source}: the model data ({data.Length:N0} bytes) does not hold {features:N0} linear weights and {latentCount:N0} latent weights (features x fields x latentDim); truncated or damaged");
        }

        ModelLimits.CheckFfmTable(features, fields, k, source);
        var weights = new float[features + 1];
        for (int j = 0; j < features; j++)
        {
            weights[j] = BinaryPrimitives.ReadSingleLittleEndian(data[(17 + (j * 4))..]);
        }

        var table = new FfmTable(features, fields, k);
        ReadOnlySpan<byte> latent = data[(int)(latentAt + 4)..];
        for (int j = 0; j < features; j++)
        {
            for (int f = 0; f < fields; f++)
            {
                Span<float> block = table.Block(j, f);
                int at = ((j * fields) + f) * k * 4;
                for (int c = 0; c < k; c++)
                {
                    block[c] = BinaryPrimitives.ReadSingleLittleEndian(latent[(at + (c * 4))..]);
                }
            }
        }

        FfmModel model = FfmModel.FromParts(0f, weights, table, normalize ? FfmNormalization.MlNet : FfmNormalization.None, source);
        return (model, fields);
    }

    /// <summary>The feature columns in field order with their widths: names from the prediction transformer
    /// (string ids of its first fieldCount int32s), widths from TrainSchema (else Schema).</summary>
    private static IReadOnlyList<FfmColumn> Columns(ZipArchive zip, byte[]? transformer, int fieldCount, int featureCount, string path)
    {
        ZipArchiveEntry? schemaEntry = zip.GetEntry("TransformerChain/TrainSchema") ?? zip.GetEntry("Schema")
            ?? zip.Entries.FirstOrDefault(e => e.FullName.EndsWith("Schema", StringComparison.Ordinal));
        if (schemaEntry is null)
        {
            throw new ModelFileException($"{path}: no TrainSchema or Schema entry, so the widths of the feature columns are unknown");
        }

        Dictionary<string, int> widths = SchemaWidths(ReadEntry(schemaEntry, path), $"{path} ({schemaEntry.FullName})");
        List<string> names = transformer is null ? [] : FeatureColumnNames(transformer, fieldCount, path);
        if (names.Count != fieldCount)
        {
            throw new ModelFileException($"{path}: cannot read the names of the {fieldCount} feature columns from the prediction transformer (FAFMPRED entry)");
        }

        var columns = new List<FfmColumn>(fieldCount);
        long total = 0;
        foreach (string name in names)
        {
            if (!widths.TryGetValue(name, out int width))
            {
                throw new ModelFileException($"{path}: feature column '{name}' is not in {schemaEntry.FullName}");
            }

            columns.Add(new FfmColumn(name, width));
            total += width;
        }

        if (total != featureCount)
        {
            throw new ModelFileException($"{path}: the feature columns' widths add up to {total:N0}, but the model has {featureCount:N0} features");
        }

        return columns;
    }

    private static List<string> FeatureColumnNames(byte[] entry, int fieldCount, string path)
    {
        string source = $"{path} (FAFMPRED)";
        ReadOnlySpan<byte> data = ModelData(entry, source);
        long tableAt = BinaryPrimitives.ReadInt64LittleEndian(entry.AsSpan(32));
        long tableSize = BinaryPrimitives.ReadInt64LittleEndian(entry.AsSpan(40));
        long charsAt = BinaryPrimitives.ReadInt64LittleEndian(entry.AsSpan(48));
        long charsSize = BinaryPrimitives.ReadInt64LittleEndian(entry.AsSpan(56));
        if (tableAt < 0 || tableSize < 0 || charsAt < 0 || charsSize < 0 || tableAt + tableSize > entry.Length || charsAt + charsSize > entry.Length || tableSize % 8 != 0)
        {
            return [];
        }

        var strings = new List<string>();
        long previous = 0;
        for (long at = tableAt; at < tableAt + tableSize; at += 8)
        {
            long end = BinaryPrimitives.ReadInt64LittleEndian(entry.AsSpan((int)at));
            if (end < previous || end > charsSize)
            {
                return [];
            }

            strings.Add(Encoding.Unicode.GetString(entry, (int)(charsAt + previous), (int)(end - previous)));
            previous = end;
        }

        var names = new List<string>();
        for (int f = 0; f < fieldCount && (f + 1) * 4 <= data.Length; f++)
        {
            int id = BinaryPrimitives.ReadInt32LittleEndian(data[(f * 4)..]);
            if ((uint)id >= (uint)strings.Count)
            {
                return [];
            }

            names.Add(strings[id]);
        }

        return names;
    }

    /// <summary>Reads the column table of an ML.NET binary IDataView (DVB) schema: name, codec, and for
    /// VBuffer columns the vector's dimensions.</summary>
    private static Dictionary<string, int> SchemaWidths(byte[] schema, string source)
    {
        var widths = new Dictionary<string, int>(StringComparer.Ordinal);
        try
        {
            if (schema.Length < 0x38 || !schema.AsSpan(0, 8).SequenceEqual("CML\0DVB\0"u8))
            {
                throw new ModelFileException($"{source}: not an ML.NET binary schema (no 'CML DVB' signature)");
            }

            long tocAt = BinaryPrimitives.ReadInt64LittleEndian(schema.AsSpan(0x18));
            long columns = BinaryPrimitives.ReadInt64LittleEndian(schema.AsSpan(0x30));
            if (tocAt < 0 || tocAt >= schema.Length || columns < 0 || columns > 1 << 20)
            {
                throw new ModelFileException($"{source}: the schema's column table ({columns} columns at {tocAt}) lies outside its {schema.Length} bytes");
            }

            int at = (int)tocAt;
            for (long c = 0; c < columns; c++)
            {
                string name = ReadString(schema, ref at);
                string codec = ReadString(schema, ref at);
                int parameters = Read7Bit(schema, ref at);
                int parametersEnd = checked(at + parameters);
                int width = 1;
                if (codec == "VBuffer")
                {
                    _ = ReadString(schema, ref at); // the item codec
                    int inner = Read7Bit(schema, ref at);
                    at = checked(at + inner);
                    int dims = BinaryPrimitives.ReadInt32LittleEndian(schema.AsSpan(at));
                    at += 4;
                    long product = 1;
                    for (int d = 0; d < dims; d++)
                    {
                        product *= BinaryPrimitives.ReadInt32LittleEndian(schema.AsSpan(at));
                        at += 4;
                    }

                    width = product is > 0 and <= int.MaxValue ? (int)product : 0;
                }

                at = parametersEnd;
                at += 1; // compression kind
                _ = Read7Bit(schema, ref at); // rows per block
                at += 16; // lookup and metadata offsets
                widths[name] = width;
            }
        }
        catch (Exception e) when (e is ArgumentOutOfRangeException or IndexOutOfRangeException or OverflowException)
        {
            throw new ModelFileException($"{source}: the schema's column table is damaged", e);
        }

        return widths;
    }

    private static int Read7Bit(byte[] bytes, ref int at)
    {
        int value = 0, shift = 0;
        while (true)
        {
            byte b = bytes[at++];
            value |= (b & 0x7F) << shift;
            if ((b & 0x80) == 0)
            {
                return value;
            }

            shift += 7;
            if (shift > 28)
            {
                throw new OverflowException();
            }
        }
    }

    private static string ReadString(byte[] bytes, ref int at)
    {
        int length = Read7Bit(bytes, ref at);
        string s = Encoding.UTF8.GetString(bytes, at, length);
        at = checked(at + length);
        return s;
    }
}
