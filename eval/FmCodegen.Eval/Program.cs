using System.Diagnostics;
using System.Globalization;
using FmCodegen.Data;
using FmCodegen.Metrics;
using FmCodegen.Training;

namespace FmCodegen.Eval;

internal static class Program
{
    private static int Main(string[] args)
    {
        // experiment mode: eval <dataset> key=value ...  (solver, lr, l2=b,w,v, init, epochs, threads, patience, vf)
        string root = FindDataRoot();
        if (!Directory.Exists(root))
        {
            Console.WriteLine($"The shared data folder is missing: expected it at {root} (../shared/data beside the repository). Nothing to evaluate.");
            return 1;
        }

        var sets = new (string Name, string Train, string Test, FmTask Task)[]
        {
            ("frappe", "frappe/frappe_tr.libfm", "frappe/frappe_te.libfm", FmTask.BinaryClassification),
            ("a9a", "a9a/a9a", "a9a/a9a.t", FmTask.BinaryClassification),
            ("ml100k-ua", "ml100k/ua.base.libfm", "ml100k/ua.test.libfm", FmTask.Regression),
        };
        foreach (var set in sets.Where(s => args.Length == 0 || s.Name == args[0]))
        {
            var train = LibFmLoader.Load(Path.Combine(root, set.Train));
            var test = LibFmLoader.Load(Path.Combine(root, set.Test));
            var options = new FmTrainingOptions { Task = set.Task, EmbeddingSize = 8, Seed = 1 };
            foreach (string kv in args.Skip(1))
            {
                options = Apply(options, kv);
            }

            var sw = Stopwatch.StartNew();
            FmTrainingResult result = FmTrainer.Train(train, options, e => Console.WriteLine(
                $"  {set.Name} epoch {e.Epoch}: train {e.TrainLoss:F4} valid {e.Validation?.Loss:F4} {e.Validation?.MetricName} {e.Validation?.Metric:F4} {e.ExamplesPerSecond / 1e6:F2}M/s"));
            double seconds = sw.Elapsed.TotalSeconds;
            var scores = new float[test.Count];
            Fm.ScoreBatch(result.Model, test.Offsets, test.Indices, test.Values, scores);
            FmEvaluation ev = FmMetrics.Evaluate(set.Task, scores, test.Labels, result.TargetMin, result.TargetMax);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{set.Name}: best epoch {result.BestEpoch}/{result.History.Count} logloss {ev.LogLoss:F4} AUC {ev.Auc:F4} acc {ev.Accuracy:F4} RMSE {ev.Rmse:F4} MAE {ev.Mae:F4} time {seconds:F2}s"));
        }

        return 0;
    }

    private static FmTrainingOptions Apply(FmTrainingOptions o, string kv)
    {
        string[] p = kv.Split('=', 2);
        float F(string s) => float.Parse(s, CultureInfo.InvariantCulture);
        return p[0] switch
        {
            "solver" => o with { Solver = Enum.Parse<FmSolver>(p[1], ignoreCase: true) },
            "lr" => o with { LearningRate = F(p[1]) },
            "l2" => o with { Regularization = new FmRegularization(F(p[1].Split(',')[0]), F(p[1].Split(',')[1]), F(p[1].Split(',')[2])) },
            "init" => o with { InitStdev = F(p[1]) },
            "epochs" => o with { Epochs = int.Parse(p[1], CultureInfo.InvariantCulture) },
            "threads" => o with { Threads = int.Parse(p[1], CultureInfo.InvariantCulture) },
            "patience" => o with { Patience = int.Parse(p[1], CultureInfo.InvariantCulture) },
            "vf" => o with { ValidationFraction = double.Parse(p[1], CultureInfo.InvariantCulture) },
            "k" => o with { EmbeddingSize = int.Parse(p[1], CultureInfo.InvariantCulture) },
            "seed" => o with { Seed = int.Parse(p[1], CultureInfo.InvariantCulture) },
            "fs" => o with { FrequencyScaledL2 = p[1] == "1" },
            _ => throw new ArgumentException($"unknown setting {kv}"),
        };
    }

    private static string FindDataRoot()
    {
        string? dir = AppContext.BaseDirectory;
        while (dir is not null)
        {
            if (File.Exists(Path.Combine(dir, "FmCodegen.sln")))
            {
                return Path.GetFullPath(Path.Combine(dir, "..", "shared", "data"));
            }

            dir = Path.GetDirectoryName(dir);
        }

        return Path.GetFullPath(Path.Combine(Directory.GetCurrentDirectory(), "..", "shared", "data"));
    }
}
