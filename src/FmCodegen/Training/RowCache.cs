using System.Buffers.Binary;
using System.IO.Hashing;
using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;
using FmCodegen.Data;

namespace FmCodegen.Training;

/// <summary>
/// The binary row cache of out-of-core training (format version 1, little-endian), written once and read chunk by
/// chunk every epoch:
/// <code>
/// prologue  8 bytes "FMCACHE\0", uint32 version, uint32 0
/// chunk*    int32 rows, int32 nonzeros, int32 flags (bit 0: every value is 1, no values stored), uint32 CRC-32 of
///           the payload; payload: float labels[rows], int32 lengths[rows], int32 indices[nonzeros],
///           float values[nonzeros] (absent with bit 0)
/// footer    int64 rows, int64 nonzeros, int32 numFeatures (largest index + 1), int32 chunks, int32 largest chunk's
///           rows, int32 largest chunk's nonzeros, int64 source length, int64 source last-write time (UTC ticks),
///           int64 chunk offsets[chunks], uint32 CRC-32 of the footer
/// tail      int64 footer offset, 8 bytes "FMCACHE\0"
/// </code>
/// A reader checks the magic, the version, the footer's checksum and every size against the file's length and the
/// other sizes before it allocates, and each chunk's checksum as it reads it; anything else is refused with an
/// <see cref="InvalidDataException"/> naming the file and what is wrong. Per nonzero the cache holds 4 bytes (index)
/// for binary data and 8 (index and value) otherwise, plus 8 bytes per row.
/// </summary>
internal static class RowCache
{
    public const int Version = 1;
    public const int PrologueSize = 16;
    public const int ChunkHeaderSize = 16;
    public const int FooterFixedSize = 48;
    public const int TailSize = 16;
    public const int FlagUnitValues = 1;

    /// <summary>The largest chunk a reader accepts (nonzeros): 4 bytes each must fit a span.</summary>
    public const int MaxChunkNonZeros = 1 << 28;

    public static ReadOnlySpan<byte> Magic => "FMCACHE\0"u8;

    /// <summary>True when <paramref name="path"/> starts with the cache's magic (so a user's other file is never taken
    /// for a cache, nor overwritten as one).</summary>
    public static bool LooksLikeCache(string path)
    {
        try
        {
            using FileStream stream = File.OpenRead(path);
            Span<byte> head = stackalloc byte[8];
            return stream.ReadAtLeast(head, 8, throwOnEndOfStream: false) == 8 && head.SequenceEqual(Magic);
        }
        catch (IOException)
        {
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
    }
}

/// <summary>Writes a row cache to a stream, chunk by chunk, then the footer (see <see cref="RowCache"/>).</summary>
internal sealed class RowCacheWriter : IDisposable
{
    private readonly Stream _stream;
    private readonly List<long> _chunkOffsets = [];
    private readonly bool _ownsStream;
    private byte[] _buffer = new byte[1 << 16];
    private long _position;
    private long _rows;
    private long _nonZeros;
    private int _maxRows;
    private int _maxNonZeros;
    private int _maxIndex = -1;

    public RowCacheWriter(Stream stream, bool ownsStream)
    {
        _stream = stream;
        _ownsStream = ownsStream;
        Span<byte> prologue = stackalloc byte[RowCache.PrologueSize];
        prologue.Clear();
        RowCache.Magic.CopyTo(prologue);
        BinaryPrimitives.WriteInt32LittleEndian(prologue[8..], RowCache.Version);
        _stream.Write(prologue);
        _position = RowCache.PrologueSize;
    }

    public long Rows => _rows;
    public long NonZeros => _nonZeros;
    public long BytesWritten => _position;

    /// <summary>Appends a chunk: <paramref name="offsets"/> has rows + 1 entries from 0; empty <paramref name="values"/>
    /// means every value is 1 (else its length is the nonzeros).</summary>
    public void WriteChunk(ReadOnlySpan<float> labels, ReadOnlySpan<int> offsets, ReadOnlySpan<int> indices, ReadOnlySpan<float> values)
    {
        int rows = labels.Length;
        int nonZeros = indices.Length;
        bool unit = values.IsEmpty && nonZeros > 0 || nonZeros == 0;
        if (nonZeros > RowCache.MaxChunkNonZeros)
        {
            throw new InvalidOperationException($"A cache chunk of {nonZeros:N0} nonzeros; at most {RowCache.MaxChunkNonZeros:N0}.");
        }

        var crc = new Crc32();
        Span<byte> header = stackalloc byte[RowCache.ChunkHeaderSize];
        crc.Append(MemoryMarshal.AsBytes(labels));
        int lengthBytes = rows * sizeof(int);
        if (_buffer.Length < lengthBytes)
        {
            _buffer = new byte[Math.Max(lengthBytes, _buffer.Length * 2)];
        }

        Span<int> lengths = MemoryMarshal.Cast<byte, int>(_buffer.AsSpan(0, lengthBytes));
        for (int r = 0; r < rows; r++)
        {
            lengths[r] = offsets[r + 1] - offsets[r];
        }

        crc.Append(MemoryMarshal.AsBytes(lengths));
        crc.Append(MemoryMarshal.AsBytes(indices));
        if (!unit)
        {
            crc.Append(MemoryMarshal.AsBytes(values));
        }

        BinaryPrimitives.WriteInt32LittleEndian(header, rows);
        BinaryPrimitives.WriteInt32LittleEndian(header[4..], nonZeros);
        BinaryPrimitives.WriteInt32LittleEndian(header[8..], unit ? RowCache.FlagUnitValues : 0);
        BinaryPrimitives.WriteUInt32LittleEndian(header[12..], crc.GetCurrentHashAsUInt32());
        _chunkOffsets.Add(_position);
        _stream.Write(header);
        _stream.Write(MemoryMarshal.AsBytes(labels));
        _stream.Write(MemoryMarshal.AsBytes(lengths));
        _stream.Write(MemoryMarshal.AsBytes(indices));
        if (!unit)
        {
            _stream.Write(MemoryMarshal.AsBytes(values));
        }

        _position += RowCache.ChunkHeaderSize + ((long)rows * 8) + ((long)nonZeros * (unit ? 4 : 8));
        foreach (int i in indices)
        {
            _maxIndex = Math.Max(_maxIndex, i);
        }

        _rows += rows;
        _nonZeros += nonZeros;
        _maxRows = Math.Max(_maxRows, rows);
        _maxNonZeros = Math.Max(_maxNonZeros, nonZeros);
    }

    /// <summary>Writes the footer and the tail; the cache is complete once the stream is committed.</summary>
    public void Finish(long sourceLength, long sourceTicks, int numFeatures = -1)
    {
        int chunks = _chunkOffsets.Count;
        var footer = new byte[RowCache.FooterFixedSize + (chunks * 8) + 4];
        Span<byte> f = footer;
        BinaryPrimitives.WriteInt64LittleEndian(f, _rows);
        BinaryPrimitives.WriteInt64LittleEndian(f[8..], _nonZeros);
        BinaryPrimitives.WriteInt32LittleEndian(f[16..], Math.Max(numFeatures, _maxIndex + 1));
        BinaryPrimitives.WriteInt32LittleEndian(f[20..], chunks);
        BinaryPrimitives.WriteInt32LittleEndian(f[24..], _maxRows);
        BinaryPrimitives.WriteInt32LittleEndian(f[28..], _maxNonZeros);
        BinaryPrimitives.WriteInt64LittleEndian(f[32..], sourceLength);
        BinaryPrimitives.WriteInt64LittleEndian(f[40..], sourceTicks);
        for (int c = 0; c < chunks; c++)
        {
            BinaryPrimitives.WriteInt64LittleEndian(f[(RowCache.FooterFixedSize + (c * 8))..], _chunkOffsets[c]);
        }

        BinaryPrimitives.WriteUInt32LittleEndian(f[^4..], Crc32.HashToUInt32(f[..^4]));
        long footerAt = _position;
        _stream.Write(footer);
        Span<byte> tail = stackalloc byte[RowCache.TailSize];
        BinaryPrimitives.WriteInt64LittleEndian(tail, footerAt);
        RowCache.Magic.CopyTo(tail[8..]);
        _stream.Write(tail);
        _position += footer.Length + RowCache.TailSize;
        _stream.Flush();
    }

    public void Dispose()
    {
        if (_ownsStream)
        {
            _stream.Dispose();
        }
    }
}

/// <summary>One chunk read from a cache: CSR arrays sized for the largest chunk, reused chunk after chunk.</summary>
internal sealed class RowCacheReader : IDisposable
{
    private readonly SafeFileHandle _handle;
    private readonly long[] _offsets;
    private readonly int[] _rows;
    private readonly int[] _nonZeros;
    private readonly bool[] _unit;
    private readonly uint[] _crcs;

    private RowCacheReader(string path, SafeFileHandle handle, long[] offsets, int[] rows, int[] nonZeros, bool[] unit, uint[] crcs,
        long totalRows, long totalNonZeros, int numFeatures, int maxRows, int maxNonZeros, long sourceLength, long sourceTicks)
    {
        Path = path;
        _handle = handle;
        _offsets = offsets;
        _rows = rows;
        _nonZeros = nonZeros;
        _unit = unit;
        _crcs = crcs;
        Rows = totalRows;
        NonZeros = totalNonZeros;
        NumFeatures = numFeatures;
        MaxChunkRows = maxRows;
        MaxChunkNonZeros = maxNonZeros;
        SourceLength = sourceLength;
        SourceTicks = sourceTicks;
        UnitValues = Array.TrueForAll(unit, u => u);
    }

    public string Path { get; }
    public long Rows { get; }
    public long NonZeros { get; }
    public int NumFeatures { get; }
    public int Chunks => _offsets.Length;
    public int MaxChunkRows { get; }
    public int MaxChunkNonZeros { get; }
    public long SourceLength { get; }
    public long SourceTicks { get; }

    /// <summary>True when every chunk's values are all 1.</summary>
    public bool UnitValues { get; }

    /// <summary>Bytes read from the file since it was opened.</summary>
    public long BytesRead { get; private set; }

    public int ChunkRows(int chunk) => _rows[chunk];
    public int ChunkNonZeros(int chunk) => _nonZeros[chunk];

    /// <summary>Opens and checks a cache: magic, version, footer checksum, every size against the file's length.</summary>
    /// <exception cref="InvalidDataException">The file is not a complete cache of this version; the message says why.</exception>
    public static RowCacheReader Open(string path)
    {
        SafeFileHandle handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read, FileOptions.RandomAccess);
        try
        {
            return Check(path, handle);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    private static RowCacheReader Check(string path, SafeFileHandle handle)
    {
        long length = RandomAccess.GetLength(handle);
        Span<byte> prologue = stackalloc byte[RowCache.PrologueSize];
        if (length < RowCache.PrologueSize + RowCache.FooterFixedSize + 4 + RowCache.TailSize
            || RandomAccess.Read(handle, prologue, 0) < RowCache.PrologueSize)
        {
            throw Bad(path, $"{length:N0} bytes, shorter than an empty cache (truncated, or not a cache)");
        }

        if (!prologue[..8].SequenceEqual(RowCache.Magic))
        {
            throw Bad(path, "not an FmCodegen row cache (no FMCACHE magic)");
        }

        int version = BinaryPrimitives.ReadInt32LittleEndian(prologue[8..]);
        if (version != RowCache.Version)
        {
            throw Bad(path, $"cache format version {version}; this FmCodegen reads version {RowCache.Version} (delete the cache to rebuild it)");
        }

        Span<byte> tail = stackalloc byte[RowCache.TailSize];
        RandomAccess.Read(handle, tail, length - RowCache.TailSize);
        long footerAt = BinaryPrimitives.ReadInt64LittleEndian(tail);
        if (!tail[8..].SequenceEqual(RowCache.Magic) || footerAt < RowCache.PrologueSize || footerAt > length - RowCache.TailSize - RowCache.FooterFixedSize - 4)
        {
            throw Bad(path, "no complete footer at the end (the cache was cut short or damaged)");
        }

        long footerLength = length - RowCache.TailSize - footerAt;
        var fixedPart = new byte[RowCache.FooterFixedSize];
        RandomAccess.Read(handle, fixedPart, footerAt);
        int chunks = BinaryPrimitives.ReadInt32LittleEndian(fixedPart.AsSpan(20));
        if (chunks < 0 || footerLength != RowCache.FooterFixedSize + ((long)chunks * 8) + 4)
        {
            throw Bad(path, $"the footer declares {chunks:N0} chunks, which its {footerLength:N0} bytes do not hold (damaged)");
        }

        var footer = new byte[footerLength];
        RandomAccess.Read(handle, footer, footerAt);
        ReadOnlySpan<byte> f = footer;
        if (BinaryPrimitives.ReadUInt32LittleEndian(f[^4..]) != Crc32.HashToUInt32(f[..^4]))
        {
            throw Bad(path, "the footer's checksum does not match (damaged)");
        }

        long rows = BinaryPrimitives.ReadInt64LittleEndian(f);
        long nonZeros = BinaryPrimitives.ReadInt64LittleEndian(f[8..]);
        int numFeatures = BinaryPrimitives.ReadInt32LittleEndian(f[16..]);
        int maxRows = BinaryPrimitives.ReadInt32LittleEndian(f[24..]);
        int maxNonZeros = BinaryPrimitives.ReadInt32LittleEndian(f[28..]);
        long sourceLength = BinaryPrimitives.ReadInt64LittleEndian(f[32..]);
        long sourceTicks = BinaryPrimitives.ReadInt64LittleEndian(f[40..]);
        if (rows < 0 || nonZeros < 0 || numFeatures < 0 || maxRows < 0 || maxNonZeros < 0 || maxNonZeros > RowCache.MaxChunkNonZeros
            || rows >= int.MaxValue)
        {
            throw Bad(path, $"the footer's sizes are out of range ({rows:N0} rows, {nonZeros:N0} nonzeros, {numFeatures:N0} features, chunks up to {maxRows:N0} rows and {maxNonZeros:N0} nonzeros)");
        }

        var offsets = new long[chunks];
        var chunkRows = new int[chunks];
        var chunkNonZeros = new int[chunks];
        var unit = new bool[chunks];
        var crcs = new uint[chunks];
        Span<byte> header = stackalloc byte[RowCache.ChunkHeaderSize];
        long expected = RowCache.PrologueSize, sumRows = 0, sumNonZeros = 0;
        for (int c = 0; c < chunks; c++)
        {
            long at = BinaryPrimitives.ReadInt64LittleEndian(f[(RowCache.FooterFixedSize + (c * 8))..]);
            if (at != expected || at > footerAt - RowCache.ChunkHeaderSize)
            {
                throw Bad(path, $"chunk {c} is declared at byte {at:N0}, not where the chunks before it end ({expected:N0}; damaged)");
            }

            RandomAccess.Read(handle, header, at);
            int r = BinaryPrimitives.ReadInt32LittleEndian(header);
            int n = BinaryPrimitives.ReadInt32LittleEndian(header[4..]);
            int flags = BinaryPrimitives.ReadInt32LittleEndian(header[8..]);
            if (r < 0 || n < 0 || r > maxRows || n > maxNonZeros || (flags & ~RowCache.FlagUnitValues) != 0)
            {
                throw Bad(path, $"chunk {c} declares {r:N0} rows, {n:N0} nonzeros, flags {flags}; out of range (damaged)");
            }

            offsets[c] = at;
            chunkRows[c] = r;
            chunkNonZeros[c] = n;
            unit[c] = (flags & RowCache.FlagUnitValues) != 0;
            crcs[c] = BinaryPrimitives.ReadUInt32LittleEndian(header[12..]);
            expected = at + RowCache.ChunkHeaderSize + ((long)r * 8) + ((long)n * (unit[c] ? 4 : 8));
            sumRows += r;
            sumNonZeros += n;
        }

        if (expected != footerAt || sumRows != rows || sumNonZeros != nonZeros)
        {
            throw Bad(path, $"the chunks hold {sumRows:N0} rows and {sumNonZeros:N0} nonzeros ending at byte {expected:N0}; the footer says {rows:N0}, {nonZeros:N0} and {footerAt:N0} (damaged)");
        }

        return new RowCacheReader(path, handle, offsets, chunkRows, chunkNonZeros, unit, crcs, rows, nonZeros, numFeatures, maxRows, maxNonZeros, sourceLength, sourceTicks);
    }

    /// <summary>Reads chunk <paramref name="chunk"/> into <paramref name="target"/> (sized for the largest chunk),
    /// checking its checksum and row lengths; ones fill the values of a chunk stored without them when the target
    /// keeps values.</summary>
    /// <exception cref="InvalidDataException">The chunk's bytes do not match its checksum, or its rows do not add up.</exception>
    public void Read(int chunk, EpochData target)
    {
        int rows = _rows[chunk], nonZeros = _nonZeros[chunk];
        long at = _offsets[chunk] + RowCache.ChunkHeaderSize;
        var crc = new Crc32();
        Span<byte> labels = MemoryMarshal.AsBytes(target.Labels.AsSpan(0, rows));
        Span<byte> lengths = MemoryMarshal.AsBytes(target.Offsets.AsSpan(1, rows));
        Span<byte> indices = MemoryMarshal.AsBytes(target.Indices.AsSpan(0, nonZeros));
        at = ReadExactly(labels, at, crc, chunk);
        at = ReadExactly(lengths, at, crc, chunk);
        at = ReadExactly(indices, at, crc, chunk);
        if (!_unit[chunk])
        {
            if (target.UnitValues)
            {
                throw new InvalidOperationException("A chunk with values read into a target without them.");
            }

            ReadExactly(MemoryMarshal.AsBytes(target.Values.AsSpan(0, nonZeros)), at, crc, chunk);
        }
        else if (!target.UnitValues)
        {
            target.Values.AsSpan(0, nonZeros).Fill(1f);
        }

        if (crc.GetCurrentHashAsUInt32() != _crcs[chunk])
        {
            throw Bad(Path, $"chunk {chunk} does not match its checksum (the cache is damaged; delete it to rebuild it)");
        }

        int[] offsets = target.Offsets;
        offsets[0] = 0;
        long sum = 0;
        for (int r = 1; r <= rows; r++)
        {
            int length = offsets[r];
            sum += length;
            if (length < 0 || sum > nonZeros)
            {
                throw Bad(Path, $"chunk {chunk}: the lengths of its rows do not add up to its {nonZeros:N0} nonzeros (damaged)");
            }

            offsets[r] = (int)sum;
        }

        if (sum != nonZeros)
        {
            throw Bad(Path, $"chunk {chunk}: the lengths of its rows add up to {sum:N0}, not its {nonZeros:N0} nonzeros (damaged)");
        }

        target.Count = rows;
    }

    private long ReadExactly(Span<byte> into, long at, Crc32 crc, int chunk)
    {
        int done = 0;
        while (done < into.Length)
        {
            int read = RandomAccess.Read(_handle, into[done..], at + done);
            if (read <= 0)
            {
                throw Bad(Path, $"chunk {chunk} ends early (the cache was cut short)");
            }

            done += read;
        }

        crc.Append(into);
        BytesRead += into.Length;
        return at + into.Length;
    }

    internal static InvalidDataException Bad(string path, string what) => new($"{path}: {what}");

    public void Dispose() => _handle.Dispose();
}
