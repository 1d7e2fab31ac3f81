using BenchmarkDotNet.Attributes;
using FmCodegen.Kernels;

namespace FmCodegen.Benchmarks;

/// <summary>
/// Issue 11's goal: one order-3 score at k = 16, n = 39 over a 10,000-row table, against an order-2 score of the
/// same k and rows (the baseline). Each invocation scores all 4,096 examples of the pool, so the time is per example.
/// The generated k = 16 class scores both (its order-2 and order-3 paths); the runtime-k order-3 kernel is shown too.
/// </summary>
[MemoryDiagnoser(displayGenColumns: false)]
public class Order3Benchmarks
{
    private Workload _order2 = null!;
    private Workload _order3 = null!;

    [Params(16)]
    public int K { get; set; }

    [Params(10_000)]
    public int Rows { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _order2 = new Workload(K, Rows);
        _order3 = new Workload(K, Rows, order: 3);
    }

    [Benchmark(Baseline = true, Description = "order 2, generated k=16", OperationsPerInvoke = Workload.PoolSize)]
    public float Order2()
    {
        float sum = 0;
        for (int e = 0; e < Workload.PoolSize; e++)
        {
            sum += BuiltInKernel16.Score(_order2.Model, _order2.RowIndices(e), _order2.RowValues(e));
        }

        return sum;
    }

    [Benchmark(Description = "order 3, generated k=16", OperationsPerInvoke = Workload.PoolSize)]
    public float Order3()
    {
        float sum = 0;
        for (int e = 0; e < Workload.PoolSize; e++)
        {
            sum += BuiltInKernel16.Score(_order3.Model, _order3.RowIndices(e), _order3.RowValues(e));
        }

        return sum;
    }

    [Benchmark(Description = "order 3, Fm.Score", OperationsPerInvoke = Workload.PoolSize)]
    public float Order3FmScore()
    {
        float sum = 0;
        for (int e = 0; e < Workload.PoolSize; e++)
        {
            sum += Fm.Score(_order3.Model, _order3.RowIndices(e), _order3.RowValues(e));
        }

        return sum;
    }

    [Benchmark(Description = "order 3, runtime-k SIMD", OperationsPerInvoke = Workload.PoolSize)]
    public float Order3Runtime()
    {
        float sum = 0;
        FmOrder3Kernel kernel = FmOrder3Kernels.RuntimeSimd;
        for (int e = 0; e < Workload.PoolSize; e++)
        {
            sum += kernel.Score(_order3.Model, _order3.RowIndices(e), _order3.RowValues(e));
        }

        return sum;
    }
}
