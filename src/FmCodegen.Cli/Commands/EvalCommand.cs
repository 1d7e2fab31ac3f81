using System.CommandLine;
using System.Globalization;
using FmCodegen.Data;
using FmCodegen.IO;
using FmCodegen.Metrics;

namespace FmCodegen.Cli.Commands;

/// <summary><c>fm eval</c>: scores a labelled data file with a model and prints the task's metrics.</summary>
public static class EvalCommand
{
    private const int RowsPerBlock = 65536;

    public static Command Create()
    {
        Option<string> model = CliOptions.Model();
        Option<string?> modelFormat = CliOptions.ModelFormat();
        Option<string> input = new("--input", "-i") { Description = "Labelled data (libFM/libSVM or libffm text; .gz read transparently).", Required = true, HelpName = "FILE" };
        Option<string> inputFormat = CliOptions.InputFormat();
        Option<string?> task = new("--task") { Description = "r or c (default: from the model file when it says, else c when every label is 0/1 or -1/+1).", HelpName = "r|c" };
        Option<string?> clip = new("--clip") { Description = "Regression: clamp predictions to [MIN, MAX] first, as libFM does (e.g. --clip 1,5); overrides the range a native regression model records.", HelpName = "MIN,MAX" };
        Option<bool> noClip = new("--no-clip") { Description = "Regression: do not clamp to the training targets' range the native model records (the default clamps, as fm predict does)." };
        Option<bool> xlearnNorm = new("--xlearn-norm") { Description = "Score with xLearn's instance normalisation." };
        Option<int> threads = CliOptions.Threads();
        var command = new Command("eval", "Print a model's metrics on labelled data: logloss, AUC and accuracy (c) or RMSE and MAE (r).")
        {
            model, modelFormat, input, inputFormat, task, clip, noClip, xlearnNorm, threads,
        };

        CliRunner.SetAction(command, (parse, context) =>
        {
            string inputPath = parse.GetRequiredValue(input);
            CliOptions.RequireFile(inputPath, "The input file");
            ModelFile file = CliOptions.LoadModel(parse.GetRequiredValue(model), CliOptions.ParseModelFormat(parse.GetValue(modelFormat)), parse.GetValue(xlearnNorm));
            (float Min, float Max)? range = parse.GetValue(clip) is { } text ? CliOptions.ParseRange(text, "--clip") : null;
            if (range.HasValue && parse.GetValue(noClip))
            {
                throw new CliUserException("--clip and --no-clip contradict each other; give one (a regression model's recorded training range is the default).");
            }

            range ??= parse.GetValue(noClip) ? null : file.TargetRange;
            int maxThreads = parse.GetValue(threads);
            if (maxThreads < 0)
            {
                throw new CliUserException($"--threads must be 0 (all cores) or more; got {maxThreads}.");
            }

            var scorer = new SparseScorer(file.Model, maxThreads);
            var scores = new List<float>();
            var labels = new List<float>();
            SparseFormat dataFormat = CliOptions.ParseDataFormat(parse.GetValue(inputFormat));
            using (SparseTextReader reader = SparseTextReader.Open(inputPath, dataFormat))
            {
                var block = new SparseBlock();
                var buffer = new float[RowsPerBlock];
                DataHints.Read(dataFormat, () =>
                {
                    while (reader.ReadBlock(block, RowsPerBlock))
                    {
                        if (file.Samples is { } samples)
                        {
                            // an MCMC sample set: the average of its members' predictions, as fm predict makes them
                            samples.PredictBatch(block.Offsets, block.Indices, block.Values, buffer.AsSpan(0, block.Count), maxThreads);
                        }
                        else
                        {
                            scorer.Score(block, buffer);
                        }

                        scores.AddRange(buffer.AsSpan(0, block.Count));
                        labels.AddRange(block.Labels);
                    }
                });
            }

            if (scores.Count == 0)
            {
                throw new CliUserException($"The input file '{inputPath}' has no examples.");
            }

            FmTask kind = parse.GetValue(task) is { } given ? TrainCommand.ParseTask(given, "--task")
                : file.Task ?? (labels.TrueForAll(l => l is 0f or 1f or -1f) ? FmTask.BinaryClassification : FmTask.Regression);
            FmEvaluation evaluation = file.Samples is { Link: FmSampleLink.Probit } && kind == FmTask.BinaryClassification
                ? new FmEvaluation(kind, scores.Count, FmMetrics.LogLossOfProbabilities(scores.ToArray(), labels.ToArray()),
                    FmMetrics.Auc(scores.ToArray(), labels.ToArray()), FmMetrics.Accuracy(scores.ToArray(), labels.ToArray(), 0.5f), double.NaN, double.NaN)
                : FmMetrics.Evaluate(kind, scores.ToArray(), labels.ToArray(), range?.Min ?? float.NegativeInfinity, range?.Max ?? float.PositiveInfinity);
            context.Output.WriteLine($"{scores.Count.ToString("N0", CultureInfo.InvariantCulture)} rows, {(kind == FmTask.BinaryClassification ? "classification" : "regression")}: {Format(evaluation)}");
            return 0;
        });
        return command;
    }

    /// <summary>The metrics of a task on one line.</summary>
    public static string Format(FmEvaluation e)
    {
        ArgumentNullException.ThrowIfNull(e);
        return e.Task == FmTask.BinaryClassification
            ? string.Create(CultureInfo.InvariantCulture, $"logloss {e.LogLoss:F4}  AUC {e.Auc:F4}  accuracy {e.Accuracy:F4}")
            : string.Create(CultureInfo.InvariantCulture, $"RMSE {e.Rmse:F4}  MAE {e.Mae:F4}");
    }
}
