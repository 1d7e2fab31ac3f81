using System.IO.Compression;

namespace FmCodegen.Data;

/// <summary>
/// Writes sparse data as libFM/libSVM or libffm text, numbers in the shortest form that reads back to the same
/// float (invariant culture), '\n' line ends. What <see cref="SparseTextReader"/> reads back is the same dataset.
/// </summary>
public static class SparseTextWriter
{
    private const int FlushAt = (1 << 16) - 1024;

    /// <summary>Writes a dataset to a stream. libffm needs a dataset with fields.</summary>
    public static void Write(SparseDataset dataset, Stream stream, SparseFormat format = SparseFormat.LibFm)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        ArgumentNullException.ThrowIfNull(stream);
        bool ffm = format == SparseFormat.LibFfm;
        if (ffm && !dataset.HasFields && dataset.NonZeros > 0)
        {
            throw new ArgumentException("libffm text needs a field per nonzero; this dataset has none.", nameof(dataset));
        }

        byte[] buffer = new byte[1 << 16];
        int used = 0;
        ReadOnlySpan<float> labels = dataset.Labels;
        ReadOnlySpan<int> offsets = dataset.Offsets;
        ReadOnlySpan<int> indices = dataset.Indices;
        ReadOnlySpan<float> values = dataset.Values;
        ReadOnlySpan<int> fields = dataset.Fields;
        for (int r = 0; r < labels.Length; r++)
        {
            used += NumberText.FormatFloat(labels[r], buffer.AsSpan(used));
            for (int j = offsets[r]; j < offsets[r + 1]; j++)
            {
                if (used > FlushAt)
                {
                    stream.Write(buffer, 0, used);
                    used = 0;
                }

                buffer[used++] = (byte)' ';
                if (ffm)
                {
                    used += NumberText.FormatInt(fields[j], buffer.AsSpan(used));
                    buffer[used++] = (byte)':';
                }

                used += NumberText.FormatInt(indices[j], buffer.AsSpan(used));
                buffer[used++] = (byte)':';
                used += NumberText.FormatFloat(values[j], buffer.AsSpan(used));
            }

            buffer[used++] = (byte)'\n';
            if (used > FlushAt)
            {
                stream.Write(buffer, 0, used);
                used = 0;
            }
        }

        stream.Write(buffer, 0, used);
    }

    /// <summary>
    /// Writes a dataset to a file atomically (a temporary file renamed into place); a name ending in .gz is
    /// gzip-compressed.
    /// </summary>
    public static void WriteFile(SparseDataset dataset, string path, SparseFormat format = SparseFormat.LibFm)
    {
        AtomicFile.Write(path, stream =>
        {
            if (DataFile.IsGzipName(path))
            {
                using var gzip = new GZipStream(stream, CompressionLevel.Fastest, leaveOpen: true);
                Write(dataset, gzip, format);
            }
            else
            {
                Write(dataset, stream, format);
            }
        });
    }
}
