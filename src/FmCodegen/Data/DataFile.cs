namespace FmCodegen.Data;

/// <summary>Opens data and model files for reading; gzip files (by their magic bytes) are decompressed on the fly.</summary>
internal static class DataFile
{
    private const int FileBufferSize = 1 << 16;

    /// <summary>
    /// Opens <paramref name="path"/> for sequential reading. A gzip file (first bytes 1f 8b, whatever its name) comes
    /// back as a decompressing stream, so readers never need to know; it refuses a gzip file that is truncated or
    /// damaged (<see cref="InvalidDataException"/> naming the file) instead of reading it as a shorter one.
    /// </summary>
    public static Stream OpenRead(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, FileBufferSize, FileOptions.SequentialScan);
        try
        {
            byte[] head = new byte[2];
            Stream content;
            int got;
            if (file.CanSeek)
            {
                // the first bytes read at their offset, past the stream's buffer: a plain file is then read in the
                // line reader's large chunks only, which bypass that buffer (never allocated, never filled twice)
                got = RandomAccess.Read(file.SafeFileHandle, head, 0);
                if (got == 1)
                {
                    got += RandomAccess.Read(file.SafeFileHandle, head.AsSpan(1), 1);
                }

                content = file;
            }
            else
            {
                got = file.ReadAtLeast(head, 2, throwOnEndOfStream: false);

                // a pipe or a character device (process substitution, /dev/stdin): put the two bytes back in front
                content = new PrefixedStream(head.AsMemory(0, got), file);
            }

            if (got == 2 && head[0] == 0x1f && head[1] == 0x8b)
            {
                return file.CanSeek
                    ? new CheckedGZipStream(content, path, path, file.Length)
                    : new CheckedGZipStream(content, null, path, -1);
            }

            return content;
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The most bytes <paramref name="stream"/> (from <see cref="OpenRead"/>) can deliver: a file's length, a gzip
    /// file's length times deflate's largest ratio, or long.MaxValue for other streams.
    /// </summary>
    internal static long MaxLength(Stream stream) => stream switch
    {
        FileStream file => file.Length,
        CheckedGZipStream gzip => gzip.MaxLength,
        _ => long.MaxValue,
    };

    /// <summary>True when the name ends in .gz (writers compress such files).</summary>
    public static bool IsGzipName(string path) => path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase);

    /// <summary>Some bytes already read, then the rest of a stream.</summary>
    private sealed class PrefixedStream(ReadOnlyMemory<byte> prefix, Stream rest) : ReadOnlyForwardStream(rest)
    {
        private ReadOnlyMemory<byte> _prefix = prefix;

        public override int Read(Span<byte> buffer)
        {
            if (_prefix.IsEmpty)
            {
                return Inner.Read(buffer);
            }

            int n = Math.Min(buffer.Length, _prefix.Length);
            _prefix.Span[..n].CopyTo(buffer);
            _prefix = _prefix[n..];
            return n;
        }
    }
}
