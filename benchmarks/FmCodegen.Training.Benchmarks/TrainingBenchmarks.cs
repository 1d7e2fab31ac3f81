using BenchmarkDotNet.Attributes;
using FmCodegen.Data;

namespace FmCodegen.Training.Benchmarks;

/// <summary>
/// Training throughput: one operation is <see cref="Epochs"/> epochs over <see cref="Rows"/> frappe-like rows (10
/// one-hot fields, about 5,000 features), data in memory, no validation; example updates per second =
/// Rows x Epochs / the mean time.
/// </summary>
[MemoryDiagnoser]
public class TrainingBenchmarks
{
    public const int Rows = 200_000;
    public const int Epochs = 3;
    private SparseDataset _data = null!;

    [Params(FmSolver.Sgd, FmSolver.AdaGrad, FmSolver.Ftrl)]
    public FmSolver Solver { get; set; }

    [Params(8, 32)]
    public int K { get; set; }

    [Params(1, 2)]
    public int Threads { get; set; }

    [GlobalSetup]
    public void Setup() =>
        _data = SyntheticFm.Generate(FmTask.BinaryClassification, Rows, fields: 10, valuesPerField: 500, embeddingSize: 4, seed: 3).Data;

    [Benchmark]
    public FmModel Train() => FmTrainer.Train(_data, new FmTrainingOptions
    {
        Task = FmTask.BinaryClassification,
        Solver = Solver,
        EmbeddingSize = K,
        Epochs = Epochs,
        Threads = Threads,
        ValidationFraction = 0,
        Refit = false,
    }).Model;
}
