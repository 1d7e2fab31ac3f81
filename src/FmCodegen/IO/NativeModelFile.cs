using System.Buffers.Binary;
using System.IO.Hashing;
using System.Runtime.InteropServices;
using FmCodegen.Data;
using FmCodegen.Kernels;

namespace FmCodegen.IO;

/// <summary>
/// FmCodegen's binary model format, versions 1 and 2. Every number is little-endian.
/// <code>
/// offset size  field
///      0    8  magic: 'F' 'M' 'C' 'G' 0x0D 0x0A 0x1A 0x0A (a text-mode transfer or a truncation at byte 6 shows)
///      8    4  format version: 1, or 2 when the kind (offset 44) is not 0 (a version-1 reader then refuses the file
///              by its version instead of misreading it)
///     12    4  header size in bytes (64)
///     16    4  task: 0 unknown, 1 regression, 2 classification
///     20    4  k, the embedding size (1 .. FmModel.MaxEmbeddingSize = 1024)
///     24    8  number of features n (0 .. int.MaxValue - 1)
///     32    4  flags: bit 0 has a bias, bit 1 has linear weights, bit 2 score with xLearn instance normalisation;
///              other bits must be 0
///     36    4  bias w0 (float32)
///     40    4  floats per feature row in the data (k + 1)
///     44    4  kind (version 2; reserved 0 in version 1): 0 one model, 1 a sample set (Bayesian FM, MCMC)
///     48    8  data size in bytes: n (k + 1) 4 for kind 0; 16 + S (4 + n (k + 1) 4) for kind 1
///     56    4  kind 0: reserved, 0; kind 1: S, the number of samples (1 .. 1,000,000)
///     60    4  CRC-32 (IEEE) of bytes 0 .. 59, so a damaged header is named before its sizes are trusted
///     64       data: n rows, each k factors v_i,0 .. v_i,k-1 then the linear weight w_i (float32), the order of the
///              in-memory row table (<see cref="FmLayout"/>) without its padding
///              Kind 1 instead: int32 S again, int32 link (0 identity: average the scores, each clamped to the range
///              below; 1 probit: average Phi(score)), float32 clamp min, float32 clamp max (infinities: none), then
///              S samples, each its bias (float32) and n rows as above. The header's bias is the samples' mean.
///    end-8  4  CRC-32 (IEEE) of every byte before it (header and data)
///    end-4  4  end marker 'F' 'M' 'C' 'E'
/// </code>
/// Loading checks the magic, version, header checksum, the exact file length (a truncated file is named as such),
/// the data checksum and the end marker, then that every value is finite. Saving writes a temporary file in the
/// same folder, flushes it to disk and renames it over the target.
/// </summary>
public static class NativeModelFile
{
    /// <summary>The first 8 bytes of every native model file.</summary>
    public static ReadOnlySpan<byte> Magic => [(byte)'F', (byte)'M', (byte)'C', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    /// <summary>The newest format version this code writes and reads (it writes version 1 for a single model,
    /// so older readers keep reading those).</summary>
    public const int Version = 2;

    /// <summary>The kind field of version 2: one model.</summary>
    public const int KindModel = 0;

    /// <summary>The kind field of version 2: a sample set (<see cref="FmSampleSet"/>).</summary>
    public const int KindSampleSet = 1;

    private const int MaxSamples = 1_000_000;
    private const int SampleSetPreamble = 16;

    private const int HeaderSize = 64;
    private const int TrailerSize = 8;
    private const uint FlagBias = 1;
    private const uint FlagLinear = 2;
    private const uint FlagNormalization = 4;
    private const uint KnownFlags = FlagBias | FlagLinear | FlagNormalization;
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
        FmSampleSet? samples = file.Samples;
        int k = model.EmbeddingSize;
        int n = model.NumFeatures;
        if (samples is not null && (samples.EmbeddingSize != k || samples.NumFeatures != n))
        {
            throw new ArgumentException($"The sample set (k = {samples.EmbeddingSize}, {samples.NumFeatures:N0} features) and the model (k = {k}, {n:N0} features) differ in shape.", nameof(file));
        }

        int rowFloats = k + 1;
        long modelBytes = (long)n * rowFloats * sizeof(float);
        var crc = new Crc32();

        Span<byte> header = stackalloc byte[HeaderSize];
        header.Clear();
        Magic.CopyTo(header);
        BinaryPrimitives.WriteInt32LittleEndian(header[8..], samples is null ? 1 : 2);
        BinaryPrimitives.WriteInt32LittleEndian(header[12..], HeaderSize);
        BinaryPrimitives.WriteInt32LittleEndian(header[16..], (int)(file.Task ?? 0));
        BinaryPrimitives.WriteInt32LittleEndian(header[20..], k);
        BinaryPrimitives.WriteInt64LittleEndian(header[24..], n);
        uint flags = (file.HasBias ? FlagBias : 0) | (file.HasLinear ? FlagLinear : 0) | (file.InstanceNormalization ? FlagNormalization : 0);
        BinaryPrimitives.WriteUInt32LittleEndian(header[32..], flags);
        BinaryPrimitives.WriteSingleLittleEndian(header[36..], model.Bias);
        BinaryPrimitives.WriteInt32LittleEndian(header[40..], rowFloats);
        if (samples is null)
        {
            BinaryPrimitives.WriteInt64LittleEndian(header[48..], modelBytes);
        }
        else
        {
            BinaryPrimitives.WriteInt32LittleEndian(header[44..], KindSampleSet);
            BinaryPrimitives.WriteInt64LittleEndian(header[48..], SampleSetPreamble + samples.Samples.Count * (sizeof(float) + modelBytes));
            BinaryPrimitives.WriteInt32LittleEndian(header[56..], samples.Samples.Count);
        }

        BinaryPrimitives.WriteUInt32LittleEndian(header[60..], Crc32.HashToUInt32(header[..60]));
        crc.Append(header);
        stream.Write(header);

        if (samples is null)
        {
            WriteRows(model.Table, stream, crc);
        }
        else
        {
            Span<byte> preamble = stackalloc byte[SampleSetPreamble];
            BinaryPrimitives.WriteInt32LittleEndian(preamble, samples.Samples.Count);
            BinaryPrimitives.WriteInt32LittleEndian(preamble[4..], (int)samples.Link);
            BinaryPrimitives.WriteSingleLittleEndian(preamble[8..], samples.ClipMin);
            BinaryPrimitives.WriteSingleLittleEndian(preamble[12..], samples.ClipMax);
            crc.Append(preamble);
            stream.Write(preamble);
            Span<byte> bias = stackalloc byte[sizeof(float)];
            foreach (FmModel member in samples.Samples)
            {
                BinaryPrimitives.WriteSingleLittleEndian(bias, member.Bias);
                crc.Append(bias);
                stream.Write(bias);
                WriteRows(member.Table, stream, crc);
            }
        }

        Span<byte> trailer = stackalloc byte[TrailerSize];
        BinaryPrimitives.WriteUInt32LittleEndian(trailer, crc.GetCurrentHashAsUInt32());
        EndMarker.CopyTo(trailer[4..]);
        stream.Write(trailer);
    }

    private static void WriteRows(AlignedTable table, Stream stream, Crc32 crc)
    {
        int n = table.NumFeatures;
        int rowFloats = table.EmbeddingSize + 1;
        int rowBytes = rowFloats * sizeof(float);
        byte[] buffer = new byte[Math.Max(1 << 16, rowBytes)];
        int used = 0;
        for (int i = 0; i < n; i++)
        {
            if (used + rowBytes > buffer.Length)
            {
                crc.Append(buffer.AsSpan(0, used));
                stream.Write(buffer, 0, used);
                used = 0;
            }

            WriteLittleEndian(table.Row(i)[..rowFloats], buffer.AsSpan(used, rowBytes));
            used += rowBytes;
        }

        crc.Append(buffer.AsSpan(0, used));
        stream.Write(buffer, 0, used);
    }

    /// <summary>Loads a native model file, verifying its structure and checksums.</summary>
    /// <exception cref="ModelFileException">The file is not a native model, is truncated or damaged.</exception>
    public static ModelFile Load(string path)
    {
        // a gzip-compressed native file is read through the decompressor (its length is then unknown up front)
        using Stream stream = DataFile.OpenRead(path);
        return Read(stream, path, stream is FileStream file ? file.Length : -1);
    }

    /// <summary>Reads a native model from a stream. <paramref name="length"/> is the stream's length when known
    /// (then truncation is reported before reading the data), or -1.</summary>
    public static ModelFile Read(Stream stream, string sourceName, long length = -1)
    {
        ArgumentNullException.ThrowIfNull(stream);
        Span<byte> header = stackalloc byte[HeaderSize];
        int got = stream.ReadAtLeast(header, HeaderSize, throwOnEndOfStream: false);
        if (got >= 8 && !HasMagic(header) || got < 8 && !header[..got].SequenceEqual(Magic[..got]))
        {
            throw Fail(sourceName, "not an FmCodegen native model (the first bytes are not the magic 'FMCG\\r\\n\\x1a\\n')");
        }

        if (got < HeaderSize)
        {
            throw Fail(sourceName, $"the file is truncated: it ends after {got} bytes, inside the {HeaderSize}-byte header");
        }

        int version = BinaryPrimitives.ReadInt32LittleEndian(header[8..]);
        if (version is not 1 and not 2)
        {
            throw Fail(sourceName, $"format version {version} is not supported (this build reads versions 1 and {Version})");
        }

        uint headerCrc = BinaryPrimitives.ReadUInt32LittleEndian(header[60..]);
        if (Crc32.HashToUInt32(header[..60]) != headerCrc)
        {
            throw Fail(sourceName, "the header is damaged (its CRC-32 does not match)");
        }

        int headerSize = BinaryPrimitives.ReadInt32LittleEndian(header[12..]);
        int task = BinaryPrimitives.ReadInt32LittleEndian(header[16..]);
        int k = BinaryPrimitives.ReadInt32LittleEndian(header[20..]);
        long n = BinaryPrimitives.ReadInt64LittleEndian(header[24..]);
        uint flags = BinaryPrimitives.ReadUInt32LittleEndian(header[32..]);
        float bias = BinaryPrimitives.ReadSingleLittleEndian(header[36..]);
        int rowFloats = BinaryPrimitives.ReadInt32LittleEndian(header[40..]);
        long dataBytes = BinaryPrimitives.ReadInt64LittleEndian(header[48..]);
        int kind = version == 1 ? KindModel : BinaryPrimitives.ReadInt32LittleEndian(header[44..]);
        int sampleCount = BinaryPrimitives.ReadInt32LittleEndian(header[56..]);
        if (version == 2 && kind is not KindModel and not KindSampleSet)
        {
            throw Fail(sourceName, $"model kind {kind} is not supported (this build reads kinds {KindModel}, one model, and {KindSampleSet}, a sample set)");
        }

        if (kind == KindSampleSet && sampleCount is < 1 or > MaxSamples)
        {
            throw Fail(sourceName, $"the header is inconsistent (a sample set of {sampleCount} samples; 1 .. {MaxSamples:N0} allowed)");
        }

        long modelBytes = n * rowFloats * (long)sizeof(float);
        long expectedData = kind == KindModel ? modelBytes : SampleSetPreamble + sampleCount * (sizeof(float) + modelBytes);
        if (headerSize != HeaderSize || task is < 0 or > 2 || k < 1 || k > FmModel.MaxEmbeddingSize || n < 0 || n >= int.MaxValue
            || (flags & ~KnownFlags) != 0 || rowFloats != k + 1 || dataBytes != expectedData)
        {
            throw Fail(sourceName, $"the header is inconsistent (header size {headerSize}, task {task}, k {k}, features {n}, flags 0x{flags:x}, row floats {rowFloats}, data bytes {dataBytes})");
        }

        long expected = HeaderSize + dataBytes + TrailerSize;
        if (length >= 0 && length != expected)
        {
            throw Fail(sourceName, length < expected
                ? $"the file is truncated: {length:N0} bytes, but a model of {n:N0} features with k = {k} takes {expected:N0}"
                : $"the file has {length - expected:N0} bytes of garbage after the model ({length:N0} bytes, expected {expected:N0})");
        }

        var crc = new Crc32();
        crc.Append(header);
        AlignedTable? table = null;
        List<FmModel>? members = null;
        FmSampleLink link = FmSampleLink.Identity;
        float clipMin = 0, clipMax = 0;
        if (kind == KindModel)
        {
            table = new AlignedTable((int)n, k);
            ReadRows(stream, table, crc, sourceName);
        }
        else
        {
            Span<byte> preamble = stackalloc byte[SampleSetPreamble];
            if (stream.ReadAtLeast(preamble, SampleSetPreamble, throwOnEndOfStream: false) < SampleSetPreamble)
            {
                throw Fail(sourceName, "the file is truncated: it ends inside the sample set's preamble");
            }

            crc.Append(preamble);
            int linkValue = BinaryPrimitives.ReadInt32LittleEndian(preamble[4..]);
            clipMin = BinaryPrimitives.ReadSingleLittleEndian(preamble[8..]);
            clipMax = BinaryPrimitives.ReadSingleLittleEndian(preamble[12..]);
            if (BinaryPrimitives.ReadInt32LittleEndian(preamble) != sampleCount || linkValue is not 0 and not 1
                || float.IsNaN(clipMin) || float.IsNaN(clipMax) || clipMin > clipMax)
            {
                throw Fail(sourceName, $"the sample set's preamble is inconsistent (samples {BinaryPrimitives.ReadInt32LittleEndian(preamble)} where the header says {sampleCount}, link {linkValue}, clamp [{clipMin}, {clipMax}])");
            }

            link = (FmSampleLink)linkValue;
            members = new List<FmModel>(Math.Min(sampleCount, 1024));
            Span<byte> biasBytes = stackalloc byte[sizeof(float)];
            for (int s = 0; s < sampleCount; s++)
            {
                if (stream.ReadAtLeast(biasBytes, sizeof(float), throwOnEndOfStream: false) < sizeof(float))
                {
                    throw Fail(sourceName, $"the file is truncated: it ends at sample {s} of {sampleCount}");
                }

                crc.Append(biasBytes);
                var member = new AlignedTable((int)n, k);
                ReadRows(stream, member, crc, sourceName);
                members.Add(Wrap(BinaryPrimitives.ReadSingleLittleEndian(biasBytes), member, $"{sourceName} (sample {s})"));
            }
        }

        Span<byte> trailer = stackalloc byte[TrailerSize];
        int trailerRead = stream.ReadAtLeast(trailer, TrailerSize, throwOnEndOfStream: false);
        if (trailerRead < TrailerSize)
        {
            throw Fail(sourceName, "the file is truncated: the checksum at its end is missing");
        }

        if (BinaryPrimitives.ReadUInt32LittleEndian(trailer) != crc.GetCurrentHashAsUInt32())
        {
            throw Fail(sourceName, "the file is damaged: the CRC-32 of its content does not match the stored one");
        }

        if (!trailer[4..].SequenceEqual(EndMarker))
        {
            throw Fail(sourceName, "the file is damaged: the end marker is wrong");
        }

        if (length < 0 && stream.ReadByte() >= 0)
        {
            throw Fail(sourceName, "the file has garbage after the model");
        }

        bool normalized = (flags & FlagNormalization) != 0;
        FmSampleSet? samples = members is null ? null
            : FmSampleSet.Create(members.Select(m => m.WithInstanceNormalization(normalized)), link, clipMin, clipMax);
        FmModel model = samples?.MeanModel() ?? Wrap(bias, table!, sourceName);
        return new ModelFile(model.WithInstanceNormalization(normalized),
            task == 0 ? null : (FmTask)task, (flags & FlagBias) != 0, (flags & FlagLinear) != 0)
        {
            Format = ModelFormat.Native,
            ChecksumVerified = true,
            Samples = samples,
        };
    }

    private static FmModel Wrap(float bias, AlignedTable table, string sourceName)
    {
        try
        {
            return FmModel.FromTable(bias, table, sourceName);
        }
        catch (InvalidDataException e)
        {
            throw new ModelFileException(e.Message, e);
        }
    }

    /// <summary>Reads the data rows into the table, adding them to the checksum. A method of its own: only this loop
    /// needs optimised code at once, the header checks around it run fine unoptimised.</summary>
    private static void ReadRows(Stream stream, AlignedTable table, Crc32 crc, string sourceName)
    {
        int n = table.NumFeatures;
        int rowFloats = table.EmbeddingSize + 1;
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
                ReadLittleEndian(buffer.AsSpan(r * rowBytes, rowBytes), table.Row(start + r)[..rowFloats]);
            }
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

    private static ModelFileException Fail(string source, string what) => new($"{source}: {what}.");
}
