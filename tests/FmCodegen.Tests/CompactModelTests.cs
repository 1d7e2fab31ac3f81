using FmCodegen.Kernels;
using Xunit;

namespace FmCodegen.Tests;

/// <summary>A hashed model's compact table with an id map scores every example with the bits of its dense table,
/// single and in batches, for both id maps, every order and instance normalisation; ids the model lacks or beyond its
/// index space score as absent; a negative id is refused as the kernels refuse it.</summary>
public class CompactModelTests
{
    private static FmModel Hashed(int space, int present, int k, int order, bool normalize, int seed)
    {
        var random = new Random(seed);
        int[] ids = [.. Enumerable.Range(0, present * 4).Select(_ => random.Next(space)).Distinct().Take(present).Order()];
        var table = new AlignedTable(space, k, order);
        foreach (int i in ids)
        {
            Span<float> row = table.Row(i);
            for (int f = 0; f <= k; f++)
            {
                row[f] = (float)(random.NextDouble() - 0.5);
            }

            if (order == 3)
            {
                Span<float> third = table.Factors3(i);
                for (int f = 0; f < k; f++)
                {
                    third[f] = (float)(random.NextDouble() - 0.5);
                }
            }
        }

        return FmModel.FromTable(0.25f, table, "test", ids).WithInstanceNormalization(normalize);
    }

    [Theory]
    [InlineData(8, 2, false, false)]
    [InlineData(8, 2, true, true)]
    [InlineData(5, 2, false, true)]
    [InlineData(16, 3, false, false)]
    [InlineData(4, 3, false, true)]
    public void Scores_have_the_bits_of_the_dense_table(int k, int order, bool normalize, bool intMap)
    {
        const int space = 200_000;
        FmModel dense = Hashed(space, 700, k, order, normalize, seed: k + order);
        var compact = CompactFmModel.From(dense, intMap);
        Assert.Equal(700, compact.Rows.NumFeatures);
        Assert.Equal(space, compact.NumFeatures);

        // rows mixing present ids, absent ids inside the index space and ids beyond it
        int[] present = dense.PresentRows!;
        var random = new Random(3);
        var offsets = new List<int> { 0 };
        var indices = new List<int>();
        var values = new List<float>();
        for (int r = 0; r < 400; r++)
        {
            int n = random.Next(0, 300); // long rows too: past the single score's stack buffer
            for (int j = 0; j < n; j++)
            {
                int pick = random.Next(10);
                indices.Add(pick < 7 ? present[random.Next(present.Length)] : pick < 9 ? random.Next(space) : space + random.Next(1_000_000));
                values.Add(random.Next(4) == 0 ? 1f : (float)(random.NextDouble() * 3 - 1));
            }

            offsets.Add(indices.Count);
        }

        var expected = new float[400];
        var actual = new float[400];
        Fm.ScoreBatch(dense, offsets.ToArray(), indices.ToArray(), values.ToArray(), expected);
        compact.ScoreBatch(offsets.ToArray(), indices.ToArray(), values.ToArray(), actual);
        for (int r = 0; r < 400; r++)
        {
            Assert.Equal(BitConverter.SingleToInt32Bits(expected[r]), BitConverter.SingleToInt32Bits(actual[r]));
            ReadOnlySpan<int> idx = indices.ToArray().AsSpan(offsets[r], offsets[r + 1] - offsets[r]);
            ReadOnlySpan<float> val = values.ToArray().AsSpan(offsets[r], offsets[r + 1] - offsets[r]);
            Assert.Equal(BitConverter.SingleToInt32Bits(Fm.Score(dense, idx, val)), BitConverter.SingleToInt32Bits(compact.Score(idx, val)));
        }

        compact.ScoreBatch(offsets.ToArray(), indices.ToArray(), values.ToArray(), actual, maxThreads: 2);
        Assert.Equal(expected, actual);
    }

    [Fact]
    public void The_id_map_finds_each_present_row_and_the_zero_row_for_the_rest()
    {
        FmModel dense = Hashed(100_000, 300, 4, 2, false, 9);
        foreach (bool intMap in new[] { false, true })
        {
            var compact = CompactFmModel.From(dense, intMap);
            int[] present = dense.PresentRows!;
            for (int j = 0; j < present.Length; j++)
            {
                Assert.Equal(j, compact.RowOf(present[j]));
                Assert.Equal(dense.FactorRow(present[j]).ToArray(), compact.Rows.FactorRow(j).ToArray());
            }

            Assert.Equal(300, compact.RowOf(int.MaxValue));
            Assert.Equal(300, compact.RowOf(100_000));
            Assert.Equal(300, compact.RowOf(Enumerable.Range(0, 100_000).First(i => Array.BinarySearch(present, i) < 0)));
            Assert.ThrowsAny<ArgumentException>(() => compact.Score([3, -1], [1f, 1f]));
            Assert.ThrowsAny<ArgumentException>(() => compact.Score([3], [1f, 1f]));
            Assert.ThrowsAny<ArgumentException>(() => compact.ScoreBatch([0, 2], [3, -5], [1f, 1f], new float[1]));
        }
    }

    [Fact]
    public void The_batch_scorer_of_fm_predict_and_eval_scores_a_hashed_model_from_its_compact_table_with_the_same_bits()
    {
        FmModel dense = Hashed(300_000, 500, 8, 2, false, 4);
        var scorer = new FmCodegen.Data.SparseScorer(dense, maxThreads: 2);
        Assert.True(scorer.Compact);
        var random = new Random(8);
        int[] present = dense.PresentRows!;
        int[] offsets = [.. Enumerable.Range(0, 201).Select(r => r * 12)];
        int[] indices = [.. Enumerable.Range(0, 2400).Select(j => j % 5 == 0 ? random.Next(400_000) : present[random.Next(present.Length)])];
        float[] values = [.. Enumerable.Range(0, 2400).Select(_ => (float)random.NextDouble())];
        var expected = new float[200];
        var actual = new float[200];
        Fm.ScoreBatch(dense, offsets, indices, values, expected);
        scorer.Score(offsets, indices, values, actual);
        Assert.Equal(expected, actual);
        Assert.True(scorer.UnknownNonZeros > 0); // ids beyond the model are still counted

        // a model that uses most of its index space keeps the dense table
        Assert.False(new FmCodegen.Data.SparseScorer(FmModel.Create(0f, new float[10], new float[40], 4)).Compact);
    }
}
