using BenchmarkDotNet.Attributes;

namespace FmCodegen.Benchmarks;

/// <summary>Fm.ScoreBatch over the 4,096-example pool (n = 39) on one thread and on every core; time per example.</summary>
public class BatchBenchmarks
{
    private Workload _w = null!;
    private float[] _output = null!;

    [Params(16, 64)]
    public int K { get; set; }

    [Params(10_000, 10_000_000)]
    public int Rows { get; set; }

    [Params(1, 2)]
    public int Threads { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _w = new Workload(K, Rows);
        _output = new float[Workload.PoolSize];
    }

    [Benchmark(Description = "Fm.ScoreBatch", OperationsPerInvoke = Workload.PoolSize)]
    public void ScoreBatch() => Fm.ScoreBatch(_w.Model, _w.Offsets, _w.Indices, _w.Values, _output, Threads);
}
