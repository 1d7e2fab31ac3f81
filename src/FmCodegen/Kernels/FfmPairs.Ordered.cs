using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace FmCodegen.Kernels;

/// <summary>
/// The 512-bit k &lt;= 4 pair sum for the commonest CTR shape: one nonzero per field, fields 0 .. count - 1 in order
/// (blocks[a] = 4a). Then row a's blocks for the columns 4q .. 4q + 3 are one 64-byte load, and four rows' such loads
/// transposed (128-bit lanes, eight shuffles) are the four columns' blocks of those rows, where the general loop
/// gathers each column from four 16-byte loads at offsets it reads from memory. The fused multiply-adds, their order
/// and the accumulation are those of every other path (the same bits). The 64-byte loads of the last columns may
/// reach up to three blocks past a row's last field: never past the table, whose zero row and padding follow the
/// last feature's row (<see cref="FfmLayout.TablePadding"/>).
/// </summary>
public static partial class FfmPairs
{
    /// <summary>Whether <see cref="PairSumInFieldOrderOnes"/> runs here: 512-bit vectors (AVX-512F), not held back by
    /// FMCODEGEN_SIMD; the condition under which a generated kernel of k &lt;= 4 takes <see cref="PairSumFourRows4"/>,
    /// which takes the in-field-order loop for such an example.</summary>
    internal static bool InFieldOrderAvailable =>
        Vector512.IsHardwareAccelerated && FmSimd.MaxBits >= 512 && Avx512F.IsSupported;

    /// <summary>The pair sum of an example whose fields are 0 .. count - 1 in order (blocks[a] = 4a, so no blocks are
    /// read) and whose every value is 1, for field stride 4 (k = <typeparamref name="TKernel"/>'s, 1 .. 4) with 512-bit
    /// vectors: what <see cref="PairSumFourRows4"/> returns for it (the same loop), without checking the values and
    /// blocks again. The caller checks (<see cref="InFieldOrderAvailable"/>, count &lt;= the model's fields).</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    internal static float PairSumInFieldOrderOnes<TKernel>(ref float table, ref int rows, ref float x, int count)
        where TKernel : struct, IFfmKernel =>
        PairSumInFieldOrder<Ones>(ref table, ref rows, ref x, count, TKernel.EmbeddingSize);

    /// <summary>Whether blocks[a] = 4a for every a &lt; <paramref name="count"/> (fields 0 .. count - 1 in order,
    /// blocks of 4 floats).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool InFieldOrder(ref int blocks, int count)
    {
        if (count < Vector256<int>.Count)
        {
            for (int a = 0; a < count; a++)
            {
                if (Unsafe.Add(ref blocks, a) != 4 * a)
                {
                    return false;
                }
            }

            return true;
        }

        Vector256<int> expected = Vector256.CreateSequence(0, 4);
        Vector256<int> step = Vector256.Create(4 * Vector256<int>.Count);
        int at = 0;
        for (; at <= count - Vector256<int>.Count; at += Vector256<int>.Count)
        {
            if (Vector256.LoadUnsafe(ref blocks, (nuint)at) != expected)
            {
                return false;
            }

            expected += step;
        }

        // the last eight (overlapping the ones checked)
        int last = count - Vector256<int>.Count;
        return at == count || Vector256.LoadUnsafe(ref blocks, (nuint)last) == Vector256.CreateSequence(4 * last, 4);
    }

    /// <summary>The pair sum of an example in field order (see the class remarks): rows four at a time while four
    /// remain, the last one to three rows one at a time (128-bit). Positions count in nuint (no sign extensions).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float PairSumInFieldOrder<TValues>(ref float table, ref int rows, ref float x, int count, int k)
        where TValues : struct, IValues
    {
        Vector128<float> acc = Vector128<float>.Zero;
        nuint n = (nuint)(uint)count, a = 0;
        for (; a + 4 <= n; a += 4)
        {
            acc = FourRowsInFieldOrder<TValues>(ref table, ref rows, ref x, a, n, acc);
        }

        // the last one to three rows: row a's pairs (a, a + 1) and (a, a + 2), row a + 1's pair (a + 1, a + 2)
        // (one 256-bit step for column a + 2, as in the triangle of four rows), then the last row's +0
        if (a + 1 < n)
        {
            ref float r0 = ref Unsafe.Add(ref table, (nuint)(uint)Unsafe.Add(ref rows, a));
            ref float columns = ref Unsafe.Add(ref table, 4 * a);
            Vector128<float> first = Vector128.FusedMultiplyAdd(
                Vector128.LoadUnsafe(ref r0, 4 * (a + 1)),
                TValues.Scale(Vector128.LoadUnsafe(ref columns, (nuint)(uint)Unsafe.Add(ref rows, a + 1)), ref x, a + 1),
                Vector128<float>.Zero);
            if (a + 2 < n)
            {
                ref float r1 = ref Unsafe.Add(ref table, (nuint)(uint)Unsafe.Add(ref rows, a + 1));
                Vector256<float> second = Vector256.FusedMultiplyAdd(
                    Vector256.Create(Vector128.LoadUnsafe(ref r0, 4 * (a + 2)), Vector128.LoadUnsafe(ref r1, 4 * (a + 2))),
                    TValues.Scale(Vector256.LoadUnsafe(ref columns, (nuint)(uint)Unsafe.Add(ref rows, a + 2)), ref x, a + 2),
                    first.ToVector256());
                acc = TValues.Accumulate(second.GetLower(), ref x, a, acc);
                acc = TValues.Accumulate(second.GetUpper(), ref x, a + 1, acc);
                a += 2;
            }
            else
            {
                acc = TValues.Accumulate(first, ref x, a, acc);
                a++;
            }
        }

        if (a < n)
        {
            acc = TValues.AccumulateLast(ref x, a, acc);
        }

        return SumLanes(acc, k);
    }

    /// <summary>Rows a .. a + 3 of an example in field order (a + 4 &lt;= n): their inner sums are the four
    /// 128-bit lanes of one vector, column b adds u[a + i, b] v[b, a + i] x_b to lane i (v[b, a .. a + 3] is one
    /// load).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> FourRowsInFieldOrder<TValues>(ref float table, ref int rows, ref float x, nuint a, nuint n, Vector128<float> acc)
        where TValues : struct, IValues
    {
        ref float r0 = ref Unsafe.Add(ref table, (nuint)(uint)Unsafe.Add(ref rows, a));
        ref float r1 = ref Unsafe.Add(ref table, (nuint)(uint)Unsafe.Add(ref rows, a + 1));
        ref float r2 = ref Unsafe.Add(ref table, (nuint)(uint)Unsafe.Add(ref rows, a + 2));
        ref float r3 = ref Unsafe.Add(ref table, (nuint)(uint)Unsafe.Add(ref rows, a + 3));

        // row b's blocks a .. a + 3 start at rows[b] + 4a
        ref float columns = ref Unsafe.Add(ref table, 4 * a);

        // columns a + 1 .. a + 3 (the triangle) reach only the rows before them; the other lanes stay +0. Column
        // a + 1 is row a's alone and column a + 2 rows a and a + 1's: 128- and 256-bit steps of loads that need no
        // shuffle, so the chain of fused multiply-adds starts as soon as the first two blocks arrive (the upper lanes
        // of a narrower result are zero). Column a + 3 clears lane 3 of both factors (whatever it held): +0 x +0
        // leaves that lane +0 exactly.
        Vector128<float> first = Vector128.FusedMultiplyAdd(
            Vector128.LoadUnsafe(ref r0, 4 * (a + 1)),
            TValues.Scale(Vector128.LoadUnsafe(ref columns, (nuint)(uint)Unsafe.Add(ref rows, a + 1)), ref x, a + 1),
            Vector128<float>.Zero);
        Vector256<float> second = Vector256.FusedMultiplyAdd(
            Vector256.Create(Vector128.LoadUnsafe(ref r0, 4 * (a + 2)), Vector128.LoadUnsafe(ref r1, 4 * (a + 2))),
            TValues.Scale(Vector256.LoadUnsafe(ref columns, (nuint)(uint)Unsafe.Add(ref rows, a + 2)), ref x, a + 2),
            first.ToVector256());
        Transpose(ref r0, ref r1, ref r2, ref r3, 4 * a, out _, out _, out _, out Vector512<float> u3);
        Vector512<float> lanes = Vector512.Create(-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0).AsSingle();
        Vector512<float> inner = Vector512.FusedMultiplyAdd(u3 & lanes, Column<TValues>(ref columns, ref rows, ref x, a + 3) & lanes, second.ToVector512());

        // the columns after the triangle: four at a time while four remain, then the last one to three
        // (the shuffles of the columns b + 2 and b + 3 only when those columns exist)
        nuint b = a + 4;
        for (; b + 4 <= n; b += 4)
        {
            Transpose(ref r0, ref r1, ref r2, ref r3, 4 * b, out Vector512<float> u0, out Vector512<float> u1, out Vector512<float> u2, out u3);
            inner = Vector512.FusedMultiplyAdd(u0, Column<TValues>(ref columns, ref rows, ref x, b), inner);
            inner = Vector512.FusedMultiplyAdd(u1, Column<TValues>(ref columns, ref rows, ref x, b + 1), inner);
            inner = Vector512.FusedMultiplyAdd(u2, Column<TValues>(ref columns, ref rows, ref x, b + 2), inner);
            inner = Vector512.FusedMultiplyAdd(u3, Column<TValues>(ref columns, ref rows, ref x, b + 3), inner);
        }

        if (b < n)
        {
            // loads of the rows' last blocks only: a 64-byte load at block b would reach past the row's end, for
            // half of the rows into a cache line that holds only the next row
            nuint at = 4 * b;
            if (b + 2 < n)
            {
                Vector512<float> w0 = Vector512.LoadUnsafe(ref r0, at), w1 = Vector512.LoadUnsafe(ref r1, at);
                Vector512<float> w2 = Vector512.LoadUnsafe(ref r2, at), w3 = Vector512.LoadUnsafe(ref r3, at);
                Vector512<float> t0 = Avx512F.Shuffle4x128(w0, w1, 0x44), t2 = Avx512F.Shuffle4x128(w2, w3, 0x44);
                Vector512<float> t1 = Avx512F.Shuffle4x128(w0, w1, 0xEE), t3 = Avx512F.Shuffle4x128(w2, w3, 0xEE);
                inner = Vector512.FusedMultiplyAdd(Avx512F.Shuffle4x128(t0, t2, 0x88), Column<TValues>(ref columns, ref rows, ref x, b), inner);
                inner = Vector512.FusedMultiplyAdd(Avx512F.Shuffle4x128(t0, t2, 0xDD), Column<TValues>(ref columns, ref rows, ref x, b + 1), inner);
                inner = Vector512.FusedMultiplyAdd(Avx512F.Shuffle4x128(t1, t3, 0x88), Column<TValues>(ref columns, ref rows, ref x, b + 2), inner);
            }
            else if (b + 1 < n)
            {
                // blocks b and b + 1: 32-byte loads (the shuffles read lanes 0 and 1 of each)
                Vector512<float> w0 = Vector256.LoadUnsafe(ref r0, at).ToVector512Unsafe(), w1 = Vector256.LoadUnsafe(ref r1, at).ToVector512Unsafe();
                Vector512<float> w2 = Vector256.LoadUnsafe(ref r2, at).ToVector512Unsafe(), w3 = Vector256.LoadUnsafe(ref r3, at).ToVector512Unsafe();
                Vector512<float> t0 = Avx512F.Shuffle4x128(w0, w1, 0x44), t2 = Avx512F.Shuffle4x128(w2, w3, 0x44);
                inner = Vector512.FusedMultiplyAdd(Avx512F.Shuffle4x128(t0, t2, 0x88), Column<TValues>(ref columns, ref rows, ref x, b), inner);
                inner = Vector512.FusedMultiplyAdd(Avx512F.Shuffle4x128(t0, t2, 0xDD), Column<TValues>(ref columns, ref rows, ref x, b + 1), inner);
            }
            else
            {
                // block b alone: 16-byte loads (the shuffles read lane 0 of each)
                Vector512<float> w0 = Vector128.LoadUnsafe(ref r0, at).ToVector256Unsafe().ToVector512Unsafe(), w1 = Vector128.LoadUnsafe(ref r1, at).ToVector256Unsafe().ToVector512Unsafe();
                Vector512<float> w2 = Vector128.LoadUnsafe(ref r2, at).ToVector256Unsafe().ToVector512Unsafe(), w3 = Vector128.LoadUnsafe(ref r3, at).ToVector256Unsafe().ToVector512Unsafe();
                Vector512<float> t0 = Avx512F.Shuffle4x128(w0, w1, 0x44), t2 = Avx512F.Shuffle4x128(w2, w3, 0x44);
                inner = Vector512.FusedMultiplyAdd(Avx512F.Shuffle4x128(t0, t2, 0x88), Column<TValues>(ref columns, ref rows, ref x, b), inner);
            }
        }

        // the four inner sums in row order (lanes 1 .. 3 straight out of the 512-bit register)
        acc = TValues.Accumulate(inner.GetLower().GetLower(), ref x, a, acc);
        acc = TValues.Accumulate(Avx512F.ExtractVector128(inner, 1), ref x, a + 1, acc);
        acc = TValues.Accumulate(Avx512F.ExtractVector128(inner, 2), ref x, a + 2, acc);
        return TValues.Accumulate(Avx512F.ExtractVector128(inner, 3), ref x, a + 3, acc);
    }

    /// <summary>Row b's blocks of the four rows' fields, scaled by x_b.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Column<TValues>(ref float columns, ref int rows, ref float x, nuint b)
        where TValues : struct, IValues =>
        TValues.Scale(Vector512.LoadUnsafe(ref columns, (nuint)(uint)Unsafe.Add(ref rows, b)), ref x, b);

    /// <summary>The blocks at offset <paramref name="at"/> .. at + 15 of four rows (one 64-byte load each), transposed
    /// by 128-bit lanes: u_s holds block s of rows 0 .. 3 in its lanes 0 .. 3.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Transpose(ref float r0, ref float r1, ref float r2, ref float r3, nuint at,
        out Vector512<float> u0, out Vector512<float> u1, out Vector512<float> u2, out Vector512<float> u3)
    {
        Vector512<float> w0 = Vector512.LoadUnsafe(ref r0, at), w1 = Vector512.LoadUnsafe(ref r1, at);
        Vector512<float> w2 = Vector512.LoadUnsafe(ref r2, at), w3 = Vector512.LoadUnsafe(ref r3, at);

        // (w0 lanes 0 1, w1 lanes 0 1), (w0 lanes 2 3, w1 lanes 2 3), the same for w2 and w3
        Vector512<float> t0 = Avx512F.Shuffle4x128(w0, w1, 0x44), t1 = Avx512F.Shuffle4x128(w0, w1, 0xEE);
        Vector512<float> t2 = Avx512F.Shuffle4x128(w2, w3, 0x44), t3 = Avx512F.Shuffle4x128(w2, w3, 0xEE);

        // even and odd lanes of the pairs
        u0 = Avx512F.Shuffle4x128(t0, t2, 0x88);
        u1 = Avx512F.Shuffle4x128(t0, t2, 0xDD);
        u2 = Avx512F.Shuffle4x128(t1, t3, 0x88);
        u3 = Avx512F.Shuffle4x128(t1, t3, 0xDD);
    }
}
