using System.Numerics;
using FmCodegen.Data;

namespace FmCodegen.Training.Bayesian;

/// <summary>
/// The training data by blocks of features that never share a row. Given everything else, the parameters of such
/// features are independent (a draw for one changes the residuals of rows the others are not in), so a whole block is
/// drawn from one streaming pass over its nonzeros in row order: the per-row caches are read in ascending order
/// instead of by random access per feature column, and the result is the same Gibbs sampler. Blocks come from a
/// greedy colouring in feature order with a 64-bit mask per row; a feature that finds all 64 colours taken in its rows
/// becomes a block of its own. One-hot fields (users, items, the categories of CTR data) make one block each.
/// </summary>
internal sealed class FeatureBlocks
{
    private FeatureBlocks(int[] entryStart, BlockEntry[] entries, int[] featureStart, int[] features, int[] empty)
    {
        EntryStart = entryStart;
        Entries = entries;
        FeatureStart = featureStart;
        Features = features;
        Empty = empty;
        for (int b = 0; b < Count; b++)
        {
            MaxEntries = Math.Max(MaxEntries, entryStart[b + 1] - entryStart[b]);
            MaxFeatures = Math.Max(MaxFeatures, featureStart[b + 1] - featureStart[b]);
        }
    }

    /// <summary>The nonzeros of block b are Entries[EntryStart[b] .. EntryStart[b + 1]), in ascending row order.</summary>
    public int[] EntryStart { get; }

    public BlockEntry[] Entries { get; }

    /// <summary>The features of block b are Features[FeatureStart[b] .. FeatureStart[b + 1]), ascending; an entry's
    /// Local is the position within that range.</summary>
    public int[] FeatureStart { get; }

    public int[] Features { get; }

    /// <summary>Features without a training nonzero (drawn from their prior).</summary>
    public int[] Empty { get; }

    public int Count => EntryStart.Length - 1;

    public int MaxEntries { get; }

    public int MaxFeatures { get; }

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
        var fill = columnStart[..^1].ToArray();
        for (int r = 0; r < rows; r++)
        {
            for (int p = offsets[r]; p < offsets[r + 1]; p++)
            {
                columnRows[fill[indices[p]]++] = r;
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

        var featureStart = new int[blocks + 1];
        var entryStart = new int[blocks + 1];
        var block = new int[numFeatures];
        for (int j = 0; j < numFeatures; j++)
        {
            if (colour[j] < 0)
            {
                block[j] = -1;
                continue;
            }

            int b = blockOf[colour[j]];
            block[j] = b;
            featureStart[b + 1]++;
            entryStart[b + 1] += columnStart[j + 1] - columnStart[j];
        }

        for (int b = 0; b < blocks; b++)
        {
            featureStart[b + 1] += featureStart[b];
            entryStart[b + 1] += entryStart[b];
        }

        var features = new int[featureStart[blocks]];
        var local = new int[numFeatures];
        var featureFill = featureStart[..^1].ToArray();
        for (int j = 0; j < numFeatures; j++)
        {
            if (block[j] >= 0)
            {
                int at = featureFill[block[j]]++;
                features[at] = j;
                local[j] = at - featureStart[block[j]];
            }
        }

        var entries = new BlockEntry[indices.Length];
        var entryFill = entryStart[..^1].ToArray();
        for (int r = 0; r < rows; r++)
        {
            for (int p = offsets[r]; p < offsets[r + 1]; p++)
            {
                int j = indices[p];
                entries[entryFill[block[j]]++] = new BlockEntry(r, local[j], values[p]);
            }
        }

        return new FeatureBlocks(entryStart, entries, featureStart, features, [.. empty]);
    }
}

/// <summary>One nonzero of a block: its row, its feature's position in the block and its value.</summary>
internal readonly record struct BlockEntry(int Row, int Local, float X);
