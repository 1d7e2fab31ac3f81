using System.ComponentModel;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace FmCodegen.Kernels;

/// <summary>
/// Pair sums that work on two nonzeros a and a + 1 at once, for field blocks of 4 floats (k up to 4): their inner
/// sums share one 256-bit vector, so each b loads its row offset, block offset and value once for two pairs, and
/// when the two fields are adjacent (blocks[a + 1] = blocks[a] + 4, as in data with one nonzero per field in field
/// order) the two blocks of row b are one 256-bit load. Every lane is computed with the fused multiply-adds of
/// <see cref="IFfmKernel"/> in the same order, so the result has the same bits as every other path. Generated
/// kernels call it; not for direct use.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class FfmPairs
{
    /// <summary>The pair sum of a compacted example (<see cref="IFfmKernel.PairSum"/>) for field stride 4, lanes
    /// 0 .. <paramref name="k"/> - 1 summed in order. Needs 256-bit vectors.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float PairSumTwoRows4(ref float table, ref int rows, ref int blocks, ref float x, int count, int k)
    {
        Vector128<float> acc = Vector128<float>.Zero;
        int a = 0;
        for (; a + 1 < count; a += 2)
        {
            int blockA0 = Unsafe.Add(ref blocks, a), blockA1 = Unsafe.Add(ref blocks, a + 1);
            int rowA1 = Unsafe.Add(ref rows, a + 1);
            ref float r0 = ref Unsafe.Add(ref table, Unsafe.Add(ref rows, a));
            ref float r1 = ref Unsafe.Add(ref table, rowA1);
            float x0 = Unsafe.Add(ref x, a), x1 = Unsafe.Add(ref x, a + 1);

            // the pair (a, a + 1) belongs to a alone: the first step of a's inner sum
            Vector128<float> first = Vector128.FusedMultiplyAdd(
                Vector128.LoadUnsafe(ref r0, (nuint)blockA1),
                Vector128.LoadUnsafe(ref table, (nuint)(rowA1 + blockA0)) * x1,
                Vector128<float>.Zero);
            Vector256<float> inner = Vector256.Create(first, Vector128<float>.Zero);
            if (blockA1 == blockA0 + 4)
            {
                for (int b = a + 2; b < count; b++)
                {
                    int blockB = Unsafe.Add(ref blocks, b);
                    Vector256<float> u = Vector256.Create(Vector128.LoadUnsafe(ref r0, (nuint)blockB), Vector128.LoadUnsafe(ref r1, (nuint)blockB));
                    Vector256<float> v = Vector256.LoadUnsafe(ref table, (nuint)(Unsafe.Add(ref rows, b) + blockA0));
                    inner = Vector256.FusedMultiplyAdd(u, v * Unsafe.Add(ref x, b), inner);
                }
            }
            else
            {
                for (int b = a + 2; b < count; b++)
                {
                    int blockB = Unsafe.Add(ref blocks, b);
                    int rowB = Unsafe.Add(ref rows, b);
                    Vector256<float> u = Vector256.Create(Vector128.LoadUnsafe(ref r0, (nuint)blockB), Vector128.LoadUnsafe(ref r1, (nuint)blockB));
                    Vector256<float> v = Vector256.Create(Vector128.LoadUnsafe(ref table, (nuint)(rowB + blockA0)), Vector128.LoadUnsafe(ref table, (nuint)(rowB + blockA1)));
                    inner = Vector256.FusedMultiplyAdd(u, v * Unsafe.Add(ref x, b), inner);
                }
            }

            acc = Vector128.FusedMultiplyAdd(inner.GetLower(), Vector128.Create(x0), acc);
            acc = Vector128.FusedMultiplyAdd(inner.GetUpper(), Vector128.Create(x1), acc);
        }

        if (a < count)
        {
            // the last nonzero has no pair after it: its inner sum is zero, added like every other
            acc = Vector128.FusedMultiplyAdd(Vector128<float>.Zero, Vector128.Create(Unsafe.Add(ref x, a)), acc);
        }

        float sum = acc.GetElement(0);
        for (int lane = 1; lane < k; lane++)
        {
            sum += acc.GetElement(lane);
        }

        return sum;
    }
}
