using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace FmCodegen.Training;

/// <summary>The solver's hyper-parameters as the update rules read them.</summary>
internal readonly struct Hyper(float learningRate)
{
    public readonly float LearningRate = learningRate;
    public readonly float InverseAlpha = 1f / learningRate;

    /// <summary>FTRL's beta.</summary>
    public const float Beta = 1f;

    /// <summary>AdaGrad's guard against a zero denominator (only for lanes whose gradient was always zero).</summary>
    public const float Epsilon = 1e-8f;
}

/// <summary>
/// One solver's update of parameters p with optimiser state s1, s2, given the loss gradient g and the L2 weight l2
/// of each lane. Applied to 8 lanes at a time (a row of k factors, the linear weight and zero padding: padding
/// lanes have g = 0, l2 = 0, state 0 and stay 0) or to one scalar (the bias). Static abstract members, so the
/// trainer's loop is compiled once per solver with the rule inlined.
/// The vector and scalar forms do the same IEEE operations in the same order (no fused multiply-add, no approximate
/// reciprocal or square root), so a lane's result does not depend on the vector width or the instruction set.
/// </summary>
internal interface IUpdateRule
{
    static abstract void Update(ref float p, ref float s1, ref float s2, Vector256<float> g, Vector256<float> l2, in Hyper h);

    static abstract void Update(ref float p, ref float s1, ref float s2, Vector512<float> g, Vector512<float> l2, in Hyper h);

    static abstract void Update(ref float p, ref float s1, ref float s2, float g, float l2, in Hyper h);

    /// <summary>Sets the state for a parameter starting at value p (FTRL stores it in z).</summary>
    static abstract void Initialize(float p, ref float s1, ref float s2, float l2, in Hyper h);
}

/// <summary>p -= lr (g + l2 p).</summary>
internal readonly struct SgdRule : IUpdateRule
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Update(ref float p, ref float s1, ref float s2, Vector256<float> g, Vector256<float> l2, in Hyper h)
    {
        Vector256<float> w = Vector256.LoadUnsafe(ref p);
        Vector256<float> grad = g + (l2 * w);
        (w - (grad * h.LearningRate)).StoreUnsafe(ref p);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Update(ref float p, ref float s1, ref float s2, Vector512<float> g, Vector512<float> l2, in Hyper h)
    {
        Vector512<float> w = Vector512.LoadUnsafe(ref p);
        Vector512<float> grad = g + (l2 * w);
        (w - (grad * h.LearningRate)).StoreUnsafe(ref p);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Update(ref float p, ref float s1, ref float s2, float g, float l2, in Hyper h) =>
        p -= h.LearningRate * (g + (l2 * p));

    public static void Initialize(float p, ref float s1, ref float s2, float l2, in Hyper h)
    {
    }
}

/// <summary>G += grad^2; p -= lr grad / (sqrt(G) + eps), grad = g + l2 p (Duchi, Hazan and Singer 2011).</summary>
internal readonly struct AdaGradRule : IUpdateRule
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Update(ref float p, ref float s1, ref float s2, Vector256<float> g, Vector256<float> l2, in Hyper h)
    {
        Vector256<float> w = Vector256.LoadUnsafe(ref p);
        Vector256<float> grad = g + (l2 * w);
        Vector256<float> sum = Vector256.LoadUnsafe(ref s1) + (grad * grad);
        sum.StoreUnsafe(ref s1);
        Vector256<float> step = (h.LearningRate * grad) / (Vector256.Sqrt(sum) + Vector256.Create(Hyper.Epsilon));
        (w - step).StoreUnsafe(ref p);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Update(ref float p, ref float s1, ref float s2, Vector512<float> g, Vector512<float> l2, in Hyper h)
    {
        Vector512<float> w = Vector512.LoadUnsafe(ref p);
        Vector512<float> grad = g + (l2 * w);
        Vector512<float> sum = Vector512.LoadUnsafe(ref s1) + (grad * grad);
        sum.StoreUnsafe(ref s1);
        Vector512<float> step = (h.LearningRate * grad) / (Vector512.Sqrt(sum) + Vector512.Create(Hyper.Epsilon));
        (w - step).StoreUnsafe(ref p);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Update(ref float p, ref float s1, ref float s2, float g, float l2, in Hyper h)
    {
        float grad = g + (l2 * p);
        s1 += grad * grad;
        p -= (h.LearningRate * grad) / (MathF.Sqrt(s1) + Hyper.Epsilon);
    }

    public static void Initialize(float p, ref float s1, ref float s2, float l2, in Hyper h)
    {
    }
}

/// <summary>
/// FTRL-Proximal per coordinate without L1: n += g^2; z += g - sigma p with sigma = (sqrt(n_new) - sqrt(n)) / alpha;
/// p = -z / ((beta + sqrt(n)) / alpha + l2). s1 = z, s2 = n. A parameter starting at p0 (the random factors) gets
/// z = -p0 (beta / alpha + l2), so the closed form reproduces it before its first update.
/// </summary>
internal readonly struct FtrlRule : IUpdateRule
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Update(ref float p, ref float s1, ref float s2, Vector256<float> g, Vector256<float> l2, in Hyper h)
    {
        Vector256<float> w = Vector256.LoadUnsafe(ref p);
        Vector256<float> n = Vector256.LoadUnsafe(ref s2);
        Vector256<float> nNew = n + (g * g);
        Vector256<float> rootNew = Vector256.Sqrt(nNew);
        Vector256<float> sigma = (rootNew - Vector256.Sqrt(n)) * h.InverseAlpha;
        Vector256<float> z = Vector256.LoadUnsafe(ref s1) + (g - (sigma * w));
        z.StoreUnsafe(ref s1);
        nNew.StoreUnsafe(ref s2);
        Vector256<float> denominator = ((rootNew + Vector256.Create(Hyper.Beta)) * h.InverseAlpha) + l2;
        (-z / denominator).StoreUnsafe(ref p);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Update(ref float p, ref float s1, ref float s2, Vector512<float> g, Vector512<float> l2, in Hyper h)
    {
        Vector512<float> w = Vector512.LoadUnsafe(ref p);
        Vector512<float> n = Vector512.LoadUnsafe(ref s2);
        Vector512<float> nNew = n + (g * g);
        Vector512<float> rootNew = Vector512.Sqrt(nNew);
        Vector512<float> sigma = (rootNew - Vector512.Sqrt(n)) * h.InverseAlpha;
        Vector512<float> z = Vector512.LoadUnsafe(ref s1) + (g - (sigma * w));
        z.StoreUnsafe(ref s1);
        nNew.StoreUnsafe(ref s2);
        Vector512<float> denominator = ((rootNew + Vector512.Create(Hyper.Beta)) * h.InverseAlpha) + l2;
        (-z / denominator).StoreUnsafe(ref p);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Update(ref float p, ref float s1, ref float s2, float g, float l2, in Hyper h)
    {
        float nNew = s2 + (g * g);
        float rootNew = MathF.Sqrt(nNew);
        float sigma = (rootNew - MathF.Sqrt(s2)) * h.InverseAlpha;
        s1 += g - (sigma * p);
        s2 = nNew;
        p = -s1 / (((rootNew + Hyper.Beta) * h.InverseAlpha) + l2);
    }

    public static void Initialize(float p, ref float s1, ref float s2, float l2, in Hyper h) =>
        s1 = -p * ((Hyper.Beta * h.InverseAlpha) + l2);
}
