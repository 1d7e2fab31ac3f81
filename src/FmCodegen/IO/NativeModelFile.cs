using System.Buffers.Binary;
using System.IO.Hashing;
using System.Runtime.InteropServices;
using FmCodegen.Data;
using FmCodegen.Kernels;

namespace FmCodegen.IO;

/// <summary>
/// FmCodegen's binary model format, versions 1 to 4. Every number is little-endian.
/// <code>
/// offset size  field
///      0    8  magic: 'F' 'M' 'C' 'G' 0x0D 0x0A 0x1A 0x0A (a text-mode transfer or a truncation at byte 6 shows)
///      8    4  format version: 1, or 2 when flag bit 3 (sparse rows) is set, or 3 when flag bit 4 (order 3) is set,
///              or 4 when flag bit 5 (target range) is set (with or without bits 3 and 4), so an older reader refuses
///              such a file by its version instead of misreading it
///     12    4  header size in bytes (64)
///     16    4  task: 0 unknown, 1 regression, 2 classification
///     20    4  k, the embedding size (1 .. FmModel.MaxEmbeddingSize = 1024)
///     24    8  number of features n (0 .. int.MaxValue - 1)
///     32    4  flags: bit 0 has a bias, bit 1 has linear weights, bit 2 score with xLearn instance normalisation;
///              bit 3 (version 2) sparse rows: only the m features with a nonzero parameter are stored, each row
///              preceded by its feature id; bit 4 (version 3) order 3: each row also holds the k order-3 factors
///              (<see cref="FmModel.Order"/>); bit 5 (version 4, one model only) the data ends with the training
///              targets' range; other bits must be 0
///     36    4  bias w0 (float32)
///     40    4  floats per feature row in the data (k + 1; order 3: 2k + 1)
///     44    4  kind (version 2; reserved 0 in version 1): 0 one model, 1 a sample set (Bayesian FM, MCMC); a
///              version-2 file of kind 1 never has sparse rows
///     48    8  data size in bytes: n (k + 1) 4; with sparse rows m (4 + (k + 1) 4); kind 1: 16 + S (4 + n (k + 1) 4);
///              with the target range 8 more
///     56    4  kind 0: reserved, 0; kind 1: S, the number of samples (1 .. 1,000,000)
///     60    4  CRC-32 (IEEE) of bytes 0 .. 59, so a damaged header is named before its sizes are trusted
///     64       data: n rows, each k factors v_i,0 .. v_i,k-1 then the linear weight w_i (float32), the order of the
///              in-memory row table (<see cref="FmLayout"/>) without its padding; order 3: then the k order-3 factors
///              u_i,0 .. u_i,k-1. With sparse rows: m rows, each an int32 feature id (strictly rising, below n) then
///              the row's floats; every feature not stored is zero. With flag bit 5, then float32 min and float32 max:
///              the smallest and largest training target (finite, min &lt;= max; <see cref="ModelFile.TargetRange"/>).
///              Kind 1 instead: int32 S again, int32 link (0 identity: average the scores, each clamped to the range
///              below; 1 probit: average Phi(score)), float32 clamp min, float32 clamp max (infinities: none), then
///              S samples, each its bias (float32) and n dense rows as above. The header's bias is the samples' mean.
///    end-8  4  CRC-32 (IEEE) of every byte before it (header and data)
///    end-4  4  end marker 'F' 'M' 'C' 'E'
/// </code>
/// Loading checks the magic, version, header checksum, the exact file length (a truncated file is named as such),
/// the data checksum and the end marker, then that every value is finite. Saving writes a temporary file in the
/// same folder, flushes it to disk and renames it over the target.
/// </summary>
internal static class NativeModelFile
{
    /// <summary>The first 8 bytes of every native model file.</summary>
    public static ReadOnlySpan<byte> Magic => [(byte)'F', (byte)'M', (byte)'C', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    /// <summary>The newest format version this code writes and reads. It writes version 1 for dense rows, so older
    /// readers keep reading those, version 2 for sparse rows, version 3 for an order-3 model (dense or sparse), and
    /// version 4 for a model that records its training targets' range (a regression model from training).</summary>
    public const int Version = 4;

    /// <summary>The kind field of version 2: one model.</summary>
    public const int KindModel = 0;

    /// <summary>The kind field of version 2: a sample set (<see cref="FmSampleSet"/>).</summary>
    public const int KindSampleSet = 1;

    private const int MaxSamples = 1_000_000;
    private const int SampleSetPreamble = 16;
    private const int HeaderSize = NativeFrame.HeaderSize;
    private const int TrailerSize = NativeFrame.TrailerSize;
    private const uint FlagBias = 1;
    private const uint FlagLinear = 2;
    private const uint FlagNormalization = 4;
    private const uint FlagSparseRows = 8;
    private const uint FlagOrder3 = 16;
    private const uint FlagTargetRange = 32;
    private const int TargetRangeBytes = 8;
    private const uint KnownFlags = FlagBias | FlagLinear | FlagNormalization | FlagSparseRows | FlagOrder3 | FlagTargetRange;
    private static ReadOnlySpan<byte> EndMarker => [(byte)'F', (byte)'M', (byte)'C', (byte)'E'];

    /// <summary>True when the bytes start like a native model file.</summary>
    public static bool HasMagic(ReadOnlySpan<byte> head) => head.Length >= 8 && head[..8].SequenceEqual(Magic);

    /// <summary>Saves a model atomically (temporary file, flush, rename).</summary>
    public static void Save(ModelFile file, string path)
    {
        ArgumentNullException.ThrowIfNull(file);
        AtomicFile.Write(path, stream => Write(file, stream));
    }

    /// <summary>Writes a model to a stream.</summary>
    public static void Write(ModelFile file, Stream stream)
    {
        ArgumentNullException.ThrowIfNull(file);
        ArgumentNullException.ThrowIfNull(stream);
        FmModel model = file.Model;
        int k = model.EmbeddingSize;
        int n = model.NumFeatures;
        bool order3 = model.Order == 3;
        int rowFloats = order3 ? (2 * k) + 1 : k + 1;
        int rowBytes = rowFloats * sizeof(float);
        var crc = new Crc32();
        if (file.Samples is { } samples)
        {
            if (order3)
            {
                throw new ArgumentException("A sample set holds order-2 models; this model has order 3.", nameof(file));
            }

            WriteSampleSet(file, samples, stream);
            return;
        }

        if (file.TargetRange is { } range && !(float.IsFinite(range.Min) && float.IsFinite(range.Max) && range.Min <= range.Max))
        {
            throw new ArgumentException($"The target range must be finite with min <= max; got [{range.Min}, {range.Max}].", nameof(file));
        }

        bool ranged = file.TargetRange.HasValue;

        // sparse rows when they take less room: a hashed model holds a few features of a large index space
        AlignedTable table = model.Table;
        int[]? present = model.PresentRows;
        long stored = CountNonZeroRows(table, present);
        bool sparse = stored * (sizeof(int) + rowBytes) < (long)n * rowBytes;
        long dataBytes = (sparse ? stored * (sizeof(int) + rowBytes) : (long)n * rowBytes) + (ranged ? TargetRangeBytes : 0);

        Span<byte> header = stackalloc byte[HeaderSize];
        header.Clear();
        Magic.CopyTo(header);
        BinaryPrimitives.WriteInt32LittleEndian(header[8..], ranged ? 4 : order3 ? 3 : sparse ? 2 : 1);
        BinaryPrimitives.WriteInt32LittleEndian(header[12..], HeaderSize);
        BinaryPrimitives.WriteInt32LittleEndian(header[16..], (int)(file.Task ?? 0));
        BinaryPrimitives.WriteInt32LittleEndian(header[20..], k);
        BinaryPrimitives.WriteInt64LittleEndian(header[24..], n);
        uint flags = (file.HasBias ? FlagBias : 0) | (file.HasLinear ? FlagLinear : 0) | (file.InstanceNormalization ? FlagNormalization : 0)
            | (sparse ? FlagSparseRows : 0) | (order3 ? FlagOrder3 : 0) | (ranged ? FlagTargetRange : 0);
        BinaryPrimitives.WriteUInt32LittleEndian(header[32..], flags);
        BinaryPrimitives.WriteSingleLittleEndian(header[36..], model.Bias);
        BinaryPrimitives.WriteInt32LittleEndian(header[40..], rowFloats);
        BinaryPrimitives.WriteInt64LittleEndian(header[48..], dataBytes);
        NativeFrame.WriteHeader(header, crc, stream);

        int entryBytes = rowBytes + (sparse ? sizeof(int) : 0);
        byte[] buffer = new byte[Math.Max(1 << 16, entryBytes)];
        int used = 0;
        // a model that knows its present rows is visited through them alone (every other row is zero)
        int visit = sparse && present is not null ? present.Length : n;
        for (int j = 0; j < visit; j++)
        {
            int i = sparse && present is not null ? present[j] : j;
            if (sparse && IsZeroRow(table, i))
            {
                continue;
            }

            if (used + entryBytes > buffer.Length)
            {
                crc.Append(buffer.AsSpan(0, used));
                stream.Write(buffer, 0, used);
                used = 0;
            }

            if (sparse)
            {
                BinaryPrimitives.WriteInt32LittleEndian(buffer.AsSpan(used), i);
                used += sizeof(int);
            }

            WriteLittleEndian(table.Row(i)[..(k + 1)], buffer.AsSpan(used, (k + 1) * sizeof(float)));
            if (order3)
            {
                WriteLittleEndian(table.Factors3(i), buffer.AsSpan(used + ((k + 1) * sizeof(float)), k * sizeof(float)));
            }

            used += rowBytes;
        }

        crc.Append(buffer.AsSpan(0, used));
        stream.Write(buffer, 0, used);
        if (file.TargetRange is { } targets)
        {
            Span<byte> rangeBytes = stackalloc byte[TargetRangeBytes];
            BinaryPrimitives.WriteSingleLittleEndian(rangeBytes, targets.Min);
            BinaryPrimitives.WriteSingleLittleEndian(rangeBytes[4..], targets.Max);
            crc.Append(rangeBytes);
            stream.Write(rangeBytes);
        }

        NativeFrame.WriteTrailer(crc, EndMarker, stream);
    }

    private static void WriteSampleSet(ModelFile file, FmSampleSet samples, Stream stream)
    {
        FmModel model = file.Model;
        int k = model.EmbeddingSize;
        int n = model.NumFeatures;
        if (samples.EmbeddingSize != k || samples.NumFeatures != n)
        {
            throw new ArgumentException($"The sample set (k = {samples.EmbeddingSize}, {samples.NumFeatures:N0} features) and the model (k = {k}, {n:N0} features) differ in shape.", nameof(file));
        }

        long modelBytes = (long)n * (k + 1) * sizeof(float);
        var crc = new Crc32();
        Span<byte> header = stackalloc byte[HeaderSize];
        header.Clear();
        Magic.CopyTo(header);
        BinaryPrimitives.WriteInt32LittleEndian(header[8..], 2);
        BinaryPrimitives.WriteInt32LittleEndian(header[12..], HeaderSize);
        BinaryPrimitives.WriteInt32LittleEndian(header[16..], (int)(file.Task ?? 0));
        BinaryPrimitives.WriteInt32LittleEndian(header[20..], k);
        BinaryPrimitives.WriteInt64LittleEndian(header[24..], n);
        uint flags = (file.HasBias ? FlagBias : 0) | (file.HasLinear ? FlagLinear : 0) | (file.InstanceNormalization ? FlagNormalization : 0);
        BinaryPrimitives.WriteUInt32LittleEndian(header[32..], flags);
        BinaryPrimitives.WriteSingleLittleEndian(header[36..], model.Bias);
        BinaryPrimitives.WriteInt32LittleEndian(header[40..], k + 1);
        BinaryPrimitives.WriteInt32LittleEndian(header[44..], KindSampleSet);
        BinaryPrimitives.WriteInt64LittleEndian(header[48..], SampleSetPreamble + samples.Samples.Count * (sizeof(float) + modelBytes));
        BinaryPrimitives.WriteInt32LittleEndian(header[56..], samples.Samples.Count);
        NativeFrame.WriteHeader(header, crc, stream);

        Span<byte> preamble = stackalloc byte[SampleSetPreamble];
        BinaryPrimitives.WriteInt32LittleEndian(preamble, samples.Samples.Count);
        BinaryPrimitives.WriteInt32LittleEndian(preamble[4..], (int)samples.Link);
        BinaryPrimitives.WriteSingleLittleEndian(preamble[8..], samples.ClipMin);
        BinaryPrimitives.WriteSingleLittleEndian(preamble[12..], samples.ClipMax);
        crc.Append(preamble);
        stream.Write(preamble);
        int rowBytes = (k + 1) * sizeof(float);
        byte[] buffer = new byte[Math.Max(1 << 16, rowBytes + sizeof(float))];
        foreach (FmModel member in samples.Samples)
        {
            BinaryPrimitives.WriteSingleLittleEndian(buffer, member.Bias);
            int used = sizeof(float);
            AlignedTable table = member.Table;
            for (int i = 0; i < n; i++)
            {
                if (used + rowBytes > buffer.Length)
                {
                    crc.Append(buffer.AsSpan(0, used));
                    stream.Write(buffer, 0, used);
                    used = 0;
                }

                WriteLittleEndian(table.Row(i)[..(k + 1)], buffer.AsSpan(used, rowBytes));
                used += rowBytes;
            }

            crc.Append(buffer.AsSpan(0, used));
            stream.Write(buffer, 0, used);
        }

        NativeFrame.WriteTrailer(crc, EndMarker, stream);
    }

    /// <summary>Loads a native model file, verifying its structure and checksums.</summary>
    /// <exception cref="ModelFileException">The file is not a native model, is truncated or damaged.</exception>
    public static ModelFile Load(string path)
    {
        // a gzip-compressed native file is read through the decompressor (its length is then unknown up front)
        using Stream stream = TextModelParts.OpenModel(path);
        try
        {
            return Read(stream, path, stream is FileStream file ? file.Length : -1, DataFile.MaxLength(stream));
        }
        catch (InvalidDataException e)
        {
            // damaged gzip framing
            throw new ModelFileException(e.Message, e);
        }
    }

    /// <summary>Reads a native model from a stream. <paramref name="length"/> is the stream's length when known
    /// (then truncation is reported before reading the data), or -1.</summary>
    public static ModelFile Read(Stream stream, string sourceName, long length = -1) =>
        Read(stream, sourceName, length, length >= 0 ? length : long.MaxValue);

    /// <summary>Reads a native model; <paramref name="maxLength"/> bounds what the stream can hold (for gzip, its
    /// compressed length times deflate's largest ratio), so a header declaring more is refused before allocating.</summary>
    internal static ModelFile Read(Stream stream, string sourceName, long length, long maxLength)
    {
        ArgumentNullException.ThrowIfNull(stream);
        Span<byte> header = stackalloc byte[HeaderSize];
        int version = NativeFrame.ReadHeader(stream, header, Magic, "an FmCodegen native model", "FMCG\\r\\n\\x1a\\n", 1, Version, sourceName);
        int headerSize = BinaryPrimitives.ReadInt32LittleEndian(header[12..]);
        int task = BinaryPrimitives.ReadInt32LittleEndian(header[16..]);
        int k = BinaryPrimitives.ReadInt32LittleEndian(header[20..]);
        long n = BinaryPrimitives.ReadInt64LittleEndian(header[24..]);
        uint flags = BinaryPrimitives.ReadUInt32LittleEndian(header[32..]);
        float bias = BinaryPrimitives.ReadSingleLittleEndian(header[36..]);
        int rowFloats = BinaryPrimitives.ReadInt32LittleEndian(header[40..]);
        long dataBytes = BinaryPrimitives.ReadInt64LittleEndian(header[48..]);
        bool sparse = (flags & FlagSparseRows) != 0;
        bool order3 = (flags & FlagOrder3) != 0;
        bool ranged = (flags & FlagTargetRange) != 0;
        long rowDataBytes = dataBytes - (ranged ? TargetRangeBytes : 0);
        long entryBytes = (rowFloats * (long)sizeof(float)) + (sparse ? sizeof(int) : 0);
        int kind = version >= 2 ? BinaryPrimitives.ReadInt32LittleEndian(header[44..]) : KindModel;
        if (kind is not KindModel and not KindSampleSet)
        {
            throw Fail(sourceName, $"model kind {kind} is not supported (this build reads kinds {KindModel}, one model, and {KindSampleSet}, a sample set)");
        }

        if (kind == KindSampleSet)
        {
            int sampleCount = BinaryPrimitives.ReadInt32LittleEndian(header[56..]);
            long modelBytes = n * rowFloats * (long)sizeof(float);
            if (headerSize != HeaderSize || task is < 0 or > 2 || k < 1 || k > FmModel.MaxEmbeddingSize || n < 0 || n >= int.MaxValue
                || (flags & ~KnownFlags) != 0 || sparse || order3 || ranged || rowFloats != k + 1 || sampleCount is < 1 or > MaxSamples
                || dataBytes != SampleSetPreamble + sampleCount * (sizeof(float) + modelBytes))
            {
                throw Fail(sourceName, $"the header of the sample set is inconsistent (header size {headerSize}, task {task}, k {k}, features {n}, flags 0x{flags:x}, row floats {rowFloats}, samples {sampleCount} (1 .. {MaxSamples:N0}), data bytes {dataBytes})");
            }

            return ReadSampleSet(stream, header, sourceName, length, (int)n, k, sampleCount, dataBytes, task, flags);
        }

        if (headerSize != HeaderSize || task is < 0 or > 2 || k < 1 || k > FmModel.MaxEmbeddingSize || n < 0 || n >= int.MaxValue
            || (flags & ~KnownFlags) != 0 || (sparse && version < 2) || (order3 ? version < 3 : version == 3) || ranged != (version == 4)
            || rowFloats != (order3 ? (2L * k) + 1 : k + 1) || (order3 && (flags & FlagNormalization) != 0)
            || (sparse ? rowDataBytes < 0 || rowDataBytes % entryBytes != 0 || rowDataBytes / entryBytes > n : rowDataBytes != n * rowFloats * sizeof(float)))
        {
            throw Fail(sourceName, $"the header is inconsistent (version {version}, header size {headerSize}, task {task}, k {k}, features {n}, flags 0x{flags:x}, row floats {rowFloats}, data bytes {dataBytes})");
        }

        int order = order3 ? 3 : 2;

        long expected = HeaderSize + dataBytes + TrailerSize;
        NativeFrame.CheckLength(length, expected, $"a model of {n:N0} features with k = {k} takes", sourceName);

        if (length < 0 && expected > maxLength)
        {
            throw Fail(sourceName, $"the header declares {n:N0} features with k = {k} ({expected:N0} bytes), but this compressed file can hold at most {maxLength:N0} bytes (deflate expands at most {Data.CheckedGZipStream.MaxRatio}:1): the header is damaged or forged");
        }

        ModelLimits.CheckTable(n, k, sourceName, order);
        var crc = new Crc32();
        crc.Append(header);
        long tableBytes = ((n + 1) * FmLayout.RowStride(k, order) + FmLayout.TablePadding) * sizeof(float);
        long available = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        if (sparse && tableBytes > available / 2)
        {
            throw Fail(sourceName, $"the model's {n:N0} features with k = {k} need a {tableBytes:N0}-byte table, more than half the {available:N0} bytes this process may use");
        }

        var table = new AlignedTable((int)n, k, order);
        int[]? presentRows = null;
        if (sparse)
        {
            presentRows = ReadSparseRows(stream, table, (int)(rowDataBytes / entryBytes), crc, sourceName);
        }
        else
        {
            ReadRows(stream, table, crc, sourceName);
        }

        (float Min, float Max)? targetRange = null;
        if (ranged)
        {
            Span<byte> rangeBytes = stackalloc byte[TargetRangeBytes];
            if (stream.ReadAtLeast(rangeBytes, TargetRangeBytes, throwOnEndOfStream: false) < TargetRangeBytes)
            {
                throw Fail(sourceName, "the file is truncated: it ends inside the target range");
            }

            crc.Append(rangeBytes);
            targetRange = (BinaryPrimitives.ReadSingleLittleEndian(rangeBytes), BinaryPrimitives.ReadSingleLittleEndian(rangeBytes[4..]));
        }

        NativeFrame.ReadTrailer(stream, crc, EndMarker, length >= 0, sourceName);

        if (targetRange is { } r && !(float.IsFinite(r.Min) && float.IsFinite(r.Max) && r.Min <= r.Max))
        {
            throw Fail(sourceName, $"the target range [{r.Min}, {r.Max}] is not finite with min <= max");
        }

        FmModel model;
        try
        {
            model = FmModel.FromTable(bias, table, sourceName, presentRows);
        }
        catch (InvalidDataException e)
        {
            throw new ModelFileException(e.Message, e);
        }

        return new ModelFile(model.WithInstanceNormalization((flags & FlagNormalization) != 0),
            task == 0 ? null : (FmTask)task, (flags & FlagBias) != 0, (flags & FlagLinear) != 0)
        {
            Format = ModelFormat.Native,
            ChecksumVerified = true,
            TargetRange = targetRange,
        };
    }

    private static ModelFile ReadSampleSet(Stream stream, ReadOnlySpan<byte> header, string sourceName, long length, int n, int k,
        int sampleCount, long dataBytes, int task, uint flags)
    {
        NativeFrame.CheckLength(length, HeaderSize + dataBytes + TrailerSize, $"{sampleCount} samples of {n:N0} features with k = {k} take", sourceName);

        var crc = new Crc32();
        crc.Append(header);
        Span<byte> preamble = stackalloc byte[SampleSetPreamble];
        if (stream.ReadAtLeast(preamble, SampleSetPreamble, throwOnEndOfStream: false) < SampleSetPreamble)
        {
            throw Fail(sourceName, "the file is truncated: it ends inside the sample set's preamble");
        }

        crc.Append(preamble);
        int count = BinaryPrimitives.ReadInt32LittleEndian(preamble);
        int link = BinaryPrimitives.ReadInt32LittleEndian(preamble[4..]);
        float clipMin = BinaryPrimitives.ReadSingleLittleEndian(preamble[8..]);
        float clipMax = BinaryPrimitives.ReadSingleLittleEndian(preamble[12..]);
        if (count != sampleCount || link is not 0 and not 1 || float.IsNaN(clipMin) || float.IsNaN(clipMax) || clipMin > clipMax)
        {
            throw Fail(sourceName, $"the sample set's preamble is inconsistent (samples {count} where the header says {sampleCount}, link {link}, clamp [{clipMin}, {clipMax}])");
        }

        var tables = new List<(float Bias, AlignedTable Table)>(Math.Min(sampleCount, 1024));
        Span<byte> biasBytes = stackalloc byte[sizeof(float)];
        for (int s = 0; s < sampleCount; s++)
        {
            if (stream.ReadAtLeast(biasBytes, sizeof(float), throwOnEndOfStream: false) < sizeof(float))
            {
                throw Fail(sourceName, $"the file is truncated: it ends at sample {s} of {sampleCount}");
            }

            crc.Append(biasBytes);
            var table = new AlignedTable(n, k);
            ReadRows(stream, table, crc, sourceName);
            tables.Add((BinaryPrimitives.ReadSingleLittleEndian(biasBytes), table));
        }

        NativeFrame.ReadTrailer(stream, crc, EndMarker, length >= 0, sourceName);

        bool normalized = (flags & FlagNormalization) != 0;
        var members = new List<FmModel>(tables.Count);
        for (int s = 0; s < tables.Count; s++)
        {
            try
            {
                members.Add(FmModel.FromTable(tables[s].Bias, tables[s].Table, $"{sourceName} (sample {s})").WithInstanceNormalization(normalized));
            }
            catch (InvalidDataException e)
            {
                throw new ModelFileException(e.Message, e);
            }
        }

        FmSampleSet samples = FmSampleSet.Create(members, (FmSampleLink)link, clipMin, clipMax);
        return new ModelFile(samples.MeanModel().WithInstanceNormalization(normalized),
            task == 0 ? null : (FmTask)task, (flags & FlagBias) != 0, (flags & FlagLinear) != 0)
        {
            Format = ModelFormat.Native,
            ChecksumVerified = true,
            Samples = samples,
        };
    }

    /// <summary>Reads the data rows into the table, adding them to the checksum. A method of its own: only this loop
    /// needs optimised code at once, the header checks around it run fine unoptimised.</summary>
    private static void ReadRows(Stream stream, AlignedTable table, Crc32 crc, string sourceName)
    {
        int n = table.NumFeatures;
        int rowFloats = StoredFloats(table);
        int rowBytes = rowFloats * sizeof(float);
        int rowsPerChunk = Math.Max(1, (1 << 20) / rowBytes);
        byte[] buffer = new byte[(int)Math.Min((long)rowsPerChunk * rowBytes, Math.Max(rowBytes, (long)n * rowBytes))];
        rowsPerChunk = buffer.Length / rowBytes;
        for (int start = 0; start < n; start += rowsPerChunk)
        {
            int rows = Math.Min(rowsPerChunk, n - start);
            int bytes = rows * rowBytes;
            int read = stream.ReadAtLeast(buffer.AsSpan(0, bytes), bytes, throwOnEndOfStream: false);
            if (read < bytes)
            {
                throw Fail(sourceName, $"the file is truncated: it ends inside the weights of feature {start + (read / rowBytes):N0} of {n:N0}");
            }

            crc.Append(buffer.AsSpan(0, bytes));
            for (int r = 0; r < rows; r++)
            {
                ReadRow(buffer.AsSpan(r * rowBytes, rowBytes), table, start + r);
            }
        }
    }

    /// <summary>Reads <paramref name="stored"/> rows of (feature id, k + 1 floats) into a zeroed table; the ids must
    /// rise strictly and stay below the table's feature count.</summary>
    private static int[] ReadSparseRows(Stream stream, AlignedTable table, int stored, Crc32 crc, string sourceName)
    {
        var ids = new int[stored];
        int n = table.NumFeatures;
        int rowFloats = StoredFloats(table);
        int entryBytes = sizeof(int) + (rowFloats * sizeof(float));
        int perChunk = Math.Max(1, (1 << 20) / entryBytes);
        byte[] buffer = new byte[(int)Math.Min((long)perChunk * entryBytes, Math.Max(entryBytes, (long)stored * entryBytes))];
        perChunk = buffer.Length / entryBytes;
        int previous = -1;
        for (int start = 0; start < stored; start += perChunk)
        {
            int rows = Math.Min(perChunk, stored - start);
            int bytes = rows * entryBytes;
            int read = stream.ReadAtLeast(buffer.AsSpan(0, bytes), bytes, throwOnEndOfStream: false);
            if (read < bytes)
            {
                throw Fail(sourceName, $"the file is truncated: it ends inside stored row {start + (read / entryBytes):N0} of {stored:N0}");
            }

            crc.Append(buffer.AsSpan(0, bytes));
            for (int r = 0; r < rows; r++)
            {
                ReadOnlySpan<byte> entry = buffer.AsSpan(r * entryBytes, entryBytes);
                int id = BinaryPrimitives.ReadInt32LittleEndian(entry);
                if (id <= previous || id >= n)
                {
                    throw Fail(sourceName, $"stored row {start + r:N0} has feature id {id}; the ids must rise strictly (the previous is {previous}) and stay below {n:N0}");
                }

                previous = id;
                ids[start + r] = id;
                ReadRow(entry[sizeof(int)..], table, id);
            }
        }

        return ids;
    }

    private static long CountNonZeroRows(AlignedTable table, int[]? present)
    {
        long count = 0;
        int visit = present?.Length ?? table.NumFeatures;
        for (int j = 0; j < visit; j++)
        {
            count += IsZeroRow(table, present is null ? j : present[j]) ? 0 : 1;
        }

        return count;
    }

    /// <summary>True when every bit of the row's parameters is zero (a -0.0 is kept, so the bits round-trip).</summary>
    private static bool IsZeroRow(AlignedTable table, int feature) =>
        MemoryMarshal.AsBytes(table.Row(feature)[..table.ParameterFloats]).IndexOfAnyExcept((byte)0) < 0;

    /// <summary>The floats of one row in the file: k + 1, and k more for order 3.</summary>
    private static int StoredFloats(AlignedTable table) => table.EmbeddingSize + 1 + (table.Order == 3 ? table.EmbeddingSize : 0);

    /// <summary>One stored row into the table: the k factors and the weight, then for order 3 the order-3 factors.</summary>
    private static void ReadRow(ReadOnlySpan<byte> source, AlignedTable table, int feature)
    {
        int k = table.EmbeddingSize;
        ReadLittleEndian(source[..((k + 1) * sizeof(float))], table.Row(feature)[..(k + 1)]);
        if (table.Order == 3)
        {
            ReadLittleEndian(source.Slice((k + 1) * sizeof(float), k * sizeof(float)), table.Factors3(feature));
        }
    }

    private static void WriteLittleEndian(ReadOnlySpan<float> values, Span<byte> destination)
    {
        if (BitConverter.IsLittleEndian)
        {
            MemoryMarshal.AsBytes(values).CopyTo(destination);
            return;
        }

        for (int i = 0; i < values.Length; i++)
        {
            BinaryPrimitives.WriteSingleLittleEndian(destination[(i * 4)..], values[i]);
        }
    }

    private static void ReadLittleEndian(ReadOnlySpan<byte> source, Span<float> values)
    {
        if (BitConverter.IsLittleEndian)
        {
            source.CopyTo(MemoryMarshal.AsBytes(values));
            return;
        }

        for (int i = 0; i < values.Length; i++)
        {
            values[i] = BinaryPrimitives.ReadSingleLittleEndian(source[(i * 4)..]);
        }
    }

    private static ModelFileException Fail(string source, string what) => NativeFrame.Fail(source, what);
}
