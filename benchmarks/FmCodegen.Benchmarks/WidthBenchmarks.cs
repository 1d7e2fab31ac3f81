using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;

namespace FmCodegen.Benchmarks;

/// <summary>
/// The evidence for the default width per k: the same generated kernels with FMCODEGEN_SIMD=256 (Vector256) and
/// FMCODEGEN_SIMD=512 (Vector512 forced), in cache and on a 10M-row table.
/// </summary>
[Config(typeof(WidthConfig))]
public class WidthBenchmarks
{
    private readonly ScoreBenchmarks _inner = new();

    [Params(16, 32, 64)]
    public int K { get; set; }

    [Params(10_000, 10_000_000)]
    public int Rows { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _inner.K = K;
        _inner.Rows = Rows;
        _inner.Setup();
    }

    [Benchmark(Description = "generated fixed-k", OperationsPerInvoke = Workload.PoolSize)]
    public float Generated() => _inner.Generated();

    private sealed class WidthConfig : ManualConfig
    {
        public WidthConfig()
        {
            AddJob(Job.ShortRun.WithEnvironmentVariable("FMCODEGEN_SIMD", "256").WithId("Vector256"));
            AddJob(Job.ShortRun.WithEnvironmentVariable("FMCODEGEN_SIMD", "512").WithId("Vector512"));
        }
    }
}
