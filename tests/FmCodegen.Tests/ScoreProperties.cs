using System.Globalization;
using FmCodegen.Kernels;
using FsCheck;
using FsCheck.Fluent;
using Xunit;

namespace FmCodegen.Tests;

/// <summary>
/// The O(kn) kernels against the O(k n^2) definition, on every scorer and every generated k. Runs on whatever SIMD
/// path this process has; .ci/run repeats the suite with AVX-512, AVX2 and all intrinsics switched off.
/// </summary>
public class ScoreProperties
{
    public static TheoryData<string, int> Scorers => FmCodegen.Tests.Scorers.All();

    private static void Check(int tests, Arbitrary<FmCase> cases, Action<FmCase> property) =>
        FsCheck.Check.One(Config.QuickThrowOnFailure.WithMaxTest(tests), Prop.ForAll(cases, property));

    [Theory]
    [MemberData(nameof(Scorers))]
    public void Score_equals_the_pairwise_definition(string scorer, int k)
    {
        ScoreFn score = FmCodegen.Tests.Scorers.Get(scorer, k);
        Check(FmCodegen.Tests.Scorers.Tests(k), FmGen.Arbitrary(k), c => AssertClose(c, score, scorer));
    }

    [Theory]
    [MemberData(nameof(Scorers))]
    public void Score_equals_the_pairwise_definition_at_large_magnitudes(string scorer, int k)
    {
        ScoreFn score = FmCodegen.Tests.Scorers.Get(scorer, k);
        Check(FmCodegen.Tests.Scorers.Tests(k) / 3, FmGen.Arbitrary(k, scale: 1024f), c => AssertClose(c, score, scorer));
    }

    [Theory]
    [MemberData(nameof(Scorers))]
    public void Score_is_invariant_under_permutation_of_the_nonzeros(string scorer, int k)
    {
        ScoreFn score = FmCodegen.Tests.Scorers.Get(scorer, k);
        Check(FmCodegen.Tests.Scorers.Tests(k) / 3, FmGen.Arbitrary(k), c =>
        {
            FmModel model = c.Model();
            int[] order = Enumerable.Range(0, c.Indices.Length).Reverse().ToArray();
            var rng = new Random(c.Indices.Length);
            rng.Shuffle(order);
            int[] indices = order.Select(j => c.Indices[j]).ToArray();
            float[] values = order.Select(j => c.Values[j]).ToArray();
            float a = score(model, c.Indices, c.Values);
            float b = score(model, indices, values);
            double tolerance = 2 * FmCase.Tolerance(model, c.Indices, c.Values);
            if (Math.Abs(a - b) > tolerance)
            {
                throw new InvalidOperationException($"{scorer}: {a} in the given order, {b} permuted (tolerance {tolerance:G3})");
            }
        });
    }

    [Theory]
    [MemberData(nameof(Scorers))]
    public void Zero_values_and_unseen_features_change_nothing(string scorer, int k)
    {
        ScoreFn score = FmCodegen.Tests.Scorers.Get(scorer, k);
        Check(FmCodegen.Tests.Scorers.Tests(k) / 3, FmGen.Arbitrary(k), c =>
        {
            FmModel model = c.Model();
            var indices = c.Indices.ToList();
            var values = c.Values.ToList();

            // Adding 0 to an accumulator, or reading the all-zero row, is exact: the score must not move a bit.
            // Kernels with two accumulator sets take even and odd positions apart, so insert an even number of
            // neutral nonzeros at an even position: every original nonzero keeps its set and its order.
            int at = 2 * (c.Indices.Length / 4);
            int seen = c.Indices.Length > 0 ? c.Indices[0] : 0;
            indices.InsertRange(at, [c.NumFeatures, int.MaxValue, seen, c.NumFeatures + 7]);
            values.InsertRange(at, [3.5f, -2f, 0f, 0f]);
            float a = score(model, c.Indices, c.Values);
            float b = score(model, indices.ToArray(), values.ToArray());
            if (BitConverter.SingleToInt32Bits(a) != BitConverter.SingleToInt32Bits(b))
            {
                throw new InvalidOperationException($"{scorer}: {a:R} without, {b:R} with zero values and unseen features");
            }
        });
    }

    [Theory]
    [MemberData(nameof(Scorers))]
    public void The_empty_example_scores_the_bias(string scorer, int k)
    {
        ScoreFn score = FmCodegen.Tests.Scorers.Get(scorer, k);
        FmModel model = RandomModel(k, 7, seed: k);
        Assert.Equal(model.Bias, score(model, [], []));
    }

    [Theory]
    [MemberData(nameof(Scorers))]
    public void A_negative_index_is_refused_and_named(string scorer, int k)
    {
        ScoreFn score = FmCodegen.Tests.Scorers.Get(scorer, k);
        FmModel model = RandomModel(k, 7, seed: k);
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => score(model, [1, 2, -3, 4], [1f, 1f, 1f, 1f]));
        Assert.Contains("indices[2] is -3", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Scorers))]
    public void Spans_of_different_lengths_are_refused(string scorer, int k)
    {
        ScoreFn score = FmCodegen.Tests.Scorers.Get(scorer, k);
        FmModel model = RandomModel(k, 7, seed: k);
        var error = Assert.Throws<ArgumentException>(() => score(model, [1, 2], [1f]));
        Assert.Contains("same length", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_repeated_index_counts_as_two_positions()
    {
        // y = w0 + w3 (a + b) + <v3, v3> a b: the identity treats positions, not distinct features.
        FmModel model = FmModel.Create(0.5f, [0, 0, 0, 2f], [0, 0, 0, 0, 0, 0, 1f, 3f], 2);
        float a = 1.5f, b = -2f;
        float expected = 0.5f + (2f * (a + b)) + (10f * a * b);
        Assert.Equal(expected, Fm.Score(model, [3, 3], [a, b]));
        Assert.Equal(expected, Fm.ScoreNaive(model, [3, 3], [a, b]), 6);
    }

    [Fact]
    public void The_naive_score_is_the_definition()
    {
        // Three features, k = 2, worked by hand: 1 + (1*2 + 2*1 + 0*3) + <(1,0),(0,1)>*2*1 + <(1,0),(1,1)>*2*3 + <(0,1),(1,1)>*1*3.
        FmModel model = FmModel.Create(1f, [1f, 2f, 0f], [1f, 0f, 0f, 1f, 1f, 1f], 2);
        double y = Fm.ScoreNaive(model, [0, 1, 2], [2f, 1f, 3f]);
        Assert.Equal(1 + 4 + 0 + 6 + 3, y);
        Assert.Equal((float)y, Fm.Score(model, [0, 1, 2], [2f, 1f, 3f]));
    }

    [Fact]
    public void Probability_is_the_logistic_of_the_score()
    {
        FmModel model = RandomModel(16, 20, seed: 3);
        int[] indices = [1, 5, 9];
        float[] values = [1f, 0.5f, 2f];
        float y = Fm.Score(model, indices, values);
        Assert.Equal(1 / (1 + Math.Exp(-y)), Fm.Probability(model, indices, values), 6);
        Assert.Equal(1f, Fm.Sigmoid(1000f));
        Assert.Equal(0f, Fm.Sigmoid(-1000f));
        Assert.Equal(0.5f, Fm.Sigmoid(0f));
    }

    internal static void AssertClose(FmCase c, ScoreFn score, string scorer)
    {
        FmModel model = c.Model();
        float actual = score(model, c.Indices, c.Values);
        double reference = c.Reference();
        double naive = Fm.ScoreNaive(model, c.Indices, c.Values);
        double tolerance = FmCase.Tolerance(model, c.Indices, c.Values);
        if (Math.Abs(actual - reference) > tolerance || Math.Abs(naive - reference) > 1e-9 * (1 + Math.Abs(reference)))
        {
            throw new InvalidOperationException(string.Create(CultureInfo.InvariantCulture,
                $"{scorer} k={c.K} on {FmKernels.For(c.K).Path}: score {actual:R}, Fm.ScoreNaive {naive:R}, independent reference {reference:R}, |diff| {Math.Abs(actual - reference):G3} > tolerance {tolerance:G3}"));
        }
    }

    internal static FmModel RandomModel(int k, int numFeatures, int seed)
    {
        var rng = new Random(seed);
        float[] weights = Enumerable.Range(0, numFeatures).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
        float[] factors = Enumerable.Range(0, numFeatures * k).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
        return FmModel.Create((float)rng.NextDouble(), weights, factors, k);
    }
}
