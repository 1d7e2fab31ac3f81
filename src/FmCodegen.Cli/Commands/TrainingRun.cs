using System.Diagnostics;
using System.Globalization;
using System.Text;
using FmCodegen.Data;
using FmCodegen.IO;
using FmCodegen.Metrics;
using FmCodegen.Training;

namespace FmCodegen.Cli.Commands;

/// <summary>What <c>fm train</c> and <c>fm libfm</c> both do: read the data, train with live progress, report, save.</summary>
internal sealed record TrainingRequest
{
    public required string Train { get; init; }
    public string? Validation { get; init; }
    public string? Test { get; init; }
    public SparseFormat InputFormat { get; init; } = SparseFormat.LibFm;
    public required FmTrainingOptions Options { get; init; }
    public string? Model { get; init; }
    public ModelFormat? ModelFormat { get; init; }
    public string? History { get; init; }
    public string? Plot { get; init; }

    /// <summary>Where to write test predictions as libFM's -out does (probabilities for c, clipped scores for r).</summary>
    public string? Predictions { get; init; }

    /// <summary>The warm-start model read (libFM's -load_model): an input no output may overwrite.</summary>
    public string? LoadModel { get; init; }

    /// <summary>True: train from a row cache on disk; null: when the file would not fit the memory.</summary>
    public bool? OutOfCore { get; init; }

    /// <summary>The memory training may use (bytes) for the in-memory or out-of-core choice; null: the process's.</summary>
    public long? MemoryLimit { get; init; }

    /// <summary>Where to keep (and reuse) the row cache of out-of-core training.</summary>
    public string? Cache { get; init; }
}

internal static class TrainingRun
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    public static int Run(string verb, TrainingRequest request, CliContext context)
    {
        var clock = Stopwatch.StartNew();
        TextWriter output = context.Output;
        CheckOptions(verb, request.Options);
        CliOptions.RequireFile(request.Train, "The training file");
        if (request.Validation is not null)
        {
            CliOptions.RequireFile(request.Validation, "The validation file");
        }

        if (request.Test is not null)
        {
            CliOptions.RequireFile(request.Test, "The test file");
        }

        CheckOutputPaths(verb, request);
        if (request.Options.Order == 3 && request.Model is not null
            && (request.ModelFormat ?? ModelFiles.FormatFor(request.Model)) is ModelFormat.LibFm or ModelFormat.XLearn)
        {
            throw new CliUserException(
                $"an order-3 model can only be saved in the native format; {ModelFiles.Name(request.ModelFormat ?? ModelFiles.FormatFor(request.Model))} model text holds order-2 models (pairs) only: use --model-format native or a name that does not end in .libfm or .xlearn.");
        }

        SparseDataset Read(string path) => DataHints.Read(request.InputFormat, () => SparseTextReader.ReadFile(path, request.InputFormat));
        if (OutOfCoreNeeded(request, output) is { } reason)
        {
            return RunOutOfCore(verb, request, context, clock, reason, Read);
        }

        SparseDataset train = Read(request.Train);
        SparseDataset? validation = request.Validation is null ? null : Read(request.Validation);
        SparseDataset? test = request.Test is null ? null : Read(request.Test);
        if (train.Count == 0)
        {
            throw new CliUserException($"The training file '{request.Train}' has no examples.");
        }

        WarnIfOneClass(verb, request.Options.Task, train, context.Error);
        FmTrainingOptions options = FmTrainer.Defaults(request.Options with { Validation = validation });
        output.WriteLine(string.Create(Invariant,
            $"fm {verb}: {train.Count:N0} training rows, {train.NumFeatures:N0} features ({Seconds(clock)} to read); {Describe(options)}"));

        // a terminal gets a live table; a pipe, a file or a test's writer gets one plain line per epoch
        bool live = ReferenceEquals(output, Console.Out) && !Console.IsOutputRedirected
            && Environment.GetEnvironmentVariable("FM_PLAIN") is null;
        var progress = new ProgressPrinter(output, options);
        FmTrainingResult result;
        try
        {
            result = live ? LiveProgress.Train(train, options) : FmTrainer.Train(train, options, progress.Report);
        }
        catch (ArgumentException e)
        {
            throw new CliUserException(e.Message, e);
        }
        catch (InvalidOperationException e)
        {
            throw new CliUserException(e.Message, e);
        }

        return Finish(verb, request, output, clock, result, test);
    }

    private static int Finish(string verb, TrainingRequest request, TextWriter output, Stopwatch clock, FmTrainingResult result, SparseDataset? test)
    {
        PrintSummary(output, result);
        if (test is not null)
        {
            float[] scores = Score(result.Model, test, request.Test!);
            FmEvaluation evaluation = FmMetrics.Evaluate(result.Task, scores, test.Labels, result.TargetMin, result.TargetMax);
            output.WriteLine($"test ({test.Count.ToString("N0", Invariant)} rows): {EvalCommand.Format(evaluation)}");
            if (request.Predictions is not null)
            {
                WritePredictions(request.Predictions, result, scores);
                output.WriteLine($"predictions: {request.Predictions}");
            }
        }

        if (request.Model is not null)
        {
            result.Save(request.Model, request.ModelFormat);
            output.WriteLine($"model: {request.Model} ({ModelFiles.Name(request.ModelFormat ?? ModelFiles.FormatFor(request.Model))})");
        }

        if (request.History is not null)
        {
            AtomicFile.Write(request.History, stream => WriteHistory(stream, result), durable: false);
            output.WriteLine($"history: {request.History}");
        }

        if (request.Plot is not null)
        {
            LearningCurvePlot.Save(request.Plot, result);
            output.WriteLine($"plot: {request.Plot}");
        }

        output.WriteLine($"fm {verb}: done in {Seconds(clock)}.");
        return 0;
    }

    /// <summary>The in-memory size the training file implies (bytes of text x 2: 4 or 8 bytes per nonzero in the
    /// dataset and as much in training's shuffled copy, for the 5-8 bytes of text a nonzero takes; gzip x 5 more).</summary>
    internal static long EstimatedMemory(string path)
    {
        long length = new FileInfo(path).Length;
        bool gzip;
        using (FileStream file = File.OpenRead(path))
        {
            gzip = file.ReadByte() == 0x1f && file.ReadByte() == 0x8b;
        }

        return length * (gzip ? 10 : 2);
    }

    /// <summary>Why the training rows stay on disk, or null when they are read into memory.</summary>
    private static string? OutOfCoreNeeded(TrainingRequest request, TextWriter output) =>
        OutOfCoreReason(request.Train, request.OutOfCore, request.MemoryLimit, request.Cache);

    /// <summary>The memory training may use: <paramref name="memoryLimit"/>, or what the process may use less what it holds.</summary>
    internal static long Available(long? memoryLimit) =>
        Math.Max(0, (memoryLimit ?? MemoryBudget.Limit) - (memoryLimit is null ? GC.GetTotalMemory(forceFullCollection: false) : 0));

    /// <summary>Why the rows of <paramref name="train"/> stay on disk (asked for, or they would not fit), or null.</summary>
    internal static string? OutOfCoreReason(string train, bool? outOfCore, long? memoryLimit, string? cache)
    {
        if (outOfCore == true)
        {
            return cache is null ? "--out-of-core" : "--cache";
        }

        if (outOfCore == false)
        {
            return null;
        }

        long needed = EstimatedMemory(train);
        long available = Available(memoryLimit);
        return needed > available
            ? $"the training file needs about {MemoryBudget.Size(needed)} in memory; {(memoryLimit is null ? "this process may use" : "--memory-limit allows")} {MemoryBudget.Size(available)}"
            : null;
    }

    /// <summary>Refuses a --cache that is one of the run's other files (by device and inode, or by path): the cache is
    /// read and written, so it must be a file of its own.</summary>
    internal static void CheckCache(string? cache, params string?[] others)
    {
        if (cache is not null && others.Any(other => other is not null && CliOptions.SameFile(other, cache)))
        {
            throw new CliUserException($"--cache '{cache}' is also given as another input or output; choose another cache path.");
        }
    }

    private static int RunOutOfCore(string verb, TrainingRequest request, CliContext context, Stopwatch clock, string reason, Func<string, SparseDataset> read)
    {
        TextWriter output = context.Output;
        CheckCache(request.Cache, request.Train, request.Validation, request.Test, request.Model, request.History, request.Plot, request.Predictions, request.LoadModel);
        SparseDataset? validation = request.Validation is null ? null : read(request.Validation);
        SparseDataset? test = request.Test is null ? null : read(request.Test);
        FmTrainingOptions options = FmTrainer.Defaults(request.Options with { Validation = validation });
        output.WriteLine($"fm {verb}: training rows stay on disk ({reason}); {Describe(options)}");
        var passes = new PassPrinter(output);
        var progress = new ProgressPrinter(output, options);
        FmTrainingResult result;
        try
        {
            result = DataHints.Read(request.InputFormat, () => FmTrainer.TrainOutOfCore(request.Train, request.InputFormat, options,
                new FmOutOfCoreOptions { CachePath = request.Cache, OnPass = passes.Report }, progress.Report));
        }
        catch (ArgumentException e)
        {
            throw new CliUserException(e.Message, e);
        }
        catch (InvalidOperationException e)
        {
            throw new CliUserException(e.Message, e);
        }

        output.WriteLine(string.Create(Invariant, $"fm {verb}: trained on {result.TrainExamples:N0} rows, validated on {result.ValidationExamples:N0}; {result.Model.NumFeatures:N0} features ({Seconds(clock)} so far)"));
        return Finish(verb, request, output, clock, result, test);
    }

    /// <summary>Parses 800M, 2G, 1.5GB, 512MB, 4096 (bytes).</summary>
    internal static long ParseSize(string text, string option)
    {
        string t = text.Trim().ToUpperInvariant();
        long unit = 1;
        foreach ((string suffix, long size) in new[] { ("GB", 1L << 30), ("G", 1L << 30), ("MB", 1L << 20), ("M", 1L << 20), ("KB", 1L << 10), ("K", 1L << 10), ("B", 1L) })
        {
            if (t.EndsWith(suffix, StringComparison.Ordinal))
            {
                unit = size;
                t = t[..^suffix.Length];
                break;
            }
        }

        return double.TryParse(t, NumberStyles.Float, Invariant, out double value) && value > 0 && value * unit < long.MaxValue
            ? (long)(value * unit)
            : throw new CliUserException($"{option} must be a size such as 800M or 2G; got '{text}'.");
    }

    /// <summary>Lines for the passes before out-of-core training (caching the text, scanning, segmenting): at most
    /// one a second, and one when a pass ends.</summary>
    internal sealed class PassPrinter(TextWriter output)
    {
        private string? _stage;
        private long _last;
        private readonly Stopwatch _clock = Stopwatch.StartNew();

        public void Report(string stage, long done, long total)
        {
            long now = _clock.ElapsedMilliseconds;
            if (stage == _stage && now - _last < 1000)
            {
                return;
            }

            _stage = stage;
            _last = now;
            string of = total > 0 ? $" of {MemoryBudget.Size(total)}" : "";
            output.WriteLine(string.Create(Invariant, $"{stage,-13} {MemoryBudget.Size(done)}{of} read | {now / 1000.0:F1} s"));
            output.Flush();
        }
    }

    /// <summary>Every output against every input and each other, and that each can be written, before any data is read.</summary>
    private static void CheckOutputPaths(string verb, TrainingRequest request)
    {
        if (request.Plot is { } plot)
        {
            if (!LearningCurvePlot.Supports(plot))
            {
                throw new CliUserException($"--plot writes SVG: give a file name ending in .svg (any browser opens it; rsvg-convert or Inkscape turn it into PNG); got '{plot}'.");
            }
        }

        bool libfm = verb == "libfm";
        CliOptions.CheckOutputs(
            [
                (libfm ? "-save_model" : "--model", request.Model),
                (libfm ? "-rlog" : "--history", request.History),
                ("--plot", request.Plot),
                ("-out", request.Predictions),
            ],
            [
                (libfm ? "-train" : "--train", request.Train),
                (libfm ? "-validation" : "--validation", request.Validation),
                (libfm ? "-test" : "--test", request.Test),
                ("-load_model", request.LoadModel),
            ]);
    }

    /// <summary>Refuses option values the trainer would refuse, with the flag's name (the trainer names its API).</summary>
    private static void CheckOptions(string verb, FmTrainingOptions o)
    {
        bool libfm = verb == "libfm";
        if (o.EmbeddingSize is < 0 or > FmModel.MaxEmbeddingSize)
        {
            throw new CliUserException($"{(libfm ? "-dim" : "--k")} must give k between 0 (a linear model) and {FmModel.MaxEmbeddingSize}; got {o.EmbeddingSize}.");
        }

        if (o.Epochs is < 0 || (o.Epochs == 0 && o.WarmStart is null))
        {
            throw new CliUserException(libfm
                ? $"-iter must be 1 or more, or 0 with -load_model (to predict with the loaded model); without a model to load, 0 iterations would write an untrained, random model; got {o.Epochs}."
                : $"--epochs must be 1 or more (0 epochs would write an untrained, random model); got {o.Epochs}.");
        }

        if (o.LearningRate is { } lr && !(lr > 0 && float.IsFinite(lr)))
        {
            throw new CliUserException($"{(libfm ? "-learn_rate" : "--lr")} must be a positive, finite number; got {lr.ToString(Invariant)}.");
        }

        if (o.InitStdev is { } init && !(init >= 0 && float.IsFinite(init)))
        {
            throw new CliUserException($"{(libfm ? "-init_stdev" : "--init-stdev")} must be a finite number, 0 or more; got {init.ToString(Invariant)}.");
        }

        if (o.Threads is < 1 or > 1024)
        {
            throw new CliUserException($"{(libfm ? "-threads" : "--threads")} must be between 1 and 1024; got {o.Threads}.");
        }

        if (o.Patience is < 0)
        {
            throw new CliUserException($"--patience must be 0 or more; got {o.Patience}.");
        }

        if (o.ValidationFraction is { } fraction && !(fraction is >= 0 and < 1))
        {
            throw new CliUserException($"--validation-fraction must be at least 0 and below 1; got {fraction.ToString(Invariant)}.");
        }
    }

    /// <summary>A classification training set with one class teaches nothing but that class: say so (on stderr).</summary>
    internal static void WarnIfOneClass(string verb, FmTask task, SparseDataset train, TextWriter error)
    {
        if (task != FmTask.BinaryClassification || train.Count == 0)
        {
            return;
        }

        int positives = 0;
        foreach (float label in train.Labels)
        {
            positives += label > 0 ? 1 : 0;
        }

        if (positives == 0 || positives == train.Count)
        {
            string which = positives == 0 ? "negative (<= 0)" : "positive (> 0)";
            error.WriteLine(string.Create(Invariant,
                $"fm {verb}: warning: all {train.Count:N0} training labels are {which}: one class, so the model can only learn to predict it (classification reads label <= 0 as negative, > 0 as positive; is this the right file or --task?)."));
        }
    }

    public static string Describe(FmTrainingOptions o)
    {
        string validation = o.Validation is not null ? $"validation file ({o.Validation.Count:N0} rows)"
            : o.ValidationFraction > 0 ? $"{o.ValidationFraction:P0} held out for validation" : "no validation";
        string epochs = o.Refit == true ? $"up to {o.Epochs} epochs, then a refit on all rows" : $"{o.Epochs} epochs";
        FmRegularization r = o.Regularization!;
        return string.Create(Invariant,
            $"{(o.Task == FmTask.BinaryClassification ? "classification" : "regression")}, {o.Solver} k={o.EmbeddingSize}{(o.Order == 3 ? " order 3" : string.Empty)}, lr {o.LearningRate}, L2 {r.Bias},{r.Linear},{r.Factors}{(o.FrequencyScaledL2 == true ? " (frequency-scaled)" : "")}, init stdev {o.InitStdev}, {epochs}, {validation}, patience {o.Patience}, seed {o.Seed}, {o.Threads} thread(s)");
    }

    private static void PrintSummary(TextWriter output, FmTrainingResult result)
    {
        IReadOnlyList<FmEpoch> history = result.History;
        FmEpoch? best = history.Where(e => !e.Refit).Skip(result.BestEpoch - 1).FirstOrDefault();
        int searched = history.Count(e => !e.Refit);
        int refit = history.Count(e => e.Refit);
        double updates = history.Sum(e => e.ExamplesPerSecond * e.Seconds);
        var text = new StringBuilder();
        text.Append(Invariant, $"trained: {searched} epochs");
        if (refit > 0)
        {
            text.Append(Invariant, $", best {result.BestEpoch}, then {refit} epochs on all {result.TrainExamples:N0} rows");
        }
        else if (best?.Validation is not null)
        {
            text.Append(Invariant, $", model of epoch {result.BestEpoch}");
        }

        text.Append(Invariant, $" in {result.TrainingSeconds:F2} s ({updates / Math.Max(result.TrainingSeconds, 1e-9) / 1e6:F2} M example updates/s)");
        output.WriteLine(text.ToString());
        if (EarlyStoppingNote(result) is { } note)
        {
            output.WriteLine(note);
        }
        if (best?.Validation is { } v)
        {
            output.WriteLine($"validation at epoch {result.BestEpoch}: {EvalCommand.Format(v)}");
        }
    }

    /// <summary>What early stopping did to a run with a fixed number of epochs (--epochs N): that it stopped before N,
    /// and that the model is an earlier epoch's than the last one run. Null when neither happened.</summary>
    internal static string? EarlyStoppingNote(FmTrainingResult result)
    {
        List<FmEpoch> searched = result.History.Where(e => !e.Refit).ToList();
        if (result.History.Any(e => e.Refit) || searched.Count == 0 || searched[^1].Validation is null)
        {
            return null;
        }

        int run = searched.Count;
        int planned = searched[^1].PlannedEpochs;
        var parts = new List<string>();
        if (planned > run)
        {
            parts.Add(string.Create(Invariant, $"stopped after {run} of {planned} epochs ({result.Options.Patience} without a better validation loss)"));
        }

        if (result.BestEpoch < run)
        {
            FmEpoch best = searched[result.BestEpoch - 1];
            parts.Add(string.Create(Invariant,
                $"restored the model of epoch {result.BestEpoch}, the best validation {best.Validation!.LossName} ({best.Validation.Loss:F4}), not the last epoch's ({run}: {searched[^1].Validation!.Loss:F4})"));
        }

        return parts.Count == 0 ? null : "early stopping: " + string.Join("; ", parts) + ".";
    }

    internal static float[] Score(FmModel model, SparseDataset data, string source)
    {
        var scores = new float[data.Count];
        Fm.ScoreBatch(model, data.Offsets, data.Indices, data.Values, scores, maxThreads: 1);
        int bad = Array.FindIndex(scores, s => !float.IsFinite(s));
        if (bad >= 0)
        {
            throw new CliUserException(string.Create(Invariant,
                $"{source}: example {bad + 1:N0} scores {scores[bad]}: its values overflow float arithmetic with the trained model (values this large cannot be scored; scale them down)."));
        }

        return scores;
    }

    private static void WritePredictions(string path, FmTrainingResult result, float[] scores)
    {
        AtomicFile.Write(path, stream =>
        {
            var buffer = new byte[32];
            foreach (float score in scores)
            {
                int used = NumberText.FormatFloat(result.Predict(score), buffer);
                buffer[used++] = (byte)'\n';
                stream.Write(buffer, 0, used);
            }
        }, durable: false);
    }

    private static void WriteHistory(Stream stream, FmTrainingResult result)
    {
        using var writer = new StreamWriter(stream, new UTF8Encoding(false), leaveOpen: true);
        writer.WriteLine("epoch,phase,train_loss,train_metric,valid_logloss,valid_auc,valid_accuracy,valid_rmse,valid_mae,seconds,examples_per_second");
        foreach (FmEpoch e in result.History)
        {
            FmEvaluation? v = e.Validation;
            writer.WriteLine(string.Create(Invariant,
                $"{e.Epoch},{(e.Refit ? "refit" : "train")},{e.TrainLoss:R},{e.TrainMetric:R},{Cell(v?.LogLoss)},{Cell(v?.Auc)},{Cell(v?.Accuracy)},{Cell(v?.Rmse)},{Cell(v?.Mae)},{e.Seconds:R},{e.ExamplesPerSecond:F0}"));
        }

        static string Cell(double? value) => value is { } d && !double.IsNaN(d) ? d.ToString("R", Invariant) : "";
    }

    private static string Seconds(Stopwatch clock) => clock.Elapsed.TotalSeconds.ToString("F2", Invariant) + " s";

    /// <summary>One plain line per epoch, so a log file or a pipe reads as well as a terminal.</summary>
    internal sealed class ProgressPrinter(TextWriter output, FmTrainingOptions options)
    {
        private double _seconds;
        private int _epochs;
        private bool _refit;

        public void Report(FmEpoch e)
        {
            if (e.Refit != _refit)
            {
                (_seconds, _epochs, _refit) = (0, 0, e.Refit);
            }

            _seconds += e.Seconds;
            _epochs++;
            double left = Math.Max(0, e.PlannedEpochs - e.Epoch) * (_seconds / _epochs);
            string phase = e.Refit ? $"refit {e.Epoch}/{e.PlannedEpochs}" : $"epoch {e.Epoch}/{e.PlannedEpochs}";
            bool classification = options.Task == FmTask.BinaryClassification;
            var line = new StringBuilder();
            line.Append(Invariant, $"{phase,-13} train {(classification ? "logloss" : "loss")} {e.TrainLoss:F4} {(classification ? "acc" : "RMSE")} {e.TrainMetric:F4}");
            if (e.Validation is { } v)
            {
                line.Append(Invariant, $" | valid {v.LossName} {v.Loss:F4}");
                if (classification)
                {
                    line.Append(Invariant, $" AUC {v.Auc:F4}");
                }
            }

            string bound = e.Refit || options.Patience == 0 || e.Validation is null ? "" : "at most ";
            line.Append(Invariant, $" | {e.ExamplesPerSecond / 1e6:F2} M ex/s | {e.Seconds:F2} s | {bound}{left:F1} s left");
            if (e.BytesRead > 0)
            {
                line.Append(Invariant, $" | read {MemoryBudget.Size(e.BytesRead)} ({e.BytesRead / Math.Max(e.Seconds, 1e-9) / (1 << 20):F0} MB/s)");
            }

            output.WriteLine(line.ToString());
            output.Flush();
        }
    }
}
