using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using BenchmarkDotNet.Attributes;
using FmCodegen.Kernels;

namespace FmCodegen.Benchmarks;

/// <summary>
/// What the one summation order costs, in one run. The shipped generated kernel (mul then add, no fused
/// multiply-add, the even/odd accumulator sets on every path, the fixed 16-lane tree) beside two hand-written
/// Vector512 kernels that may use any order, as kernels do when bit-identity across paths is not asked for:
/// fused multiply-add with the same two accumulator sets, and fused multiply-add with one set and
/// <see cref="Vector512.Sum{T}(Vector512{T})"/>. k = 16 and 64, 10k-row table, n = 39, one thread; the ratio to
/// the shipped kernel is the cost of the same bits. Needs AVX-512 (the free-order kernels are Vector512 only).
/// </summary>
public class SumOrderBenchmarks
{
    private Workload _w = null!;

    [Params(16, 64)]
    public int K { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        if (!Vector512.IsHardwareAccelerated)
        {
            throw new PlatformNotSupportedException("SumOrderBenchmarks compares Vector512 kernels: this machine has no AVX-512.");
        }

        _w = new Workload(K, 10_000);
    }

    [Benchmark(Baseline = true, Description = "one order (shipped)", OperationsPerInvoke = Workload.PoolSize)]
    public float Shipped()
    {
        FmRows rows = FmRows.Of(_w.Model);
        float sum = 0;
        for (int e = 0; e < Workload.PoolSize; e++)
        {
            sum += K == 16
                ? BuiltInKernel16.Interaction(rows, _w.RowIndices(e), _w.RowValues(e))
                : BuiltInKernel64.Interaction(rows, _w.RowIndices(e), _w.RowValues(e));
        }

        return sum;
    }

    [Benchmark(Description = "FMA, two accumulator sets", OperationsPerInvoke = Workload.PoolSize)]
    public float FmaTwoSets() => Loop(twoSets: true);

    [Benchmark(Description = "FMA, one set, Vector512.Sum", OperationsPerInvoke = Workload.PoolSize)]
    public float FmaOneSet() => Loop(twoSets: false);

    private float Loop(bool twoSets)
    {
        FmRows rows = FmRows.Of(_w.Model);
        ref float table = ref MemoryMarshal.GetReference(rows.Table);
        int stride = rows.Stride;
        uint unseen = (uint)rows.NumFeatures;
        float sum = 0;
        for (int e = 0; e < Workload.PoolSize; e++)
        {
            ref int ip = ref MemoryMarshal.GetReference(_w.RowIndices(e));
            ref float vp = ref MemoryMarshal.GetReference(_w.RowValues(e));
            sum += (K, twoSets) switch
            {
                (16, true) => Free16TwoSets(ref table, stride, unseen, ref ip, ref vp, Workload.NonZeros),
                (16, false) => Free16OneSet(ref table, stride, unseen, ref ip, ref vp, Workload.NonZeros),
                (_, true) => Free64TwoSets(ref table, stride, unseen, ref ip, ref vp, Workload.NonZeros),
                _ => Free64OneSet(ref table, stride, unseen, ref ip, ref vp, Workload.NonZeros),
            };
        }

        return sum;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ref float Row(ref float table, int stride, uint unseen, int index) =>
        ref Unsafe.Add(ref table, (nuint)Math.Min((uint)index, unseen) * (nuint)stride);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Free16TwoSets(ref float table, int stride, uint unseen, ref int ip, ref float vp, int n)
    {
        Vector512<float> s = default, q = default, sb = default, qb = default;
        float linear = 0f, linearb = 0f;
        int j = 0;
        for (; j + 1 < n; j += 2)
        {
            float x = Unsafe.Add(ref vp, j), xb = Unsafe.Add(ref vp, j + 1);
            ref float row = ref Row(ref table, stride, unseen, Unsafe.Add(ref ip, j));
            ref float rowb = ref Row(ref table, stride, unseen, Unsafe.Add(ref ip, j + 1));
            linear = MathF.FusedMultiplyAdd(Unsafe.Add(ref row, 16), x, linear);
            linearb = MathF.FusedMultiplyAdd(Unsafe.Add(ref rowb, 16), xb, linearb);
            Vector512<float> t = Vector512.LoadUnsafe(ref row) * Vector512.Create(x);
            Vector512<float> tb = Vector512.LoadUnsafe(ref rowb) * Vector512.Create(xb);
            s += t;
            sb += tb;
            q = Vector512.FusedMultiplyAdd(t, t, q);
            qb = Vector512.FusedMultiplyAdd(tb, tb, qb);
        }

        if (j < n)
        {
            float x = Unsafe.Add(ref vp, j);
            ref float row = ref Row(ref table, stride, unseen, Unsafe.Add(ref ip, j));
            linear = MathF.FusedMultiplyAdd(Unsafe.Add(ref row, 16), x, linear);
            Vector512<float> t = Vector512.LoadUnsafe(ref row) * Vector512.Create(x);
            s += t;
            q = Vector512.FusedMultiplyAdd(t, t, q);
        }

        s += sb;
        return linear + linearb + (0.5f * Vector512.Sum(Vector512.FusedMultiplyAdd(s, s, -(q + qb))));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Free16OneSet(ref float table, int stride, uint unseen, ref int ip, ref float vp, int n)
    {
        Vector512<float> s = default, q = default;
        float linear = 0f;
        for (int j = 0; j < n; j++)
        {
            float x = Unsafe.Add(ref vp, j);
            ref float row = ref Row(ref table, stride, unseen, Unsafe.Add(ref ip, j));
            linear = MathF.FusedMultiplyAdd(Unsafe.Add(ref row, 16), x, linear);
            Vector512<float> t = Vector512.LoadUnsafe(ref row) * Vector512.Create(x);
            s += t;
            q = Vector512.FusedMultiplyAdd(t, t, q);
        }

        return linear + (0.5f * Vector512.Sum(Vector512.FusedMultiplyAdd(s, s, -q)));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Free64TwoSets(ref float table, int stride, uint unseen, ref int ip, ref float vp, int n)
    {
        Vector512<float> s0 = default, s1 = default, s2 = default, s3 = default, q0 = default, q1 = default, q2 = default, q3 = default;
        Vector512<float> s0b = default, s1b = default, s2b = default, s3b = default, q0b = default, q1b = default, q2b = default, q3b = default;
        float linear = 0f, linearb = 0f;
        int j = 0;
        for (; j + 1 < n; j += 2)
        {
            float x = Unsafe.Add(ref vp, j), xb = Unsafe.Add(ref vp, j + 1);
            ref float row = ref Row(ref table, stride, unseen, Unsafe.Add(ref ip, j));
            ref float rowb = ref Row(ref table, stride, unseen, Unsafe.Add(ref ip, j + 1));
            linear = MathF.FusedMultiplyAdd(Unsafe.Add(ref row, 64), x, linear);
            linearb = MathF.FusedMultiplyAdd(Unsafe.Add(ref rowb, 64), xb, linearb);
            Vector512<float> v = Vector512.Create(x), vb = Vector512.Create(xb);
            Vector512<float> t0 = Vector512.LoadUnsafe(ref row, 0) * v, t1 = Vector512.LoadUnsafe(ref row, 16) * v;
            Vector512<float> t2 = Vector512.LoadUnsafe(ref row, 32) * v, t3 = Vector512.LoadUnsafe(ref row, 48) * v;
            Vector512<float> u0 = Vector512.LoadUnsafe(ref rowb, 0) * vb, u1 = Vector512.LoadUnsafe(ref rowb, 16) * vb;
            Vector512<float> u2 = Vector512.LoadUnsafe(ref rowb, 32) * vb, u3 = Vector512.LoadUnsafe(ref rowb, 48) * vb;
            s0 += t0; s1 += t1; s2 += t2; s3 += t3;
            s0b += u0; s1b += u1; s2b += u2; s3b += u3;
            q0 = Vector512.FusedMultiplyAdd(t0, t0, q0); q1 = Vector512.FusedMultiplyAdd(t1, t1, q1);
            q2 = Vector512.FusedMultiplyAdd(t2, t2, q2); q3 = Vector512.FusedMultiplyAdd(t3, t3, q3);
            q0b = Vector512.FusedMultiplyAdd(u0, u0, q0b); q1b = Vector512.FusedMultiplyAdd(u1, u1, q1b);
            q2b = Vector512.FusedMultiplyAdd(u2, u2, q2b); q3b = Vector512.FusedMultiplyAdd(u3, u3, q3b);
        }

        if (j < n)
        {
            float x = Unsafe.Add(ref vp, j);
            ref float row = ref Row(ref table, stride, unseen, Unsafe.Add(ref ip, j));
            linear = MathF.FusedMultiplyAdd(Unsafe.Add(ref row, 64), x, linear);
            Vector512<float> v = Vector512.Create(x);
            Vector512<float> t0 = Vector512.LoadUnsafe(ref row, 0) * v, t1 = Vector512.LoadUnsafe(ref row, 16) * v;
            Vector512<float> t2 = Vector512.LoadUnsafe(ref row, 32) * v, t3 = Vector512.LoadUnsafe(ref row, 48) * v;
            s0 += t0; s1 += t1; s2 += t2; s3 += t3;
            q0 = Vector512.FusedMultiplyAdd(t0, t0, q0); q1 = Vector512.FusedMultiplyAdd(t1, t1, q1);
            q2 = Vector512.FusedMultiplyAdd(t2, t2, q2); q3 = Vector512.FusedMultiplyAdd(t3, t3, q3);
        }

        s0 += s0b; s1 += s1b; s2 += s2b; s3 += s3b;
        Vector512<float> d = Vector512.FusedMultiplyAdd(s0, s0, -(q0 + q0b)) + Vector512.FusedMultiplyAdd(s1, s1, -(q1 + q1b))
            + Vector512.FusedMultiplyAdd(s2, s2, -(q2 + q2b)) + Vector512.FusedMultiplyAdd(s3, s3, -(q3 + q3b));
        return linear + linearb + (0.5f * Vector512.Sum(d));
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Free64OneSet(ref float table, int stride, uint unseen, ref int ip, ref float vp, int n)
    {
        Vector512<float> s0 = default, s1 = default, s2 = default, s3 = default, q0 = default, q1 = default, q2 = default, q3 = default;
        float linear = 0f;
        for (int j = 0; j < n; j++)
        {
            float x = Unsafe.Add(ref vp, j);
            ref float row = ref Row(ref table, stride, unseen, Unsafe.Add(ref ip, j));
            linear = MathF.FusedMultiplyAdd(Unsafe.Add(ref row, 64), x, linear);
            Vector512<float> v = Vector512.Create(x);
            Vector512<float> t0 = Vector512.LoadUnsafe(ref row, 0) * v, t1 = Vector512.LoadUnsafe(ref row, 16) * v;
            Vector512<float> t2 = Vector512.LoadUnsafe(ref row, 32) * v, t3 = Vector512.LoadUnsafe(ref row, 48) * v;
            s0 += t0; s1 += t1; s2 += t2; s3 += t3;
            q0 = Vector512.FusedMultiplyAdd(t0, t0, q0); q1 = Vector512.FusedMultiplyAdd(t1, t1, q1);
            q2 = Vector512.FusedMultiplyAdd(t2, t2, q2); q3 = Vector512.FusedMultiplyAdd(t3, t3, q3);
        }

        Vector512<float> d = Vector512.FusedMultiplyAdd(s0, s0, -q0) + Vector512.FusedMultiplyAdd(s1, s1, -q1)
            + Vector512.FusedMultiplyAdd(s2, s2, -q2) + Vector512.FusedMultiplyAdd(s3, s3, -q3);
        return linear + (0.5f * Vector512.Sum(d));
    }
}
