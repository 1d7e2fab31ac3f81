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
/// about a third fewer instructions per pair (replacing the square roots and divisions by Newton steps was slower).
/// With 512-bit vectors (<see cref="AdaGrad4Twice"/>) two pairs share one square root and one division: on Zen 4 a
/// 512-bit square root and division take about the time of a 256-bit (or a scalar) one, about 2.3 ns for both in a
/// stand-alone loop of independent ones, and with one pair per vector they were the update's largest cost (perf: a
/// third of the loop's samples on the instruction after the division). Each lane's arithmetic is
/// <see cref="FfmUpdate.AdaGrad128"/>'s, in the same pair order (two pairs go together only when neither reads a
/// block the other writes), so the model has the same bits as the kernels' loop on every path (FfmSameBitsTests
/// holds the hashes).
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

    /// <summary>True when <see cref="AdaGrad4Twice"/> and <see cref="AdaGrad4OnesTwice"/> run here (x86 with 512-bit
    /// vectors enabled).</summary>
    public static bool Available512 => Available && Avx512F.IsSupported && Vector512.IsHardwareAccelerated && FmSimd.MaxBits >= 512;

    /// <summary><see cref="AdaGrad4"/> two pairs at a time, (a, b) and (a, b + 1) in one 512-bit vector: one square
    /// root and one division for both (the divider takes a 512-bit vector in about the time of a 256-bit one, and
    /// it bounds the loop). The same bits as <see cref="AdaGrad4"/>: each lane does that loop's operations, and the
    /// two pairs go one after the other (<see cref="Step"/>) whenever one's blocks could be the other's. Needs
    /// <see cref="Available512"/>.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static void AdaGrad4Twice(ref float table, ref int rows, ref int blocks, ref float x, int count, float kappa, float eta, float lambda)
    {
        Vector256<float> etas = Vector256.Create(eta), lambdas = Vector256.Create(lambda);
        Vector512<float> etas2 = Vector512.Create(eta), lambdas2 = Vector512.Create(lambda);
        Vector512<int> spread = Vector512.Create(0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1);
        for (int a = 0; a < count; a++)
        {
            int rowA = Unsafe.Add(ref rows, a), blockA = Unsafe.Add(ref blocks, a);
            float xa = Unsafe.Add(ref x, a);
            int b = a + 1;
            for (; b + 1 < count; b += 2)
            {
                // kappa x (xa x xb) for b and b + 1, as AdaGrad4 makes each, spread over the 128-bit lanes of the pairs
                Vector128<float> xb = Vector128.CreateScalarUnsafe(Unsafe.ReadUnaligned<double>(ref Unsafe.As<float, byte>(ref Unsafe.Add(ref x, b)))).AsSingle();
                Vector128<float> t = Vector128.Create(kappa) * (Vector128.Create(xa) * xb);
                Vector512<float> ts = Avx512F.PermuteVar16x32(t.ToVector256Unsafe().ToVector512Unsafe(), spread);
                Twice(ref table, rowA, blockA, ref rows, ref blocks, b, ts, etas2, lambdas2, etas, lambdas);
            }

            if (b < count)
            {
                Vector256<float> t = Vector256.Create(kappa * (xa * Unsafe.Add(ref x, b)));
                Step(ref Unsafe.Add(ref table, rowA + Unsafe.Add(ref blocks, b)), ref Unsafe.Add(ref table, Unsafe.Add(ref rows, b) + blockA), t, etas, lambdas);
            }
        }
    }

    /// <summary><see cref="AdaGrad4Ones"/> two pairs at a time (see <see cref="AdaGrad4Twice"/>). Needs
    /// <see cref="Available512"/>.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    public static void AdaGrad4OnesTwice(ref float table, ref int rows, ref int blocks, int count, float kappa, float eta, float lambda)
    {
        Vector256<float> etas = Vector256.Create(eta), lambdas = Vector256.Create(lambda), t = Vector256.Create(kappa);
        Vector512<float> etas2 = Vector512.Create(eta), lambdas2 = Vector512.Create(lambda), ts = Vector512.Create(kappa);
        for (int a = 0; a < count; a++)
        {
            int rowA = Unsafe.Add(ref rows, a), blockA = Unsafe.Add(ref blocks, a);
            int b = a + 1;
            for (; b + 1 < count; b += 2)
            {
                Twice(ref table, rowA, blockA, ref rows, ref blocks, b, ts, etas2, lambdas2, etas, lambdas);
            }

            if (b < count)
            {
                Step(ref Unsafe.Add(ref table, rowA + Unsafe.Add(ref blocks, b)), ref Unsafe.Add(ref table, Unsafe.Add(ref rows, b) + blockA), t, etas, lambdas);
            }
        }
    }

    /// <summary>The pairs (a, b) and (a, b + 1): a's blocks for b's and b + 1's fields (p1, q1), b's and b + 1's
    /// blocks for a's field (p2, q2). <paramref name="ts"/> holds pair b's gradient scale in 128-bit lanes 0 and 2,
    /// pair b + 1's in lanes 1 and 3.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Twice(ref float table, int rowA, int blockA, ref int rows, ref int blocks, int b, Vector512<float> ts, Vector512<float> etas2, Vector512<float> lambdas2, Vector256<float> etas, Vector256<float> lambdas)
    {
        int p1 = rowA + Unsafe.Add(ref blocks, b), q1 = rowA + Unsafe.Add(ref blocks, b + 1);
        int p2 = Unsafe.Add(ref rows, b) + blockA, q2 = Unsafe.Add(ref rows, b + 1) + blockA;

        // pair b + 1 reads a block pair b writes (b and b + 1 share a field or a feature, or one is a's feature and
        // field): one pair after the other, as AdaGrad4 does. (A pair's own two blocks may be one: both pairs load
        // before they store, and the second block is stored last, as in Step.)
        if (q1 == p1 || q1 == p2 || q2 == p1 || q2 == p2)
        {
            Step(ref Unsafe.Add(ref table, p1), ref Unsafe.Add(ref table, p2), Vector256.Create(ts.ToScalar()), etas, lambdas);
            Step(ref Unsafe.Add(ref table, q1), ref Unsafe.Add(ref table, q2), Vector256.Create(ts.GetElement(4)), etas, lambdas);
            return;
        }

        // 128-bit lanes: x = [w p1 | G p1 | w q1 | G q1], y = [w p2 | G p2 | w q2 | G q2]
        Vector512<float> xv = Pack(ref table, (nuint)(uint)p1, (nuint)(uint)q1);
        Vector512<float> yv = Pack(ref table, (nuint)(uint)p2, (nuint)(uint)q2);
        Vector512<float> ab = Avx512F.Shuffle4x128(xv, yv, 0x88);   // [w p1 | w q1 | w p2 | w q2]
        Vector512<float> ba = Avx512F.Shuffle4x128(yv, xv, 0x88);   // [w p2 | w q2 | w p1 | w q1]
        Vector512<float> sums = Avx512F.Shuffle4x128(xv, yv, 0xDD); // [G p1 | G q1 | G p2 | G q2]
        Vector512<float> g = Vector512.FusedMultiplyAdd(ts, ba, lambdas2 * ab);
        Vector512<float> h = Vector512.FusedMultiplyAdd(g, g, sums);
        Vector512<float> updated = ab - (etas2 * g / Vector512.Sqrt(h));

        // back to [w | G] blocks (lanes 0-15 of the updated weights, 16-31 of the sums); p1 and q1 first, then p2
        // and q2 (each pair's second block after its first)
        Vector512<float> xs = Avx512F.PermuteVar16x32x2(updated, Vector512.Create(0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23), h);
        Vector512<float> ys = Avx512F.PermuteVar16x32x2(updated, Vector512.Create(8, 9, 10, 11, 24, 25, 26, 27, 12, 13, 14, 15, 28, 29, 30, 31), h);
        xs.GetLower().StoreUnsafe(ref table, (nuint)(uint)p1);
        xs.GetUpper().StoreUnsafe(ref table, (nuint)(uint)q1);
        ys.GetLower().StoreUnsafe(ref table, (nuint)(uint)p2);
        ys.GetUpper().StoreUnsafe(ref table, (nuint)(uint)q2);
    }

    /// <summary>The 8-float blocks at <paramref name="first"/> and <paramref name="second"/> as one 512-bit vector: the
    /// second inserted into the register the first is loaded into. (Vector512.Create of the two loads inserted both
    /// halves into the register of the loop's previous round, a false dependency from round to round that made
    /// each round's vector wait for the last round's loads, cache misses and all.)</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Pack(ref float table, nuint first, nuint second) =>
        Avx512F.InsertVector256(Vector256.LoadUnsafe(ref table, first).ToVector512Unsafe(), Vector256.LoadUnsafe(ref table, second), 1);

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
