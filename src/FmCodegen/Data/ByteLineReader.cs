using System.Runtime.CompilerServices;

namespace FmCodegen.Data;

/// <summary>
/// Reads a stream line by line as spans over one large byte buffer: no allocation per line; the buffer grows to
/// hold the longest line, up to <see cref="MaxLineLength"/>. Lines come without their '\n' and without a '\r'
/// before it; a UTF-8 byte order mark at the start of the stream is skipped. A longer line, a damaged gzip stream
/// and a line buffer the process has no memory for are reported as <see cref="DataFormatException"/> naming the
/// source and the line (or <see cref="InsufficientMemoryException"/>).
/// </summary>
internal sealed class ByteLineReader : IDisposable
{
    /// <summary>The longest line read by default: 1 GiB.</summary>
    public const int DefaultMaxLineLength = 1 << 30;

    /// <summary>The buffer a reader starts with: 128 KiB, read at once (above a FileStream's own 64 KiB buffer, so
    /// file reads bypass it). Larger buffers save few system calls and touch more fresh memory: each page is a page
    /// fault the first time, and a 1 MiB buffer was 256 of them at every start (20 us each in a virtual machine).</summary>
    public const int DefaultBufferSize = 1 << 17;

    private readonly Stream _stream;
    private readonly bool _leaveOpen;
    private readonly string _sourceName;
    private byte[] _buffer;
    private int _start;
    private int _end;
    private bool _eof;
    private long _bufferOffset;

    public ByteLineReader(Stream stream, bool leaveOpen = false, int bufferSize = DefaultBufferSize, string sourceName = "(stream)")
    {
        ArgumentNullException.ThrowIfNull(stream);
        _stream = stream;
        _leaveOpen = leaveOpen;
        _sourceName = sourceName;
        _buffer = new byte[Math.Max(bufferSize, 16)];
    }

    /// <summary>The 1-based number of the line last returned (0 before the first).</summary>
    public long LineNumber { get; private set; }

    /// <summary>False when the last line returned had no '\n' after it (the stream ended inside it).</summary>
    public bool LastLineTerminated { get; private set; } = true;

    /// <summary>The bytes of the stream taken up by the lines returned so far, terminators included.</summary>
    public long Position => _bufferOffset + _start;

    /// <summary>The longest line accepted, in bytes (tests lower it).</summary>
    public int MaxLineLength { get; set; } = DefaultMaxLineLength;

    /// <summary>The next line, or false at the end of the stream.</summary>
    public bool TryReadLine(out ReadOnlySpan<byte> line) => TryReadLine(out line, out _);

    /// <summary>
    /// The next line, or false at the end of the stream; <paramref name="terminated"/> is the same line followed by
    /// the byte that ends it in the buffer (its '\r' or '\n'), or the line alone when the stream ended inside it. A
    /// parser can read up to that byte in place, without a test of the end before every read and without copying
    /// the line.
    /// </summary>
    public bool TryReadLine(out ReadOnlySpan<byte> line, out ReadOnlySpan<byte> terminated)
    {
        while (true)
        {
            int newline = new ReadOnlySpan<byte>(_buffer, _start, _end - _start).IndexOf((byte)'\n');
            if (newline >= 0)
            {
                if (newline > MaxLineLength)
                {
                    throw TooLong(_buffer.AsSpan(_start, newline));
                }

                int lineEnd = _start + newline;
                int length = lineEnd > _start && _buffer[lineEnd - 1] == (byte)'\r' ? newline - 1 : newline;
                terminated = new ReadOnlySpan<byte>(_buffer, _start, length + 1);
                line = terminated[..length];
                _start = lineEnd + 1;
                LineNumber++;
                LastLineTerminated = true;
                if (LineNumber == 1 && line.StartsWith("\uFEFF"u8))
                {
                    line = line[3..];
                    terminated = terminated[3..];
                }

                return true;
            }

            if (_eof)
            {
                if (_start == _end)
                {
                    line = default;
                    terminated = default;
                    return false;
                }

                if (_end - _start > MaxLineLength)
                {
                    throw TooLong(_buffer.AsSpan(_start, _end - _start));
                }

                int length = _buffer[_end - 1] == (byte)'\r' ? _end - _start - 1 : _end - _start;
                line = new ReadOnlySpan<byte>(_buffer, _start, length);
                _start = _end;
                LineNumber++;
                LastLineTerminated = false;
                if (LineNumber == 1)
                {
                    line = SkipBom(line);
                }

                terminated = line;
                return true;
            }

            Refill();
        }
    }

    /// <summary>
    /// The whole lines buffered after the last line returned (up to and including the last '\n' in the buffer;
    /// empty when there is none), for a parser that reads many lines in one pass and then
    /// <see cref="SkipLines"/> past them. No read of the stream.
    /// </summary>
    public ReadOnlySpan<byte> BufferedLines()
    {
        var buffered = new ReadOnlySpan<byte>(_buffer, _start, _end - _start);
        return buffered[..(buffered.LastIndexOf((byte)'\n') + 1)];
    }

    /// <summary>Moves past <paramref name="lines"/> whole lines of <see cref="BufferedLines"/>,
    /// <paramref name="bytes"/> bytes with their terminators, as that many calls of <see cref="TryReadLine(out ReadOnlySpan{byte}, out ReadOnlySpan{byte})"/> would.</summary>
    public void SkipLines(int bytes, int lines)
    {
        if ((uint)bytes > (uint)(_end - _start) || lines < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(bytes), bytes, "More than the buffered lines.");
        }

        _start += bytes;
        LineNumber += lines;
        if (lines > 0)
        {
            LastLineTerminated = true;
        }
    }

    private DataFormatException TooLong(ReadOnlySpan<byte> start) =>
        DataFormatException.At(_sourceName, LineNumber + 1, start, 0,
            $"the line is longer than {MaxLineLength:N0} bytes (the most this reader takes); is this a text data file?");

    private static ReadOnlySpan<byte> SkipBom(ReadOnlySpan<byte> line) => line.StartsWith("\uFEFF"u8) ? line[3..] : line;

    private void Refill()
    {
        int remaining = _end - _start;
        if (_start > 0)
        {
            _bufferOffset += _start;
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, remaining);
            _start = 0;
            _end = remaining;
        }

        if (_end > MaxLineLength)
        {
            throw TooLong(_buffer.AsSpan(0, _end));
        }

        if (_end == _buffer.Length)
        {
            long size = Math.Min((long)_buffer.Length * 2, (long)MaxLineLength + 1);
            MemoryBudget.Ensure(size, $"{_sourceName}: line {LineNumber + 1} (longer than {_buffer.Length:N0} bytes)", "is this a text data file? split the line or use a machine with more memory");
            Array.Resize(ref _buffer, (int)size);
        }

        int read;
        try
        {
            read = _stream.Read(_buffer, _end, _buffer.Length - _end);
        }
        catch (InvalidDataException e)
        {
            // a damaged or truncated gzip stream: name the line where the damage shows
            string reason = e.Message.StartsWith(_sourceName + ": ", StringComparison.Ordinal) ? e.Message[(_sourceName.Length + 2)..] : e.Message;
            throw new DataFormatException(_sourceName, LineNumber + 1, 0, string.Empty, reason, e);
        }

        if (read == 0)
        {
            _eof = true;
        }

        _end += read;
    }

    public void Dispose()
    {
        if (!_leaveOpen)
        {
            _stream.Dispose();
        }
    }
}
