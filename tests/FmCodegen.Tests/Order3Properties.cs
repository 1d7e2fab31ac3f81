using System.Globalization;
using FmCodegen.Kernels;
using FsCheck;
using FsCheck.Fluent;
using Xunit;

namespace FmCodegen.Tests;

/// <summary>
/// Order-3 scoring against its definition, over pairs and triples, on every order-3 scorer and every generated k.
/// Runs on whatever SIMD path this process has; .ci/run repeats the suite with AVX-512, AVX2 and all intrinsics off.
/// </summary>
public class Order3Properties
{
    public static TheoryData<string, int> Scorers => Order3Gen.All();

    private static void Check(int tests, Arbitrary<Order3Case> cases, Action<Order3Case> property) =>
        FsCheck.Check.One(Config.QuickThrowOnFailure.WithMaxTest(tests), Prop.ForAll(cases, property));

    private static int Tests(int k) => Math.Max(3, FmCodegen.Tests.Scorers.Tests(k) / 2);

    [Theory]
    [MemberData(nameof(Scorers))]
    public void Score_equals_the_definition_over_pairs_and_triples(string scorer, int k)
    {
        Order3ScoreFn score = Order3Gen.Get(scorer, k);
        Check(Tests(k), Order3Gen.Arbitrary(k), c => AssertClose(c, score, scorer));
    }

    [Theory]
    [MemberData(nameof(Scorers))]
    public void Score_equals_the_definition_at_large_magnitudes(string scorer, int k)
    {
        Order3ScoreFn score = Order3Gen.Get(scorer, k);
        Check(Tests(k) / 3, Order3Gen.Arbitrary(k, scale: 64f), c => AssertClose(c, score, scorer));
    }

    [Theory]
    [MemberData(nameof(Scorers))]
    public void Score_is_invariant_under_permutation_of_the_nonzeros(string scorer, int k)
    {
        Order3ScoreFn score = Order3Gen.Get(scorer, k);
        Check(Tests(k) / 3, Order3Gen.Arbitrary(k), c =>
        {
            FmModel model = c.Model();
            int[] order = Enumerable.Range(0, c.Indices.Length).ToArray();
            new Random(c.Indices.Length + 1).Shuffle(order);
            float a = score(model, c.Indices, c.Values);
            float b = score(model, order.Select(j => c.Indices[j]).ToArray(), order.Select(j => c.Values[j]).ToArray());
            double tolerance = 2 * Order3Case.Tolerance(model, c.Indices, c.Values);
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
        Order3ScoreFn score = Order3Gen.Get(scorer, k);
        Check(Tests(k) / 3, Order3Gen.Arbitrary(k), c =>
        {
            FmModel model = c.Model();
            var indices = c.Indices.ToList();
            var values = c.Values.ToList();

            // an even number of neutral nonzeros at an even position: every original keeps its partial sum and order
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
    public void A_zero_order_3_table_scores_exactly_as_the_order_2_part(string scorer, int k)
    {
        Order3ScoreFn score = Order3Gen.Get(scorer, k);
        Check(Tests(k) / 3, Order3Gen.Arbitrary(k), c =>
        {
            Order3Case zero = c with { Triples = new float[c.Triples.Length] };
            float order3 = score(zero.Model(), c.Indices, c.Values);
            float order2 = Fm.Score(zero.Order2Model(), c.Indices, c.Values);
            if (order3 != order2)
            {
                throw new InvalidOperationException($"{scorer}: order 3 with U = 0 scores {order3:R}, the order-2 model {order2:R}");
            }
        });
    }

    [Theory]
    [MemberData(nameof(Scorers))]
    public void Every_scorer_returns_the_bits_of_the_scalar_definition(string scorer, int k)
    {
        Order3ScoreFn score = Order3Gen.Get(scorer, k);
        Check(Tests(k) / 3, Order3Gen.Arbitrary(k), c =>
        {
            FmModel model = c.Model();
            float expected = FmOrder3Kernels.RuntimeScalar.Score(model, c.Indices, c.Values);
            float actual = score(model, c.Indices, c.Values);
            if (BitConverter.SingleToInt32Bits(actual) != BitConverter.SingleToInt32Bits(expected))
            {
                throw new InvalidOperationException($"{scorer} on {FmOrder3Kernels.For(k).Path}: {actual:R}, the scalar definition {expected:R}");
            }
        });
    }

    [Theory]
    [MemberData(nameof(Scorers))]
    public void The_empty_example_scores_the_bias(string scorer, int k)
    {
        Order3ScoreFn score = Order3Gen.Get(scorer, k);
        FmModel model = RandomModel(k, 7, seed: k);
        Assert.Equal(model.Bias, score(model, [], []));
    }

    [Theory]
    [MemberData(nameof(Scorers))]
    public void A_negative_index_and_unequal_spans_are_refused(string scorer, int k)
    {
        Order3ScoreFn score = Order3Gen.Get(scorer, k);
        FmModel model = RandomModel(k, 7, seed: k);
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => score(model, [1, 2, -3, 4], [1f, 1f, 1f, 1f]));
        Assert.Contains("indices[2] is -3", error.Message, StringComparison.Ordinal);
        var lengths = Assert.Throws<ArgumentException>(() => score(model, [1, 2], [1f]));
        Assert.Contains("same length", lengths.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_repeated_index_counts_as_several_positions()
    {
        // one feature three times, k = 1, v = 0, u = 2, w = 0: the only triple is (0, 1, 2): 2^3 a b c
        FmModel model = FmModel.Create(0f, [0f], [0f, 2f], 1, order: 3);
        float a = 1.5f, b = -2f, c = 0.5f;
        Assert.Equal(8f * a * b * c, Fm.Score(model, [0, 0, 0], [a, b, c]));
        Assert.Equal(8.0 * a * b * c, Fm.ScoreNaive(model, [0, 0, 0], [a, b, c]), 9);
        Assert.Equal(0f, Fm.Score(model, [0, 0], [a, b]));
    }

    [Fact]
    public void The_naive_score_is_the_definition_worked_by_hand()
    {
        // k = 2, three features; V all zero except v0 = (1, 0), v1 = (1, 1): pair (0, 1) = 1 * 2 * 1 = 2;
        // U: u0 = (1, 2), u1 = (1, 1), u2 = (2, 1): triple = (1*1*2 + 2*1*1) * 2 * 1 * 3 = 24; w = (1, 0, 0): linear 2
        FmModel model = FmModel.Create(0.5f, [1f, 0f, 0f], [1f, 0f, 1f, 1f, 0f, 0f, 1f, 2f, 1f, 1f, 2f, 1f], 2, order: 3);
        double y = Fm.ScoreNaive(model, [0, 1, 2], [2f, 1f, 3f]);
        Assert.Equal(0.5 + 2 + 2 + 24, y);
        Assert.Equal((float)y, Fm.Score(model, [0, 1, 2], [2f, 1f, 3f]));
    }

    internal static void AssertClose(Order3Case c, Order3ScoreFn score, string scorer)
    {
        FmModel model = c.Model();
        float actual = score(model, c.Indices, c.Values);
        double reference = c.Reference();
        double naive = Fm.ScoreNaive(model, c.Indices, c.Values);
        double tolerance = Order3Case.Tolerance(model, c.Indices, c.Values);
        if (Math.Abs(actual - reference) > tolerance || Math.Abs(naive - reference) > 1e-9 * (1 + Math.Abs(reference)))
        {
            throw new InvalidOperationException(string.Create(CultureInfo.InvariantCulture,
                $"{scorer} k={c.K} on {FmOrder3Kernels.For(c.K).Path}: score {actual:R}, Fm.ScoreNaive {naive:R}, independent reference {reference:R}, |diff| {Math.Abs(actual - reference):G3} > tolerance {tolerance:G3}"));
        }
    }

    internal static FmModel RandomModel(int k, int numFeatures, int seed)
    {
        var rng = new Random(seed);
        float[] weights = Enumerable.Range(0, numFeatures).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
        float[] factors = Enumerable.Range(0, 2 * numFeatures * k).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
        return FmModel.Create((float)rng.NextDouble(), weights, factors, k, order: 3);
    }
}
