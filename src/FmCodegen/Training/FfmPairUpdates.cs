using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using FmCodegen.Kernels;

namespace FmCodegen.Training;

/// <summary>
/// The trainer's own AdaGrad pair loop for field blocks of 4 floats (k up to 4, libffm's default and the hot case),
/// on the training table where each block's AdaGrad sums follow its weights ([w | G], 32 bytes, 32-byte aligned).
/// </summary>
/// <remarks>
/// The kernels' loop (<see cref="IFfmKernel.UpdatePairsAdaGrad"/>) reads and writes each half block with its own
/// 128-bit load or store and packs both blocks of a pair into one 256-bit vector: eight loads, inserts and extracts
/// per pair. Here each block is one 256-bit load and one store and three lane permutes pack and unpack the pair,
/// about a third fewer instructions per pair, which is what bounds the updates (their square roots and divisions
/// are not the limit on this hardware, and replacing them by Newton steps was slower). Each lane's arithmetic is
/// <see cref="FfmUpdate.AdaGrad128"/>'s, in the same pair order, so the model has the same bits as the kernels'
/// loop on every path (FfmSameBitsTests holds the hashes).
/// </remarks>
internal static class FfmPairUpdates
{
    /// <summary>True when <see cref="AdaGrad4"/> runs here (x86 with 256-bit vectors enabled).</summary>
    public static bool Available => Avx.IsSupported && Vector256.IsHardwareAccelerated && FmSimd.MaxBits >= 256;

    /// <summary>One AdaGrad step on every pair (a, b &gt; a) of a compacted example, in order, for blocks of
    /// 4 weights followed by their 4 sums. Needs <see cref="Available"/>.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static void AdaGrad4(ref float table, ref int rows, ref int blocks, ref float x, int count, float kappa, float eta, float lambda)
    {
        Vector256<float> etas = Vector256.Create(eta), lambdas = Vector256.Create(lambda);
        for (int a = 0; a < count; a++)
        {
            ref float rowA = ref Unsafe.Add(ref table, Unsafe.Add(ref rows, a));
            int blockA = Unsafe.Add(ref blocks, a);
            float xa = Unsafe.Add(ref x, a);
            for (int b = a + 1; b < count; b++)
            {
                Vector256<float> t = Vector256.Create(kappa * (xa * Unsafe.Add(ref x, b)));
                Step(ref Unsafe.Add(ref rowA, Unsafe.Add(ref blocks, b)), ref Unsafe.Add(ref table, Unsafe.Add(ref rows, b) + blockA), t, etas, lambdas);
            }
        }
    }

    /// <summary><see cref="AdaGrad4"/> for an example whose values are all 1: every pair's gradient scale is
    /// kappa x (1 x 1) = kappa exactly, so it is made once.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static void AdaGrad4Ones(ref float table, ref int rows, ref int blocks, int count, float kappa, float eta, float lambda)
    {
        Vector256<float> etas = Vector256.Create(eta), lambdas = Vector256.Create(lambda), t = Vector256.Create(kappa);
        for (int a = 0; a < count; a++)
        {
            ref float rowA = ref Unsafe.Add(ref table, Unsafe.Add(ref rows, a));
            int blockA = Unsafe.Add(ref blocks, a);
            for (int b = a + 1; b < count; b++)
            {
                Step(ref Unsafe.Add(ref rowA, Unsafe.Add(ref blocks, b)), ref Unsafe.Add(ref table, Unsafe.Add(ref rows, b) + blockA), t, etas, lambdas);
            }
        }
    }

    /// <summary>One pair's step: <paramref name="first"/> is a's block for b's field, <paramref name="second"/> b's
    /// block for a's field, <paramref name="t"/> the gradient scale kappa x_a x_b in every lane.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Step(ref float first, ref float second, Vector256<float> t, Vector256<float> etas, Vector256<float> lambdas)
    {
        Vector256<float> p = Vector256.LoadUnsafe(ref first), q = Vector256.LoadUnsafe(ref second);
        Vector256<float> ab = Avx.Permute2x128(p, q, 0x20);   // [w1 | w2]
        Vector256<float> ba = Avx.Permute2x128(q, p, 0x20);   // [w2 | w1]
        Vector256<float> sums = Avx.Permute2x128(p, q, 0x31); // [G1 | G2]
        Vector256<float> g = Vector256.FusedMultiplyAdd(t, ba, lambdas * ab);
        Vector256<float> h = Vector256.FusedMultiplyAdd(g, g, sums);
        Vector256<float> updated = ab - (etas * g / Vector256.Sqrt(h));

        // the first block is written before the second, as the kernels do (a pair whose two nonzeros share feature
        // and field has one block: the second write wins in both)
        Avx.Permute2x128(updated, h, 0x20).StoreUnsafe(ref first);
        Avx.Permute2x128(updated, h, 0x31).StoreUnsafe(ref second);
    }
}
