using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace FmCodegen.Kernels;

/// <summary>
/// The runtime-k field-aware kernel: any k, in chunks of four lanes (Vector128, or scalar fused multiply-adds
/// when the hardware has no vectors). Lanes never mix until the final sum, so it returns the same bits as the
/// generated kernels on every path (see <see cref="IFfmKernel"/>). Each chunk of lanes runs the whole pair loop
/// with its accumulators in registers; the compacted example stays in L1 between chunks.
/// </summary>
public readonly struct RuntimeFfmKernel : IFfmKernel
{
    /// <inheritdoc/>
    public static int EmbeddingSize => 0;

    /// <inheritdoc/>
    public static string ActivePath => Vector128.IsHardwareAccelerated && FmSimd.MaxBits >= 128 ? "Vector128" : "Scalar";

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    [SkipLocalsInit]
    public static float PairSum(ref float table, ref int rows, ref int blocks, ref float x, int count, int k, int fieldStride)
    {
        Span<float> acc = stackalloc float[fieldStride];
        if (Vector128.IsHardwareAccelerated && FmSimd.MaxBits >= 128)
        {
            for (int c = 0; c < fieldStride; c += 4)
            {
                Vector128<float> total = Vector128<float>.Zero;
                for (int a = 0; a < count; a++)
                {
                    ref float rowA = ref Unsafe.Add(ref table, Unsafe.Add(ref rows, a) + c);
                    int blockA = Unsafe.Add(ref blocks, a);
                    Vector128<float> inner = Vector128<float>.Zero;
                    for (int b = a + 1; b < count; b++)
                    {
                        Vector128<float> u = Vector128.LoadUnsafe(ref Unsafe.Add(ref rowA, Unsafe.Add(ref blocks, b)));
                        Vector128<float> v = Vector128.LoadUnsafe(ref Unsafe.Add(ref table, Unsafe.Add(ref rows, b) + blockA + c));
                        inner = Vector128.FusedMultiplyAdd(u, v * Unsafe.Add(ref x, b), inner);
                    }

                    total = Vector128.FusedMultiplyAdd(inner, Vector128.Create(Unsafe.Add(ref x, a)), total);
                }

                total.CopyTo(acc[c..]);
            }
        }
        else
        {
            for (int c = 0; c < fieldStride; c++)
            {
                float total = 0f;
                for (int a = 0; a < count; a++)
                {
                    ref float rowA = ref Unsafe.Add(ref table, Unsafe.Add(ref rows, a) + c);
                    int blockA = Unsafe.Add(ref blocks, a);
                    float inner = 0f;
                    for (int b = a + 1; b < count; b++)
                    {
                        float u = Unsafe.Add(ref rowA, Unsafe.Add(ref blocks, b));
                        float v = Unsafe.Add(ref table, Unsafe.Add(ref rows, b) + blockA + c);
                        inner = MathF.FusedMultiplyAdd(u, v * Unsafe.Add(ref x, b), inner);
                    }

                    total = MathF.FusedMultiplyAdd(inner, Unsafe.Add(ref x, a), total);
                }

                acc[c] = total;
            }
        }

        float sum = acc[0];
        for (int c = 1; c < k; c++)
        {
            sum += acc[c];
        }

        return sum;
    }

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void UpdatePairsAdaGrad(ref float table, ref int rows, ref int blocks, ref float x, int count, int k, int fieldStride, float kappa, float eta, float lambda) =>
        UpdatePairs<AdaGradStep>(ref table, ref rows, ref blocks, ref x, count, fieldStride, kappa, eta, lambda);

    /// <inheritdoc/>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void UpdatePairsSgd(ref float table, ref int rows, ref int blocks, ref float x, int count, int k, int fieldStride, float kappa, float eta, float lambda) =>
        UpdatePairs<SgdStep>(ref table, ref rows, ref blocks, ref x, count, fieldStride, kappa, eta, lambda);

    /// <summary>Every pair (a, b &gt; a) in order, the step applied to both blocks four lanes at a time (or lane by lane
    /// without vectors).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void UpdatePairs<TStep>(ref float table, ref int rows, ref int blocks, ref float x, int count, int fieldStride, float kappa, float eta, float lambda)
        where TStep : struct, IPairStep
    {
        bool vector = Vector128.IsHardwareAccelerated && FmSimd.MaxBits >= 128;
        for (int a = 0; a < count; a++)
        {
            int rowA = Unsafe.Add(ref rows, a);
            int blockA = Unsafe.Add(ref blocks, a);
            float xa = Unsafe.Add(ref x, a);
            for (int b = a + 1; b < count; b++)
            {
                float t = kappa * (xa * Unsafe.Add(ref x, b));
                ref float w1 = ref Unsafe.Add(ref table, rowA + Unsafe.Add(ref blocks, b));
                ref float w2 = ref Unsafe.Add(ref table, Unsafe.Add(ref rows, b) + blockA);
                if (vector)
                {
                    for (int c = 0; c < fieldStride; c += 4)
                    {
                        TStep.Four(ref Unsafe.Add(ref w1, c), ref Unsafe.Add(ref w2, c), fieldStride, t, eta, lambda);
                    }
                }
                else
                {
                    for (int c = 0; c < fieldStride; c++)
                    {
                        TStep.One(ref Unsafe.Add(ref w1, c), ref Unsafe.Add(ref w2, c), fieldStride, t, eta, lambda);
                    }
                }
            }
        }
    }

    /// <summary>The update of one pair's blocks, four lanes or one lane at a time (sums: AdaGrad's offset).</summary>
    private interface IPairStep
    {
        static abstract void Four(ref float w1, ref float w2, int sums, float t, float eta, float lambda);

        static abstract void One(ref float w1, ref float w2, int sums, float t, float eta, float lambda);
    }

    private readonly struct AdaGradStep : IPairStep
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Four(ref float w1, ref float w2, int sums, float t, float eta, float lambda) => FfmUpdate.AdaGrad128(ref w1, ref w2, sums, t, eta, lambda);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void One(ref float w1, ref float w2, int sums, float t, float eta, float lambda) => FfmUpdate.AdaGradScalar(ref w1, ref w2, sums, t, eta, lambda);
    }

    private readonly struct SgdStep : IPairStep
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void Four(ref float w1, ref float w2, int sums, float t, float eta, float lambda) => FfmUpdate.Sgd128(ref w1, ref w2, t, eta, lambda);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static void One(ref float w1, ref float w2, int sums, float t, float eta, float lambda) => FfmUpdate.SgdScalar(ref w1, ref w2, t, eta, lambda);
    }
}

/// <summary>
/// The per-lane update arithmetic, written once per width; generated kernels call these (they inline), so every
/// kernel updates with the same operations in the same order.
/// </summary>
[System.ComponentModel.EditorBrowsable(System.ComponentModel.EditorBrowsableState.Never)]
public static class FfmUpdate
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void AdaGradScalar(ref float w1, ref float w2, int sums, float t, float eta, float lambda)
    {
        float a = w1, b = w2;
        float g1 = MathF.FusedMultiplyAdd(t, b, lambda * a);
        float g2 = MathF.FusedMultiplyAdd(t, a, lambda * b);
        ref float s1 = ref Unsafe.Add(ref w1, sums);
        ref float s2 = ref Unsafe.Add(ref w2, sums);
        float h1 = MathF.FusedMultiplyAdd(g1, g1, s1);
        float h2 = MathF.FusedMultiplyAdd(g2, g2, s2);
        s1 = h1;
        w1 = a - (eta * g1 / MathF.Sqrt(h1));
        s2 = h2;
        w2 = b - (eta * g2 / MathF.Sqrt(h2));
    }

    /// <summary>Four lanes of each block. When 256-bit vectors are there, both blocks' lanes go through one
    /// square root and one division (the costly part of the update); each lane's arithmetic is unchanged.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void AdaGrad128(ref float w1, ref float w2, int sums, float t, float eta, float lambda)
    {
        ref float s1 = ref Unsafe.Add(ref w1, sums);
        ref float s2 = ref Unsafe.Add(ref w2, sums);
        Vector128<float> a = Vector128.LoadUnsafe(ref w1), b = Vector128.LoadUnsafe(ref w2);
        if (Vector256.IsHardwareAccelerated && FmSimd.MaxBits >= 256)
        {
            Vector256<float> ab = Vector256.Create(a, b), ba = Vector256.Create(b, a);
            Vector256<float> g = Vector256.FusedMultiplyAdd(Vector256.Create(t), ba, Vector256.Create(lambda) * ab);
            Vector256<float> h = Vector256.FusedMultiplyAdd(g, g, Vector256.Create(Vector128.LoadUnsafe(ref s1), Vector128.LoadUnsafe(ref s2)));
            Vector256<float> updated = ab - (Vector256.Create(eta) * g / Vector256.Sqrt(h));
            h.GetLower().StoreUnsafe(ref s1);
            updated.GetLower().StoreUnsafe(ref w1);
            h.GetUpper().StoreUnsafe(ref s2);
            updated.GetUpper().StoreUnsafe(ref w2);
            return;
        }

        Vector128<float> tv = Vector128.Create(t), lv = Vector128.Create(lambda), ev = Vector128.Create(eta);
        Vector128<float> g1 = Vector128.FusedMultiplyAdd(tv, b, lv * a);
        Vector128<float> g2 = Vector128.FusedMultiplyAdd(tv, a, lv * b);
        Vector128<float> h1 = Vector128.FusedMultiplyAdd(g1, g1, Vector128.LoadUnsafe(ref s1));
        Vector128<float> h2 = Vector128.FusedMultiplyAdd(g2, g2, Vector128.LoadUnsafe(ref s2));
        h1.StoreUnsafe(ref s1);
        (a - (ev * g1 / Vector128.Sqrt(h1))).StoreUnsafe(ref w1);
        h2.StoreUnsafe(ref s2);
        (b - (ev * g2 / Vector128.Sqrt(h2))).StoreUnsafe(ref w2);
    }

    /// <summary>Eight lanes of each block; packed into one 512-bit vector when there is one (see <see cref="AdaGrad128"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void AdaGrad256(ref float w1, ref float w2, int sums, float t, float eta, float lambda)
    {
        ref float s1 = ref Unsafe.Add(ref w1, sums);
        ref float s2 = ref Unsafe.Add(ref w2, sums);
        Vector256<float> a = Vector256.LoadUnsafe(ref w1), b = Vector256.LoadUnsafe(ref w2);
        if (Vector512.IsHardwareAccelerated && FmSimd.MaxBits >= 512)
        {
            Vector512<float> ab = Vector512.Create(a, b), ba = Vector512.Create(b, a);
            Vector512<float> g = Vector512.FusedMultiplyAdd(Vector512.Create(t), ba, Vector512.Create(lambda) * ab);
            Vector512<float> h = Vector512.FusedMultiplyAdd(g, g, Vector512.Create(Vector256.LoadUnsafe(ref s1), Vector256.LoadUnsafe(ref s2)));
            Vector512<float> updated = ab - (Vector512.Create(eta) * g / Vector512.Sqrt(h));
            h.GetLower().StoreUnsafe(ref s1);
            updated.GetLower().StoreUnsafe(ref w1);
            h.GetUpper().StoreUnsafe(ref s2);
            updated.GetUpper().StoreUnsafe(ref w2);
            return;
        }

        Vector256<float> tv = Vector256.Create(t), lv = Vector256.Create(lambda), ev = Vector256.Create(eta);
        Vector256<float> g1 = Vector256.FusedMultiplyAdd(tv, b, lv * a);
        Vector256<float> g2 = Vector256.FusedMultiplyAdd(tv, a, lv * b);
        Vector256<float> h1 = Vector256.FusedMultiplyAdd(g1, g1, Vector256.LoadUnsafe(ref s1));
        Vector256<float> h2 = Vector256.FusedMultiplyAdd(g2, g2, Vector256.LoadUnsafe(ref s2));
        h1.StoreUnsafe(ref s1);
        (a - (ev * g1 / Vector256.Sqrt(h1))).StoreUnsafe(ref w1);
        h2.StoreUnsafe(ref s2);
        (b - (ev * g2 / Vector256.Sqrt(h2))).StoreUnsafe(ref w2);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void AdaGrad512(ref float w1, ref float w2, int sums, float t, float eta, float lambda)
    {
        Vector512<float> a = Vector512.LoadUnsafe(ref w1), b = Vector512.LoadUnsafe(ref w2);
        Vector512<float> tv = Vector512.Create(t), lv = Vector512.Create(lambda), ev = Vector512.Create(eta);
        Vector512<float> g1 = Vector512.FusedMultiplyAdd(tv, b, lv * a);
        Vector512<float> g2 = Vector512.FusedMultiplyAdd(tv, a, lv * b);
        ref float s1 = ref Unsafe.Add(ref w1, sums);
        ref float s2 = ref Unsafe.Add(ref w2, sums);
        Vector512<float> h1 = Vector512.FusedMultiplyAdd(g1, g1, Vector512.LoadUnsafe(ref s1));
        Vector512<float> h2 = Vector512.FusedMultiplyAdd(g2, g2, Vector512.LoadUnsafe(ref s2));
        h1.StoreUnsafe(ref s1);
        (a - (ev * g1 / Vector512.Sqrt(h1))).StoreUnsafe(ref w1);
        h2.StoreUnsafe(ref s2);
        (b - (ev * g2 / Vector512.Sqrt(h2))).StoreUnsafe(ref w2);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void SgdScalar(ref float w1, ref float w2, float t, float eta, float lambda)
    {
        float a = w1, b = w2;
        float g1 = MathF.FusedMultiplyAdd(t, b, lambda * a);
        float g2 = MathF.FusedMultiplyAdd(t, a, lambda * b);
        w1 = a - (eta * g1);
        w2 = b - (eta * g2);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Sgd128(ref float w1, ref float w2, float t, float eta, float lambda)
    {
        Vector128<float> a = Vector128.LoadUnsafe(ref w1), b = Vector128.LoadUnsafe(ref w2);
        Vector128<float> tv = Vector128.Create(t), lv = Vector128.Create(lambda), ev = Vector128.Create(eta);
        Vector128<float> g1 = Vector128.FusedMultiplyAdd(tv, b, lv * a);
        Vector128<float> g2 = Vector128.FusedMultiplyAdd(tv, a, lv * b);
        (a - (ev * g1)).StoreUnsafe(ref w1);
        (b - (ev * g2)).StoreUnsafe(ref w2);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Sgd256(ref float w1, ref float w2, float t, float eta, float lambda)
    {
        Vector256<float> a = Vector256.LoadUnsafe(ref w1), b = Vector256.LoadUnsafe(ref w2);
        Vector256<float> tv = Vector256.Create(t), lv = Vector256.Create(lambda), ev = Vector256.Create(eta);
        Vector256<float> g1 = Vector256.FusedMultiplyAdd(tv, b, lv * a);
        Vector256<float> g2 = Vector256.FusedMultiplyAdd(tv, a, lv * b);
        (a - (ev * g1)).StoreUnsafe(ref w1);
        (b - (ev * g2)).StoreUnsafe(ref w2);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Sgd512(ref float w1, ref float w2, float t, float eta, float lambda)
    {
        Vector512<float> a = Vector512.LoadUnsafe(ref w1), b = Vector512.LoadUnsafe(ref w2);
        Vector512<float> tv = Vector512.Create(t), lv = Vector512.Create(lambda), ev = Vector512.Create(eta);
        Vector512<float> g1 = Vector512.FusedMultiplyAdd(tv, b, lv * a);
        Vector512<float> g2 = Vector512.FusedMultiplyAdd(tv, a, lv * b);
        (a - (ev * g1)).StoreUnsafe(ref w1);
        (b - (ev * g2)).StoreUnsafe(ref w2);
    }
}
