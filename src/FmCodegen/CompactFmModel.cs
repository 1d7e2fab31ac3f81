using System.Buffers;
using System.Numerics;
using FmCodegen.Kernels;

namespace FmCodegen;

/// <summary>
/// A model whose few present rows (a hashed model: thousands of features spread over millions of ids) are kept as a
/// compact table of those rows alone, with an id map from the index space to the compact rows, instead of a dense
/// table of the whole index space. Scoring maps the example's ids to compact rows (an id the model does not have, or
/// beyond its index space, maps to the zero row) and runs the same kernel over the compact table, so every score has
/// the bits of <see cref="Fm.Score"/> and <see cref="Fm.ScoreBatch"/> on the dense model. Two id maps: the bitmap of
/// the present ids with the count of set bits before each 64-bit word (n/8 + n/16 bytes for an index space of n; a
/// lookup is a load, a mask and a population count), or an int per id (4n bytes; a lookup is one load).
/// </summary>
internal sealed class CompactFmModel
{
    private readonly ulong[]? _bits;
    private readonly int[]? _before;
    private readonly int[]? _rowOf;
    private readonly int _zeroRow;

    private CompactFmModel(FmModel rows, int numFeatures, ulong[]? bits, int[]? before, int[]? rowOf)
    {
        Rows = rows;
        NumFeatures = numFeatures;
        _bits = bits;
        _before = before;
        _rowOf = rowOf;
        _zeroRow = rows.NumFeatures;
    }

    /// <summary>The compact model: row j holds the parameters of the j-th present id (rising), then the zero row.</summary>
    public FmModel Rows { get; }

    /// <summary>The index space of the model it was made from.</summary>
    public int NumFeatures { get; }

    /// <summary>Bytes of the compact table and the id map (what scoring keeps in memory).</summary>
    public long Bytes => (Rows.RowTable.Length * 4L) + ((_bits?.Length ?? 0) * 8L) + ((_before?.Length ?? 0) * 4L) + ((_rowOf?.Length ?? 0) * 4L);

    /// <summary>The compact form of <paramref name="model"/>: its present rows (every row that is not all zero when it
    /// records none) and an id map, the bitmap with ranks or, with <paramref name="intMap"/>, an int per id.</summary>
    public static CompactFmModel From(FmModel model, bool intMap = false)
    {
        ArgumentNullException.ThrowIfNull(model);
        AlignedTable dense = model.Table;
        int[] ids = model.PresentRows ?? Enumerable.Range(0, model.NumFeatures).Where(i => dense.Row(i)[..dense.ParameterFloats].IndexOfAnyExcept(0f) >= 0).ToArray();
        var table = new AlignedTable(ids.Length, model.EmbeddingSize, model.Order);
        for (int j = 0; j < ids.Length; j++)
        {
            dense.Row(ids[j]).CopyTo(table.Row(j));
        }

        FmModel rows = FmModel.FromTable(model.Bias, table, "compact").WithInstanceNormalization(model.InstanceNormalization);
        int n = model.NumFeatures;
        if (intMap)
        {
            var rowOf = new int[n];
            rowOf.AsSpan().Fill(ids.Length);
            for (int j = 0; j < ids.Length; j++)
            {
                rowOf[ids[j]] = j;
            }

            return new CompactFmModel(rows, n, null, null, rowOf);
        }

        var bits = new ulong[(n + 63) >> 6];
        foreach (int i in ids)
        {
            bits[i >> 6] |= 1UL << i;
        }

        var before = new int[bits.Length];
        for (int w = 0, m = 0; w < bits.Length; w++)
        {
            before[w] = m;
            m += BitOperations.PopCount(bits[w]);
        }

        return new CompactFmModel(rows, n, bits, before, null);
    }

    /// <summary>The compact row of an id: the zero row for an id the model does not have or beyond its index space.</summary>
    public int RowOf(int id)
    {
        if ((uint)id >= (uint)NumFeatures)
        {
            return _zeroRow;
        }

        if (_rowOf is not null)
        {
            return _rowOf[id];
        }

        ulong word = _bits![id >> 6], bit = 1UL << id;
        return (word & bit) == 0 ? _zeroRow : _before![id >> 6] + BitOperations.PopCount(word & (bit - 1));
    }

    /// <summary>Maps ids to compact rows. A negative id is refused as the kernels refuse it.</summary>
    public void Map(ReadOnlySpan<int> ids, Span<int> rows)
    {
        for (int j = 0; j < ids.Length; j++)
        {
            int id = ids[j];
            if (id < 0)
            {
                FmErrors.ThrowNegativeIndex(ids);
            }

            rows[j] = RowOf(id);
        }
    }

    /// <summary>The score of one example: the bits of <see cref="Fm.Score"/> on the dense model.</summary>
    [System.Runtime.CompilerServices.SkipLocalsInit]
    public float Score(ReadOnlySpan<int> indices, ReadOnlySpan<float> values)
    {
        if (indices.Length != values.Length)
        {
            FmErrors.ThrowLengthMismatch(indices.Length, values.Length);
        }

        int[]? rented = indices.Length > 256 ? ArrayPool<int>.Shared.Rent(indices.Length) : null;
        Span<int> rows = rented is null ? stackalloc int[indices.Length] : rented.AsSpan(0, indices.Length);
        try
        {
            Map(indices, rows);
            return Fm.Score(Rows, rows, values);
        }
        finally
        {
            if (rented is not null)
            {
                ArrayPool<int>.Shared.Return(rented);
            }
        }
    }

    /// <summary>Scores a CSR batch: the bits of <see cref="Fm.ScoreBatch"/> on the dense model.</summary>
    public void ScoreBatch(ReadOnlySpan<int> offsets, ReadOnlySpan<int> indices, ReadOnlySpan<float> values, Span<float> output, int maxThreads = 1)
    {
        int[] rows = ArrayPool<int>.Shared.Rent(Math.Max(indices.Length, 1));
        try
        {
            Map(indices, rows.AsSpan(0, indices.Length));
            Fm.ScoreBatch(Rows, offsets, rows.AsSpan(0, indices.Length), values, output, maxThreads);
        }
        finally
        {
            ArrayPool<int>.Shared.Return(rows);
        }
    }
}
