using System.Diagnostics;
using System.Globalization;
using System.Text;
using FmCodegen.Data;
using FmCodegen.Metrics;
using FmCodegen.Training;

namespace FmCodegen.Eval;

/// <summary>
/// Issue 11's honest answer: order 3 against order 2 on every data set in ../shared/data (extra/ included), at the
/// same k (8) and at the same parameter count (order 3 with k = 4 holds 4 + 4 factors per feature, as order 2 with
/// k = 8), with the defaults, and tuned: a small grid (factor L2 x 1/4, 1, 4) per order,
/// chosen on a seeded 20% validation split of the training file only, then retrained on the whole training file;
/// "chosen" also picks the order by that validation loss. Test files are only scored at the end.
/// Usage: dotnet run --project eval/FmCodegen.Eval -c Release -- order3 [DATASET ...]; writes eval/order3.md.
/// </summary>
internal static class Order3Eval
{
    private sealed record Set(string Name, string Train, string Test, FmTask Task, SparseFormat Format = SparseFormat.LibFm, bool TwoIsPositive = false);

    private static readonly Set[] Sets =
    [
        new("frappe", "frappe/frappe_tr.libfm", "frappe/frappe_te.libfm", FmTask.BinaryClassification),
        new("a9a", "a9a/a9a", "a9a/a9a.t", FmTask.BinaryClassification),
        new("ml100k-ua", "ml100k/ua.base.libfm", "ml100k/ua.test.libfm", FmTask.Regression),
        new("criteo_small", "criteo_small/small_train.txt", "criteo_small/small_test.txt", FmTask.BinaryClassification, SparseFormat.LibFfm),
        new("w8a", "extra/w8a/w8a.train", "extra/w8a/w8a.test", FmTask.BinaryClassification),
        new("phishing", "extra/phishing/phishing.train", "extra/phishing/phishing.test", FmTask.BinaryClassification),
        new("mushrooms", "extra/mushrooms/mushrooms.train", "extra/mushrooms/mushrooms.test", FmTask.BinaryClassification, TwoIsPositive: true),
        new("svmguide1", "extra/svmguide1/svmguide1.train", "extra/svmguide1/svmguide1.test", FmTask.BinaryClassification),
        new("cpusmall", "extra/cpusmall/cpusmall.train", "extra/cpusmall/cpusmall.test", FmTask.Regression),
        new("cadata", "extra/cadata/cadata.train", "extra/cadata/cadata.test", FmTask.Regression),
        new("abalone", "extra/abalone/abalone.train", "extra/abalone/abalone.test", FmTask.Regression),
    ];

    /// <summary>The outcome of one configuration: its test metric (or the failure), and its validation loss when tuned.</summary>
    private sealed record Outcome(string Test, double Primary, double ValidationLoss, double Seconds);

    public static int Run(string repository, string root, string[] names)
    {
        var md = new StringBuilder();
        md.AppendLine("# Order 3 against order 2 on the shared data");
        md.AppendLine();
        md.AppendLine(string.Create(CultureInfo.InvariantCulture,
            $"Written by `dotnet run --project eval/FmCodegen.Eval -c Release -- order3` on {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC ({Environment.ProcessorCount} cores, shared with other jobs; one training thread, seed 1)."));
        md.AppendLine("Test metric: AUC (higher is better) for classification, RMSE (lower is better) for regression; logloss in brackets.");
        md.AppendLine("Defaults: AdaGrad, early stopping on 10% of the training rows, then a refit. Same k: k = 8 for both orders.");
        md.AppendLine("Same parameters: order 3 with k = 4 (8 factors per feature) against order 2 with k = 8. Tuned: per order at k = 8,");
        md.AppendLine("factor L2 x {1/4, 1, 4}, chosen by the loss on a seeded 20% validation split of the");
        md.AppendLine("training file, then retrained on the whole training file; \"chosen\" takes the order whose tuned validation loss is lower.");
        md.AppendLine();
        md.AppendLine("| data | order 2, k=8 | order 3, k=8 | order 3, k=4 (same params) | order 2 tuned | order 3 tuned | chosen by validation | time o2 / o3 (s) |");
        md.AppendLine("|---|---|---|---|---|---|---|---|");
        foreach (Set set in Sets.Where(s => names.Length == 0 || names.Contains(s.Name)))
        {
            string trainPath = Path.Combine(root, set.Train), testPath = Path.Combine(root, set.Test);
            if (!File.Exists(trainPath) || !File.Exists(testPath))
            {
                Console.WriteLine($"{set.Name}: {trainPath} or {testPath} is missing; skipped.");
                md.AppendLine($"| {set.Name} | missing | | | | | | |");
                continue;
            }

            SparseDataset train = Read(trainPath, set), test = Read(testPath, set);
            var baseOptions = new FmTrainingOptions { Task = set.Task, EmbeddingSize = 8, Seed = 1 };
            Outcome order2 = Evaluate(set, train, test, baseOptions);
            Outcome order3 = Evaluate(set, train, test, baseOptions with { Order = 3 });
            Outcome same = Evaluate(set, train, test, baseOptions with { Order = 3, EmbeddingSize = 4 });
            Console.WriteLine($"{set.Name}: order 2 {order2.Test}; order 3 {order3.Test}; order 3 k=4 {same.Test}");

            (SparseDataset tuneTrain, SparseDataset tuneValidation) = Split(train, seed: 11);
            (FmTrainingOptions best2, double loss2) = Tune(set, tuneTrain, tuneValidation, baseOptions);
            (FmTrainingOptions best3, double loss3) = Tune(set, tuneTrain, tuneValidation, baseOptions with { Order = 3 });
            // the grid's middle point is the defaults: their run is reused
            Outcome tuned2 = FmTrainer.Defaults(best2) == FmTrainer.Defaults(baseOptions) ? order2 : Evaluate(set, train, test, best2);
            Outcome tuned3 = FmTrainer.Defaults(best3) == FmTrainer.Defaults(baseOptions with { Order = 3 }) ? order3 : Evaluate(set, train, test, best3);
            bool pick3 = loss3 < loss2;
            Outcome chosen = pick3 ? tuned3 : tuned2;
            Console.WriteLine($"{set.Name}: tuned order 2 {tuned2.Test} ({Describe(best2)}, validation {loss2:F4}); tuned order 3 {tuned3.Test} ({Describe(best3)}, validation {loss3:F4}); chosen order {(pick3 ? 3 : 2)}");
            md.AppendLine(string.Create(CultureInfo.InvariantCulture,
                $"| {set.Name} | {order2.Test} | {order3.Test} | {same.Test} | {tuned2.Test} ({Describe(best2)}) | {tuned3.Test} ({Describe(best3)}) | order {(pick3 ? 3 : 2)}: {chosen.Test} | {order2.Seconds:F1} / {order3.Seconds:F1} |"));
        }

        string path = Path.Combine(repository, "eval", "order3.md");
        if (names.Length == 0)
        {
            File.WriteAllText(path, md.ToString());
            Console.WriteLine($"wrote {path}");
        }
        else
        {
            Console.WriteLine(md.ToString());
        }

        return 0;
    }

    private static SparseDataset Read(string path, Set set)
    {
        SparseDataset data = SparseTextReader.ReadFile(path, set.Format);
        if (!set.TwoIsPositive)
        {
            return data;
        }

        // mushrooms labels classes 1 and 2; libFM's rule would read both as positive
        float[] labels = data.Labels.ToArray().Select(l => l == 2 ? 1f : 0f).ToArray();
        return SparseDataset.Create(labels, data.Offsets, data.Indices, data.Values);
    }

    /// <summary>Trains with the options on the whole training file (the defaults' own hold-out and refit) and scores
    /// the test file; a run that diverges is reported as such.</summary>
    private static Outcome Evaluate(Set set, SparseDataset train, SparseDataset test, FmTrainingOptions options)
    {
        var clock = Stopwatch.StartNew();
        try
        {
            FmTrainingResult result = FmTrainer.Train(train, options);
            FmEvaluation ev = Score(result, test);
            double seconds = clock.Elapsed.TotalSeconds;
            return set.Task == FmTask.BinaryClassification
                ? new Outcome(string.Create(CultureInfo.InvariantCulture, $"{ev.Auc:F4} [{ev.LogLoss:F4}]"), ev.Auc, double.NaN, seconds)
                : new Outcome(string.Create(CultureInfo.InvariantCulture, $"{ev.Rmse:F4}"), ev.Rmse, double.NaN, seconds);
        }
        catch (InvalidOperationException e) when (e.Message.Contains("diverged", StringComparison.Ordinal))
        {
            return new Outcome("diverged", double.NaN, double.PositiveInfinity, clock.Elapsed.TotalSeconds);
        }
    }

    private static FmEvaluation Score(FmTrainingResult result, SparseDataset data)
    {
        var scores = new float[data.Count];
        Fm.ScoreBatch(result.Model, data.Offsets, data.Indices, data.Values, scores);
        return FmMetrics.Evaluate(result.Task, scores, data.Labels, result.TargetMin, result.TargetMax);
    }

    /// <summary>The grid point with the lowest validation loss (early stopping on the validation split itself, no
    /// refit), with the loss; the test file is not read.</summary>
    private static (FmTrainingOptions Best, double Loss) Tune(Set set, SparseDataset train, SparseDataset validation, FmTrainingOptions options)
    {
        FmTrainingOptions defaults = FmTrainer.Defaults(options);
        FmTrainingOptions best = options;
        double bestLoss = double.PositiveInfinity;
        foreach (float l2Scale in new[] { 0.25f, 1f, 4f })
        {
            foreach (float lrScale in new[] { 1f })
            {
                FmRegularization r = defaults.Regularization!;
                FmTrainingOptions candidate = options with
                {
                    Regularization = r with { Factors = r.Factors * l2Scale },
                    LearningRate = defaults.LearningRate * lrScale,
                };
                double loss;
                try
                {
                    FmTrainingResult result = FmTrainer.Train(train, candidate with { Validation = validation });
                    FmEvaluation ev = Score(result, validation);
                    loss = set.Task == FmTask.BinaryClassification ? ev.LogLoss : ev.Rmse;
                }
                catch (InvalidOperationException e) when (e.Message.Contains("diverged", StringComparison.Ordinal))
                {
                    loss = double.PositiveInfinity;
                }

                if (loss < bestLoss)
                {
                    (best, bestLoss) = (candidate, loss);
                }
            }
        }

        return (best, bestLoss);
    }

    private static string Describe(FmTrainingOptions o) =>
        string.Create(CultureInfo.InvariantCulture, $"L2 v {o.Regularization?.Factors:G3}, lr {o.LearningRate:G3}");

    /// <summary>A seeded split of the training file: 80% to train the candidates, 20% to choose among them.</summary>
    private static (SparseDataset Train, SparseDataset Validation) Split(SparseDataset data, int seed)
    {
        var rng = new Random(seed);
        int[] order = Enumerable.Range(0, data.Count).OrderBy(_ => rng.Next()).ToArray();
        int validation = data.Count / 5;
        return (Program.Subset(data, order[validation..].Order().ToArray()), Program.Subset(data, order[..validation].Order().ToArray()));
    }
}
