using System.Diagnostics;
using System.Globalization;
using FmCodegen.Data;
using FmCodegen.IO;
using FmCodegen.Metrics;
using FmCodegen.Training;

namespace FmCodegen.Cli.Commands;

/// <summary><c>fm train</c> with nothing to fix the solver's settings: <see cref="FmAutoTrainer"/> chooses them on a
/// held-out part of the training data, prints what it chose and why, and trains on all of it.</summary>
internal static class AutoRun
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    public sealed record Request(string Train, string? Test, SparseFormat InputFormat, FmAutoOptions Options, string? Model, ModelFormat? ModelFormat)
    {
        /// <summary>True: keep the rows on disk; null: when they would not fit.</summary>
        public bool? OutOfCore { get; init; }

        /// <summary>The memory training may use (bytes); null: the process's.</summary>
        public long? MemoryLimit { get; init; }

        /// <summary>Where to keep (and reuse) the row cache.</summary>
        public string? Cache { get; init; }
    }

    /// <summary>The share of the memory the sample may take: the search holds the sample, a shuffled copy of its
    /// training part and the model's tables per trial.</summary>
    private const int SampleShare = 8;

    public static int Run(Request request, CliContext context)
    {
        var clock = Stopwatch.StartNew();
        TextWriter output = context.Output;
        FmAutoOptions o = request.Options;
        if (o.EmbeddingSize is < 0 or > FmModel.MaxEmbeddingSize)
        {
            throw new CliUserException($"--k must be between 0 (a linear model) and {FmModel.MaxEmbeddingSize}; got {o.EmbeddingSize}.");
        }

        if (o.Threads is < 1 or > 1024)
        {
            throw new CliUserException($"--threads must be between 1 and 1024; got {o.Threads}.");
        }

        CliOptions.RequireFile(request.Train, "The training file");
        if (request.Test is not null)
        {
            CliOptions.RequireFile(request.Test, "The test file");
        }

        CliOptions.CheckOutputs([("--model", request.Model)], [("--train", request.Train), ("--test", request.Test)]);
        if (request.Model is not null && Path.GetDirectoryName(Path.GetFullPath(request.Model)) is { } folder && !Directory.Exists(folder))
        {
            throw new CliUserException($"Cannot write '{request.Model}': the folder '{folder}' does not exist.");
        }

        TrainingRun.CheckCache(request.Cache, request.Train, request.Test, request.Model);
        SparseDataset Read(string path) => DataHints.Read(request.InputFormat, () => SparseTextReader.ReadFile(path, request.InputFormat));
        if (TrainingRun.OutOfCoreReason(request.Train, request.OutOfCore, request.MemoryLimit, request.Cache) is { } reason)
        {
            return RunOutOfCore(request, context, clock, reason, request.Test is null ? null : Read(request.Test));
        }

        SparseDataset train = Read(request.Train);
        SparseDataset? test = request.Test is null ? null : Read(request.Test);
        if (train.Count < 2)
        {
            throw new CliUserException($"The training file '{request.Train}' has {train.Count} example(s); choosing the settings needs at least 2 (give --solver and its settings to train on fewer).");
        }

        TrainingRun.WarnIfOneClass("train", o.Task, train, context.Error);
        output.WriteLine(string.Create(Invariant,
            $"fm train: {train.Count:N0} training rows, {train.NumFeatures:N0} features ({clock.Elapsed.TotalSeconds:F2} s to read); {(o.Task == FmTask.BinaryClassification ? "classification" : "regression")}, k={o.EmbeddingSize}, seed {o.Seed}: choosing the solver and its settings on {o.ValidationFraction * 100:G3}% of the training rows held out"));
        return ChooseAndFinish(request, output, clock, test, () => FmAutoTrainer.Train(train, o, line => output.WriteLine("  tried " + line)));
    }

    /// <summary>The training file does not fit (or --out-of-core/--cache asked): the settings are chosen on a sample of
    /// its rows that fits, then trained on all rows out of core (<see cref="FmAutoTrainer.TrainOutOfCore"/>).</summary>
    private static int RunOutOfCore(Request request, CliContext context, Stopwatch clock, string reason, SparseDataset? test)
    {
        TextWriter output = context.Output;
        FmAutoOptions o = request.Options;
        long sampleBytes = Math.Max(1 << 20, TrainingRun.Available(request.MemoryLimit) / SampleShare);
        output.WriteLine(string.Create(Invariant,
            $"fm train: training rows stay on disk ({reason}); {(o.Task == FmTask.BinaryClassification ? "classification" : "regression")}, k={o.EmbeddingSize}, seed {o.Seed}: choosing the solver and its settings on a sample of the rows in memory (every s-th row: at most {FmAutoTrainer.MaxSampleRows:N0} rows and {MemoryBudget.Size(sampleBytes)}), {o.ValidationFraction * 100:G3}% of it held out, then training on all rows out of core"));
        var passes = new TrainingRun.PassPrinter(output);
        var progress = new TrainingRun.ProgressPrinter(output, new FmTrainingOptions { Task = o.Task, Patience = 0 });
        return ChooseAndFinish(request, output, clock, test, () => DataHints.Read(request.InputFormat, () => FmAutoTrainer.TrainOutOfCore(request.Train, request.InputFormat, o, sampleBytes,
            new FmOutOfCoreOptions { CachePath = request.Cache, OnPass = passes.Report },
            line => output.WriteLine((line.StartsWith("sample:", StringComparison.Ordinal) ? "  " : "  tried ") + line), progress.Report)));
    }

    /// <summary>Runs the choice (a misuse the trainer finds becomes the user's error), says what was chosen, and
    /// finishes the run (test scoring, the model file).</summary>
    private static int ChooseAndFinish(Request request, TextWriter output, Stopwatch clock, SparseDataset? test, Func<FmAutoResult> choose)
    {
        FmAutoResult result;
        try
        {
            result = choose();
        }
        catch (ArgumentException e)
        {
            throw new CliUserException(e.Message, e);
        }
        catch (InvalidOperationException e)
        {
            throw new CliUserException(e.Message, e);
        }

        output.WriteLine("fm train: " + result.Choice + ".");
        return Finish(request, output, clock, result, test);
    }

    private static int Finish(Request request, TextWriter output, Stopwatch clock, FmAutoResult result, SparseDataset? test)
    {
        FmAutoOptions o = request.Options;
        if (test is not null)
        {
            var predictions = new float[test.Count];
            result.Predict(test, predictions);
            int bad = Array.FindIndex(predictions, p => !float.IsFinite(p));
            if (bad >= 0)
            {
                throw new CliUserException(string.Create(Invariant,
                    $"{request.Test}: example {bad + 1:N0} predicts {predictions[bad]}: its values overflow float arithmetic with the trained model (scale them down)."));
            }

            FmEvaluation evaluation = o.Task == FmTask.BinaryClassification
                ? new FmEvaluation(o.Task, test.Count, FmMetrics.LogLossOfProbabilities(predictions, test.Labels), FmMetrics.Auc(predictions, test.Labels),
                    FmMetrics.Accuracy(predictions, test.Labels, 0.5f), double.NaN, double.NaN)
                : new FmEvaluation(o.Task, test.Count, double.NaN, double.NaN, double.NaN, FmMetrics.Rmse(predictions, test.Labels), FmMetrics.Mae(predictions, test.Labels));
            output.WriteLine($"test ({test.Count.ToString("N0", Invariant)} rows): {EvalCommand.Format(evaluation)}");
        }

        if (request.Model is not null)
        {
            try
            {
                result.Save(request.Model, request.ModelFormat);
            }
            catch (ModelFileException e)
            {
                throw new CliUserException(e.Message, e);
            }

            output.WriteLine($"model: {request.Model} ({ModelFiles.Name(request.ModelFormat ?? ModelFiles.FormatFor(request.Model))})");
        }

        output.WriteLine(string.Create(Invariant, $"fm train: done in {clock.Elapsed.TotalSeconds:F2} s."));
        return 0;
    }
}
