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

    /// <summary>Room for <paramref name="rows"/> of <paramref name="data"/>. With <paramref name="normalize"/> each row's
    /// values are stored as x norm (norm = 1 / sum_j x_j^2, xLearn's instance normalisation of the pairwise term),
    /// with its <see cref="LinearScale"/>.</summary>
    public EpochData(SparseDataset data, int[] rows, bool normalize = false)
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
        LinearScale = normalize ? new float[rows.Length] : null;
    }

    /// <summary>With instance normalisation: per row, sqrt(sum_j x_j^2), by which the stored values x norm are
    /// multiplied to give the linear term's x sqrt(norm). Null without normalisation.</summary>
    public float[]? LinearScale { get; }

    public float[] Labels { get; }
    public int[] Offsets { get; }
    public int[] Indices { get; }
    public float[] Values { get; }
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

    /// <summary>Scales a row's values by norm = 1 / sum_j x_j^2 (summed in float, in order, as the scorer does) and
    /// returns sqrt(sum_j x_j^2); a row whose values are all zero stays as it is (it scores as the bias).</summary>
    internal static float Normalize(Span<float> values)
    {
        float squares = 0f;
        foreach (float x in values)
        {
            squares += x * x;
        }

        if (squares == 0f)
        {
            return 0f;
        }

        float norm = 1f / squares;
        for (int j = 0; j < values.Length; j++)
        {
            values[j] *= norm;
        }

        return MathF.Sqrt(squares);
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
            Span<float> copied = Values.AsSpan(target, count);
            values.Slice(start, count).CopyTo(copied);
            Labels[i] = labels[r];
            if (LinearScale is not null)
            {
                LinearScale[i] = Normalize(copied);
            }
        }
    }
}
