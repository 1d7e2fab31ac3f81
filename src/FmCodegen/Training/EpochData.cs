using System.Runtime.CompilerServices;
using FmCodegen.Data;

namespace FmCodegen.Training;

/// <summary>
/// One epoch's training rows copied into visiting order, so the training loop reads memory sequentially. The
/// copy's loads are independent of each other, so the processor overlaps their cache misses; the training loop's
/// would each wait (on data larger than the cache, visiting rows in shuffled order in place was half as fast).
/// </summary>
internal sealed class EpochData
{
    public EpochData(SparseDataset data, int[] rows)
    {
        long nonZeros = 0;
        foreach (int r in rows)
        {
            nonZeros += data.Offsets[r + 1] - data.Offsets[r];
        }

        Labels = new float[rows.Length];
        Offsets = new int[rows.Length + 1];
        Indices = new int[nonZeros];
        Values = new float[nonZeros];
    }

    public float[] Labels { get; }
    public int[] Offsets { get; }
    public int[] Indices { get; }
    public float[] Values { get; }
    public int Count => Labels.Length;

    /// <summary>Copies the rows of <paramref name="data"/> in <paramref name="order"/>, on up to <paramref name="threads"/> threads.</summary>
    public void Fill(SparseDataset data, int[] order, int threads)
    {
        ReadOnlySpan<int> source = data.Offsets;
        int at = 0;
        for (int i = 0; i < order.Length; i++)
        {
            int r = order[i];
            Offsets[i] = at;
            at += source[r + 1] - source[r];
        }

        Offsets[order.Length] = at;
        if (threads <= 1 || order.Length < 16384)
        {
            Copy(data, order, 0, order.Length);
        }
        else
        {
            int parts = threads * 4;
            Parallel.For(0, parts, new ParallelOptions { MaxDegreeOfParallelism = threads }, p =>
                Copy(data, order, (int)((long)order.Length * p / parts), (int)((long)order.Length * (p + 1) / parts)));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Copy(SparseDataset data, int[] order, int from, int to)
    {
        ReadOnlySpan<int> offsets = data.Offsets;
        ReadOnlySpan<int> indices = data.Indices;
        ReadOnlySpan<float> values = data.Values;
        ReadOnlySpan<float> labels = data.Labels;
        for (int i = from; i < to; i++)
        {
            int r = order[i];
            int start = offsets[r];
            int count = offsets[r + 1] - start;
            int target = Offsets[i];
            indices.Slice(start, count).CopyTo(Indices.AsSpan(target, count));
            values.Slice(start, count).CopyTo(Values.AsSpan(target, count));
            Labels[i] = labels[r];
        }
    }
}
