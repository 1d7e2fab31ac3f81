using System.Globalization;
using System.Text;
using FsCheck;
using FsCheck.Fluent;

namespace FmCodegen.Tests;

/// <summary>
/// A model and one example, small enough to read when a property fails. Values are multiples of 1/16 (exact in
/// float), so a shrunk counterexample prints as short decimals.
/// </summary>
public sealed record FmCase(int K, float Bias, float[] Weights, float[] Factors, int[] Indices, float[] Values)
{
    public int NumFeatures => Weights.Length;

    public FmModel Model() => FmModel.Create(Bias, Weights, Factors, K);

    public override string ToString()
    {
        var b = new StringBuilder();
        b.Append(CultureInfo.InvariantCulture, $"k={K} bias={Bias} features={NumFeatures}\n  w=[{string.Join(", ", Weights)}]\n  V=");
        for (int i = 0; i < NumFeatures; i++)
        {
            b.Append(CultureInfo.InvariantCulture, $"\n    v{i}=[{string.Join(", ", Factors.AsSpan(i * K, K).ToArray())}]");
        }

        b.Append("\n  x={");
        b.Append(string.Join(", ", Indices.Select((index, j) => string.Create(CultureInfo.InvariantCulture, $"{index}:{Values[j]}"))));
        return b.Append('}').ToString();
    }

    /// <summary>
    /// The float error bound of the O(kn) identity against the exact value, from the standard bound on recursive
    /// summation (gamma_m = m u / (1 - m u), u = 2^-24): each s_f = sum t_i carries at most gamma_n sum |t_i|, so s_f^2
    /// at most (2 gamma_n + u) A_f^2 with A_f = sum_i |v_if x_i|; q_f = sum t_i^2 at most gamma_(n+2) A_f^2; the
    /// sum over k factors adds gamma_k; the linear term gamma_(n+1) sum |w_i x_i|. Altogether under
    /// (4n + 2k + 16) u M with M = |w0| + sum_i |w_i x_i| + sum_f A_f^2. The double reference adds ~1e-16 M.
    /// </summary>
    public static double Tolerance(FmModel model, ReadOnlySpan<int> indices, ReadOnlySpan<float> values)
    {
        double magnitude = Math.Abs(model.Bias);
        for (int j = 0; j < indices.Length; j++)
        {
            magnitude += Math.Abs((double)model.Weight(indices[j]) * values[j]);
        }

        for (int f = 0; f < model.EmbeddingSize; f++)
        {
            double a = 0;
            for (int j = 0; j < indices.Length; j++)
            {
                a += Math.Abs((double)model.FactorRow(indices[j])[f] * values[j]);
            }

            magnitude += a * a;
        }

        return ((4.0 * indices.Length) + (2.0 * model.EmbeddingSize) + 16) * Math.ScaleB(1, -24) * magnitude;
    }

    /// <summary>The exact pairwise definition in double, written independently of the library.</summary>
    public double Reference()
    {
        double y = Bias;
        for (int i = 0; i < Indices.Length; i++)
        {
            y += (Indices[i] < NumFeatures ? Weights[Indices[i]] : 0.0) * Values[i];
            for (int j = i + 1; j < Indices.Length; j++)
            {
                if (Indices[i] >= NumFeatures || Indices[j] >= NumFeatures)
                {
                    continue;
                }

                double dot = 0;
                for (int f = 0; f < K; f++)
                {
                    dot += (double)Factors[(Indices[i] * K) + f] * Factors[(Indices[j] * K) + f];
                }

                y += dot * Values[i] * Values[j];
            }
        }

        return y;
    }
}

/// <summary>FsCheck generators and shrinkers for <see cref="FmCase"/>.</summary>
public static class FmGen
{
    /// <summary>Multiples of 1/16 in [-4, 4].</summary>
    public static Gen<float> Small => Gen.Choose(-64, 64).Select(i => i / 16f);

    /// <summary>A value of x: often exactly 0 or 1, else small.</summary>
    public static Gen<float> Value => Gen.Frequency((1, Gen.Constant(0f)), (2, Gen.Constant(1f)), (5, Small));

    /// <summary>Cases for embedding size k: 1 to 40 features, 0 to 39 nonzeros (n = 39 is the Criteo shape), some
    /// indices beyond the model (unseen features), repeats likely. <paramref name="scale"/> multiplies every
    /// parameter and value, for the large-magnitude properties.</summary>
    public static Gen<FmCase> Cases(int k, float scale = 1f) =>
        from nf in Gen.Choose(1, 40)
        from bias in Small
        from weights in Small.ArrayOf(nf)
        from factors in Small.ArrayOf(nf * k)
        from n in Gen.Choose(0, 39)
        from indices in Gen.Choose(0, nf + 2).ArrayOf(n)
        from values in Value.ArrayOf(n)
        select new FmCase(k, bias * scale, Scale(weights, scale), Scale(factors, scale), indices, Scale(values, scale));

    public static Arbitrary<FmCase> Arbitrary(int k, float scale = 1f) => Arb.From(Cases(k, scale), Shrink);

    /// <summary>Smaller cases, each strictly simpler: a nonzero dropped, the bias or the weights zeroed, values set
    /// to 1, factors halved toward zero (on the 1/16 grid).</summary>
    public static IEnumerable<FmCase> Shrink(FmCase c)
    {
        // Keep only the features the example uses (renumbered; unseen ones stay unseen).
        int[] used = c.Indices.Where(i => i < c.NumFeatures).Distinct().Order().ToArray();
        if (used.Length < c.NumFeatures && used.Length > 0)
        {
            yield return c with
            {
                Weights = used.Select(i => c.Weights[i]).ToArray(),
                Factors = used.SelectMany(i => c.Factors.AsSpan(i * c.K, c.K).ToArray()).ToArray(),
                Indices = c.Indices.Select(i => i < c.NumFeatures ? Array.IndexOf(used, i) : used.Length).ToArray(),
            };
        }

        for (int j = 0; j < c.Indices.Length; j++)
        {
            yield return c with { Indices = RemoveAt(c.Indices, j), Values = RemoveAt(c.Values, j) };
        }

        if (c.Bias != 0)
        {
            yield return c with { Bias = 0 };
        }

        if (c.Weights.Any(w => w != 0))
        {
            yield return c with { Weights = new float[c.Weights.Length] };
        }

        if (c.Values.Any(v => v != 0 && v != 1))
        {
            yield return c with { Values = c.Values.Select(v => v == 0 ? 0f : 1f).ToArray() };
        }

        if (c.Factors.Any(v => v != 0))
        {
            yield return c with { Factors = c.Factors.Select(v => MathF.Truncate(v * 8) / 16).ToArray() };
        }
    }

    private static T[] RemoveAt<T>(T[] items, int at) => [.. items.AsSpan(0, at), .. items.AsSpan(at + 1)];

    private static float[] Scale(float[] items, float scale) => scale == 1f ? items : items.Select(v => v * scale).ToArray();
}
