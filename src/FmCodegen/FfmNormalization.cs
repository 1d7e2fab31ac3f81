using System.Runtime.CompilerServices;

namespace FmCodegen;

/// <summary>
/// Instance normalisation of a field-aware model: how an example's values x are scaled before scoring. The three
/// tools that hold FFM models differ, so a model read from one of them scores the way that tool does.
/// With s = sum_a x_a^2 over all the example's nonzeros (unseen ones included, as the tools compute it from the line):
/// </summary>
public enum FfmNormalization
{
    /// <summary>Values as given.</summary>
    None = 0,

    /// <summary>libffm's: the pair term is multiplied by r = 1 / s once; the linear term (libffm has none) is not scaled.</summary>
    LibFfm = 1,

    /// <summary>xLearn's FFM: with norm = 1 / s the linear term is multiplied by sqrt(norm) and the pair term by norm.</summary>
    XLearn = 2,

    /// <summary>ML.NET's: every value divided by the L2 norm sqrt(s) over all fields, so the linear term is scaled by
    /// 1 / sqrt(s) and the pair term by 1 / s (xLearn's maths, computed in ML.NET's order).</summary>
    MlNet = 3,
}

/// <summary>The one place where the scale factors of each normalisation are computed.</summary>
public static class FfmScaling
{
    /// <summary>
    /// The factors that multiply the linear sum and the pair sum of an example with squared norm
    /// <paramref name="sumOfSquares"/> (accumulated in float, in the order of the nonzeros). An example whose values
    /// are all zero keeps factors of 1 (its sums are zero anyway).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static (float Linear, float Pair) Scales(FfmNormalization normalization, float sumOfSquares)
    {
        Scales(normalization, sumOfSquares, out float linear, out float pair);
        return (linear, pair);
    }

    /// <summary><see cref="Scales(FfmNormalization, float)"/> through out parameters: no tuple (in precompiled code
    /// the tuple's constructor is a call into the runtime library, and the scoring loop asks once per row).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Scales(FfmNormalization normalization, float sumOfSquares, out float linear, out float pair)
    {
        if (normalization == FfmNormalization.None || !(sumOfSquares > 0))
        {
            linear = 1f;
            pair = 1f;
            return;
        }

        switch (normalization)
        {
            case FfmNormalization.LibFfm:
                linear = 1f;
                pair = 1f / sumOfSquares;
                return;
            case FfmNormalization.XLearn:
                {
                    float norm = 1f / sumOfSquares;
                    linear = MathF.Sqrt(norm);
                    pair = norm;
                    return;
                }

            default:
                {
                    float inverse = 1f / MathF.Sqrt(sumOfSquares);
                    linear = inverse;
                    pair = inverse * inverse;
                    return;
                }
        }
    }

    /// <summary>The float sum of squares of the values, in their order (what <see cref="Scales(FfmNormalization, float)"/> takes).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float SumOfSquares(ReadOnlySpan<float> values)
    {
        float s = 0;
        foreach (float x in values)
        {
            s += x * x;
        }

        return s;
    }
}
