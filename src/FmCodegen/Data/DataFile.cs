using System.IO.Compression;

namespace FmCodegen.Data;

/// <summary>Opens data and model files for reading; gzip files (by their magic bytes) are decompressed on the fly.</summary>
internal static class DataFile
{
    private const int FileBufferSize = 1 << 16;

    /// <summary>
    /// Opens <paramref name="path"/> for sequential reading. A gzip file (first bytes 1f 8b, whatever its name) comes
    /// back as a decompressing stream, so readers never need to know.
    /// </summary>
    public static Stream OpenRead(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, FileBufferSize, FileOptions.SequentialScan);
        try
        {
            Span<byte> head = stackalloc byte[2];
            int got = file.ReadAtLeast(head, 2, throwOnEndOfStream: false);
            file.Position = 0;
            if (got == 2 && head[0] == 0x1f && head[1] == 0x8b)
            {
                return new GZipStream(file, CompressionMode.Decompress, leaveOpen: false);
            }

            return file;
        }
        catch
        {
            file.Dispose();
            throw;
        }
    }

    /// <summary>True when the name ends in .gz (writers compress such files).</summary>
    public static bool IsGzipName(string path) => path.EndsWith(".gz", StringComparison.OrdinalIgnoreCase);
}
