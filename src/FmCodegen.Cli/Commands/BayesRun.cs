using System.Diagnostics;
using System.Globalization;
using System.Text;
using FmCodegen.Data;
using FmCodegen.IO;
using FmCodegen.Metrics;
using FmCodegen.Training.Bayesian;

namespace FmCodegen.Cli.Commands;

/// <summary>What <c>fm libfm -method mcmc|als</c> and <c>fm train --solver mcmc|als</c> ask for.</summary>
internal sealed record BayesRequest
{
    public required string Train { get; init; }
    public string? Test { get; init; }
    public string? Meta { get; init; }
    public SparseFormat InputFormat { get; init; } = SparseFormat.LibFm;
    public required FmBayesOptions Options { get; init; }
    public string? Model { get; init; }

    /// <summary>The format of <see cref="Model"/> for ALS (MCMC sample sets are always native).</summary>
    public ModelFormat ModelFormat { get; init; } = ModelFormat.Native;

    /// <summary>Test predictions as libFM's -out writes them.</summary>
    public string? Predictions { get; init; }

    /// <summary>One CSV row per sweep (libFM's -rlog).</summary>
    public string? Log { get; init; }

    /// <summary>MCMC: when the kept samples would take more than this many bytes, keep fewer (the last ones). Null: no cap.</summary>
    public long? CapSamplesBytes { get; init; }

    /// <summary>Print libFM's "#Iter= ..." lines instead of FmCodegen's.</summary>
    public bool LibFmLines { get; init; }
}

internal static class BayesRun
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    /// <summary>Why MCMC and ALS keep the rows in memory (for the errors that refuse them out of core).</summary>
    public const string WhyInMemory = "MCMC and ALS need the rows by column as well as by row (each sweep draws one feature's parameters from all the rows that have it, then updates those rows' scores), so every row stays in memory and they do not train out of core.";

    public static int Run(string verb, BayesRequest request, CliContext context)
    {
        var clock = Stopwatch.StartNew();
        TextWriter output = context.Output;
        bool libfm = verb == "libfm";
        CliOptions.CheckOutputs(
            [(libfm ? "-save_model" : "--model", request.Model), (libfm ? "-out" : "--predictions", request.Predictions), (libfm ? "-rlog" : "--history", request.Log)],
            [(libfm ? "-train" : "--train", request.Train), (libfm ? "-test" : "--test", request.Test), (libfm ? "-meta" : "--meta", request.Meta)]);
        foreach (string? path in new[] { request.Model, request.Predictions, request.Log })
        {
            if (path is not null && Path.GetDirectoryName(Path.GetFullPath(path)) is { } folder && !Directory.Exists(folder))
            {
                throw new CliUserException($"Cannot write '{path}': the folder '{folder}' does not exist.");
            }
        }

        CliOptions.RequireFile(request.Train, "The training file");
        if (request.Test is not null)
        {
            CliOptions.RequireFile(request.Test, "The test file");
        }

        if (request.Meta is not null)
        {
            CliOptions.RequireFile(request.Meta, "The meta (groups) file");
        }

        long needed = TrainingRun.EstimatedMemory(request.Train), available = TrainingRun.Available(null);
        if (needed > available)
        {
            throw new CliUserException($"{request.Train}: the training file needs about {MemoryBudget.Size(needed)} in memory and this process may use {MemoryBudget.Size(available)}. {WhyInMemory} {(libfm ? "Use fm train --solver adagrad (or sgd, ftrl), which streams the rows from disk," : "Use --solver adagrad (or sgd, ftrl), which streams the rows from disk,")} or a machine with more memory.");
        }

        SparseDataset train = SparseTextReader.ReadFile(request.Train, request.InputFormat);
        SparseDataset? test = request.Test is null ? null : SparseTextReader.ReadFile(request.Test, request.InputFormat);
        if (train.Count == 0)
        {
            throw new CliUserException($"The training file '{request.Train}' has no examples.");
        }

        FmBayesOptions options = request.Options;
        int features = Math.Max(train.NumFeatures, test?.NumFeatures ?? 0);
        if (request.Meta is not null)
        {
            int[] groups = ReadGroups(request.Meta);
            if (groups.Length < features)
            {
                throw new CliUserException($"{request.Meta}: {groups.Length:N0} group lines, but the data has {features:N0} features: every feature needs a line.");
            }

            options = options with { Groups = groups };
        }
        else if (options.Groups is null && request.InputFormat == SparseFormat.LibFfm && train.HasFields)
        {
            int[] fromFields = FmBayesOptions.GroupsFromFields(train);
            Array.Resize(ref fromFields, features);
            options = options with { Groups = fromFields };
        }

        options = options with { NumFeatures = Math.Max(options.NumFeatures, features) };
        bool mcmc = options.Method == FmBayesMethod.Mcmc;
        if (mcmc && request.CapSamplesBytes is { } cap && options.StoreSamples)
        {
            long perSample = (long)options.NumFeatures * (Math.Max(options.EmbeddingSize, 1) + 1) * sizeof(float) + sizeof(float);
            int fits = (int)Math.Clamp(cap / Math.Max(perSample, 1), 1, int.MaxValue);
            int wanted = Math.Min(options.KeptSamples ?? int.MaxValue, options.Iterations - options.BurnIn);
            if (options.KeptSamples is null && wanted > fits)
            {
                output.WriteLine(string.Create(Invariant, $"fm {verb}: note: keeping the last {fits} samples ({perSample * fits / 1e6:F0} MB); all {wanted} would take {perSample * (double)wanted / 1e6:F0} MB (--keep sets the number)."));
                options = options with { KeptSamples = fits };
            }
        }

        bool classification = options.Task == FmTask.BinaryClassification;
        int groupCount = options.Groups is { Count: > 0 } g ? g.Max() + 1 : 1;
        output.WriteLine(string.Create(Invariant,
            $"fm {verb}: {train.Count:N0} training rows, {features:N0} features ({clock.Elapsed.TotalSeconds:F2} s to read); {Describe(options, groupCount)}"));

        var log = request.Log is null ? null : new StringBuilder();
        log?.AppendLine(LogHeader(options, groupCount));
        FmBayesResult result;
        try
        {
            result = FmBayesTrainer.Train(train, options, test, sweep =>
            {
                output.WriteLine(request.LibFmLines ? LibFmLine(sweep, classification) : Line(sweep, options));
                log?.AppendLine(LogRow(sweep));
            });
        }
        catch (ArgumentException e)
        {
            throw new CliUserException(e.Message, e);
        }

        output.WriteLine(string.Create(Invariant,
            $"trained: {result.History.Count} sweeps in {result.TrainingSeconds:F2} s{(mcmc ? $", {(result.Samples?.Samples.Count ?? Math.Min(options.KeptSamples ?? int.MaxValue, options.Iterations - options.BurnIn))} samples averaged" : "")}"));
        if (test is not null && result.History[^1].Test is { } evaluation)
        {
            output.WriteLine($"test ({test.Count.ToString("N0", Invariant)} rows): {EvalCommand.Format(evaluation)}");
        }

        if (request.Predictions is not null && result.TestPredictions is { } predictions)
        {
            WritePredictions(request.Predictions, predictions);
            output.WriteLine($"predictions: {request.Predictions}");
        }

        if (request.Model is not null)
        {
            FmTask task = options.Task;
            ModelFile file;
            ModelFormat format;
            if (mcmc)
            {
                FmSampleSet samples = result.Samples!;
                file = new ModelFile(samples.MeanModel(), task, options.UseBias, options.UseLinear) { Samples = samples };
                format = ModelFormat.Native;
            }
            else
            {
                file = new ModelFile(result.Model, task, options.UseBias, options.UseLinear)
                {
                    TargetRange = task == FmTask.Regression ? (result.TargetMin, result.TargetMax) : null,
                };
                format = request.ModelFormat;
            }

            ModelFiles.Save(file, request.Model, format);
            output.WriteLine(mcmc
                ? $"model: {request.Model} (native, {result.Samples!.Samples.Count} posterior samples; fm predict averages them)"
                : $"model: {request.Model} ({ModelFiles.Name(format)})");
        }

        if (request.Log is not null)
        {
            WriteText(request.Log, log!);
            output.WriteLine($"log: {request.Log}");
        }

        output.WriteLine($"fm {verb}: done in {clock.Elapsed.TotalSeconds.ToString("F2", Invariant)} s.");
        return 0;
    }

    /// <summary>One prediction per line, as libFM's -out (shortest round-trip float text).</summary>
    internal static void WritePredictions(string path, float[] predictions) =>
        AtomicFile.Write(path, stream =>
        {
            var buffer = new byte[32];
            foreach (float p in predictions)
            {
                int used = NumberText.FormatFloat(p, buffer);
                buffer[used++] = (byte)'\n';
                stream.Write(buffer, 0, used);
            }
        }, durable: false);

    /// <summary>A text file (UTF-8, no BOM) written whole or not at all, e.g. an -rlog CSV.</summary>
    internal static void WriteText(string path, StringBuilder text) =>
        AtomicFile.Write(path, stream =>
        {
            byte[] bytes = new UTF8Encoding(false).GetBytes(text.ToString());
            stream.Write(bytes, 0, bytes.Length);
        }, durable: false);

    /// <summary>libFM's -meta file: one whole-number group id (0 or more) per line, line i for feature i.</summary>
    internal static int[] ReadGroups(string path)
    {
        var groups = new List<int>();
        int lineNumber = 0;
        foreach (string line in File.ReadLines(path))
        {
            lineNumber++;
            string text = line.Trim();
            if (text.Length == 0)
            {
                throw new CliUserException($"{path}:{lineNumber}:1: an empty line; the meta file has one group id per feature, line i for feature i.");
            }

            if (!int.TryParse(text, NumberStyles.None, Invariant, out int group))
            {
                int column = line.Length - line.TrimStart().Length + 1;
                throw new CliUserException($"{path}:{lineNumber}:{column}: '{text}' is not a group id (a whole number, 0 or more).");
            }

            groups.Add(group);
        }

        return [.. groups];
    }

    private static string Describe(FmBayesOptions o, int groups)
    {
        string dim = $"dim {(o.UseBias ? 1 : 0)},{(o.UseLinear ? 1 : 0)},{o.EmbeddingSize}";
        string kind = o.Task == FmTask.BinaryClassification ? "classification (probit)" : "regression";
        string reg = o.Regularization is { } r
            ? $", L2 {r.Bias.ToString(Invariant)};{string.Join(';', r.Linear.Select(x => x.ToString(Invariant)))};{string.Join(';', r.Factors.Select(x => x.ToString(Invariant)))}"
            : "";
        return o.Method == FmBayesMethod.Mcmc
            ? string.Create(Invariant, $"{kind}, MCMC (Gibbs sampling, hyperpriors drawn), {dim}, {o.Iterations} sweeps, burn-in {o.BurnIn}, keep {(o.KeptSamples is { } kept ? kept.ToString(Invariant) : "all")}, {groups} group(s), init stdev {o.InitStdev}, seed {o.Seed}")
            : string.Create(Invariant, $"{kind}, ALS, {dim}, {o.Iterations} sweeps, {groups} group(s){reg}, init stdev {o.InitStdev}, seed {o.Seed}");
    }

    private static string Line(FmBayesSweep s, FmBayesOptions o)
    {
        bool classification = o.Task == FmTask.BinaryClassification;
        var line = new StringBuilder();
        line.Append(Invariant, $"sweep {s.Iteration,4}/{o.Iterations} train {(classification ? "acc" : "RMSE")} {s.TrainMetric:F4}");
        if (s.Test is { } t)
        {
            line.Append(classification
                ? string.Create(Invariant, $" | test logloss {t.LogLoss:F4} AUC {t.Auc:F4}")
                : string.Create(Invariant, $" | test RMSE {t.Rmse:F4}"));
        }

        line.Append(Invariant, $" | alpha {s.Alpha:G4} | {s.Seconds * 1000:F1} ms");
        return line.ToString();
    }

    /// <summary>libFM's line: "#Iter=  0	Train=...	Test=..." (0-based; Test(ll) is the natural-log logloss here).</summary>
    private static string LibFmLine(FmBayesSweep s, bool classification)
    {
        string test = s.Test is not { } t ? "" : classification
            ? string.Create(Invariant, $"\tTest={t.Accuracy:G6}\tTest(ll)={t.LogLoss:G6}")
            : string.Create(Invariant, $"\tTest={t.Rmse:G6}");
        return string.Create(Invariant, $"#Iter={s.Iteration - 1,3}\tTrain={s.TrainMetric:G6}{test}");
    }

    private static string LogHeader(FmBayesOptions o, int groups)
    {
        var header = new StringBuilder();
        header.Append("iter,seconds,train_metric,test_rmse,test_mae,test_logloss,test_auc,test_accuracy,alpha");
        for (int g = 0; g < groups; g++)
        {
            header.Append(Invariant, $",wmu[{g}],wlambda[{g}]");
        }

        for (int g = 0; g < groups; g++)
        {
            for (int f = 0; f < o.EmbeddingSize; f++)
            {
                header.Append(Invariant, $",vmu[{g};{f}],vlambda[{g};{f}]");
            }
        }

        return header.ToString();
    }

    private static string LogRow(FmBayesSweep s)
    {
        FmEvaluation? t = s.Test;
        var row = new StringBuilder();
        row.Append(Invariant, $"{s.Iteration - 1},{s.Seconds:R},{s.TrainMetric:R},{Cell(t?.Rmse)},{Cell(t?.Mae)},{Cell(t?.LogLoss)},{Cell(t?.Auc)},{Cell(t?.Accuracy)},{s.Alpha:R}");
        for (int g = 0; g < s.LinearMu.Length; g++)
        {
            row.Append(Invariant, $",{s.LinearMu[g]:R},{s.LinearLambda[g]:R}");
        }

        for (int i = 0; i < s.FactorMu.Length; i++)
        {
            row.Append(Invariant, $",{s.FactorMu[i]:R},{s.FactorLambda[i]:R}");
        }

        return row.ToString();

        static string Cell(double? value) => value is { } d && !double.IsNaN(d) ? d.ToString("R", Invariant) : "";
    }
}
