using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using FmCodegen.Data;
using FmCodegen.IO;

namespace FmCodegen.Cli.Commands;

/// <summary>
/// <c>fm predict</c>: streams a data file through a model (parse a block, score it, write it), one prediction per
/// line, into a file that appears only when every row has been scored.
/// </summary>
public static class PredictCommand
{
    /// <summary>Rows at a time when the scoring is spread over several threads.</summary>
    private const int RowsPerBlock = 8192;

    /// <summary>Rows at a time on one thread: a block of rows of up to 16 nonzeros fits a <see cref="SparseBlock"/>'s
    /// first arrays.</summary>
    private const int SmallBlockRows = 1000;

    public static Command Create()
    {
        Option<string> model = CliOptions.Model();
        Option<string?> modelFormat = CliOptions.ModelFormat();
        Option<string> input = new("--input", "-i") { Description = "The data to score (libFM/libSVM or libffm text; .gz read transparently).", Required = true, HelpName = "FILE" };
        Option<string> inputFormat = CliOptions.InputFormat();
        Option<string> output = CliOptions.Output("Where to write the predictions, one per line ('-': stdout).");
        Option<bool> probability = new("--probability", "-p") { Description = "Write the logistic 1/(1+e^-y) of the score, the probability of the positive class (the default for a classification model; needed for libFM and xLearn files, which do not record the task)." };
        Option<bool> raw = new("--raw") { Description = "Write the raw score y, even for a classification model." };
        Option<string?> clip = new("--clip") { Description = "Clamp every prediction to [MIN, MAX], as libFM does for regression (e.g. --clip 1,5); overrides the range a native regression model records.", HelpName = "MIN,MAX" };
        Option<bool> noClip = new("--no-clip") { Description = "Do not clamp a regression model's predictions to the training targets' range its native file records (the default clamps them, as libFM does)." };
        Option<bool> xlearnNorm = new("--xlearn-norm") { Description = "Score with xLearn's instance normalisation (xLearn's default; its model file does not record it)." };
        Option<int> threads = CliOptions.Threads();
        Option<bool> timings = new("--timings") { Description = "Also report on stderr where the time went (model load, parse, score, format and write)." };

        var command = new Command("predict", "Score a data file with a model: one prediction per line.")
        {
            model, modelFormat, input, inputFormat, output, probability, raw, clip, noClip, xlearnNorm, threads, timings,
        };

        CliRunner.SetAction(command, (parse, context) =>
        {
            FfmModelFormat? fieldAware = FfmCli.Route(parse.GetRequiredValue(model), parse.GetValue(modelFormat));
            var options = new PredictOptions(
                parse.GetRequiredValue(model),
                fieldAware is null ? CliOptions.ParseModelFormat(parse.GetValue(modelFormat)) : null,
                parse.GetRequiredValue(input),
                CliOptions.ParseDataFormat(parse.GetValue(inputFormat)),
                parse.GetRequiredValue(output),
                parse.GetValue(probability),
                parse.GetValue(clip) is { } range ? CliOptions.ParseRange(range, "--clip") : null,
                parse.GetValue(xlearnNorm),
                parse.GetValue(threads),
                parse.GetValue(timings),
                parse.GetValue(raw),
                parse.GetValue(noClip));
            return fieldAware is { } ffm ? FfmCli.Predict(options, ffm, context) : Run(options, context);
        });
        return command;
    }

    /// <summary>The options of one run.</summary>
    /// <param name="Probability">Write probabilities (--probability).</param>
    /// <param name="Raw">Write raw scores (--raw). With neither, a classification model writes probabilities and
    /// any other model raw scores, as libFM does for -task c.</param>
    /// <param name="Clip">Clamp every prediction to this range (--clip); null: a regression model's recorded training
    /// targets' range (<see cref="ModelFile.TargetRange"/>) when its file has one, else no clamping.</param>
    /// <param name="NoClip">Do not clamp to the recorded range (--no-clip).</param>
    public sealed record PredictOptions(string Model, ModelFormat? ModelFormat, string Input, SparseFormat InputFormat, string Output,
        bool Probability, (float Min, float Max)? Clip, bool XLearnNorm, int Threads, bool Timings = false, bool Raw = false, bool NoClip = false);

    public static int Run(PredictOptions options, CliContext context)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(context);
        if (options.Threads < 0)
        {
            throw new CliUserException($"--threads must be 0 (all cores) or more; got {options.Threads}.");
        }

        if (options.Probability && options.Raw)
        {
            throw new CliUserException("--probability and --raw contradict each other; give one (a classification model writes probabilities by default).");
        }

        if (options.Clip.HasValue && options.NoClip)
        {
            throw new CliUserException("--clip and --no-clip contradict each other; give one (a regression model's recorded training range is the default).");
        }

        var clock = Stopwatch.StartNew();
        CliOptions.RequireFile(options.Input, "The input file");
        CliOptions.CheckOutputs([("--output", options.Output)], [("--model", options.Model), ("--input", options.Input)]);
        ModelFile file = CliOptions.LoadModel(options.Model, options.ModelFormat, options.XLearnNorm);
        FmModel model = file.Model;
        bool probabilities = options.Probability || (!options.Raw && file.Task == FmTask.BinaryClassification);
        string written = probabilities
            ? options.Probability ? "probabilities" : "probabilities (a classification model; --raw for raw scores)"
            : options.Raw || file.Task == FmTask.Regression ? "raw scores"
            : $"raw scores (the {ModelFiles.Name(file.Format)} file does not record the task; --probability for probabilities)";
        // a regression model's recorded training range clamps its predictions unless --clip or --no-clip says otherwise
        (float Min, float Max)? clipRange = options.Clip;
        if (clipRange is null && !options.NoClip && !probabilities && file.Samples is null && file.TargetRange is { } range)
        {
            clipRange = range;
            written += string.Create(CultureInfo.InvariantCulture, $", clamped to the training targets' range [{range.Min:G9}, {range.Max:G9}] the model records (--no-clip: unclamped)");
        }

        TimeSpan loadTime = clock.Elapsed;
        var scorer = new SparseScorer(model, options.Threads);
        FmSampleSet? samples = file.Samples;
        SparseScorer[]? members = samples?.Samples.Select(m => new SparseScorer(m, options.Threads)).ToArray();
        if (members is not null)
        {
            scorer = members[0];
        }

        using SparseTextReader reader = SparseTextReader.Open(options.Input, options.InputFormat);
        bool toStdout = options.Output == "-";
        using AtomicFileStream? target = toStdout ? null : AtomicFile.Create(options.Output, durable: false);
        var stages = new StageTimes();
        DataHints.Read(options.InputFormat, () => Stream(reader, scorer, samples, members, options with { Probability = probabilities, Clip = clipRange }, target?.Stream, context.Output, stages));
        long commitStart = Stopwatch.GetTimestamp();
        target?.Commit();
        TimeSpan commitTime = Stopwatch.GetElapsedTime(commitStart);
        clock.Stop();

        string unknown = scorer.UnknownNonZeros == 0
            ? "every feature is known to the model"
            : string.Create(CultureInfo.InvariantCulture,
                $"{scorer.UnknownNonZeros:N0} nonzeros in {scorer.RowsWithUnknown:N0} rows have features the model does not know (indices {model.NumFeatures:N0} .. {scorer.MaxUnknownIndex:N0}; they contribute nothing)");
        context.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"fm predict: {scorer.Rows:N0} rows scored in {clock.Elapsed.TotalSeconds:F3} s ({ModelFiles.Name(file.Format)} model{Describe(samples)}, k = {model.EmbeddingSize}, {model.NumFeatures:N0} features{(file.InstanceNormalization ? ", xLearn instance normalisation" : "")}); wrote {written}; {unknown}."));
        if (options.Timings)
        {
            context.Error.WriteLine(stages.Report(loadTime, commitTime));
        }

        return 0;
    }

    private static string Describe(FmSampleSet? samples) => samples is null ? ""
        : $" of {samples.Samples.Count} posterior samples, predictions averaged{(samples.Link == FmSampleLink.Probit ? " as probabilities Phi(score)" : "")}";

    /// <summary>Stopwatch ticks spent in each stage of a prediction run (FM and field-aware models alike), and the
    /// line <c>--timings</c> prints.</summary>
    internal sealed class StageTimes
    {
        public long Parse;
        public long Score;
        public long Write;

        /// <summary>The <c>--timings</c> line: model load, the three stages, the commit of the output, and the time
        /// since the process started (milliseconds).</summary>
        public string Report(TimeSpan load, TimeSpan commit)
        {
            static string Ms(double seconds) => (seconds * 1000).ToString("F1", CultureInfo.InvariantCulture);
            double f = Stopwatch.Frequency;
            return $"fm predict: timings (ms): model load {Ms(load.TotalSeconds)}, parse {Ms(Parse / f)}, score {Ms(Score / f)}, format+write {Ms(Write / f)}, commit {Ms(commit.TotalSeconds)}, since process start {Ms((DateTime.Now - Process.GetCurrentProcess().StartTime).TotalSeconds)}";
        }
    }

    /// <summary>The loop: parse a block, score it, format and write it.</summary>
    /// <remarks>As the field-aware loop (<c>FfmCli</c>): on one thread blocks of <see cref="SmallBlockRows"/> rows,
    /// which fit a <see cref="SparseBlock"/>'s first arrays (little fresh memory, few page faults), and the text of
    /// several blocks written to the output file at once; several threads keep <see cref="RowsPerBlock"/> rows.</remarks>
    private static void Stream(SparseTextReader reader, SparseScorer scorer, FmSampleSet? samples, SparseScorer[]? members,
        PredictOptions options, Stream? target, TextWriter stdout, StageTimes stages)
    {
        var block = new SparseBlock();
        int rowsPerBlock = options.Threads == 1 ? SmallBlockRows : RowsPerBlock;
        float[] scores = new float[rowsPerBlock];
        float[] memberScores = samples is null ? [] : new float[rowsPerBlock];
        double[] sums = samples is null ? [] : new double[rowsPerBlock];
        var sink = new PredictionText(rowsPerBlock, target, stdout);

        // a probit sample set already predicts probabilities
        bool probability = options.Probability && samples?.Link != FmSampleLink.Probit;
        long t0 = Stopwatch.GetTimestamp();
        while (reader.ReadBlock(block, rowsPerBlock))
        {
            long t1 = Stopwatch.GetTimestamp();
            if (samples is null)
            {
                scorer.Score(block, scores);
            }
            else
            {
                Span<double> blockSums = sums.AsSpan(0, block.Count);
                blockSums.Clear();
                foreach (SparseScorer member in members!)
                {
                    member.Score(block, memberScores);
                    samples.Accumulate(memberScores.AsSpan(0, block.Count), blockSums);
                }

                samples.Finish(blockSums, scores.AsSpan(0, block.Count));
            }

            long t2 = Stopwatch.GetTimestamp();
            sink.Add(scores.AsSpan(0, block.Count), probability, options.Clip);
            long t3 = Stopwatch.GetTimestamp();
            stages.Parse += t1 - t0;
            stages.Score += t2 - t1;
            stages.Write += t3 - t2;
            t0 = t3;
        }

        sink.Flush();
        stages.Parse += Stopwatch.GetTimestamp() - t0;
    }
}

/// <summary>
/// The prediction lines of <c>fm predict</c>'s loops (FM and field-aware): each block's scores formatted by
/// <see cref="NumberText.FormatPredictions(ReadOnlySpan{float}, bool, ValueTuple{float, float}?, byte[], int)"/>,
/// the text of several blocks written to the output file at once (one write per <see cref="TextBytes"/> or more), or
/// to stdout block by block.
/// </summary>
internal sealed class PredictionText
{
    /// <summary>The text gathered before one write to the output file.</summary>
    public const int TextBytes = 1 << 16;

    private readonly byte[] _text;
    private readonly Stream? _target;
    private readonly TextWriter _stdout;
    private int _pending;

    /// <summary>Room for <paramref name="rowsPerBlock"/> lines past <see cref="TextBytes"/>; <paramref name="target"/>
    /// null writes to <paramref name="stdout"/>.</summary>
    public PredictionText(int rowsPerBlock, Stream? target, TextWriter stdout)
    {
        _text = new byte[TextBytes + (rowsPerBlock * (NumberText.MaxFloatBytes + 1))];
        _target = target;
        _stdout = stdout;
    }

    /// <summary>Formats one block's scores (at most the rows per block given) and writes what is due.</summary>
    public void Add(ReadOnlySpan<float> scores, bool probability, (float Min, float Max)? clip)
    {
        _pending += NumberText.FormatPredictions(scores, probability, clip, _text, _pending);
        if (_target is null)
        {
            _stdout.Write(Encoding.UTF8.GetString(_text, 0, _pending));
            _pending = 0;
        }
        else if (_pending >= TextBytes)
        {
            _target.Write(_text, 0, _pending);
            _pending = 0;
        }
    }

    /// <summary>Writes the text still held to the output file.</summary>
    public void Flush()
    {
        if (_pending > 0)
        {
            _target!.Write(_text, 0, _pending);
            _pending = 0;
        }
    }
}
