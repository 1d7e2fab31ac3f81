using BenchmarkDotNet.Attributes;

namespace FmCodegen.Benchmarks;

/// <summary>
/// What the one summation order costs (no fused multiply-add, even/odd accumulator sets everywhere, the fixed
/// 16-lane tree): the generated and runtime-k SIMD kernels at k = 8, 16, 32, 64 on the 10k-row table, one thread,
/// n = 39. Run it on two builds (before and after a change to the order) back to back to compare.
/// </summary>
public class SumOrderBenchmarks
{
    private readonly ScoreBenchmarks _inner = new();

    [Params(8, 16, 32, 64)]
    public int K { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _inner.K = K;
        _inner.Rows = 10_000;
        _inner.Setup();
    }

    [Benchmark(Description = "generated fixed-k", OperationsPerInvoke = Workload.PoolSize)]
    public float Generated() => _inner.Generated();

    [Benchmark(Description = "runtime-k SIMD", OperationsPerInvoke = Workload.PoolSize)]
    public float RuntimeSimd() => _inner.RuntimeSimd();
}
