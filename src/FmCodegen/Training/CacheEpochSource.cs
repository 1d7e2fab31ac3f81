using System.Buffers.Binary;
using System.Runtime.InteropServices;
using FmCodegen.Data;

namespace FmCodegen.Training;

/// <summary>
/// The segments of a phase on disk: the rows of a file-order cache are dealt into segments by
/// <see cref="Segmenting"/>'s rule (the same draws as in memory), each segment is permuted and written as one chunk
/// of a second, temporary cache; each epoch then reads one segment at a time into one reused buffer. Memory: one
/// segment (its nonzeros x 4 or 8 bytes, plus 8 per row); while the segments are written, three (the dealt bytes,
/// and the rows before and after their permutation) plus a 64 KB write buffer per segment.
/// </summary>
internal sealed class CacheEpochSource : IEpochSource
{
    private const int WriteBuffer = 1 << 16;

    private readonly RowCacheReader _reader;
    private readonly EpochData _buffer;
    private readonly string _path;

    private CacheEpochSource(RowCacheReader reader, string path, int rows, int[] counts, bool normalize)
    {
        _reader = reader;
        _path = path;
        Rows = rows;
        FeatureCounts = counts;
        _buffer = new EpochData(reader.MaxChunkRows, reader.MaxChunkNonZeros, reader.UnitValues, normalize);
    }

    public int Segments => _reader.Chunks;
    public int Rows { get; }
    public int[] FeatureCounts { get; }
    public long BytesRead => _reader.BytesRead;

    public EpochData Load(int segment)
    {
        _reader.Read(segment, _buffer);
        _buffer.CoverLongestRow();
        _buffer.NormalizeRows();
        return _buffer;
    }

    /// <summary>
    /// Deals the rows of <paramref name="source"/> that <paramref name="include"/> accepts (by row number) into
    /// segments, in a temporary cache at <paramref name="path"/> (deleted on dispose). <paramref name="map"/> turns
    /// original ids into training ids (compaction), or is null. <paramref name="nonZeros"/> and
    /// <paramref name="rows"/> are the included rows' totals.
    /// </summary>
    public static CacheEpochSource Create(RowCacheReader source, Func<int, bool> include, int rows, long nonZeros, Func<int, int>? map,
        int numFeatures, bool shuffle, SplitMix64 rng, string path, Action<long>? onBytes, bool normalize = false)
    {
        int segments = Segmenting.Count(nonZeros, rows);
        var counts = new int[numFeatures];
        string[] parts = Enumerable.Range(0, segments).Select(s => $"{path}.part{s}").ToArray();
        var writers = new FileStream[segments];
        var pending = new byte[segments][];
        var filled = new int[segments];
        var segmentRows = new int[segments];
        var segmentNonZeros = new long[segments];
        bool unit = source.UnitValues;

        void Flush(int s)
        {
            writers[s].Write(pending[s].AsSpan(0, filled[s]));
            filled[s] = 0;
        }

        void Append(int s, ReadOnlySpan<byte> bytes)
        {
            while (!bytes.IsEmpty)
            {
                if (filled[s] == WriteBuffer)
                {
                    Flush(s);
                }

                int take = Math.Min(bytes.Length, WriteBuffer - filled[s]);
                bytes[..take].CopyTo(pending[s].AsSpan(filled[s]));
                filled[s] += take;
                bytes = bytes[take..];
            }
        }

        try
        {
            for (int s = 0; s < segments; s++)
            {
                writers[s] = new FileStream(parts[s], FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 0, FileOptions.DeleteOnClose);
                pending[s] = new byte[WriteBuffer];
            }

            // deal: one draw per included row in file order (none for one segment); rows are appended to their
            // segment's part as label, length, ids (mapped), values
            var chunk = new EpochData(source.MaxChunkRows, source.MaxChunkNonZeros, unitValues: false);
            var mapped = new int[1024];
            Span<byte> head = stackalloc byte[8];
            int rank = 0, row = 0, run = 0;
            int nextRun = Segmenting.RunStart(1, rows, segments);
            for (int c = 0; c < source.Chunks; c++)
            {
                source.Read(c, chunk);
                onBytes?.Invoke(source.BytesRead);
                for (int r = 0; r < chunk.Count; r++, row++)
                {
                    if (!include(row))
                    {
                        continue;
                    }

                    int s;
                    if (!shuffle)
                    {
                        while (rank >= nextRun)
                        {
                            run++;
                            nextRun = Segmenting.RunStart(run + 1, rows, segments);
                        }

                        s = run;
                    }
                    else
                    {
                        s = segments == 1 ? 0 : rng.NextInt(segments);
                    }

                    rank++;
                    int start = chunk.Offsets[r], end = chunk.Offsets[r + 1];
                    int length = end - start;
                    Span<int> rowIds = chunk.Indices.AsSpan(start, length);
                    if (map is not null)
                    {
                        if (mapped.Length < length)
                        {
                            mapped = new int[Math.Max(length, mapped.Length * 2)];
                        }

                        for (int j = 0; j < length; j++)
                        {
                            mapped[j] = map(rowIds[j]);
                        }

                        rowIds = mapped.AsSpan(0, length);
                    }

                    foreach (int id in rowIds)
                    {
                        counts[id]++;
                    }

                    BinaryPrimitives.WriteSingleLittleEndian(head, chunk.Labels[r]);
                    BinaryPrimitives.WriteInt32LittleEndian(head[4..], length);
                    Append(s, head);
                    Append(s, MemoryMarshal.AsBytes(rowIds));
                    if (!unit)
                    {
                        Append(s, MemoryMarshal.AsBytes(chunk.Values.AsSpan(start, length)));
                    }

                    segmentRows[s]++;
                    segmentNonZeros[s] += end - start;
                }
            }

            // each segment: read back, permute (segments in order, as in memory), write as one chunk
            long largest = segmentNonZeros.Max();
            if (largest > RowCache.MaxChunkNonZeros)
            {
                throw new InvalidOperationException($"A segment of {largest:N0} nonzeros; at most {RowCache.MaxChunkNonZeros:N0}.");
            }

            int maxRows = segmentRows.Max();
            MemoryBudget.Ensure(3 * ((maxRows * 12L) + (largest * (unit ? 4 : 8))), $"Dealing {rows:N0} training rows into {segments} segments of up to {largest:N0} nonzeros",
                "use a machine (or container) with more memory");
            var raw = Array.Empty<byte>();
            var labels = new float[maxRows];
            var offsets = new int[maxRows + 1];
            var ids = new int[largest];
            float[] values = unit ? [] : new float[largest];
            var outLabels = new float[maxRows];
            var outOffsets = new int[maxRows + 1];
            var outIds = new int[largest];
            float[] outValues = unit ? [] : new float[largest];
            using var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, WriteBuffer);
            using (var writer = new RowCacheWriter(file, ownsStream: false))
            {
                for (int s = 0; s < segments; s++)
                {
                    int n = segmentRows[s];
                    FileStream w = writers[s];
                    Flush(s);
                    long partBytes = (n * 8L) + (segmentNonZeros[s] * (unit ? 4 : 8));
                    if (raw.Length < partBytes)
                    {
                        raw = new byte[partBytes];
                    }

                    w.Position = 0;
                    w.ReadExactly(raw.AsSpan(0, (int)partBytes));
                    ReadOnlySpan<byte> bytes = raw.AsSpan(0, (int)partBytes);
                    int at = 0, pos = 0;
                    for (int i = 0; i < n; i++)
                    {
                        labels[i] = BinaryPrimitives.ReadSingleLittleEndian(bytes[pos..]);
                        int length = BinaryPrimitives.ReadInt32LittleEndian(bytes[(pos + 4)..]);
                        pos += 8;
                        offsets[i] = at;
                        MemoryMarshal.Cast<byte, int>(bytes.Slice(pos, length * 4)).CopyTo(ids.AsSpan(at, length));
                        pos += length * 4;
                        if (!unit)
                        {
                            MemoryMarshal.Cast<byte, float>(bytes.Slice(pos, length * 4)).CopyTo(values.AsSpan(at, length));
                            pos += length * 4;
                        }

                        at += length;
                    }

                    offsets[n] = at;
                    w.Dispose();
                    writers[s] = null!;
                    pending[s] = [];
                    var order = new int[n];
                    for (int i = 0; i < n; i++)
                    {
                        order[i] = i;
                    }

                    if (shuffle)
                    {
                        rng.Shuffle(order);
                    }

                    int put = 0;
                    for (int i = 0; i < n; i++)
                    {
                        int from = offsets[order[i]], length = offsets[order[i] + 1] - from;
                        outLabels[i] = labels[order[i]];
                        outOffsets[i] = put;
                        ids.AsSpan(from, length).CopyTo(outIds.AsSpan(put));
                        if (!unit)
                        {
                            values.AsSpan(from, length).CopyTo(outValues.AsSpan(put));
                        }

                        put += length;
                    }

                    outOffsets[n] = put;
                    writer.WriteChunk(outLabels.AsSpan(0, n), outOffsets.AsSpan(0, n + 1), outIds.AsSpan(0, put), unit ? default : outValues.AsSpan(0, put));
                }

                writer.Finish(0, 0, numFeatures);
            }
        }
        catch
        {
            foreach (FileStream? w in writers)
            {
                w?.Dispose();
            }

            File.Delete(path);
            throw;
        }

        RowCacheReader reader;
        try
        {
            reader = RowCacheReader.Open(path);
        }
        catch
        {
            File.Delete(path);
            throw;
        }

        return new CacheEpochSource(reader, path, rows, counts, normalize);
    }

    public void Dispose()
    {
        _reader.Dispose();
        File.Delete(_path);
    }
}
