using System.Globalization;
using System.Text;
using FmCodegen.Kernels;
using FsCheck;
using FsCheck.Fluent;

namespace FmCodegen.Tests;

/// <summary>An order-3 model and one example: the order-2 table V and the order-3 table U, values on the 1/16 grid.</summary>
public sealed record Order3Case(int K, float Bias, float[] Weights, float[] Pairs, float[] Triples, int[] Indices, float[] Values)
{
    public int NumFeatures => Weights.Length;

    public FmModel Model() => FmModel.Create(Bias, Weights, [.. Pairs, .. Triples], K, order: 3);

    /// <summary>The order-2 model of the same bias, weights and V.</summary>
    public FmModel Order2Model() => FmModel.Create(Bias, Weights, Pairs, K);

    public override string ToString()
    {
        var b = new StringBuilder();
        b.Append(CultureInfo.InvariantCulture, $"k={K} bias={Bias} features={NumFeatures}\n  w=[{string.Join(", ", Weights)}]");
        for (int i = 0; i < NumFeatures; i++)
        {
            b.Append(CultureInfo.InvariantCulture, $"\n    v{i}=[{string.Join(", ", Pairs.AsSpan(i * K, K).ToArray())}] u{i}=[{string.Join(", ", Triples.AsSpan(i * K, K).ToArray())}]");
        }

        b.Append("\n  x={");
        b.Append(string.Join(", ", Indices.Select((index, j) => string.Create(CultureInfo.InvariantCulture, $"{index}:{Values[j]}"))));
        return b.Append('}').ToString();
    }

    /// <summary>The definition over pairs and triples of positions in double, written independently of the library.</summary>
    public double Reference()
    {
        int n = Indices.Length;
        double y = Bias;
        for (int i = 0; i < n; i++)
        {
            if (Indices[i] >= NumFeatures)
            {
                continue;
            }

            y += Weights[Indices[i]] * (double)Values[i];
            for (int j = i + 1; j < n; j++)
            {
                if (Indices[j] >= NumFeatures)
                {
                    continue;
                }

                double dot = 0;
                for (int f = 0; f < K; f++)
                {
                    dot += (double)Pairs[(Indices[i] * K) + f] * Pairs[(Indices[j] * K) + f];
                }

                y += dot * Values[i] * Values[j];
                for (int l = j + 1; l < n; l++)
                {
                    if (Indices[l] >= NumFeatures)
                    {
                        continue;
                    }

                    double triple = 0;
                    for (int f = 0; f < K; f++)
                    {
                        triple += (double)Triples[(Indices[i] * K) + f] * Triples[(Indices[j] * K) + f] * Triples[(Indices[l] * K) + f];
                    }

                    y += triple * Values[i] * Values[j] * Values[l];
                }
            }
        }

        return y;
    }

    /// <summary>
    /// The float error bound of the O(kn) identities against the exact value, u = 2^-24. The order-2 part as in
    /// <see cref="FmCase.Tolerance"/>: (4n + 2k + 16) u M2 with M2 = |w0| + sum |w_i x_i| + sum_f A_f^2. The triple
    /// term: with B_f = sum_i |u_if x_i|, the power sums p1, p2, p3 carry at most gamma_(n+5) B_f, B_f^2, B_f^3
    /// (recursive summation of terms each within (1 + u)^5 of exact), so d_f = (p1^2 - 3 p2) p1 + 2 p3, of magnitude at
    /// most 6 B_f^3, is within 6 B_f^3 (3 gamma_(n+5) + 5 u); the k-term sum adds gamma_k, the division by 6 and the
    /// final add one u each: under (3n + k + 22) u M3 with M3 = sum_f B_f^3. Both together (and the double reference's
    /// 1e-16) stay under (4n + 2k + 26) u (M2 + M3).
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
            double a = 0, b = 0;
            for (int j = 0; j < indices.Length; j++)
            {
                a += Math.Abs((double)model.FactorRow(indices[j], 2)[f] * values[j]);
                b += Math.Abs((double)model.FactorRow(indices[j], 3)[f] * values[j]);
            }

            magnitude += (a * a) + (b * b * b);
        }

        return ((4.0 * indices.Length) + (2.0 * model.EmbeddingSize) + 26) * Math.ScaleB(1, -24) * magnitude;
    }
}

public delegate float Order3ScoreFn(FmModel model, ReadOnlySpan<int> indices, ReadOnlySpan<float> values);

/// <summary>FsCheck generators for <see cref="Order3Case"/> and every order-3 scorer by name.</summary>
public static class Order3Gen
{
    /// <summary>Cases for k: 1 to 30 features, 0 to 39 nonzeros, unseen indices and repeats likely.</summary>
    public static Gen<Order3Case> Cases(int k, float scale = 1f) =>
        from nf in Gen.Choose(1, 30)
        from bias in FmGen.Small
        from weights in FmGen.Small.ArrayOf(nf)
        from pairs in FmGen.Small.ArrayOf(nf * k)
        from triples in FmGen.Small.ArrayOf(nf * k)
        from n in Gen.Choose(0, 39)
        from indices in Gen.Choose(0, nf + 2).ArrayOf(n)
        from values in FmGen.Value.ArrayOf(n)
        select new Order3Case(k, bias * scale, Scale(weights, scale), Scale(pairs, scale), Scale(triples, scale), indices, Scale(values, scale));

    public static Arbitrary<Order3Case> Arbitrary(int k, float scale = 1f) => Arb.From(Cases(k, scale), Shrink);

    public static IEnumerable<Order3Case> Shrink(Order3Case c)
    {
        for (int j = 0; j < c.Indices.Length; j++)
        {
            yield return c with { Indices = [.. c.Indices.AsSpan(0, j), .. c.Indices.AsSpan(j + 1)], Values = [.. c.Values.AsSpan(0, j), .. c.Values.AsSpan(j + 1)] };
        }

        if (c.Pairs.Any(v => v != 0))
        {
            yield return c with { Pairs = new float[c.Pairs.Length] };
        }

        if (c.Triples.Any(v => v != 0))
        {
            yield return c with { Triples = c.Triples.Select(v => MathF.Truncate(v * 8) / 16).ToArray() };
        }

        if (c.Values.Any(v => v != 0 && v != 1))
        {
            yield return c with { Values = c.Values.Select(v => v == 0 ? 0f : 1f).ToArray() };
        }
    }

    private static float[] Scale(float[] items, float scale) => scale == 1f ? items : items.Select(v => v * scale).ToArray();

    /// <summary>The k of every order-3 kernel generated in this process (the library's and this project's).</summary>
    public static readonly int[] GeneratedSizes = Order3Kernels.Sizes;

    public static readonly string[] Names = ["Fm.Score", "Fm.ScoreBatch", "generated Score", "generated kernel", "runtime SIMD", "runtime scalar"];

    public static Order3ScoreFn Get(string name, int k) => name switch
    {
        "Fm.Score" => Fm.Score,
        "Fm.ScoreBatch" => (model, indices, values) =>
        {
            var output = new float[1];
            Fm.ScoreBatch(model, [0, indices.Length], indices, values, output);
            return output[0];
        },
        "generated Score" => Order3Kernels.GeneratedScore(k),
        "generated kernel" => FmOrder3Kernels.Generated(k)!.Score,
        "runtime SIMD" => FmOrder3Kernels.RuntimeSimd.Score,
        "runtime scalar" => FmOrder3Kernels.RuntimeScalar.Score,
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, null),
    };

    public static Xunit.TheoryData<string, int> All()
    {
        var data = new Xunit.TheoryData<string, int>();
        foreach (string name in Names)
        {
            foreach (int k in GeneratedSizes)
            {
                data.Add(name, k);
            }
        }

        // k without a generated order-3 kernel: the runtime-k kernels
        foreach (int k in new[] { 2, 7, 9, 13, 17, 33 })
        {
            data.Add("Fm.Score", k);
            data.Add("runtime scalar", k);
        }

        return data;
    }
}
