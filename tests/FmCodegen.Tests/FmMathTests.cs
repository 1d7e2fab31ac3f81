using Xunit;

namespace FmCodegen.Tests;

/// <summary>
/// FmMath.Exp sums its series in Estrin's order; its float results are those of the Horner sum it replaced (written
/// again here) on every float input: all 2^32 were compared once (2026-12-02), and these tests compare a sample of
/// every stretch of the range (a stride through all bit patterns, dense runs near 0 and the ends of the range) and
/// check it against double-precision e^x.
/// </summary>
public class FmMathTests
{
    private static float HornerExp(float x)
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

        double n = Math.Round(x * 1.4426950408889634);
        double r = (x - (n * 0.693147180369123816490)) - (n * 1.90821492927058770002e-10);
        double p = 1.0 / 39916800.0;
        p = (p * r) + (1.0 / 3628800.0);
        p = (p * r) + (1.0 / 362880.0);
        p = (p * r) + (1.0 / 40320.0);
        p = (p * r) + (1.0 / 5040.0);
        p = (p * r) + (1.0 / 720.0);
        p = (p * r) + (1.0 / 120.0);
        p = (p * r) + (1.0 / 24.0);
        p = (p * r) + (1.0 / 6.0);
        p = (p * r) + 0.5;
        p = (p * r) + 1.0;
        p = (p * r) + 1.0;
        double scale = BitConverter.Int64BitsToDouble((long)((int)n + 1023) << 52);
        return (float)(p * scale);
    }

    private static void Check(uint from, uint to, uint step)
    {
        for (ulong bits = from; bits < to; bits += step)
        {
            float x = BitConverter.UInt32BitsToSingle((uint)bits);
            float expected = HornerExp(x), actual = FmMath.Exp(x);
            if (BitConverter.SingleToUInt32Bits(expected) != BitConverter.SingleToUInt32Bits(actual))
            {
                Assert.Fail($"Exp({x:R}) (bits {bits:X8}) = {actual:R}, the Horner sum gives {expected:R}");
            }
        }
    }

    [Fact]
    public void Exp_gives_the_bits_of_the_Horner_sum_across_the_float_range()
    {
        // every 131st bit pattern of all 2^32 (an odd stride, so every exponent and many mantissa patterns)
        Check(0, uint.MaxValue, 131);
    }

    [Fact]
    public void Exp_gives_the_bits_of_the_Horner_sum_on_dense_runs()
    {
        foreach (float centre in new[] { 0f, -0f, 1e-8f, -1e-8f, 0.3465736f, -0.3465736f, 1f, -1f, -10f, -30f, -87.33655f, -88.7f, -103.9f, 88.72f })
        {
            uint bits = BitConverter.SingleToUInt32Bits(centre);
            Check(bits > 200_000 ? bits - 200_000 : 0, bits + 200_000, 1);
        }
    }

    [Fact]
    public void Exp_is_within_an_ulp_of_double_exp()
    {
        for (float x = -103f; x < 88.5f; x += 0.01234f)
        {
            float actual = FmMath.Exp(x);
            double exact = Math.Exp(x);
            float ulp = MathF.BitIncrement(actual) - actual;
            Assert.True(Math.Abs(actual - exact) <= 0.51 * ulp || (actual < 1.2e-38f && Math.Abs(actual - exact) <= 1.5e-45), $"Exp({x:R}) = {actual:R}, e^x = {exact:R}");
        }

        Assert.Equal(1f, FmMath.Exp(0f));
        Assert.Equal(0f, FmMath.Exp(-105f));
        Assert.Equal(float.PositiveInfinity, FmMath.Exp(90f));
        Assert.True(float.IsNaN(FmMath.Exp(float.NaN)));
    }
    [Fact]
    public void The_trainers_split_logistic_loss_has_the_bits_of_LogisticLoss()
    {
        // the trainer takes the sigmoid in its row loop and the loss's log after the block of rows
        for (ulong bits = 0; bits < uint.MaxValue; bits += 1009)
        {
            float margin = BitConverter.UInt32BitsToSingle((uint)bits);
            float loss = FmMath.LogisticLoss(margin, out float sigmoid);
            float split = FmMath.LogisticGradient(margin, out float onePlusE);
            float splitLoss = FmMath.LogisticLossOf(margin, onePlusE);
            // a NaN margin gives NaN in both forms, but which NaN (sign and payload) depends on the instructions the
            // two forms compile to (on Arm64 they differ): any NaN agrees with any NaN, every other result bit for bit
            if (!SameBits(sigmoid, split) || !SameBits(loss, splitLoss))
            {
                Assert.Fail($"margin {margin:R}: LogisticLoss {loss:R} and sigmoid {sigmoid:R}, the split {splitLoss:R} and {split:R}");
            }
        }
    }

    private static bool SameBits(float a, float b) =>
        (float.IsNaN(a) && float.IsNaN(b)) || BitConverter.SingleToUInt32Bits(a) == BitConverter.SingleToUInt32Bits(b);
}
