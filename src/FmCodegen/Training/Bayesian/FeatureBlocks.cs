using System.Numerics;
using FmCodegen.Data;

namespace FmCodegen.Training.Bayesian;

/// <summary>
/// The training data by column (feature), and the features by blocks that never share a row. Given everything else,
/// the parameters of such features are independent (a draw for one changes the residuals of rows the others are not
/// in), so the features of one block can be drawn on any number of threads in any order with the same result. Blocks come from a
/// greedy colouring in feature order with a 64-bit mask per row; a feature that finds all 64 colours taken in its rows
/// becomes a block of its own. One-hot fields (users, items, the categories of CTR data) make one block each.
/// </summary>
internal sealed class FeatureBlocks
{
    private FeatureBlocks(int[] columnStart, int[] rows, double[] values, int[] blockStart, int[] features, int[] empty)
    {
        ColumnStart = columnStart;
        Rows = rows;
        Values = values;
        BlockStart = blockStart;
        Features = features;
        Empty = empty;
        Binary = AllOne(values);
    }

    // a plain loop: Array.TrueForAll over doubles is a generic the ReadyToRun image lacks, compiled at every start
    private static bool AllOne(double[] values)
    {
        foreach (double x in values)
        {
            if (x != 1.0)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>The nonzeros of feature j (column form) are Rows/Values[ColumnStart[j] .. ColumnStart[j + 1]), in
    /// ascending row order.</summary>
    public int[] ColumnStart { get; }

    public int[] Rows { get; }

    /// <summary>As doubles: the sweeps compute in double, and converting a float in their loops ties each row's
    /// work to the row before (the conversion keeps the upper bits of its register).</summary>
    public double[] Values { get; }

    /// <summary>Every value is 1 (one-hot or binary data): the products with x can be left out.</summary>
    public bool Binary { get; }

    /// <summary>The features of block b are Features[BlockStart[b] .. BlockStart[b + 1]), ascending.</summary>
    public int[] BlockStart { get; }

    public int[] Features { get; }

    /// <summary>Features without a training nonzero (drawn from their prior).</summary>
    public int[] Empty { get; }

    public int Count => BlockStart.Length - 1;

    /// <summary>The nonzeros of the features of block b.</summary>
    public long Entries(int b)
    {
        long sum = 0;
        for (int i = BlockStart[b]; i < BlockStart[b + 1]; i++)
        {
            sum += ColumnStart[Features[i] + 1] - ColumnStart[Features[i]];
        }

        return sum;
    }

    public static FeatureBlocks Build(SparseDataset train, int numFeatures)
    {
        ReadOnlySpan<int> offsets = train.Offsets;
        ReadOnlySpan<int> indices = train.Indices;
        ReadOnlySpan<float> values = train.Values;
        int rows = train.Count;

        // the rows of every feature (column form), for the colouring
        var columnStart = new int[numFeatures + 1];
        foreach (int j in indices)
        {
            columnStart[j + 1]++;
        }

        for (int j = 0; j < numFeatures; j++)
        {
            columnStart[j + 1] += columnStart[j];
        }

        var columnRows = new int[indices.Length];
        var columnValues = new double[indices.Length];
        var fill = new int[numFeatures];
        Array.Copy(columnStart, fill, numFeatures);
        for (int r = 0; r < rows; r++)
        {
            for (int p = offsets[r]; p < offsets[r + 1]; p++)
            {
                int at = fill[indices[p]]++;
                columnRows[at] = r;
                columnValues[at] = values[p];
            }
        }

        var masks = new ulong[rows];
        var colour = new int[numFeatures];
        int singletons = 0;
        var empty = new List<int>();
        for (int j = 0; j < numFeatures; j++)
        {
            ReadOnlySpan<int> column = columnRows.AsSpan(columnStart[j], columnStart[j + 1] - columnStart[j]);
            if (column.IsEmpty)
            {
                colour[j] = -1;
                empty.Add(j);
                continue;
            }

            ulong used = 0;
            foreach (int r in column)
            {
                used |= masks[r];
            }

            if (used == ulong.MaxValue)
            {
                colour[j] = 64 + singletons++;
                continue;
            }

            int c = BitOperations.TrailingZeroCount(~used);
            colour[j] = c;
            ulong bit = 1UL << c;
            foreach (int r in column)
            {
                masks[r] |= bit;
            }
        }

        // number the colours in use as blocks 0 .. B-1 (the masked ones first, then the singletons)
        var blockOf = new int[64 + singletons];
        Array.Fill(blockOf, -1);
        for (int j = 0; j < numFeatures; j++)
        {
            if (colour[j] >= 0)
            {
                blockOf[colour[j]] = 0;
            }
        }

        int blocks = 0;
        for (int c = 0; c < blockOf.Length; c++)
        {
            if (blockOf[c] == 0)
            {
                blockOf[c] = blocks++;
            }
        }

        var blockStart = new int[blocks + 1];
        for (int j = 0; j < numFeatures; j++)
        {
            if (colour[j] >= 0)
            {
                blockStart[blockOf[colour[j]] + 1]++;
            }
        }

        for (int b = 0; b < blocks; b++)
        {
            blockStart[b + 1] += blockStart[b];
        }

        var features = new int[blockStart[blocks]];
        var blockFill = new int[blocks];
        Array.Copy(blockStart, blockFill, blocks);
        for (int j = 0; j < numFeatures; j++)
        {
            if (colour[j] >= 0)
            {
                features[blockFill[blockOf[colour[j]]]++] = j;
            }
        }

        return new FeatureBlocks(columnStart, columnRows, columnValues, blockStart, features, [.. empty]);
    }
}
