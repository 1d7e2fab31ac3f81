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
///      8    4  format version: 1, or 2 when flag bit 3 (sparse rows) is set, so a version-1 reader refuses such a
///              file by its version instead of misreading it
///     12    4  header size in bytes (64)
///     16    4  task: 0 unknown, 1 regression, 2 classification
///     20    4  k, the embedding size (1 .. FmModel.MaxEmbeddingSize = 1024)
///     24    8  number of features n (0 .. int.MaxValue - 1)
///     32    4  flags: bit 0 has a bias, bit 1 has linear weights, bit 2 score with xLearn instance normalisation;
///              bit 3 (version 2) sparse rows: only the m features with a nonzero parameter are stored, each row
///              preceded by its feature id; other bits must be 0
///     36    4  bias w0 (float32)
///     40    4  floats per feature row in the data (k + 1)
///     44    4  reserved, 0
///     48    8  data size in bytes: n (k + 1) 4; with sparse rows m (4 + (k + 1) 4)
///     56    4  reserved, 0
///     60    4  CRC-32 (IEEE) of bytes 0 .. 59, so a damaged header is named before its sizes are trusted
///     64       data: n rows, each k factors v_i,0 .. v_i,k-1 then the linear weight w_i (float32), the order of the
///              in-memory row table (<see cref="FmLayout"/>) without its padding. With sparse rows: m rows, each an
///              int32 feature id (strictly rising, below n) then the k + 1 floats; every feature not stored is zero
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

    /// <summary>The newest format version this code writes and reads. It writes version 1 for dense rows, so older
    /// readers keep reading those, and version 2 for sparse rows.</summary>
    public const int Version = 2;

    private const int HeaderSize = 64;
    private const int TrailerSize = 8;
    private const uint FlagBias = 1;
    private const uint FlagLinear = 2;
    private const uint FlagNormalization = 4;
    private const uint FlagSparseRows = 8;
    private const uint KnownFlags = FlagBias | FlagLinear | FlagNormalization | FlagSparseRows;
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
        int rowFloats = k + 1;
        int rowBytes = rowFloats * sizeof(float);
        var crc = new Crc32();

        // sparse rows when they take less room: a hashed model holds a few features of a large index space
        AlignedTable table = model.Table;
        int[]? present = model.PresentRows;
        long stored = CountNonZeroRows(table, present);
        bool sparse = stored * (sizeof(int) + rowBytes) < (long)n * rowBytes;
        long dataBytes = sparse ? stored * (sizeof(int) + rowBytes) : (long)n * rowBytes;

        Span<byte> header = stackalloc byte[HeaderSize];
        header.Clear();
        Magic.CopyTo(header);
        BinaryPrimitives.WriteInt32LittleEndian(header[8..], sparse ? 2 : 1);
        BinaryPrimitives.WriteInt32LittleEndian(header[12..], HeaderSize);
        BinaryPrimitives.WriteInt32LittleEndian(header[16..], (int)(file.Task ?? 0));
        BinaryPrimitives.WriteInt32LittleEndian(header[20..], k);
        BinaryPrimitives.WriteInt64LittleEndian(header[24..], n);
        uint flags = (file.HasBias ? FlagBias : 0) | (file.HasLinear ? FlagLinear : 0) | (file.InstanceNormalization ? FlagNormalization : 0)
            | (sparse ? FlagSparseRows : 0);
        BinaryPrimitives.WriteUInt32LittleEndian(header[32..], flags);
        BinaryPrimitives.WriteSingleLittleEndian(header[36..], model.Bias);
        BinaryPrimitives.WriteInt32LittleEndian(header[40..], rowFloats);
        BinaryPrimitives.WriteInt64LittleEndian(header[48..], dataBytes);
        BinaryPrimitives.WriteUInt32LittleEndian(header[60..], Crc32.HashToUInt32(header[..60]));
        crc.Append(header);
        stream.Write(header);

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

            WriteLittleEndian(table.Row(i)[..rowFloats], buffer.AsSpan(used, rowBytes));
            used += rowBytes;
        }

        crc.Append(buffer.AsSpan(0, used));
        stream.Write(buffer, 0, used);

        Span<byte> trailer = stackalloc byte[TrailerSize];
        BinaryPrimitives.WriteUInt32LittleEndian(trailer, crc.GetCurrentHashAsUInt32());
        EndMarker.CopyTo(trailer[4..]);
        stream.Write(trailer);
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
        if (version is < 1 or > Version)
        {
            throw Fail(sourceName, $"format version {version} is not supported (this build reads versions 1 to {Version})");
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
        bool sparse = (flags & FlagSparseRows) != 0;
        long entryBytes = (rowFloats * (long)sizeof(float)) + (sparse ? sizeof(int) : 0);
        if (headerSize != HeaderSize || task is < 0 or > 2 || k < 1 || k > FmModel.MaxEmbeddingSize || n < 0 || n >= int.MaxValue
            || (flags & ~KnownFlags) != 0 || (sparse && version < 2) || rowFloats != k + 1
            || (sparse ? dataBytes < 0 || dataBytes % entryBytes != 0 || dataBytes / entryBytes > n : dataBytes != n * rowFloats * sizeof(float)))
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

        if (length < 0 && expected > maxLength)
        {
            throw Fail(sourceName, $"the header declares {n:N0} features with k = {k} ({expected:N0} bytes), but this compressed file can hold at most {maxLength:N0} bytes (deflate expands at most {Data.CheckedGZipStream.MaxRatio}:1): the header is damaged or forged");
        }

        ModelLimits.CheckTable(n, k, sourceName);
        var crc = new Crc32();
        crc.Append(header);
        long tableBytes = ((n + 1) * FmLayout.RowStride(k) + FmLayout.TablePadding) * sizeof(float);
        long available = GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;
        if (sparse && tableBytes > available / 2)
        {
            throw Fail(sourceName, $"the model's {n:N0} features with k = {k} need a {tableBytes:N0}-byte table, more than half the {available:N0} bytes this process may use");
        }

        var table = new AlignedTable((int)n, k);
        int[]? presentRows = null;
        if (sparse)
        {
            presentRows = ReadSparseRows(stream, table, (int)(dataBytes / entryBytes), crc, sourceName);
        }
        else
        {
            ReadRows(stream, table, crc, sourceName);
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
        };
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

    /// <summary>Reads <paramref name="stored"/> rows of (feature id, k + 1 floats) into a zeroed table; the ids must
    /// rise strictly and stay below the table's feature count.</summary>
    private static int[] ReadSparseRows(Stream stream, AlignedTable table, int stored, Crc32 crc, string sourceName)
    {
        var ids = new int[stored];
        int n = table.NumFeatures;
        int rowFloats = table.EmbeddingSize + 1;
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
                ReadLittleEndian(entry[sizeof(int)..], table.Row(id)[..rowFloats]);
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

    /// <summary>True when every bit of the row's k + 1 values is zero (a -0.0 is kept, so the bits round-trip).</summary>
    private static bool IsZeroRow(AlignedTable table, int feature) =>
        MemoryMarshal.AsBytes(table.Row(feature)[..(table.EmbeddingSize + 1)]).IndexOfAnyExcept((byte)0) < 0;

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
