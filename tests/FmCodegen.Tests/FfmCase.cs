using System.Globalization;
using System.Text;
using FsCheck;
using FsCheck.Fluent;

namespace FmCodegen.Tests;

/// <summary>A field-aware model and one example. Values are multiples of 1/16, so counterexamples print short.</summary>
public sealed record FfmCase(int K, int NumFields, FfmNormalization Normalization, float Bias, float[] Weights, float[] Factors, int[] Fields, int[] Indices, float[] Values)
{
    public FfmModel Model() => FfmModel.Create(Bias, Weights, Factors, NumFields, K) with { Normalization = Normalization };

    public override string ToString()
    {
        var b = new StringBuilder();
        b.Append(CultureInfo.InvariantCulture, $"k={K} fields={NumFields} norm={Normalization} bias={Bias} features={Weights.Length}\n  w=[{string.Join(", ", Weights)}]");
        b.Append(CultureInfo.InvariantCulture, $"\n  V=[{string.Join(", ", Factors)}]\n  x={{");
        b.Append(string.Join(", ", Indices.Select((index, a) => string.Create(CultureInfo.InvariantCulture, $"{Fields[a]}:{index}:{Values[a]}"))));
        return b.Append('}').ToString();
    }

    /// <summary>
    /// The float error bound against the exact value. Per lane, inner and acc are recursive sums of at most n fused
    /// terms (each term also rounds v x_b once): gamma_(2n+1) of the sum of |terms|; the k lanes add gamma_k; the scale
    /// factors are computed in float from a sum of n squares (gamma_(n+4) relative); the final combination 3 u.
    /// Altogether under (3n + k + 16) u M with M = |w0| + ls sum |w x| + ps sum_(a&lt;b) sum_c |u_c v_c x_a x_b|.
    /// </summary>
    public static double Tolerance(FfmModel model, ReadOnlySpan<int> fields, ReadOnlySpan<int> indices, ReadOnlySpan<float> values)
    {
        int n = indices.Length;
        double squares = 0;
        foreach (float v in values)
        {
            squares += (double)v * v;
        }

        (double ls, double ps) = model.Normalization == FfmNormalization.None || squares == 0 ? (1, 1)
            : model.Normalization == FfmNormalization.LibFfm ? (1, 1 / squares) : (1 / Math.Sqrt(squares), 1 / squares);
        double magnitude = Math.Abs(model.Bias);
        double pairs = 0;
        for (int a = 0; a < n; a++)
        {
            bool knownA = (uint)fields[a] < (uint)model.NumFields && (uint)indices[a] < (uint)model.NumFeatures;
            magnitude += knownA ? ls * Math.Abs((double)model.Weight(indices[a]) * values[a]) : 0;
            for (int b = a + 1; b < n && knownA; b++)
            {
                if ((uint)fields[b] >= (uint)model.NumFields || (uint)indices[b] >= (uint)model.NumFeatures)
                {
                    continue;
                }

                ReadOnlySpan<float> u = model.FactorBlock(indices[a], fields[b]);
                ReadOnlySpan<float> v = model.FactorBlock(indices[b], fields[a]);
                for (int c = 0; c < u.Length; c++)
                {
                    pairs += Math.Abs((double)u[c] * v[c] * values[a] * values[b]);
                }
            }
        }

        magnitude += ps * pairs;
        return ((3.0 * n) + model.EmbeddingSize + 16) * Math.ScaleB(1, -24) * magnitude;
    }
}

/// <summary>Generators of <see cref="FfmCase"/>: up to 12 features and 5 fields, examples that also use unseen
/// features and fields, repeats, zeros, and the empty example.</summary>
public static class FfmGen
{
    private static Gen<float> Sixteenths(float scale) => Gen.Choose(-64, 64).Select(i => i / 16f * scale);

    public static Arbitrary<FfmCase> Arbitrary(int k, float scale = 1f, bool normalizations = true) =>
        (from numFeatures in Gen.Choose(1, 12)
         from numFields in Gen.Choose(1, 5)
         from norm in normalizations ? Gen.Elements(FfmNormalization.None, FfmNormalization.LibFfm, FfmNormalization.XLearn, FfmNormalization.MlNet) : Gen.Constant(FfmNormalization.None)
         from bias in Sixteenths(scale)
         from weights in Gen.ArrayOf(Sixteenths(scale), numFeatures)
         from factors in Gen.ArrayOf(Sixteenths(scale), numFeatures * numFields * k)
         from n in Gen.Choose(0, 14)
         from fields in Gen.ArrayOf(Gen.Choose(0, numFields), n)
         from indices in Gen.ArrayOf(Gen.Choose(0, numFeatures + 1), n)
         from values in Gen.ArrayOf(Gen.OneOf(Sixteenths(scale), Gen.Constant(0f)), n)
         select new FfmCase(k, numFields, norm, bias, weights, factors, fields, indices, values)).ToArbitrary();
}
