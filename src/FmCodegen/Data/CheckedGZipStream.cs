using System.Buffers.Binary;
using System.IO.Compression;
using System.IO.Hashing;

namespace FmCodegen.Data;

/// <summary>
/// Decompresses a gzip file and refuses damage the runtime's <see cref="GZipStream"/> lets through: a file shorter
/// than one complete gzip member, and a stream that ends before its trailer (cut at a deflate flush point, it
/// would otherwise read as a shorter file). zlib checks the CRC-32 and length of every member it completes; this
/// stream checks at the end that the last member was completed, by comparing the CRC-32 and length (mod 2^32) of
/// the decompressed bytes with the last 8 bytes of the input (for a file of several members, with the trailer of
/// the last one, in a second pass over the file; a pipe of several members cannot be checked and is refused). Damage is reported as <see cref="InvalidDataException"/>
/// naming the file. <see cref="MaxLength"/> bounds what the file can decompress to (deflate expands at most
/// 1032:1), so readers can refuse sizes a header declares before allocating them.
/// </summary>
internal sealed class CheckedGZipStream : Stream
{
    /// <summary>Deflate's largest expansion: 258 bytes from a 2-bit length/distance pair.</summary>
    public const int MaxRatio = 1032;

    /// <summary>The smallest complete gzip member: 10-byte header, an empty final block (2 bytes), 8-byte trailer.</summary>
    private const int MinMemberSize = 20;

    private readonly string? _path;
    private readonly string _sourceName;
    private readonly TailStream _input;
    private readonly GZipStream _gzip;
    private readonly Crc32 _crc = new();
    private long _length;
    private bool _checked;

    /// <param name="input">The compressed bytes from their first byte on.</param>
    /// <param name="path">The file, when it can be read a second time (for files of several members); else null.</param>
    /// <param name="sourceName">The name used in messages.</param>
    /// <param name="compressedLength">The compressed size when known, else -1.</param>
    public CheckedGZipStream(Stream input, string? path, string sourceName, long compressedLength)
    {
        _path = path;
        _sourceName = sourceName;
        CompressedLength = compressedLength;
        if (compressedLength is >= 0 and < MinMemberSize)
        {
            input.Dispose();
            throw Truncated(compressedLength);
        }

        _input = new TailStream(input);
        _gzip = new GZipStream(_input, CompressionMode.Decompress, leaveOpen: false);
    }

    /// <summary>The size of the compressed file, or -1 when unknown (a pipe).</summary>
    public long CompressedLength { get; }

    /// <summary>The most bytes this file can decompress to (long.MaxValue when its size is unknown).</summary>
    public long MaxLength => CompressedLength < 0 || CompressedLength > long.MaxValue / MaxRatio ? long.MaxValue : CompressedLength * MaxRatio;

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => _length;
        set => throw new NotSupportedException();
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        int read;
        try
        {
            read = _gzip.Read(buffer);
        }
        catch (InvalidDataException e)
        {
            throw new InvalidDataException($"{_sourceName}: the gzip data is damaged after {_length:N0} decompressed bytes ({e.Message.TrimEnd('.')})", e);
        }

        if (read > 0)
        {
            _crc.Append(buffer[..read]);
            _length += read;
        }
        else if (!_checked && buffer.Length > 0)
        {
            CheckEnd();
            _checked = true;
        }

        return read;
    }

    public override int ReadByte()
    {
        Span<byte> one = stackalloc byte[1];
        return Read(one) == 1 ? one[0] : -1;
    }

    private InvalidDataException Truncated(long bytes) => new(
        $"{_sourceName}: the gzip file is truncated: {bytes} bytes, fewer than the {MinMemberSize} of the smallest complete gzip stream");

    private void CheckEnd()
    {
        // the decompressor has read its input to the end (it looks for a next member); make sure of it
        Span<byte> rest = stackalloc byte[512];
        while (_input.Read(rest) > 0)
        {
        }

        if (_input.Count < MinMemberSize)
        {
            throw Truncated(_input.Count);
        }

        uint trailerCrc = BinaryPrimitives.ReadUInt32LittleEndian(_input.Tail);
        uint trailerSize = BinaryPrimitives.ReadUInt32LittleEndian(_input.Tail[4..]);
        if (_crc.GetCurrentHashAsUInt32() == trailerCrc && (uint)_length == trailerSize)
        {
            return;
        }

        // several members (cat a.gz b.gz): the trailer belongs to the last one, the last ISIZE (+ j 2^32) bytes
        if (!LastMemberMatches(trailerCrc, trailerSize))
        {
            throw new InvalidDataException(
                $"{_sourceName}: the gzip stream ends early: the file is truncated or damaged (after {_length:N0} decompressed bytes there is no gzip trailer matching them; a complete gzip file ends with the CRC-32 and length of its content)");
        }
    }

    private bool LastMemberMatches(uint trailerCrc, uint trailerSize)
    {
        var starts = new List<long>();
        for (long start = _length - trailerSize; start >= 0; start -= 1L << 32)
        {
            starts.Add(start);
        }

        if (starts.Count == 0 || starts[0] == 0 || _path is null)
        {
            // a single member that does not match its trailer; or a pipe, which cannot be read twice
            return false;
        }

        var crcs = starts.Select(_ => new Crc32()).ToArray();
        using var file = new FileStream(_path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
        using var gzip = new GZipStream(file, CompressionMode.Decompress);
        byte[] buffer = new byte[1 << 16];
        long position = 0;
        int read;
        while ((read = gzip.Read(buffer)) > 0)
        {
            for (int i = 0; i < starts.Count; i++)
            {
                long skip = Math.Max(0, starts[i] - position);
                if (skip < read)
                {
                    crcs[i].Append(buffer.AsSpan((int)skip, read - (int)skip));
                }
            }

            position += read;
        }

        return position == _length && crcs.Any(c => c.GetCurrentHashAsUInt32() == trailerCrc);
    }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    /// <summary>Passes reads through, counting the bytes and keeping the last 8 (the gzip trailer at the end).</summary>
    private sealed class TailStream(Stream inner) : ReadOnlyForwardStream(inner)
    {
        private readonly byte[] _tail = new byte[8];

        public long Count { get; private set; }

        /// <summary>The last 8 bytes read (fewer at the start when less was read).</summary>
        public ReadOnlySpan<byte> Tail => _tail;

        public override long Position
        {
            get => Count;
            set => throw new NotSupportedException();
        }

        public override int Read(Span<byte> buffer)
        {
            int read = Inner.Read(buffer);
            if (read >= 8)
            {
                buffer.Slice(read - 8, 8).CopyTo(_tail);
            }
            else if (read > 0)
            {
                _tail.AsSpan(read).CopyTo(_tail);
                buffer[..read].CopyTo(_tail.AsSpan(8 - read));
            }

            Count += read;
            return read;
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _gzip.Dispose();
        }

        base.Dispose(disposing);
    }
}
