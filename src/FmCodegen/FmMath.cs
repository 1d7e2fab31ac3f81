using System.Runtime.CompilerServices;

namespace FmCodegen;

/// <summary>
/// The logistic maths, in one place: <see cref="Fm.Sigmoid"/>, the trainer's logistic gradient and loss, and the
/// metrics all call these. The float functions use <see cref="Exp"/>, computed here from IEEE-754 double adds and
/// multiplies in a fixed order, so they give the same bits on every machine, instruction set and operating system
/// (MathF.Exp comes from the platform's C library, whose last bit may differ between libm versions and between its
/// FMA and non-FMA variants): a seeded model and a probability do not depend on the machine's libm.
/// </summary>
internal static class FmMath
{
    /// <summary>1 / (1 + e^-s) from one exponential of -|s|, so it neither overflows nor loses the tails.</summary>
    public static float Sigmoid(float score)
    {
        float e = Exp(-MathF.Abs(score));
        return score >= 0 ? 1f / (1f + e) : e / (1f + e);
    }

    /// <summary>The same function in double, for metrics over many scores.</summary>
    public static double Sigmoid(double score)
    {
        double e = Math.Exp(-Math.Abs(score));
        return score >= 0 ? 1 / (1 + e) : e / (1 + e);
    }

    /// <summary>The logistic loss log(1 + e^-m) of a margin m = y * score (y = +-1), and the sigmoid of -m that its
    /// gradient -y sigmoid(-m) needs, from one exponential. The loss (reported, never fed back) uses the platform's
    /// log; the sigmoid, which moves the parameters, is platform-independent.</summary>
    public static float LogisticLoss(float margin, out float sigmoidOfMinusMargin)
    {
        float e = Exp(-MathF.Abs(margin));
        sigmoidOfMinusMargin = margin >= 0 ? e / (1f + e) : 1f / (1f + e);
        return MathF.Max(-margin, 0f) + MathF.Log(1f + e);
    }

    /// <summary><see cref="LogisticLoss"/> without the log, inlined into a training loop: returns sigmoid(-m) and
    /// gives 1 + e^-|m|, whose log <see cref="LogisticLossOf"/> takes later, off the loop's chain from an example's
    /// score to its updates (the same bits as <see cref="LogisticLoss"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float LogisticGradient(float margin, out float onePlusE)
    {
        float e = ExpInline(-MathF.Abs(margin));
        onePlusE = 1f + e;
        return margin >= 0 ? e / onePlusE : 1f / onePlusE;
    }

    /// <summary>The logistic loss of a margin from <see cref="LogisticGradient"/>'s 1 + e^-|m|: what
    /// <see cref="LogisticLoss"/> returns for it.</summary>
    public static float LogisticLossOf(float margin, float onePlusE) => MathF.Max(-margin, 0f) + MathF.Log(onePlusE);

    private const double InverseLn2 = 1.4426950408889634;

    // ln 2 split so that n * Ln2High is exact for |n| < 2^11
    private const double Ln2High = 0.693147180369123816490;
    private const double Ln2Low = 1.90821492927058770002e-10;

    /// <summary>e^x, within 0.51 ulp of the exact value in float, deterministic: x = n ln 2 + r with |r| &lt;= ln2 / 2,
    /// e^r by its Taylor series to r^11 in double (relative error below 1e-14), scaled by 2^n, rounded once to float.</summary>
    /// <remarks>
    /// The series is summed in Estrin's order (pairs c_i + c_(i+1) r, then with r^2, r^4 and r^8), six dependent
    /// double operations after r instead of Horner's twenty-two. Training waits for this exponential between an
    /// example's score and its updates, so its latency is on each example's critical path. The float results are
    /// those of the Horner sum this replaced, on every float input (all 2^32 compared, FmMathTests samples them).
    /// </remarks>
    public static float Exp(float x) => ExpInline(x);

    /// <summary><see cref="Exp"/>, inlined where the call is on a hot loop's chain.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static float ExpInline(float x)
    {
        if (float.IsNaN(x))
        {
            return x;
        }

        if (x > 89f)
        {
            return float.PositiveInfinity;
        }

        if (x < -104f)
        {
            return 0f;
        }

        double n = Math.Round(x * InverseLn2);
        double r = (x - (n * Ln2High)) - (n * Ln2Low);
        double r2 = r * r, r4 = r2 * r2, r8 = r4 * r4;
        double q0 = 1.0 + r, q1 = 0.5 + (r * (1.0 / 6.0)), q2 = (1.0 / 24.0) + (r * (1.0 / 120.0));
        double q3 = (1.0 / 720.0) + (r * (1.0 / 5040.0)), q4 = (1.0 / 40320.0) + (r * (1.0 / 362880.0));
        double q5 = (1.0 / 3628800.0) + (r * (1.0 / 39916800.0));
        double s0 = q0 + (q1 * r2), s1 = q2 + (q3 * r2), s2 = q4 + (q5 * r2);
        double p = (s0 + (s1 * r4)) + (s2 * r8);
        double scale = BitConverter.Int64BitsToDouble((long)((int)n + 1023) << 52);
        return (float)(p * scale);
    }
}
