using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using BenchmarkDotNet.Attributes;
using FmCodegen.Kernels;

namespace FmCodegen.Benchmarks;

/// <summary>
/// Does another accumulation order make the k = 4 field-aware pair sum faster? The pair sum alone (the examples are
/// compacted once, in setup), frappe's shape: 10 fields, one nonzero per field in field order, 5,382 features,
/// values 1, a pool of 4,096 examples. Rows: the shipped kernel (<see cref="FfmPairs.PairSumTwoRows4"/>: two rows a
/// time in 256-bit vectors, one chain per row, the rows' sums added into one accumulator in order); the same with
/// the rows' sums dealt to two accumulators by the parity of the row; that and each row's chain split in two by the
/// parity of the column (independent accumulators: the dependent chain halves); a 512-bit kernel that takes two rows
/// and two columns (four pairs) per step, with the same two-by-two chains; and the shipped order written out as
/// straight-line code for exactly 10 nonzeros (no loop at all: the floor of the shipped order's loads and FMAs).
/// Every row returns the same sum here (values 1, short chains); the variants are experiments, not kernels: only
/// the shipped one is used by the library. The 512-bit row needs AVX-512.
/// </summary>
public class FfmOrderBenchmarks
{
    private const int Pool = 4096;
    private const int Fields = 10;
    private const int Features = 5382;
    private const int Stride = 4;
    private const int RowStride = Fields * Stride;

    // each example's compacted form: Fields entries, then 3 of padding (the zero row, block 0, value 0), so a
    // kernel that steps by two columns may read one past the end
    private const int Slot = Fields + 3;

    private float[] _table = null!;
    private int _origin;
    private int[] _rows = null!;
    private int[] _blocks = null!;
    private float[] _x = null!;

    [GlobalSetup]
    public void Setup()
    {
        var rng = new Random(7);
        _table = GC.AllocateArray<float>(((Features + 1) * RowStride) + 32, pinned: true);
        unsafe
        {
            nuint address = (nuint)Unsafe.AsPointer(ref _table[0]);
            _origin = (int)(((64 - (address & 63)) & 63) / sizeof(float));
        }

        for (int i = 0; i < Features * RowStride; i++)
        {
            _table[_origin + i] = (float)(rng.NextDouble() * 0.5);
        }

        _rows = new int[Pool * Slot];
        _blocks = new int[Pool * Slot];
        _x = new float[Pool * Slot];
        for (int e = 0; e < Pool; e++)
        {
            for (int a = 0; a < Slot; a++)
            {
                bool real = a < Fields;
                _rows[(e * Slot) + a] = (real ? rng.Next(Features) : Features) * RowStride;
                _blocks[(e * Slot) + a] = real ? a * Stride : 0;
                _x[(e * Slot) + a] = real ? 1f : 0f;
            }
        }
    }

    [Benchmark(Baseline = true, Description = "shipped order (two rows, one accumulator)", OperationsPerInvoke = Pool)]
    public float Shipped()
    {
        float sum = 0;
        for (int e = 0; e < Pool; e++)
        {
            sum += FfmPairs.PairSumTwoRows4(ref _table[_origin], ref _rows[e * Slot], ref _blocks[e * Slot], ref _x[e * Slot], Fields, 4);
        }

        return sum;
    }

    [Benchmark(Description = "row sums to two accumulators by parity", OperationsPerInvoke = Pool)]
    public float Parity()
    {
        float sum = 0;
        for (int e = 0; e < Pool; e++)
        {
            sum += ParityAccumulators(ref _table[_origin], ref _rows[e * Slot], ref _blocks[e * Slot], ref _x[e * Slot], Fields);
        }

        return sum;
    }

    [Benchmark(Description = "parity, and two chains per row", OperationsPerInvoke = Pool)]
    public float ParityTwoChains()
    {
        float sum = 0;
        for (int e = 0; e < Pool; e++)
        {
            sum += TwoChains(ref _table[_origin], ref _rows[e * Slot], ref _blocks[e * Slot], ref _x[e * Slot], Fields);
        }

        return sum;
    }

    [Benchmark(Description = "512-bit, two rows x two columns", OperationsPerInvoke = Pool)]
    public float FourPairs()
    {
        if (!Avx512F.IsSupported)
        {
            throw new PlatformNotSupportedException("The four-pair row needs AVX-512.");
        }

        float sum = 0;
        for (int e = 0; e < Pool; e++)
        {
            sum += TwoByTwo512(ref _table[_origin], ref _rows[e * Slot], ref _blocks[e * Slot], ref _x[e * Slot], Fields);
        }

        return sum;
    }

    [Benchmark(Description = "shipped order, straight-line for n = 10", OperationsPerInvoke = Pool)]
    public float StraightLine()
    {
        float sum = 0;
        for (int e = 0; e < Pool; e++)
        {
            sum += Unrolled10(ref _table[_origin], ref _rows[e * Slot], ref _blocks[e * Slot], ref _x[e * Slot]);
        }

        return sum;
    }

    /// <summary>The shipped loop (fields adjacent) with the two rows' sums kept apart: acc = fma(inner, (x_a, x_a+1), acc).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float ParityAccumulators(ref float table, ref int rows, ref int blocks, ref float x, int count)
    {
        Vector256<float> acc = Vector256<float>.Zero;
        for (int a = 0; a + 1 < count; a += 2)
        {
            int blockA0 = Unsafe.Add(ref blocks, a), blockA1 = Unsafe.Add(ref blocks, a + 1);
            int rowA1 = Unsafe.Add(ref rows, a + 1);
            ref float r0 = ref Unsafe.Add(ref table, Unsafe.Add(ref rows, a));
            ref float r1 = ref Unsafe.Add(ref table, rowA1);
            Vector128<float> first = Vector128.FusedMultiplyAdd(
                Vector128.LoadUnsafe(ref r0, (nuint)blockA1), Vector128.LoadUnsafe(ref table, (nuint)(rowA1 + blockA0)) * Unsafe.Add(ref x, a + 1), Vector128<float>.Zero);
            Vector256<float> inner = Vector256.Create(first, Vector128<float>.Zero);
            for (int b = a + 2; b < count; b++)
            {
                int blockB = Unsafe.Add(ref blocks, b);
                Vector256<float> u = Vector256.Create(Vector128.LoadUnsafe(ref r0, (nuint)blockB), Vector128.LoadUnsafe(ref r1, (nuint)blockB));
                Vector256<float> v = Vector256.LoadUnsafe(ref table, (nuint)(Unsafe.Add(ref rows, b) + blockA0));
                inner = Vector256.FusedMultiplyAdd(u, v * Unsafe.Add(ref x, b), inner);
            }

            acc = Vector256.FusedMultiplyAdd(inner, Vector256.Create(Vector128.Create(Unsafe.Add(ref x, a)), Vector128.Create(Unsafe.Add(ref x, a + 1))), acc);
        }

        return Lanes(acc.GetLower() + acc.GetUpper());
    }

    /// <summary><see cref="ParityAccumulators"/> with each row's chain split by the parity of the column (y: odd, z: even).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float TwoChains(ref float table, ref int rows, ref int blocks, ref float x, int count)
    {
        Vector256<float> acc = Vector256<float>.Zero;
        for (int a = 0; a + 1 < count; a += 2)
        {
            int blockA0 = Unsafe.Add(ref blocks, a), blockA1 = Unsafe.Add(ref blocks, a + 1);
            int rowA1 = Unsafe.Add(ref rows, a + 1);
            ref float r0 = ref Unsafe.Add(ref table, Unsafe.Add(ref rows, a));
            ref float r1 = ref Unsafe.Add(ref table, rowA1);
            Vector128<float> first = Vector128.FusedMultiplyAdd(
                Vector128.LoadUnsafe(ref r0, (nuint)blockA1), Vector128.LoadUnsafe(ref table, (nuint)(rowA1 + blockA0)) * Unsafe.Add(ref x, a + 1), Vector128<float>.Zero);
            Vector256<float> y = Vector256.Create(first, Vector128<float>.Zero);
            Vector256<float> z = Vector256<float>.Zero;
            int b = a + 2;
            for (; b + 1 < count; b += 2)
            {
                int blockB = Unsafe.Add(ref blocks, b), blockC = Unsafe.Add(ref blocks, b + 1);
                Vector256<float> u = Vector256.Create(Vector128.LoadUnsafe(ref r0, (nuint)blockB), Vector128.LoadUnsafe(ref r1, (nuint)blockB));
                Vector256<float> v = Vector256.LoadUnsafe(ref table, (nuint)(Unsafe.Add(ref rows, b) + blockA0));
                z = Vector256.FusedMultiplyAdd(u, v * Unsafe.Add(ref x, b), z);
                Vector256<float> u2 = Vector256.Create(Vector128.LoadUnsafe(ref r0, (nuint)blockC), Vector128.LoadUnsafe(ref r1, (nuint)blockC));
                Vector256<float> v2 = Vector256.LoadUnsafe(ref table, (nuint)(Unsafe.Add(ref rows, b + 1) + blockA0));
                y = Vector256.FusedMultiplyAdd(u2, v2 * Unsafe.Add(ref x, b + 1), y);
            }

            if (b < count)
            {
                int blockB = Unsafe.Add(ref blocks, b);
                Vector256<float> u = Vector256.Create(Vector128.LoadUnsafe(ref r0, (nuint)blockB), Vector128.LoadUnsafe(ref r1, (nuint)blockB));
                Vector256<float> v = Vector256.LoadUnsafe(ref table, (nuint)(Unsafe.Add(ref rows, b) + blockA0));
                z = Vector256.FusedMultiplyAdd(u, v * Unsafe.Add(ref x, b), z);
            }

            acc = Vector256.FusedMultiplyAdd(y + z, Vector256.Create(Vector128.Create(Unsafe.Add(ref x, a)), Vector128.Create(Unsafe.Add(ref x, a + 1))), acc);
        }

        return Lanes(acc.GetLower() + acc.GetUpper());
    }

    /// <summary>Rows a, a + 1 by columns b, b + 1 in one 512-bit FMA: the lanes are the chains (a, even b), (a, odd b),
    /// (a + 1, even b), (a + 1, odd b). The padding after the example (zero row, value 0) makes the last step whole.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float TwoByTwo512(ref float table, ref int rows, ref int blocks, ref float x, int count)
    {
        Vector256<float> acc = Vector256<float>.Zero;
        for (int a = 0; a < count; a += 2)
        {
            int blockA0 = Unsafe.Add(ref blocks, a);
            int blockA1 = Unsafe.Add(ref blocks, a + 1);
            int rowA1 = Unsafe.Add(ref rows, a + 1);
            ref float r0 = ref Unsafe.Add(ref table, Unsafe.Add(ref rows, a));
            ref float r1 = ref Unsafe.Add(ref table, rowA1);
            Vector128<float> first = Vector128.FusedMultiplyAdd(
                Vector128.LoadUnsafe(ref r0, (nuint)blockA1), Vector128.LoadUnsafe(ref table, (nuint)(rowA1 + blockA0)) * Unsafe.Add(ref x, a + 1), Vector128<float>.Zero);
            Vector512<float> inner = Join(Vector256.Create(Vector128<float>.Zero, first), Vector256<float>.Zero);
            for (int b = a + 2; b < count; b += 2)
            {
                int blockB = Unsafe.Add(ref blocks, b);
                Vector512<float> u = Join(Vector256.LoadUnsafe(ref r0, (nuint)blockB), Vector256.LoadUnsafe(ref r1, (nuint)blockB));
                Vector512<float> both = Join(
                    Vector256.LoadUnsafe(ref table, (nuint)(Unsafe.Add(ref rows, b) + blockA0)),
                    Vector256.LoadUnsafe(ref table, (nuint)(Unsafe.Add(ref rows, b + 1) + blockA0)));
                Vector512<float> v = Avx512F.Shuffle4x128(both, both, 0b11_01_10_00);
                Vector256<float> xs = Vector256.Create(Vector128.Create(Unsafe.Add(ref x, b)), Vector128.Create(Unsafe.Add(ref x, b + 1)));
                inner = Vector512.FusedMultiplyAdd(u, v * Join(xs, xs), inner);
            }

            Vector256<float> lower = inner.GetLower(), upper = inner.GetUpper();
            Vector256<float> sums = Vector256.Create(lower.GetLower(), upper.GetLower()) + Vector256.Create(lower.GetUpper(), upper.GetUpper());
            acc = Vector256.FusedMultiplyAdd(sums, Vector256.Create(Vector128.Create(Unsafe.Add(ref x, a)), Vector128.Create(Unsafe.Add(ref x, a + 1))), acc);
        }

        return Lanes(acc.GetLower() + acc.GetUpper());
    }

    // Vector512.Create(lower, upper) goes through the stack in this JIT; the insert does not
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Join(Vector256<float> lower, Vector256<float> upper) =>
        Avx512F.InsertVector256(lower.ToVector512Unsafe(), upper, 1);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Lanes(Vector128<float> acc) => ((acc.GetElement(0) + acc.GetElement(1)) + acc.GetElement(2)) + acc.GetElement(3);

    /// <summary>The shipped order for exactly 10 adjacent fields, every loop unrolled.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Unrolled10(ref float table, ref int rows, ref int blocks, ref float x)
    {
        Span<int> offsets = stackalloc int[Fields];
        Span<float> values = stackalloc float[Fields];
        for (int a = 0; a < Fields; a++)
        {
            offsets[a] = Unsafe.Add(ref rows, a);
            values[a] = Unsafe.Add(ref x, a);
        }

        Vector128<float> acc = Vector128<float>.Zero;
        acc = RowPair(ref table, offsets, values, ref blocks, 0, acc);
        acc = RowPair(ref table, offsets, values, ref blocks, 2, acc);
        acc = RowPair(ref table, offsets, values, ref blocks, 4, acc);
        acc = RowPair(ref table, offsets, values, ref blocks, 6, acc);
        acc = RowPair(ref table, offsets, values, ref blocks, 8, acc);
        return Lanes(acc);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector128<float> RowPair(ref float table, Span<int> offsets, Span<float> values, ref int blocks, int a, Vector128<float> acc)
    {
        ref float r0 = ref Unsafe.Add(ref table, offsets[a]);
        ref float r1 = ref Unsafe.Add(ref table, offsets[a + 1]);
        int blockA0 = Unsafe.Add(ref blocks, a), blockA1 = Unsafe.Add(ref blocks, a + 1);
        Vector256<float> inner = Vector256.Create(
            Vector128.FusedMultiplyAdd(Vector128.LoadUnsafe(ref r0, (nuint)blockA1), Vector128.LoadUnsafe(ref r1, (nuint)blockA0) * values[a + 1], Vector128<float>.Zero),
            Vector128<float>.Zero);
        inner = a + 2 < Fields ? Step(ref table, ref r0, ref r1, offsets, values, ref blocks, blockA0, a + 2, inner) : inner;
        inner = a + 3 < Fields ? Step(ref table, ref r0, ref r1, offsets, values, ref blocks, blockA0, a + 3, inner) : inner;
        inner = a + 4 < Fields ? Step(ref table, ref r0, ref r1, offsets, values, ref blocks, blockA0, a + 4, inner) : inner;
        inner = a + 5 < Fields ? Step(ref table, ref r0, ref r1, offsets, values, ref blocks, blockA0, a + 5, inner) : inner;
        inner = a + 6 < Fields ? Step(ref table, ref r0, ref r1, offsets, values, ref blocks, blockA0, a + 6, inner) : inner;
        inner = a + 7 < Fields ? Step(ref table, ref r0, ref r1, offsets, values, ref blocks, blockA0, a + 7, inner) : inner;
        inner = a + 8 < Fields ? Step(ref table, ref r0, ref r1, offsets, values, ref blocks, blockA0, a + 8, inner) : inner;
        inner = a + 9 < Fields ? Step(ref table, ref r0, ref r1, offsets, values, ref blocks, blockA0, a + 9, inner) : inner;
        acc = Vector128.FusedMultiplyAdd(inner.GetLower(), Vector128.Create(values[a]), acc);
        return Vector128.FusedMultiplyAdd(inner.GetUpper(), Vector128.Create(values[a + 1]), acc);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector256<float> Step(ref float table, ref float r0, ref float r1, Span<int> offsets, Span<float> values, ref int blocks, int blockA0, int b, Vector256<float> inner)
    {
        int blockB = Unsafe.Add(ref blocks, b);
        Vector256<float> u = Vector256.Create(Vector128.LoadUnsafe(ref r0, (nuint)blockB), Vector128.LoadUnsafe(ref r1, (nuint)blockB));
        Vector256<float> v = Vector256.LoadUnsafe(ref table, (nuint)(offsets[b] + blockA0));
        return Vector256.FusedMultiplyAdd(u, v * values[b], inner);
    }
}
