namespace FmCodegen;

/// <summary>The logistic maths, in one place: <see cref="Fm.Sigmoid"/>, the trainer's logistic gradient and loss,
/// and the metrics all call these.</summary>
internal static class FmMath
{
    /// <summary>1 / (1 + e^-s) from one exponential of -|s|, so it neither overflows nor loses the tails.</summary>
    public static float Sigmoid(float score)
    {
        float e = MathF.Exp(-MathF.Abs(score));
        return score >= 0 ? 1f / (1f + e) : e / (1f + e);
    }

    /// <summary>The same function in double, for metrics over many scores.</summary>
    public static double Sigmoid(double score)
    {
        double e = Math.Exp(-Math.Abs(score));
        return score >= 0 ? 1 / (1 + e) : e / (1 + e);
    }

    /// <summary>The logistic loss log(1 + e^-m) of a margin m = y * score (y = +-1), and the sigmoid of -m that its
    /// gradient -y sigmoid(-m) needs, from one exponential.</summary>
    public static float LogisticLoss(float margin, out float sigmoidOfMinusMargin)
    {
        float e = MathF.Exp(-MathF.Abs(margin));
        sigmoidOfMinusMargin = margin >= 0 ? e / (1f + e) : 1f / (1f + e);
        return MathF.Max(-margin, 0f) + MathF.Log(1f + e);
    }
}
