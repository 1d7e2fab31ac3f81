using FmCodegen.Kernels;
using FsCheck;
using FsCheck.Fluent;
using Xunit;

namespace FmCodegen.Tests;

/// <summary>Field-aware FM: model validation, the scoring definition and its edge cases.</summary>
public class FfmTests
{
    private static FfmModel Small(FfmNormalization normalization = FfmNormalization.None)
    {
        // 3 features, 2 fields, k = 2
        float[] factors = [1, 2, 3, 4, /* feature 1 */ 5, 6, 7, 8, /* feature 2 */ -1, 0.5f, 2, -2];
        return FfmModel.Create(0.25f, [0.5f, -1f, 2f], factors, numFields: 2, embeddingSize: 2) with { Normalization = normalization };
    }

    [Fact]
    public void Score_matches_a_hand_computed_example()
    {
        FfmModel model = Small();
        // a = (field 0, feature 0, x 1), b = (field 1, feature 1, x 2): <v[0, 1], v[1, 0]> x_a x_b = <(3,4),(5,6)> 2 = 78
        float y = Ffm.Score(model, [0, 1], [0, 1], [1f, 2f]);
        Assert.Equal(0.25f + 0.5f - 2f + 78f, y);
        Assert.Equal(y, Ffm.ScoreNaive(model, [0, 1], [0, 1], [1f, 2f]), 1e-9);
        Assert.Equal(Fm.Sigmoid(y), Ffm.Probability(model, [0, 1], [0, 1], [1f, 2f]));
    }

    [Fact]
    public void Create_validates_shapes_and_values()
    {
        Assert.Throws<ArgumentException>(() => FfmModel.Create(0, [1f], [1f, 2f, 3f], 2, 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => FfmModel.Create(0, [1f], [1f, 2f], 0, 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => FfmModel.Create(0, [1f], [1f], 1, 0));
        var e = Assert.Throws<ArgumentException>(() => FfmModel.Create(0, [1f], [1f, float.NaN], 1, 2));
        Assert.Contains("feature 0, field 0, factor 1", e.Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => FfmModel.Create(float.PositiveInfinity, [1f], [1f, 2f], 1, 2));
    }

    [Fact]
    public void Parameters_round_trip_and_copies_do_not_alias()
    {
        FfmModel model = Small();
        float[] factors = model.GetFactors();
        Assert.Equal([1, 2, 3, 4, 5, 6, 7, 8, -1, 0.5f, 2, -2], factors);
        factors[0] = 100;
        Assert.Equal(1f, model.FactorBlock(0, 0)[0]);
        Assert.Equal(Small(), FfmModel.Create(model.Bias, model.GetWeights(), model.GetFactors(), 2, 2));
    }

    [Fact]
    public void Unseen_features_and_fields_contribute_nothing_but_count_in_the_norm()
    {
        FfmModel model = Small(FfmNormalization.LibFfm);
        float known = Ffm.Score(model, [0, 1], [0, 1], [1f, 1f]);
        float withUnseen = Ffm.Score(model, [0, 1, 7, 0], [0, 1, 2, 99], [1f, 1f, 1f, 1f]);
        Assert.Equal(Ffm.ScoreNaive(model, [0, 1, 7, 0], [0, 1, 2, 99], [1f, 1f, 1f, 1f]), withUnseen, 1e-6);
        // the two unseen values double the squared norm, so the pair term halves
        Assert.Equal(0.25f + 0.5f - 1f + ((known - (0.25f + 0.5f - 1f)) / 2), withUnseen, 1e-5);
    }

    [Fact]
    public void Negative_features_or_fields_and_mismatched_spans_are_errors()
    {
        FfmModel model = Small();
        Assert.Contains("indices[1]", Assert.Throws<ArgumentOutOfRangeException>(() => Ffm.Score(model, [0, 0], [0, -1], [1f, 1f])).Message, StringComparison.Ordinal);
        Assert.Contains("fields[0]", Assert.Throws<ArgumentOutOfRangeException>(() => Ffm.Score(model, [-3, 0], [0, 1], [1f, 1f])).Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => Ffm.Score(model, [0], [0, 1], [1f, 1f]));
        Assert.Throws<ArgumentOutOfRangeException>(() => Ffm.ScoreNaive(model, [0], [-1], [1f]));
    }

    [Fact]
    public void The_empty_example_scores_the_bias()
    {
        foreach (FfmNormalization norm in Enum.GetValues<FfmNormalization>())
        {
            Assert.Equal(0.25f, Ffm.Score(Small(norm), [], [], []));
        }
    }

    [Fact]
    public void Normalisations_scale_as_each_tool_does()
    {
        int[] fields = [0, 1], indices = [0, 1];
        float[] x = [1f, 2f];
        double plainLinear = 0.5 - 2, plainPairs = 78, s = 5;
        Assert.Equal(0.25 + plainLinear + (plainPairs / s), Ffm.Score(Small(FfmNormalization.LibFfm), fields, indices, x), 1e-5);
        Assert.Equal(0.25 + (plainLinear / Math.Sqrt(s)) + (plainPairs / s), Ffm.Score(Small(FfmNormalization.XLearn), fields, indices, x), 1e-5);
        Assert.Equal(0.25 + (plainLinear / Math.Sqrt(s)) + (plainPairs / s), Ffm.Score(Small(FfmNormalization.MlNet), fields, indices, x), 1e-5);
    }

    [Fact]
    public void Batch_scores_equal_single_scores_bit_for_bit_on_any_thread_count()
    {
        var rng = new Random(5);
        FfmModel model = RandomModel(rng, 50, 4, 4);
        int rows = 3000;
        var offsets = new int[rows + 1];
        var fields = new List<int>();
        var indices = new List<int>();
        var values = new List<float>();
        for (int r = 0; r < rows; r++)
        {
            int n = rng.Next(0, 9);
            for (int a = 0; a < n; a++)
            {
                fields.Add(rng.Next(0, 5));
                indices.Add(rng.Next(0, 55));
                values.Add((float)rng.NextDouble());
            }

            offsets[r + 1] = indices.Count;
        }

        foreach (int threads in new[] { 1, 2, 0 })
        {
            var output = new float[rows];
            Ffm.ScoreBatch(model, offsets, fields.ToArray(), indices.ToArray(), values.ToArray(), output, threads);
            for (int r = 0; r < rows; r++)
            {
                int start = offsets[r], count = offsets[r + 1] - start;
                float single = Ffm.Score(model, fields.GetRange(start, count).ToArray(), indices.GetRange(start, count).ToArray(), values.GetRange(start, count).ToArray());
                Assert.Equal(BitConverter.SingleToInt32Bits(single), BitConverter.SingleToInt32Bits(output[r]));
            }
        }
    }

    internal static FfmModel RandomModel(Random rng, int features, int fields, int k, FfmNormalization norm = FfmNormalization.None)
    {
        var w = new float[features];
        var v = new float[features * fields * k];
        for (int i = 0; i < w.Length; i++)
        {
            w[i] = (float)(rng.NextDouble() - 0.5);
        }

        for (int i = 0; i < v.Length; i++)
        {
            v[i] = (float)(rng.NextDouble() - 0.5);
        }

        return FfmModel.Create(0.1f, w, v, fields, k) with { Normalization = norm };
    }

    [Fact]
    public void Runtime_kernel_equals_the_definition_within_the_bound()
    {
        foreach (int k in new[] { 1, 3, 4, 5, 7, 8, 9, 16, 17, 33 })
        {
            FsCheck.Check.One(Config.QuickThrowOnFailure.WithMaxTest(60), Prop.ForAll(FfmGen.Arbitrary(k), c =>
            {
                FfmModel model = c.Model();
                float y = FfmKernels.Runtime.Score(model, c.Fields, c.Indices, c.Values);
                double exact = Ffm.ScoreNaive(model, c.Fields, c.Indices, c.Values);
                double tolerance = FfmCase.Tolerance(model, c.Fields, c.Indices, c.Values);
                if (Math.Abs(y - exact) > tolerance)
                {
                    throw new InvalidOperationException($"k={k}: {y} vs {exact} (tolerance {tolerance:G3})");
                }
            }));
        }
    }
}

/// <summary>Every field-aware kernel (generated for k = 4, 8, 16 and this project's own k = 7; the runtime-k one) against
/// the double definition, and all of them bit for bit against each other.</summary>
public class FfmKernelProperties
{
    public static TheoryData<int> Ks => new() { 1, 4, 7, 8, 16 };

    private static IEnumerable<(string Name, Func<FfmModel, int[], int[], float[], float> Score)> Paths(int k)
    {
        yield return ("runtime-k", (m, f, i, v) => FfmKernels.Runtime.Score(m, f, i, v));
        yield return ("Ffm.Score", (m, f, i, v) => Ffm.Score(m, f, i, v));
        if (FfmKernels.Generated(k) is { } generated)
        {
            yield return (generated.Name, (m, f, i, v) => generated.Score(m, f, i, v));
        }

        if (k == 7)
        {
            yield return ("Consumer7.Score", (m, f, i, v) => ConsumerFfm7.Score(m, f, i, v));
        }
    }

    [Theory]
    [MemberData(nameof(Ks))]
    public void Every_path_equals_the_definition_within_the_bound_and_the_others_bit_for_bit(int k)
    {
        var paths = Paths(k).ToList();
        Assert.True(k is 1 || paths.Count >= 3, $"no generated kernel registered for k = {k}");
        FsCheck.Check.One(Config.QuickThrowOnFailure.WithMaxTest(200), Prop.ForAll(FfmGen.Arbitrary(k), c =>
        {
            FfmModel model = c.Model();
            double exact = Ffm.ScoreNaive(model, c.Fields, c.Indices, c.Values);
            double tolerance = FfmCase.Tolerance(model, c.Fields, c.Indices, c.Values);
            float first = paths[0].Score(model, c.Fields, c.Indices, c.Values);
            foreach ((string name, var score) in paths)
            {
                float y = score(model, c.Fields, c.Indices, c.Values);
                if (Math.Abs(y - exact) > tolerance)
                {
                    throw new InvalidOperationException($"{name}: {y} vs {exact} (tolerance {tolerance:G3})");
                }

                if (BitConverter.SingleToInt32Bits(y) != BitConverter.SingleToInt32Bits(first))
                {
                    throw new InvalidOperationException($"{name}: {y} but {paths[0].Name} gave {first}: not the same bits");
                }
            }
        }));
    }

    /// <summary>Frappe-shaped examples (one nonzero per field, fields in order, so the two-row pair sum takes its
    /// adjacent-blocks loop; and the same shuffled, so it takes the other) with values that are not short binary
    /// fractions, so any change in the order of the float operations would show in the bits.</summary>
    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(8)]
    public void Kernels_agree_bit_for_bit_on_frappe_shaped_examples_with_rough_values(int k)
    {
        var rng = new Random(1234 + k);
        const int features = 40;
        for (int fields = 1; fields <= 12; fields++)
        {
            float[] factors = Enumerable.Range(0, features * fields * k).Select(_ => (float)(rng.NextDouble() - 0.3)).ToArray();
            float[] weights = Enumerable.Range(0, features).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
            foreach (FfmNormalization norm in new[] { FfmNormalization.None, FfmNormalization.LibFfm, FfmNormalization.XLearn })
            {
                FfmModel model = FfmModel.Create(0.3f, weights, factors, fields, k) with { Normalization = norm };
                for (int e = 0; e < 20; e++)
                {
                    int[] f = Enumerable.Range(0, fields).ToArray();
                    if (e % 2 == 1)
                    {
                        rng.Shuffle(f);
                    }

                    int[] i = f.Select(_ => rng.Next(features + 2)).ToArray();
                    float[] v = f.Select(_ => (float)(rng.NextDouble() * 1.7)).ToArray();
                    AssertPathsAgree(Paths(k).ToList(), model, f, i, v, $"k={k} fields={fields} {norm}");
                }
            }
        }
    }

    /// <summary>Frappe-shaped examples with every value 1 (one-hot data: the 512-bit kernel leaves the multiplications
    /// by the values out and adds instead), fields in order, shuffled and repeated, some features unseen (the
    /// compacting path), every count from 0 to 17 (whole four-row blocks, and two-row and single-row tails):
    /// every path the same bits, within the bound of the definition.</summary>
    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(4)]
    [InlineData(7)]
    [InlineData(8)]
    public void Kernels_agree_bit_for_bit_on_one_hot_examples_of_every_length(int k)
    {
        var rng = new Random(4321 + k);
        const int features = 50, fields = 18;
        float[] factors = Enumerable.Range(0, features * fields * k).Select(_ => (float)(rng.NextDouble() - 0.4)).ToArray();
        float[] weights = Enumerable.Range(0, features).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
        foreach (FfmNormalization norm in new[] { FfmNormalization.None, FfmNormalization.LibFfm, FfmNormalization.MlNet })
        {
            FfmModel model = FfmModel.Create(0.2f, weights, factors, fields, k) with { Normalization = norm };
            var paths = Paths(k).ToList();
            for (int n = 0; n <= 17; n++)
            {
                for (int e = 0; e < 8; e++)
                {
                    int[] f = Enumerable.Range(0, n).ToArray();
                    if (e % 4 == 1)
                    {
                        rng.Shuffle(f);
                    }
                    else if (e % 4 == 2)
                    {
                        f = f.Select(a => a / 2).ToArray();
                    }

                    int[] i = f.Select(_ => rng.Next(e % 4 == 3 ? features + 3 : features)).ToArray();
                    float[] v = f.Select(_ => 1f).ToArray();
                    AssertPathsAgree(paths, model, f, i, v, $"k={k} n={n} {norm}");
                }
            }
        }
    }

    /// <summary>Examples with one nonzero per field, fields 0 .. n - 1 in order (the 512-bit kernel's in-field-order
    /// path, which loads whole groups of four blocks and clears the lanes a step does not use) under models whose blocks
    /// that no pair reads hold 3e38 (a model holds finite numbers only; any product of two of them overflows): a
    /// feature's block of its own field, and every block of the fields n and after. No path lets them reach the score:
    /// finite, within the definition's bound, every path the same bits.</summary>
    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(4)]
    public void Blocks_that_no_pair_reads_never_reach_the_score(int k)
    {
        var rng = new Random(777 + k);
        const int fields = 13, perField = 4;
        var paths = Paths(k).ToList();
        for (int n = 1; n <= fields; n++)
        {
            // feature j belongs to field j % fields
            float[] factors = new float[fields * perField * fields * k];
            for (int j = 0; j < fields * perField; j++)
            {
                for (int f = 0; f < fields; f++)
                {
                    bool unread = f == j % fields || f >= n;
                    for (int c = 0; c < k; c++)
                    {
                        factors[(((j * fields) + f) * k) + c] = unread ? 3e38f : (float)(rng.NextDouble() - 0.4);
                    }
                }
            }

            float[] weights = Enumerable.Range(0, fields * perField).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
            FfmModel model = FfmModel.Create(0.1f, weights, factors, fields, k) with { Normalization = FfmNormalization.LibFfm };
            for (int e = 0; e < 10; e++)
            {
                int[] f = Enumerable.Range(0, n).ToArray();
                int[] i = f.Select(field => field + (fields * rng.Next(perField))).ToArray();
                float[] v = f.Select(_ => e % 2 == 0 ? 1f : (float)(rng.NextDouble() * 1.5)).ToArray();
                Assert.True(float.IsFinite(paths[0].Score(model, f, i, v)), $"k={k} n={n}");
                AssertPathsAgree(paths, model, f, i, v, $"k={k} n={n}");
            }
        }
    }

    /// <summary>The first path's score lies within the definition's bound, and every path gives its bits.</summary>
    private static void AssertPathsAgree(
        IReadOnlyList<(string Name, Func<FfmModel, int[], int[], float[], float> Score)> paths,
        FfmModel model, int[] f, int[] i, float[] v, string label)
    {
        float first = paths[0].Score(model, f, i, v);
        double exact = Ffm.ScoreNaive(model, f, i, v);
        Assert.True(Math.Abs(first - exact) <= FfmCase.Tolerance(model, f, i, v), $"{first} vs {exact}");
        foreach ((string name, var score) in paths)
        {
            float y = score(model, f, i, v);
            Assert.True(BitConverter.SingleToInt32Bits(y) == BitConverter.SingleToInt32Bits(first),
                $"{label}: {name} gave {y}, {paths[0].Name} {first}");
        }
    }

    [Theory]
    [MemberData(nameof(Ks))]
    public void Score_is_invariant_under_permutation_within_the_bound(int k)
    {
        FsCheck.Check.One(Config.QuickThrowOnFailure.WithMaxTest(100), Prop.ForAll(FfmGen.Arbitrary(k), c =>
        {
            FfmModel model = c.Model();
            int[] order = Enumerable.Range(0, c.Indices.Length).ToArray();
            new Random(c.Indices.Length + k).Shuffle(order);
            float a = Ffm.Score(model, c.Fields, c.Indices, c.Values);
            float b = Ffm.Score(model, order.Select(i => c.Fields[i]).ToArray(), order.Select(i => c.Indices[i]).ToArray(), order.Select(i => c.Values[i]).ToArray());
            double tolerance = 2 * FfmCase.Tolerance(model, c.Fields, c.Indices, c.Values);
            if (Math.Abs(a - b) > tolerance)
            {
                throw new InvalidOperationException($"{a} vs {b} permuted (tolerance {tolerance:G3})");
            }
        }));
    }

    [Theory]
    [MemberData(nameof(Ks))]
    public void A_one_field_model_scores_as_the_plain_FM_of_the_same_numbers(int k)
    {
        FsCheck.Check.One(Config.QuickThrowOnFailure.WithMaxTest(100), Prop.ForAll(FfmGen.Arbitrary(k, normalizations: false), c =>
        {
            FfmModel ffm = FfmModel.Create(c.Bias, c.Weights, c.Factors.AsSpan(0, c.Weights.Length * k), 1, k);
            FmModel fm = FmModel.Create(c.Bias, c.Weights, c.Factors.AsSpan(0, c.Weights.Length * k), k);
            int[] fields = new int[c.Indices.Length];
            float a = Ffm.Score(ffm, fields, c.Indices, c.Values);
            float b = Fm.Score(fm, c.Indices, c.Values);
            double tolerance = FfmCase.Tolerance(ffm, fields, c.Indices, c.Values) + FmCase.Tolerance(fm, c.Indices, c.Values);
            if (Math.Abs(a - b) > tolerance)
            {
                throw new InvalidOperationException($"FFM {a} vs FM {b} (tolerance {tolerance:G3})");
            }
        }));
    }
}

[FfmKernel(7)]
internal static partial class ConsumerFfm7;
