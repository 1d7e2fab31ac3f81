// Train a Factorization Machine on built-in data, check it on held-out rows, save and reload it, and score with a
// kernel generated for k = 8.   dotnet run --project samples/Quickstart -c Release
using System.Diagnostics;
using FmCodegen;
using FmCodegen.Data;
using FmCodegen.IO;
using FmCodegen.Metrics;
using FmCodegen.Samples;
using FmCodegen.Training;

// 1. Data: 8 categorical fields of 50 values each, clicks drawn from a known FM (labels 0/1).
const int Fields = 8, ValuesPerField = 50;
(SparseDataset train, FmModel truth) = ClickData.Generate(rows: 200_000, Fields, ValuesPerField, embeddingSize: 4, seed: 42);
SparseDataset test = ClickData.Sample(truth, rows: 10_000, Fields, ValuesPerField, seed: 1043);
Console.WriteLine($"data: {train.Count:N0} training rows, {test.Count:N0} test rows, {train.NumFeatures} features");

// 2. Train with the defaults: only the task, k and a seed (AdaGrad, early stopping on 10% held out, then a refit).
FmTrainingResult result = FmTrainer.Train(train, new FmTrainingOptions { Task = FmTask.BinaryClassification, EmbeddingSize = 8, Seed = 1 },
    e => Console.WriteLine($"  {(e.Refit ? "refit" : "epoch")} {e.Epoch,3}: train logloss {e.TrainLoss:F4}" +
        (e.Validation is { } v ? $", validation logloss {v.LogLoss:F4} AUC {v.Auc:F4}" : "") + $" ({e.ExamplesPerSecond / 1e6:F1} M examples/s)"));
Console.WriteLine($"trained in {result.TrainingSeconds:F2} s: {result.History.Count(e => !e.Refit)} epochs searched, best {result.BestEpoch}");

// 3. Test metrics, beside those of the model that generated the data (the best any model can do here).
Console.WriteLine($"test, trained model: {Describe(Evaluate(result.Model, test))}");
Console.WriteLine($"test, true model:    {Describe(Evaluate(truth, test))}");

// 4. Save and reload (FmCodegen's native format; libFM and xLearn text work the same way).
string path = Path.Combine(Path.GetTempPath(), "train-quickstart.fm");
result.Save(path);
FmModel model = ModelFiles.Load(path).Model;
Console.WriteLine($"saved {path} ({new FileInfo(path).Length:N0} bytes) and reloaded it: {(model == result.Model ? "identical" : "DIFFERENT")}");

// 5. Score with the kernel generated for k = 8 (the Kernel8 class below), one example at a time.
int[] indices = test.RowIndices(0).ToArray();
float[] values = test.RowValues(0).ToArray();
Console.WriteLine($"first test row: probability {Fm.Sigmoid(Kernel8.Score(model, indices, values)):F4} (label {test.Labels[0]}), path {Kernel8.ActivePath}");
float sink = 0;
for (int r = 0; r < test.Count; r++)
{
    sink += Kernel8.Score(model, test.RowIndices(r), test.RowValues(r)); // warm up
}

var clock = Stopwatch.StartNew();
const int Rounds = 20;
for (int round = 0; round < Rounds; round++)
{
    for (int r = 0; r < test.Count; r++)
    {
        sink += Kernel8.Score(model, test.RowIndices(r), test.RowValues(r));
    }
}

double ns = clock.Elapsed.TotalNanoseconds / (Rounds * test.Count);
Console.WriteLine($"latency: {ns:F1} ns per example ({Fields} nonzeros, k = 8, one thread) [checksum {sink:F1}]");

static FmEvaluation Evaluate(FmModel model, SparseDataset data)
{
    var scores = new float[data.Count];
    Fm.ScoreBatch(model, data.Offsets, data.Indices, data.Values, scores);
    return FmMetrics.Evaluate(FmTask.BinaryClassification, scores, data.Labels);
}

static string Describe(FmEvaluation e) => $"logloss {e.LogLoss:F4}, AUC {e.Auc:F4}, accuracy {e.Accuracy:F4}";

/// <summary>Scoring kernels for k = 8, generated at compile time by FmCodegen's source generator.</summary>
[FmKernel(8)]
internal static partial class Kernel8;
