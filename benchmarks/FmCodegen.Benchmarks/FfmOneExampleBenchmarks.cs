using BenchmarkDotNet.Attributes;

namespace FmCodegen.Benchmarks;

/// <summary>
/// One field-aware example at a time through a kernel this project declares, <c>[FfmKernel(4)]</c>: frappe's shape
/// (10 fields, one nonzero per field in field order, values 1, libffm normalisation) over a 5,382-feature model,
/// k = 4, one thread. Each invocation scores a pool of 4,096 examples, so the time is per example, with the
/// checking and compacting of the example included. ML.NET's PredictionEngine took 1,570 ns per frappe example
/// on this machine class (../shared/docs/baselines.md); the goal is 50x that, 31 ns.
/// </summary>
[MemoryDiagnoser(displayGenColumns: false)]
public class FfmOneExampleBenchmarks
{
    private const int Pool = 4096;
    private const int Fields = 10;
    private const int Features = 5382;
    private FfmModel _model = null!;
    private int[] _fields = null!;
    private int[] _indices = null!;
    private float[] _values = null!;

    [GlobalSetup]
    public void Setup()
    {
        var rng = new Random(7);
        var w = new float[Features];
        var v = new float[Features * Fields * Ctr4.EmbeddingSize];
        for (int i = 0; i < v.Length; i++)
        {
            v[i] = (float)(rng.NextDouble() * 0.5);
        }

        for (int i = 0; i < w.Length; i++)
        {
            w[i] = (float)(rng.NextDouble() - 0.5);
        }

        _model = FfmModel.Create(0.1f, w, v, Fields, Ctr4.EmbeddingSize) with { Normalization = FfmNormalization.LibFfm };
        _fields = new int[Pool * Fields];
        _indices = new int[Pool * Fields];
        _values = new float[Pool * Fields];
        for (int e = 0; e < Pool; e++)
        {
            for (int f = 0; f < Fields; f++)
            {
                _fields[(e * Fields) + f] = f;
                _indices[(e * Fields) + f] = rng.Next(Features);
                _values[(e * Fields) + f] = 1f;
            }
        }
    }

    [Benchmark(Description = "[FfmKernel(4)] Ctr4.Score", OperationsPerInvoke = Pool)]
    public float Generated()
    {
        float sum = 0;
        for (int e = 0; e < Pool; e++)
        {
            int at = e * Fields;
            sum += Ctr4.Score(_model, _fields.AsSpan(at, Fields), _indices.AsSpan(at, Fields), _values.AsSpan(at, Fields));
        }

        return sum;
    }

    [Benchmark(Description = "Ffm.Score (registry)", OperationsPerInvoke = Pool)]
    public float Registry()
    {
        float sum = 0;
        for (int e = 0; e < Pool; e++)
        {
            int at = e * Fields;
            sum += Ffm.Score(_model, _fields.AsSpan(at, Fields), _indices.AsSpan(at, Fields), _values.AsSpan(at, Fields));
        }

        return sum;
    }
}

/// <summary>The benchmark project's own k = 4 field-aware kernel, as a consumer declares one.</summary>
[FfmKernel(4)]
internal static partial class Ctr4;
