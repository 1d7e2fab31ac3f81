using FmCodegen.Data;
using FmCodegen.Kernels;

namespace FmCodegen.Training;

/// <summary>
/// Training on the features that occur, not on the index space. When the data uses at most half of its index space
/// (hashed features: a few thousand ids spread over millions), the run trains on compact ids 0 .. m-1, given to the
/// ids that occur in the training data, the validation data or the warm-start model in rising order, so that every
/// per-epoch cost (replicas, merge stamps, solver state, best-epoch copies) follows m; the table is spread back to
/// the original ids once at the end. Only the index arrays are copied (labels, offsets and values are shared), so
/// the compaction costs 4 bytes per nonzero while it trains. A data set that uses most of its index space trains on
/// its own ids, as before.
/// </summary>
internal sealed class FeatureCompaction
{
    private readonly int[] _ids;

    private FeatureCompaction(int[] ids, int numFeatures, SparseDataset train, SparseDataset? validation, FmModel? warmStart)
    {
        _ids = ids;
        NumFeatures = numFeatures;
        Train = train;
        Validation = validation;
        WarmStart = warmStart;
    }

    /// <summary>The original index space (largest id + 1 over the data and the warm start).</summary>
    public int NumFeatures { get; }

    /// <summary>The original id of each compact id, rising.</summary>
    public int[] Ids => _ids;

    public SparseDataset Train { get; }
    public SparseDataset? Validation { get; }
    public FmModel? WarmStart { get; }

    /// <summary>The compaction of a run's data, or null when the data uses more than half its index space.</summary>
    public static FeatureCompaction? For(SparseDataset train, SparseDataset? validation, FmModel? warmStart)
    {
        int n = Math.Max(train.NumFeatures, Math.Max(validation?.NumFeatures ?? 0, warmStart?.NumFeatures ?? 0));
        if (n < 1024)
        {
            return null;
        }

        // a bit per original id that occurs; the compact id of an original id is the number of set bits below it,
        // found in O(1) from each word's count of set bits before it (n/8 + n/16 bytes, no hashing)
        var bits = new ulong[(n + 63) >> 6];
        Mark(bits, train.Indices);
        if (validation is not null)
        {
            Mark(bits, validation.Indices);
        }

        if (warmStart is not null)
        {
            int[]? present = warmStart.PresentRows;
            int rows = present?.Length ?? warmStart.NumFeatures;
            for (int j = 0; j < rows; j++)
            {
                int i = present is null ? j : present[j];
                if (warmStart.Table.Row(i)[..warmStart.Table.ParameterFloats].IndexOfAnyExcept(0f) >= 0)
                {
                    bits[i >> 6] |= 1UL << i;
                }
            }
        }

        var before = new int[bits.Length];
        int m = 0;
        for (int w = 0; w < bits.Length; w++)
        {
            before[w] = m;
            m += System.Numerics.BitOperations.PopCount(bits[w]);
        }

        if (m > n / 2)
        {
            return null;
        }

        var ids = new int[m];
        for (int w = 0, next = 0; w < bits.Length; w++)
        {
            for (ulong word = bits[w]; word != 0; word &= word - 1)
            {
                ids[next++] = (w << 6) + System.Numerics.BitOperations.TrailingZeroCount(word);
            }
        }

        var map = new Rank(bits, before);
        SparseDataset compactTrain = Remap(train, map, m);
        SparseDataset? compactValidation = validation is null ? null : ReferenceEquals(validation, train) ? compactTrain : Remap(validation, map, m);
        FmModel? compactWarm = warmStart is null ? null : Gather(warmStart, ids);
        return new FeatureCompaction(ids, n, compactTrain, compactValidation, compactWarm);
    }

    /// <summary>The trained compact table spread over the original ids; the other rows stay zero as allocated and
    /// are never touched, so their memory is not committed.</summary>
    public AlignedTable Expand(AlignedTable compact)
    {
        var table = new AlignedTable(NumFeatures, compact.EmbeddingSize, compact.Order);
        for (int j = 0; j < _ids.Length; j++)
        {
            compact.Row(j).CopyTo(table.Row(_ids[j]));
        }

        return table;
    }

    private static void Mark(ulong[] bits, ReadOnlySpan<int> indices)
    {
        foreach (int i in indices)
        {
            bits[i >> 6] |= 1UL << i;
        }
    }

    /// <summary>Original id to compact id: the set bits below it.</summary>
    private readonly record struct Rank(ulong[] Bits, int[] Before)
    {
        public int Of(int id) =>
            Before[id >> 6] + System.Numerics.BitOperations.PopCount(Bits[id >> 6] & ((1UL << id) - 1));
    }

    private static SparseDataset Remap(SparseDataset data, Rank map, int m)
    {
        ReadOnlySpan<int> source = data.Indices;
        var indices = new int[source.Length];
        for (int j = 0; j < indices.Length; j++)
        {
            indices[j] = map.Of(source[j]);
        }

        return data.WithIndices(indices, m);
    }

    private static FmModel Gather(FmModel warm, int[] ids)
    {
        var table = new AlignedTable(ids.Length, warm.EmbeddingSize, warm.Order);
        for (int j = 0; j < ids.Length; j++)
        {
            if (ids[j] < warm.NumFeatures)
            {
                warm.Table.Row(ids[j]).CopyTo(table.Row(j));
            }
        }

        return FmModel.FromTable(warm.Bias, table, "the warm-start model");
    }
}
