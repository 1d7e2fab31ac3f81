using System.Runtime.CompilerServices;
using FmCodegen.Data;

namespace FmCodegen.Training;

/// <summary>
/// The training rows of a phase, copied once in a seeded random order and cut into blocks of
/// <see cref="RowsPerBlock"/> consecutive rows; each epoch visits the blocks in a new random order. The training
/// loop thus reads memory almost sequentially (visiting rows in shuffled order in place was half as fast on data
/// larger than the cache, and copying them into a new order every epoch cost a third of the epoch), while the order
/// of examples still changes every epoch at the grain of 32 rows of an already shuffled data set.
/// </summary>
internal sealed class EpochData
{
    /// <summary>Rows per block: about 2.5 KB of a 10-nonzero data set, long enough for the hardware prefetcher.</summary>
    public const int RowsPerBlock = 32;

    /// <summary>The number of blocks (the last may be short).</summary>
    public int Blocks => (Count + RowsPerBlock - 1) / RowsPerBlock;

    public EpochData(SparseDataset data, int[] rows)
    {
        long nonZeros = 0;
        int longest = 0;
        foreach (int r in rows)
        {
            int length = data.Offsets[r + 1] - data.Offsets[r];
            nonZeros += length;
            longest = Math.Max(longest, length);
        }

        Labels = new float[rows.Length];
        Offsets = new int[rows.Length + 1];
        Indices = new int[nonZeros];
        UnitValues = data.UnitValues;
        Values = UnitValues ? new float[longest] : new float[nonZeros];
        if (UnitValues)
        {
            Values.AsSpan().Fill(1f);
        }
    }

    public float[] Labels { get; }
    public int[] Offsets { get; }
    public int[] Indices { get; }

    /// <summary>The values of the rows; when <see cref="UnitValues"/>, only a run of ones as long as the longest row
    /// (every row's values are its first entries), so binary data costs 4 bytes per nonzero here, not 8.</summary>
    public float[] Values { get; }

    /// <summary>True when every value is 1 (and <see cref="Values"/> holds just ones).</summary>
    public bool UnitValues { get; }
    public int Count => Labels.Length;

    /// <summary>Copies the rows of <paramref name="data"/> in <paramref name="order"/> on the calling thread.</summary>
    public void Fill(SparseDataset data, int[] order)
    {
        PlaceRows(data, order);
        Copy(data, order, 0, order.Length);
    }

    /// <summary>Sets the offsets for <paramref name="order"/>; then <see cref="CopyPart"/> copies the rows, in parts.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void PlaceRows(SparseDataset data, int[] order)
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
    }

    /// <summary>Copies part <paramref name="part"/> of <paramref name="parts"/> of the rows placed by <see cref="PlaceRows"/>.</summary>
    public void CopyPart(SparseDataset data, int[] order, int part, int parts) =>
        Copy(data, order, (int)((long)order.Length * part / parts), (int)((long)order.Length * (part + 1) / parts));

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Copy(SparseDataset data, int[] order, int from, int to)
    {
        ReadOnlySpan<int> offsets = data.Offsets;
        ReadOnlySpan<int> indices = data.Indices;
        ReadOnlySpan<float> values = UnitValues ? default : data.Values;
        ReadOnlySpan<float> labels = data.Labels;
        for (int i = from; i < to; i++)
        {
            int r = order[i];
            int start = offsets[r];
            int count = offsets[r + 1] - start;
            int target = Offsets[i];
            indices.Slice(start, count).CopyTo(Indices.AsSpan(target, count));
            if (!UnitValues)
            {
                values.Slice(start, count).CopyTo(Values.AsSpan(target, count));
            }

            Labels[i] = labels[r];
        }
    }
}
