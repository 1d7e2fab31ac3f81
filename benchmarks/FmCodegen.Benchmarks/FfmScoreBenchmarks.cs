using BenchmarkDotNet.Attributes;
using FmCodegen.Kernels;

namespace FmCodegen.Benchmarks;

/// <summary>
/// One field-aware score at a time, one thread: frappe's shape (10 fields, one nonzero per field, values 1, libffm
/// normalisation) over a 5,382-feature model, k = 4, 8, 16. Each invocation scores a pool of 4,096 examples, so the
/// time is per example. ML.NET's PredictionEngine took 1,570 ns per frappe example on this machine class
/// (../shared/docs/baselines.md).
/// </summary>
[MemoryDiagnoser(displayGenColumns: false)]
public class FfmScoreBenchmarks
{
    private const int Pool = 4096;
    private const int Fields = 10;
    private FfmModel _model = null!;
    private int[] _fields = null!;
    private int[] _indices = null!;
    private float[] _values = null!;
    private float[] _weights = null!;

    [Params(4, 8, 16)]
    public int K { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var rng = new Random(7);
        const int features = 5382;
        var w = new float[features];
        var v = new float[features * Fields * K];
        for (int i = 0; i < v.Length; i++)
        {
            v[i] = (float)(rng.NextDouble() * 0.5);
        }

        _model = FfmModel.Create(0f, w, v, Fields, K) with { Normalization = FfmNormalization.LibFfm };
        _fields = new int[Pool * Fields];
        _indices = new int[Pool * Fields];
        _values = new float[Pool * Fields];
        for (int e = 0; e < Pool; e++)
        {
            for (int f = 0; f < Fields; f++)
            {
                _fields[(e * Fields) + f] = f;
                _indices[(e * Fields) + f] = rng.Next(features);
                _values[(e * Fields) + f] = 1f;
            }
        }

        _weights = [.. _model.GetWeights(), 0f];
        if (Before() != Declared() || Generated() != Declared())
        {
            throw new InvalidOperationException("The paths must return the same bits.");
        }
    }

    /// <summary>The path as it was at commit c751e32 (<see cref="FfmScoreBaseline"/>): before and after in one run.</summary>
    [Benchmark(Description = "before: c751e32's path", OperationsPerInvoke = Pool)]
    public float Before() => K switch
    {
        4 => BaselineAll<Ctr4.Kernel>(),
        8 => BaselineAll<Ctr8.Kernel>(),
        _ => BaselineAll<Ctr16.Kernel>(),
    };

    private float BaselineAll<TKernel>() where TKernel : struct, IFfmKernel
    {
        float sum = 0;
        for (int e = 0; e < Pool; e++)
        {
            int at = e * Fields;
            sum += FfmScoreBaseline.Score<TKernel>(_model, _weights, _fields.AsSpan(at, Fields), _indices.AsSpan(at, Fields), _values.AsSpan(at, Fields));
        }

        return sum;
    }

    /// <summary>Straight through a kernel this project declares ([FfmKernel(k)] below), as a consumer calls it:
    /// Ctr4.Score is FfmCore.Score of Ctr4.Kernel.</summary>
    [Benchmark(Description = "[FfmKernel(k)] CtrK.Score", OperationsPerInvoke = Pool)]
    public float Declared() => K switch
    {
        4 => ScoreAll<Ctr4.Kernel>(),
        8 => ScoreAll<Ctr8.Kernel>(),
        _ => ScoreAll<Ctr16.Kernel>(),
    };

    private float ScoreAll<TKernel>() where TKernel : struct, IFfmKernel
    {
        float sum = 0;
        for (int e = 0; e < Pool; e++)
        {
            int at = e * Fields;
            sum += FfmCore.Score<TKernel>(_model, _fields.AsSpan(at, Fields), _indices.AsSpan(at, Fields), _values.AsSpan(at, Fields));
        }

        return sum;
    }

    [Benchmark(Description = "Ffm.Score (generated kernel)", OperationsPerInvoke = Pool)]
    public float Generated()
    {
        float sum = 0;
        for (int e = 0; e < Pool; e++)
        {
            int at = e * Fields;
            sum += Ffm.Score(_model, _fields.AsSpan(at, Fields), _indices.AsSpan(at, Fields), _values.AsSpan(at, Fields));
        }

        return sum;
    }

    [Benchmark(Description = "runtime-k kernel", OperationsPerInvoke = Pool)]
    public float Runtime()
    {
        FfmKernelEntry kernel = FfmKernels.Runtime;
        float sum = 0;
        for (int e = 0; e < Pool; e++)
        {
            int at = e * Fields;
            sum += kernel.Score(_model, _fields.AsSpan(at, Fields), _indices.AsSpan(at, Fields), _values.AsSpan(at, Fields));
        }

        return sum;
    }

    [Benchmark(Description = "naive (double)", OperationsPerInvoke = Pool)]
    public double Naive()
    {
        double sum = 0;
        for (int e = 0; e < Pool; e++)
        {
            int at = e * Fields;
            sum += Ffm.ScoreNaive(_model, _fields.AsSpan(at, Fields), _indices.AsSpan(at, Fields), _values.AsSpan(at, Fields));
        }

        return sum;
    }
}

/// <summary>The benchmark project's own field-aware kernels, declared as a consumer declares them.</summary>
[FfmKernel(4)]
internal static partial class Ctr4;

/// <inheritdoc cref="Ctr4"/>
[FfmKernel(8)]
internal static partial class Ctr8;

/// <inheritdoc cref="Ctr4"/>
[FfmKernel(16)]
internal static partial class Ctr16;
