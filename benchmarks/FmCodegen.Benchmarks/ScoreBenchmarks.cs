using BenchmarkDotNet.Attributes;
using FmCodegen.Kernels;

namespace FmCodegen.Benchmarks;

/// <summary>
/// One score at a time, one thread, n = 39. Each invocation scores all 4,096 examples of the pool, so the reported
/// time is per example. Rows = 10,000 fits in L2/L3; Rows = 10,000,000 does not (gigabytes of rows).
/// </summary>
[MemoryDiagnoser(displayGenColumns: false)]
public class ScoreBenchmarks
{
    private Workload _w = null!;

    [Params(8, 16, 32, 64)]
    public int K { get; set; }

    [Params(10_000, 10_000_000)]
    public int Rows { get; set; }

    [GlobalSetup]
    public void Setup() => _w = new Workload(K, Rows);

    [Benchmark(Description = "generated fixed-k", OperationsPerInvoke = Workload.PoolSize)]
    public float Generated() => K switch
    {
        8 => Loop8(),
        16 => Loop16(),
        32 => Loop32(),
        _ => Loop64(),
    };

    [Benchmark(Description = "runtime-k SIMD", OperationsPerInvoke = Workload.PoolSize)]
    public float RuntimeSimd() => Loop(FmKernels.RuntimeSimd);

    [Benchmark(Description = "runtime-k scalar", OperationsPerInvoke = Workload.PoolSize)]
    public float RuntimeScalar() => Loop(FmKernels.RuntimeScalar);

    [Benchmark(Description = "naive O(k n^2)", OperationsPerInvoke = 256)]
    public double Naive()
    {
        double sum = 0;
        for (int e = 0; e < 256; e++)
        {
            sum += Fm.ScoreNaive(_w.Model, _w.RowIndices(e), _w.RowValues(e));
        }

        return sum;
    }

    private float Loop(FmKernel kernel)
    {
        float sum = 0;
        for (int e = 0; e < Workload.PoolSize; e++)
        {
            sum += kernel.Score(_w.Model, _w.RowIndices(e), _w.RowValues(e));
        }

        return sum;
    }

    // One loop per k so each calls its generated Score directly, as a consumer's code would.
    private float Loop8()
    {
        float sum = 0;
        for (int e = 0; e < Workload.PoolSize; e++)
        {
            sum += BuiltInKernel8.Score(_w.Model, _w.RowIndices(e), _w.RowValues(e));
        }

        return sum;
    }

    private float Loop16()
    {
        float sum = 0;
        for (int e = 0; e < Workload.PoolSize; e++)
        {
            sum += BuiltInKernel16.Score(_w.Model, _w.RowIndices(e), _w.RowValues(e));
        }

        return sum;
    }

    private float Loop32()
    {
        float sum = 0;
        for (int e = 0; e < Workload.PoolSize; e++)
        {
            sum += BuiltInKernel32.Score(_w.Model, _w.RowIndices(e), _w.RowValues(e));
        }

        return sum;
    }

    private float Loop64()
    {
        float sum = 0;
        for (int e = 0; e < Workload.PoolSize; e++)
        {
            sum += BuiltInKernel64.Score(_w.Model, _w.RowIndices(e), _w.RowValues(e));
        }

        return sum;
    }
}
