using System.Diagnostics;
using System.Globalization;
using System.Text;
using FmCodegen.Data;
using FmCodegen.IO;
using FmCodegen.Metrics;
using FmCodegen.Training;

namespace FmCodegen.Cli.Commands;

/// <summary><c>fm libfm -method sgda</c>: SGD whose regularisation is learned on the -validation file, with libFM's
/// per-pass lines, -rlog, -out and -save_model.</summary>
internal static class SgdaRun
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    public static int Run(string train, string validation, string? test, string? meta, FmSgdaOptions options, string? model, string? predictions,
        string? logPath, CliContext context)
    {
        var clock = Stopwatch.StartNew();
        TextWriter output = context.Output;
        CliOptions.CheckOutputs(
            [("-save_model", model), ("-out", predictions), ("-rlog", logPath)],
            [("-train", train), ("-validation", validation), ("-test", test), ("-meta", meta)]);
        if (predictions is not null && test is null)
        {
            throw new CliUserException("-out writes predictions for the -test file; give -test as well.");
        }

        CliOptions.RequireFile(train, "The training file");
        CliOptions.RequireFile(validation, "The validation file");
        if (test is not null)
        {
            CliOptions.RequireFile(test, "The test file");
        }

        if (meta is not null)
        {
            CliOptions.RequireFile(meta, "The meta (groups) file");
        }

        SparseDataset trainData = SparseTextReader.ReadFile(train);
        SparseDataset validationData = SparseTextReader.ReadFile(validation);
        SparseDataset? testData = test is null ? null : SparseTextReader.ReadFile(test);
        if (trainData.Count == 0)
        {
            throw new CliUserException($"The training file '{train}' has no examples.");
        }

        if (validationData.Count == 0)
        {
            throw new CliUserException($"The validation file '{validation}' has no examples: -method sgda learns the regularisation from it.");
        }

        int features = Math.Max(Math.Max(trainData.NumFeatures, validationData.NumFeatures), testData?.NumFeatures ?? 0);
        options = options with { NumFeatures = features };
        if (meta is not null)
        {
            int[] groups = BayesRun.ReadGroups(meta);
            if (groups.Length < features)
            {
                throw new CliUserException($"{meta}: {groups.Length:N0} group lines, but the data has {features:N0} features: every feature needs a line.");
            }

            options = options with { Groups = groups };
        }

        int groupCount = options.Groups is { Count: > 0 } g ? g.Max() + 1 : 1;
        bool classification = options.Task == FmTask.BinaryClassification;
        output.WriteLine(string.Create(Invariant,
            $"fm libfm: {trainData.Count:N0} training rows, {validationData.Count:N0} validation rows (they train the regularisation), {features:N0} features ({clock.Elapsed.TotalSeconds:F2} s to read)"));
        output.WriteLine(string.Create(Invariant,
            $"fm libfm: SGD with adaptive regularisation (sgda), {(classification ? "classification" : "regression")}, dim {(options.UseBias ? 1 : 0)},{(options.UseLinear ? 1 : 0)},{options.EmbeddingSize}, {options.Iterations} passes, learn rate {options.LearningRate}, {groupCount} group(s), init stdev {options.InitStdev}, seed {options.Seed}; rows in file order, as libFM (shuffle the files for the best results)"));

        var log = logPath is null ? null : new StringBuilder();
        if (log is not null)
        {
            log.Append("iter,seconds,train_metric,validation_metric,test_rmse,test_mae,test_logloss,test_auc,test_accuracy");
            for (int group = 0; group < groupCount; group++)
            {
                log.Append(Invariant, $",regw[{group}]");
            }

            for (int group = 0; group < groupCount; group++)
            {
                for (int f = 0; f < options.EmbeddingSize; f++)
                {
                    log.Append(Invariant, $",regv[{group};{f}]");
                }
            }

            log.AppendLine();
        }

        FmSgdaResult result;
        try
        {
            result = FmSgdaTrainer.Train(trainData, validationData, options, testData, pass =>
            {
                string testText = pass.Test is not { } t ? "" : classification
                    ? string.Create(Invariant, $"\tTest={t.Accuracy:G6}\tTest(ll)={t.LogLoss:G6}")
                    : string.Create(Invariant, $"\tTest={t.Rmse:G6}");
                output.WriteLine(string.Create(Invariant, $"#Iter={pass.Iteration - 1,3}\tTrain={pass.TrainMetric:G6}\tValidation={pass.ValidationMetric:G6}{testText}"));
                if (log is not null)
                {
                    FmEvaluation? e = pass.Test;
                    log.Append(Invariant, $"{pass.Iteration - 1},{pass.Seconds:R},{pass.TrainMetric:R},{pass.ValidationMetric:R},{Cell(e?.Rmse)},{Cell(e?.Mae)},{Cell(e?.LogLoss)},{Cell(e?.Auc)},{Cell(e?.Accuracy)}");
                    foreach (double value in pass.LinearLambda.Concat(pass.FactorLambda))
                    {
                        log.Append(Invariant, $",{value:R}");
                    }

                    log.AppendLine();
                }
            });
        }
        catch (ArgumentException e)
        {
            throw new CliUserException(e.Message, e);
        }

        output.WriteLine(string.Create(Invariant, $"trained: {result.History.Count} passes in {result.History.Sum(p => p.Seconds):F2} s"));
        if (testData is not null && result.History[^1].Test is { } evaluation)
        {
            output.WriteLine($"test ({testData.Count.ToString("N0", Invariant)} rows): {EvalCommand.Format(evaluation)}");
        }

        if (predictions is not null && result.TestPredictions is { } values)
        {
            BayesRun.WritePredictions(predictions, values);
            output.WriteLine($"predictions: {predictions}");
        }

        if (model is not null)
        {
            ModelFiles.Save(new ModelFile(result.Model, options.Task, options.UseBias, options.UseLinear), model, ModelFormat.LibFm);
            output.WriteLine($"model: {model} (libfm)");
        }

        if (logPath is not null)
        {
            BayesRun.WriteText(logPath, log!);
            output.WriteLine($"log: {logPath}");
        }

        output.WriteLine($"fm libfm: done in {clock.Elapsed.TotalSeconds.ToString("F2", Invariant)} s.");
        return 0;

        static string Cell(double? value) => value is { } d && !double.IsNaN(d) ? d.ToString("R", Invariant) : "";
    }
}
