using System.Buffers.Binary;
using System.IO.Hashing;
using FmCodegen.Data;
using FmCodegen.Kernels;

namespace FmCodegen.IO;

/// <summary>
/// FmCodegen's binary field-aware model, version 1 (the FFM kind of the native format). Little-endian throughout.
/// <code>
/// offset size  field
///      0    8  magic: 'F' 'F' 'M' 'C' 0x0D 0x0A 0x1A 0x0A
///      8    4  format version (1)
///     12    4  header size in bytes (64)
///     16    4  task: 0 unknown, 1 regression, 2 classification
///     20    4  k, the embedding size (1 .. 1024)
///     24    8  number of features n (0 .. int.MaxValue - 1)
///     32    4  number of fields m (>= 1)
///     36    4  flags: bit 0 has a bias, bit 1 has linear weights; other bits 0
///     40    4  normalisation: 0 none, 1 libffm, 2 xLearn, 3 ML.NET
///     44    4  bias w0 (float32)
///     48    8  data size in bytes: (n + n m k) 4
///     56    4  reserved, 0
///     60    4  CRC-32 (IEEE) of bytes 0 .. 59
///     64       data: n linear weights, then n m k factors in the order feature, field, factor (float32)
///    end-8  4  CRC-32 (IEEE) of every byte before it
///    end-4  4  end marker 'F' 'F' 'M' 'E'
/// </code>
/// Loading checks magic, version, header checksum, the exact length before allocating, the data checksum, the end
/// marker and that every value is finite. Saving writes a temporary file and renames it over the target.
/// </summary>
public static class NativeFfmModelFile
{
    /// <summary>The first 8 bytes of every native FFM model file.</summary>
    public static ReadOnlySpan<byte> Magic => [(byte)'F', (byte)'F', (byte)'M', (byte)'C', 0x0D, 0x0A, 0x1A, 0x0A];

    /// <summary>The format version this code writes and reads.</summary>
    public const int Version = 1;

    private const int HeaderSize = NativeFrame.HeaderSize;
    private const int TrailerSize = NativeFrame.TrailerSize;
    private const uint FlagBias = 1;
    private const uint FlagLinear = 2;
    private static ReadOnlySpan<byte> EndMarker => [(byte)'F', (byte)'F', (byte)'M', (byte)'E'];

    /// <summary>True when the bytes start like a native FFM model file.</summary>
    public static bool HasMagic(ReadOnlySpan<byte> head) => head.Length >= 8 && head[..8].SequenceEqual(Magic);

    /// <summary>Saves a model atomically.</summary>
    public static void Save(FfmModelFile file, string path)
    {
        ArgumentNullException.ThrowIfNull(file);
        AtomicFile.Write(path, stream => Write(file, stream));
    }

    /// <summary>Writes a model to a stream.</summary>
    public static void Write(FfmModelFile file, Stream stream)
    {
        ArgumentNullException.ThrowIfNull(file);
        ArgumentNullException.ThrowIfNull(stream);
        FfmModel model = file.Model;
        int n = model.NumFeatures, m = model.NumFields, k = model.EmbeddingSize;
        var crc = new Crc32();
        Span<byte> header = stackalloc byte[HeaderSize];
        header.Clear();
        Magic.CopyTo(header);
        BinaryPrimitives.WriteInt32LittleEndian(header[8..], Version);
        BinaryPrimitives.WriteInt32LittleEndian(header[12..], HeaderSize);
        BinaryPrimitives.WriteInt32LittleEndian(header[16..], (int)(file.Task ?? 0));
        BinaryPrimitives.WriteInt32LittleEndian(header[20..], k);
        BinaryPrimitives.WriteInt64LittleEndian(header[24..], n);
        BinaryPrimitives.WriteInt32LittleEndian(header[32..], m);
        BinaryPrimitives.WriteUInt32LittleEndian(header[36..], (file.HasBias ? FlagBias : 0) | (file.HasLinear ? FlagLinear : 0));
        BinaryPrimitives.WriteInt32LittleEndian(header[40..], (int)model.Normalization);
        BinaryPrimitives.WriteSingleLittleEndian(header[44..], model.Bias);
        BinaryPrimitives.WriteInt64LittleEndian(header[48..], DataSize(n, m, k));
        NativeFrame.WriteHeader(header, crc, stream);

        var buffer = new byte[1 << 16];
        int used = 0;
        void Put(float value)
        {
            if (used == buffer.Length)
            {
                crc.Append(buffer);
                stream.Write(buffer);
                used = 0;
            }

            BinaryPrimitives.WriteSingleLittleEndian(buffer.AsSpan(used), value);
            used += 4;
        }

        for (int j = 0; j < n; j++)
        {
            Put(model.Weight(j));
        }

        for (int j = 0; j < n; j++)
        {
            for (int f = 0; f < m; f++)
            {
                foreach (float v in model.FactorBlock(j, f))
                {
                    Put(v);
                }
            }
        }

        crc.Append(buffer.AsSpan(0, used));
        stream.Write(buffer, 0, used);
        NativeFrame.WriteTrailer(crc, EndMarker, stream);
    }

    /// <summary>Loads a native FFM model file, verifying its structure and checksums.</summary>
    /// <exception cref="ModelFileException">The file is not a native FFM model, is truncated or damaged.</exception>
    public static FfmModelFile Load(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        return Read(stream, stream.Length, path);
    }

    /// <summary>Reads a native FFM model of <paramref name="length"/> bytes (the stream's length, checked against the
    /// header before anything is allocated).</summary>
    public static FfmModelFile Read(Stream stream, long length, string source)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        Span<byte> header = stackalloc byte[HeaderSize];
        NativeFrame.ReadHeader(stream, header, Magic, "an FmCodegen native FFM model", "FFMC\\r\\n\\x1a\\n", Version, Version, source);
        int task = BinaryPrimitives.ReadInt32LittleEndian(header[16..]);
        int k = BinaryPrimitives.ReadInt32LittleEndian(header[20..]);
        long n = BinaryPrimitives.ReadInt64LittleEndian(header[24..]);
        int m = BinaryPrimitives.ReadInt32LittleEndian(header[32..]);
        uint flags = BinaryPrimitives.ReadUInt32LittleEndian(header[36..]);
        int normalization = BinaryPrimitives.ReadInt32LittleEndian(header[40..]);
        float bias = BinaryPrimitives.ReadSingleLittleEndian(header[44..]);
        long dataSize = BinaryPrimitives.ReadInt64LittleEndian(header[48..]);
        if (BinaryPrimitives.ReadInt32LittleEndian(header[12..]) != HeaderSize || task is < 0 or > 2 || k < 1 || k > FfmLayout.MaxEmbeddingSize
            || n < 0 || n >= int.MaxValue || m < 1 || (flags & ~(FlagBias | FlagLinear)) != 0 || normalization is < 0 or > 3 || dataSize != DataSize((int)n, m, k))
        {
            throw NativeFrame.Fail(source, $"the header is inconsistent (task {task}, k {k}, features {n}, fields {m}, flags 0x{flags:x}, normalisation {normalization}, data bytes {dataSize})");
        }

        NativeFrame.CheckLength(length, HeaderSize + dataSize + TrailerSize, $"a model of {n:N0} features, {m:N0} fields and k = {k} takes", source);

        ModelLimits.CheckFfmTable(n, m, k, source);
        var crc = new Crc32();
        crc.Append(header);
        var weights = new float[n + 1];
        var table = new FfmTable((int)n, m, k);
        var buffer = new byte[1 << 16];
        int filled = 0, position = 0;
        long dataLeft = dataSize;
        float Next()
        {
            if (position == filled)
            {
                // read only data bytes (never the trailer), whole floats at a time
                int want = (int)Math.Min(buffer.Length, dataLeft);
                filled = stream.ReadAtLeast(buffer.AsSpan(0, want), Math.Min(want, 4), throwOnEndOfStream: false);
                int extra = filled % 4;
                if (extra != 0)
                {
                    filled += stream.ReadAtLeast(buffer.AsSpan(filled, 4 - extra), 4 - extra, throwOnEndOfStream: false);
                }

                if (filled % 4 != 0)
                {
                    filled = 0;
                }

                dataLeft -= filled;
                if (filled == 0)
                {
                    throw NativeFrame.Fail(source, "the file is truncated: it ends inside the data");
                }

                crc.Append(buffer.AsSpan(0, filled));
                position = 0;
            }

            float v = BinaryPrimitives.ReadSingleLittleEndian(buffer.AsSpan(position));
            position += 4;
            return v;
        }

        for (int j = 0; j < n; j++)
        {
            weights[j] = Next();
        }

        for (int j = 0; j < n; j++)
        {
            for (int f = 0; f < m; f++)
            {
                Span<float> block = table.Block(j, f);
                for (int c = 0; c < k; c++)
                {
                    block[c] = Next();
                }
            }
        }

        NativeFrame.ReadTrailer(stream, crc, EndMarker, lengthKnown: true, source);

        FfmModel model = FfmModel.FromParts(bias, weights, table, (FfmNormalization)normalization, source);
        return new FfmModelFile(model, FfmModelFormat.Native, task == 0 ? null : (FmTask)task, (flags & FlagBias) != 0, (flags & FlagLinear) != 0, ChecksumVerified: true);
    }

    private static long DataSize(int n, int m, int k) => ((long)n + ((long)n * m * k)) * sizeof(float);
}
