using FmCodegen.Kernels;

namespace FmCodegen.Benchmarks;

/// <summary>A model with random parameters and a pool of Criteo-shaped examples (n = 39 nonzeros with value 1,
/// indices uniform over the table, so a large table misses cache on nearly every row).</summary>
public sealed class Workload
{
    public const int NonZeros = 39;
    public const int PoolSize = 4096;

    public Workload(int k, int rows, int seed = 1, int order = 2)
    {
        // Filled in place: a 10M-row table is gigabytes, too big to build through the copying Create. An order-3
        // table gets the same order-2 values, then its order-3 factors.
        var table = new AlignedTable(rows, k, order);
        ulong state = (ulong)seed * 0x9E3779B97F4A7C15UL + 1;
        for (int i = 0; i < rows; i++)
        {
            Fill(table.Row(i)[..(k + 1)], ref state);
        }

        if (order == 3)
        {
            for (int i = 0; i < rows; i++)
            {
                Fill(table.Factors3(i), ref state);
            }
        }

        Model = FmModel.FromTable(0.1f, table, "benchmark");
        var rng = new Random(seed);
        Offsets = new int[PoolSize + 1];
        Indices = new int[PoolSize * NonZeros];
        Values = new float[PoolSize * NonZeros];
        for (int e = 0; e < PoolSize; e++)
        {
            for (int j = 0; j < NonZeros; j++)
            {
                Indices[(e * NonZeros) + j] = rng.Next(rows);
                Values[(e * NonZeros) + j] = 1f;
            }

            Offsets[e + 1] = (e + 1) * NonZeros;
        }
    }

    private static void Fill(Span<float> row, ref ulong state)
    {
        for (int f = 0; f < row.Length; f++)
        {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            row[f] = ((state >> 40) / (float)(1 << 24) - 0.5f) * 0.1f;
        }
    }

    public FmModel Model { get; }
    public int[] Offsets { get; }
    public int[] Indices { get; }
    public float[] Values { get; }

    public ReadOnlySpan<int> RowIndices(int e) => Indices.AsSpan(e * NonZeros, NonZeros);
    public ReadOnlySpan<float> RowValues(int e) => Values.AsSpan(e * NonZeros, NonZeros);
}
