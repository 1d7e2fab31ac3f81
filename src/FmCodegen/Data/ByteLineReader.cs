using System.Runtime.CompilerServices;
namespace FmCodegen.Data;

/// <summary>
/// Reads a stream line by line as spans over one large byte buffer: no allocation per line, no line-length limit
/// (the buffer grows to hold the longest line). Lines come without their '\n' and without a '\r' before it.
/// </summary>
internal sealed class ByteLineReader : IDisposable
{
    private readonly Stream _stream;
    private readonly bool _leaveOpen;
    private byte[] _buffer;
    private int _start;
    private int _end;
    private bool _eof;

    public ByteLineReader(Stream stream, bool leaveOpen = false, int bufferSize = 1 << 20)
    {
        ArgumentNullException.ThrowIfNull(stream);
        _stream = stream;
        _leaveOpen = leaveOpen;
        _buffer = new byte[Math.Max(bufferSize, 16)];
    }

    /// <summary>The 1-based number of the line last returned (0 before the first).</summary>
    public long LineNumber { get; private set; }

    /// <summary>False when the last line returned had no '\n' after it (the stream ended inside it).</summary>
    public bool LastLineTerminated { get; private set; } = true;

    /// <summary>The next line, or false at the end of the stream.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public bool TryReadLine(out ReadOnlySpan<byte> line)
    {
        while (true)
        {
            int newline = _buffer.AsSpan(_start, _end - _start).IndexOf((byte)'\n');
            if (newline >= 0)
            {
                int lineEnd = _start + newline;
                int length = lineEnd > _start && _buffer[lineEnd - 1] == (byte)'\r' ? newline - 1 : newline;
                line = new ReadOnlySpan<byte>(_buffer, _start, length);
                _start = lineEnd + 1;
                LineNumber++;
                LastLineTerminated = true;
                return true;
            }

            if (_eof)
            {
                if (_start == _end)
                {
                    line = default;
                    return false;
                }

                int length = _buffer[_end - 1] == (byte)'\r' ? _end - _start - 1 : _end - _start;
                line = new ReadOnlySpan<byte>(_buffer, _start, length);
                _start = _end;
                LineNumber++;
                LastLineTerminated = false;
                return true;
            }

            Refill();
        }
    }

    private void Refill()
    {
        int remaining = _end - _start;
        if (_start > 0)
        {
            Buffer.BlockCopy(_buffer, _start, _buffer, 0, remaining);
            _start = 0;
            _end = remaining;
        }

        if (_end == _buffer.Length)
        {
            if (_buffer.Length >= Array.MaxLength / 2)
            {
                throw new InvalidDataException($"A line is longer than {_buffer.Length:N0} bytes.");
            }

            Array.Resize(ref _buffer, _buffer.Length * 2);
        }

        int read = _stream.Read(_buffer, _end, _buffer.Length - _end);
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
