using System.ComponentModel;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace FmCodegen.Kernels;

/// <summary>
/// Pair sums that work on several nonzeros at once, for field blocks of 4 floats (k up to 4): the inner sums of two
/// (256-bit) or four (512-bit) consecutive nonzeros share one vector, so each column b loads its row offset, block
/// offset and value once for all of them, and when their fields are adjacent blocks (blocks[a + i] = blocks[a] + 4i,
/// as in data with one nonzero per field in field order) their blocks of row b are one wide load. Every lane is
/// computed with the fused multiply-adds of <see cref="IFfmKernel"/> in the same order, so the result has the same
/// bits as every other path. Generated kernels call these; not for direct use.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static partial class FfmPairs
{
    /// <summary>The pair sum of a compacted example (<see cref="IFfmKernel.PairSum"/>) for field stride 4, lanes
    /// 0 .. <paramref name="k"/> - 1 summed in order. Needs 256-bit vectors.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float PairSumTwoRows4(ref float table, ref int rows, ref int blocks, ref float x, int count, int k) =>
        PairSumTwoRows4Core(ref table, ref rows, ref blocks, ref x, count, k);

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float PairSumTwoRows4Core(ref float table, ref int rows, ref int blocks, ref float x, int count, int k)
    {
        Vector128<float> acc = Vector128<float>.Zero;
        int a = 0;
        for (; a + 1 < count; a += 2)
        {
            acc = TwoRows<AnyValues>(ref table, ref rows, ref blocks, ref x, a, count, acc);
        }

        if (a < count)
        {
            // the last nonzero has no pair after it: its inner sum is zero, added like every other
            acc = AnyValues.Accumulate(Vector128<float>.Zero, ref x, a, acc);
        }

        return SumLanes(acc, k);
    }

    /// <summary>
    /// The pair sum of a compacted example for field stride 4 with 512-bit vectors: four nonzeros a .. a + 3 at a time
    /// when their fields are adjacent blocks (their inner sums are the four 128-bit lanes of one vector; the columns
    /// a + 1 .. a + 3 reach only the rows before them, so those three steps keep the other rows' lanes as they are),
    /// else two at a time as <see cref="PairSumTwoRows4"/>. The same bits as every other path.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float PairSumFourRows4(ref float table, ref int rows, ref int blocks, ref float x, int count, int k) =>
        AllOnes(ref x, count)
            ? PairSumFourRows4Ones(ref table, ref rows, ref blocks, ref x, count, k)
            : PairSumFourRows4Any(ref table, ref rows, ref blocks, ref x, count, k);

    // each variant compiled once with everything it calls inlined (inlined into a caller, the two of them exceed the
    // JIT's inlining budget and leave calls that pass vectors through memory)
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float PairSumFourRows4Ones(ref float table, ref int rows, ref int blocks, ref float x, int count, int k) =>
        PairSumFourRows4<Ones>(ref table, ref rows, ref blocks, ref x, count, k);

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float PairSumFourRows4Any(ref float table, ref int rows, ref int blocks, ref float x, int count, int k) =>
        PairSumFourRows4<AnyValues>(ref table, ref rows, ref blocks, ref x, count, k);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float PairSumFourRows4<TValues>(ref float table, ref int rows, ref int blocks, ref float x, int count, int k)
        where TValues : struct, IValues
    {
        if (Avx512F.IsSupported && InFieldOrder(ref blocks, count))
        {
            return PairSumInFieldOrder<TValues, RowOffsets>(ref table, ref rows, 0, ref x, count, k);
        }

        Vector128<float> acc = Vector128<float>.Zero;
        int a = 0;
        while (a < count)
        {
            uint block = (uint)Unsafe.Add(ref blocks, a);
            if (a + 4 <= count && (uint)Unsafe.Add(ref blocks, a + 1) == block + 4 && (uint)Unsafe.Add(ref blocks, a + 2) == block + 8
                && (uint)Unsafe.Add(ref blocks, a + 3) == block + 12)
            {
                acc = FourRows<TValues, AdjacentBlocks>(ref table, ref rows, ref blocks, ref x, a, count, block, acc);
                a += 4;
            }
            else if (Avx512F.IsSupported && a + 4 <= count && (uint)Unsafe.Add(ref blocks, a + 1) == block + 8 && (uint)Unsafe.Add(ref blocks, a + 2) == block + 16
                && (uint)Unsafe.Add(ref blocks, a + 3) == block + 24)
            {
                // the training table's blocks of 8 floats (4 weights, then their AdaGrad sums) in adjacent fields
                acc = FourRows<TValues, PairedBlocks>(ref table, ref rows, ref blocks, ref x, a, count, block, acc);
                a += 4;
            }
            else if (a + 1 < count)
            {
                acc = TwoRows<TValues>(ref table, ref rows, ref blocks, ref x, a, count, acc);
                a += 2;
            }
            else
            {
                // the last nonzero has no pair after it: its inner sum is +0
                acc = TValues.AccumulateLast(ref x, a, acc);
                a++;
            }
        }

        return SumLanes(acc, k);
    }

    /// <summary>Rows a .. a + 3 (fields in adjacent blocks from <paramref name="block"/>): every pair (a + i, b &gt; a + i),
    /// then the four inner sums into <paramref name="acc"/> in row order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> FourRows<TValues, TColumns>(ref float table, ref int rows, ref int blocks, ref float x, int a, int count, uint block, Vector128<float> acc)
        where TValues : struct, IValues
        where TColumns : struct, IColumnBlocks
    {
        ref float r0 = ref Unsafe.Add(ref table, (nuint)(uint)Unsafe.Add(ref rows, a));
        ref float r1 = ref Unsafe.Add(ref table, (nuint)(uint)Unsafe.Add(ref rows, a + 1));
        ref float r2 = ref Unsafe.Add(ref table, (nuint)(uint)Unsafe.Add(ref rows, a + 2));
        ref float r3 = ref Unsafe.Add(ref table, (nuint)(uint)Unsafe.Add(ref rows, a + 3));

        // column b's blocks of the four rows' fields, at row b + block (TColumns)
        ref float columns = ref Unsafe.Add(ref table, (nuint)block);

        // column a + s (s = 1, 2, 3) pairs with rows a .. a + s - 1 only: the lanes of the later rows stay as they are
        Vector512<float> u = Rows(ref r0, ref r1, ref r2, ref r3, (nuint)(uint)Unsafe.Add(ref blocks, a + 1));
        Vector512<float> v = TColumns.Load(ref columns, (nuint)(uint)Unsafe.Add(ref rows, a + 1));
        Vector512<float> inner = Vector512.ConditionalSelect(
            Vector512.Create(-1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0).AsSingle(),
            Vector512.FusedMultiplyAdd(u, TValues.Scale(v, ref x, a + 1), Vector512<float>.Zero),
            Vector512<float>.Zero);
        u = Rows(ref r0, ref r1, ref r2, ref r3, (nuint)(uint)Unsafe.Add(ref blocks, a + 2));
        v = TColumns.Load(ref columns, (nuint)(uint)Unsafe.Add(ref rows, a + 2));
        inner = Vector512.ConditionalSelect(
            Vector512.Create(-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0).AsSingle(),
            Vector512.FusedMultiplyAdd(u, TValues.Scale(v, ref x, a + 2), inner),
            inner);
        u = Rows(ref r0, ref r1, ref r2, ref r3, (nuint)(uint)Unsafe.Add(ref blocks, a + 3));
        v = TColumns.Load(ref columns, (nuint)(uint)Unsafe.Add(ref rows, a + 3));
        inner = Vector512.ConditionalSelect(
            Vector512.Create(-1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0).AsSingle(),
            Vector512.FusedMultiplyAdd(u, TValues.Scale(v, ref x, a + 3), inner),
            inner);
        for (int b = a + 4; b < count; b++)
        {
            u = Rows(ref r0, ref r1, ref r2, ref r3, (nuint)(uint)Unsafe.Add(ref blocks, b));
            v = TColumns.Load(ref columns, (nuint)(uint)Unsafe.Add(ref rows, b));
            inner = Vector512.FusedMultiplyAdd(u, TValues.Scale(v, ref x, b), inner);
        }

        acc = TValues.Accumulate(inner.GetLower().GetLower(), ref x, a, acc);
        acc = TValues.Accumulate(inner.GetLower().GetUpper(), ref x, a + 1, acc);
        acc = TValues.Accumulate(inner.GetUpper().GetLower(), ref x, a + 2, acc);
        return TValues.Accumulate(inner.GetUpper().GetUpper(), ref x, a + 3, acc);
    }

    /// <summary>How <see cref="FourRows{TValues, TColumns}"/> reads row b's blocks of four adjacent fields as the four 128-bit lanes of
    /// one vector.</summary>
    private interface IColumnBlocks
    {
        static abstract Vector512<float> Load(ref float columns, nuint row);
    }

    /// <summary>Blocks of 4 floats: one 512-bit load.</summary>
    private readonly struct AdjacentBlocks : IColumnBlocks
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<float> Load(ref float columns, nuint row) => Vector512.LoadUnsafe(ref columns, row);
    }

    /// <summary>Blocks of 8 floats whose first 4 are the factors (the training table: [w | G]): two 512-bit loads,
    /// [w0 G0 w1 G1] and [w2 G2 w3 G3], and one shuffle of their even lanes, [w0 w1 w2 w3].</summary>
    private readonly struct PairedBlocks : IColumnBlocks
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<float> Load(ref float columns, nuint row) =>
            Avx512F.Shuffle4x128(Vector512.LoadUnsafe(ref columns, row), Vector512.LoadUnsafe(ref columns, row + 16), 0x88);
    }

    /// <summary>The blocks at offset <paramref name="at"/> of four rows, as the four 128-bit lanes of one vector.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Rows(ref float r0, ref float r1, ref float r2, ref float r3, nuint at) =>
        Vector256.Create(Vector128.LoadUnsafe(ref r0, at), Vector128.LoadUnsafe(ref r1, at)).ToVector512Unsafe()
            .WithUpper(Vector256.Create(Vector128.LoadUnsafe(ref r2, at), Vector128.LoadUnsafe(ref r3, at)));

    /// <summary>Rows a and a + 1: every pair (a, b &gt; a) and (a + 1, b &gt; a + 1), then the two inner sums into
    /// <paramref name="acc"/> in row order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> TwoRows<TValues>(ref float table, ref int rows, ref int blocks, ref float x, int a, int count, Vector128<float> acc)
        where TValues : struct, IValues
    {
        int blockA0 = Unsafe.Add(ref blocks, a), blockA1 = Unsafe.Add(ref blocks, a + 1);
        int rowA1 = Unsafe.Add(ref rows, a + 1);
        ref float r0 = ref Unsafe.Add(ref table, Unsafe.Add(ref rows, a));
        ref float r1 = ref Unsafe.Add(ref table, rowA1);

        // the pair (a, a + 1) belongs to a alone: the first step of a's inner sum
        Vector128<float> first = Vector128.FusedMultiplyAdd(
            Vector128.LoadUnsafe(ref r0, (nuint)blockA1),
            TValues.Scale(Vector128.LoadUnsafe(ref table, (nuint)(rowA1 + blockA0)), ref x, a + 1),
            Vector128<float>.Zero);
        Vector256<float> inner = Vector256.Create(first, Vector128<float>.Zero);
        if (blockA1 == blockA0 + 4)
        {
            for (int b = a + 2; b < count; b++)
            {
                int blockB = Unsafe.Add(ref blocks, b);
                Vector256<float> u = Vector256.Create(Vector128.LoadUnsafe(ref r0, (nuint)blockB), Vector128.LoadUnsafe(ref r1, (nuint)blockB));
                Vector256<float> v = Vector256.LoadUnsafe(ref table, (nuint)(Unsafe.Add(ref rows, b) + blockA0));
                inner = Vector256.FusedMultiplyAdd(u, TValues.Scale(v, ref x, b), inner);
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
                inner = Vector256.FusedMultiplyAdd(u, TValues.Scale(v, ref x, b), inner);
            }
        }

        acc = TValues.Accumulate(inner.GetLower(), ref x, a, acc);
        return TValues.Accumulate(inner.GetUpper(), ref x, a + 1, acc);
    }

    /// <summary>Whether every value is exactly 1 (one-hot data): then v x_b = v and fma(inner, x_a, acc) =
    /// inner + acc exactly, so the <see cref="Ones"/> kernel leaves the multiplications out and adds (a shorter
    /// dependency chain) with the same bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static bool AllOnes(ref float x, int count)
    {
        int a = 0;
        if (Vector256.IsHardwareAccelerated && count >= Vector256<float>.Count)
        {
            Vector256<float> one = Vector256<float>.One;
            for (; a <= count - Vector256<float>.Count; a += Vector256<float>.Count)
            {
                if (Vector256.LoadUnsafe(ref x, (nuint)a) != one)
                {
                    return false;
                }
            }

            return a == count || Vector256.LoadUnsafe(ref x, (nuint)(count - Vector256<float>.Count)) == one;
        }

        for (; a < count; a++)
        {
            if (Unsafe.Add(ref x, a) != 1f)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>How the values enter a kernel: multiplied as written (<see cref="AnyValues"/>), or left out when every
    /// value is 1 (<see cref="Ones"/>, the same bits).</summary>
    private interface IValues
    {
        /// <summary>v x_b, the column's block scaled by its value.</summary>
        static abstract Vector512<float> Scale(Vector512<float> v, ref float x, int b);

        /// <inheritdoc cref="Scale(Vector512{float}, ref float, int)"/>
        static abstract Vector256<float> Scale(Vector256<float> v, ref float x, int b);

        /// <inheritdoc cref="Scale(Vector512{float}, ref float, int)"/>
        static abstract Vector128<float> Scale(Vector128<float> v, ref float x, int b);

        /// <summary>fma(inner, x_a, acc).</summary>
        static abstract Vector128<float> Accumulate(Vector128<float> inner, ref float x, int a, Vector128<float> acc);

        /// <summary>fma(+0, x_a, acc): the last nonzero's step (no pair after it, its inner sum is +0).</summary>
        static abstract Vector128<float> AccumulateLast(ref float x, int a, Vector128<float> acc);

        // the same with unsigned native positions (no sign extension where the loops count in nuint)

        /// <inheritdoc cref="Scale(Vector512{float}, ref float, int)"/>
        static abstract Vector512<float> Scale(Vector512<float> v, ref float x, nuint b);

        /// <inheritdoc cref="Scale(Vector512{float}, ref float, int)"/>
        static abstract Vector256<float> Scale(Vector256<float> v, ref float x, nuint b);

        /// <inheritdoc cref="Scale(Vector512{float}, ref float, int)"/>
        static abstract Vector128<float> Scale(Vector128<float> v, ref float x, nuint b);

        /// <inheritdoc cref="Accumulate(Vector128{float}, ref float, int, Vector128{float})"/>
        static abstract Vector128<float> Accumulate(Vector128<float> inner, ref float x, nuint a, Vector128<float> acc);

        /// <inheritdoc cref="AccumulateLast(ref float, int, Vector128{float})"/>
        static abstract Vector128<float> AccumulateLast(ref float x, nuint a, Vector128<float> acc);
    }

    private readonly struct AnyValues : IValues
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<float> Scale(Vector512<float> v, ref float x, int b) => v * Unsafe.Add(ref x, b);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Scale(Vector256<float> v, ref float x, int b) => v * Unsafe.Add(ref x, b);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector128<float> Scale(Vector128<float> v, ref float x, int b) => v * Unsafe.Add(ref x, b);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector128<float> Accumulate(Vector128<float> inner, ref float x, int a, Vector128<float> acc) =>
            Vector128.FusedMultiplyAdd(inner, Vector128.Create(Unsafe.Add(ref x, a)), acc);

        // kept as written: x_a may be infinite or NaN (+0 x inf is NaN)
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector128<float> AccumulateLast(ref float x, int a, Vector128<float> acc) =>
            Accumulate(Vector128<float>.Zero, ref x, a, acc);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<float> Scale(Vector512<float> v, ref float x, nuint b) => v * Unsafe.Add(ref x, b);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Scale(Vector256<float> v, ref float x, nuint b) => v * Unsafe.Add(ref x, b);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector128<float> Scale(Vector128<float> v, ref float x, nuint b) => v * Unsafe.Add(ref x, b);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector128<float> Accumulate(Vector128<float> inner, ref float x, nuint a, Vector128<float> acc) =>
            Vector128.FusedMultiplyAdd(inner, Vector128.Create(Unsafe.Add(ref x, a)), acc);

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector128<float> AccumulateLast(ref float x, nuint a, Vector128<float> acc) =>
            Accumulate(Vector128<float>.Zero, ref x, a, acc);
    }

    private readonly struct Ones : IValues
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<float> Scale(Vector512<float> v, ref float x, int b) => v;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Scale(Vector256<float> v, ref float x, int b) => v;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector128<float> Scale(Vector128<float> v, ref float x, int b) => v;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector128<float> Accumulate(Vector128<float> inner, ref float x, int a, Vector128<float> acc) => inner + acc;

        // +0 + acc is acc exactly: acc starts at +0 and a sum is -0 only when both terms are, so acc is never -0
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector128<float> AccumulateLast(ref float x, int a, Vector128<float> acc) => acc;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector512<float> Scale(Vector512<float> v, ref float x, nuint b) => v;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector256<float> Scale(Vector256<float> v, ref float x, nuint b) => v;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector128<float> Scale(Vector128<float> v, ref float x, nuint b) => v;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector128<float> Accumulate(Vector128<float> inner, ref float x, nuint a, Vector128<float> acc) => inner + acc;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public static Vector128<float> AccumulateLast(ref float x, nuint a, Vector128<float> acc) => acc;
    }

    /// <summary>Lanes 0 .. k - 1 of the accumulator, added in order (constant indices: k may be a runtime value).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float SumLanes(Vector128<float> acc, int k)
    {
        float sum = acc.GetElement(0);
        if (k > 1)
        {
            sum += acc.GetElement(1);
            if (k > 2)
            {
                sum += acc.GetElement(2);
                if (k > 3)
                {
                    sum += acc.GetElement(3);
                }
            }
        }

        return sum;
    }
}
