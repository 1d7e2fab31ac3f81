using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using FmCodegen.Data;
using FmCodegen.IO;
using FmCodegen.Kernels;

namespace FmCodegen.Cli.Commands;

/// <summary>The field-aware side of <c>fm predict</c>, <c>fm convert</c> and <c>fm info</c>: which models go there,
/// and what those verbs do with them.</summary>
public static class FfmCli
{
    /// <summary>Rows parsed, scored and formatted at a time by <c>fm predict</c> on one thread: a block of rows of up
    /// to 16 nonzeros fits the first arrays of a <see cref="SparseBlock"/> (frappe's rows have ten).</summary>
    private const int RowsPerBlock = 1000;

    /// <summary>Rows at a time when the scoring is spread over several threads (each block in chunks of rows).</summary>
    private const int ParallelRowsPerBlock = 8192;

    /// <summary>
    /// The field-aware format of a model, or null when it is an FM model: <c>--model-format libffm|mlnet</c> always
    /// name FFM formats; native and xlearn files, and files without a format, are told by their content.
    /// </summary>
    public static FfmModelFormat? Route(string modelPath, string? formatText)
    {
        string format = formatText?.Trim().ToLowerInvariant() ?? "";
        switch (format)
        {
            case "libffm":
                return FfmModelFormat.LibFfm;
            case "mlnet" or "ml.net":
                return FfmModelFormat.MlNet;
            case "libfm":
                return null;
        }

        if (!File.Exists(modelPath))
        {
            return null; // the FM path names the missing file
        }

        FfmModelFormat? detected = FfmModelFiles.TryDetect(modelPath);
        return format switch
        {
            "" or "auto" => detected,
            "native" or "fm" or "bin" => detected == FfmModelFormat.Native ? detected : null,
            "xlearn" => detected == FfmModelFormat.XLearn ? detected : null,
            _ => null,
        };
    }

    /// <summary>Loads a field-aware model for a verb.</summary>
    public static FfmModelFile Load(string path, FfmModelFormat format, bool xlearnNormalization)
    {
        CliOptions.RequireFile(path, "The model file");
        return FfmModelFiles.Load(path, format, xlearnNormalization);
    }

    /// <summary><c>fm predict</c> with a field-aware model: libffm data streamed block by block.</summary>
    public static int Predict(PredictCommand.PredictOptions options, FfmModelFormat format, CliContext context)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(context);
        if (options.Threads < 0)
        {
            throw new CliUserException($"--threads must be 0 (all cores) or more; got {options.Threads}.");
        }

        if (options.InputFormat != SparseFormat.LibFfm)
        {
            throw new CliUserException($"'{options.Model}' is a field-aware ({FfmModelFiles.Name(format)}) model: it scores libffm data (field:index:value); add --input-format libffm.");
        }

        var clock = Stopwatch.StartNew();
        CliOptions.RequireFile(options.Input, "The input file");
        FfmKernelWarmUp.Start(options.Model, format);
        FfmModelFile file = Load(options.Model, format, options.XLearnNorm);
        if (options.Probability && options.Raw)
        {
            throw new CliUserException("--probability and --raw contradict each other; give one (a classification model writes probabilities by default).");
        }

        // as for FM models: probabilities for a classification model unless --raw
        options = options with { Probability = options.Probability || (!options.Raw && file.Task == FmTask.BinaryClassification) };
        TimeSpan loadTime = clock.Elapsed;
        using SparseTextReader reader = SparseTextReader.Open(options.Input, options.InputFormat);
        bool toStdout = options.Output == "-";
        using AtomicFileStream? target = toStdout ? null : AtomicFile.Create(options.Output, durable: false);
        var stages = new PredictCommand.StageTimes();
        long rows = Stream(reader, file, options, target?.Stream, context.Output, stages);
        long commitStart = Stopwatch.GetTimestamp();
        target?.Commit();
        TimeSpan commitTime = Stopwatch.GetElapsedTime(commitStart);
        clock.Stop();
        FfmModel model = file.Model;
        context.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"fm predict: {rows:N0} rows scored in {clock.Elapsed.TotalSeconds:F3} s ({FfmModelFiles.Name(file.Format)} field-aware model, k = {model.EmbeddingSize}, {model.NumFeatures:N0} features x {model.NumFields} fields, normalisation {Describe(model.Normalization)}, kernel {FfmKernels.For(model.EmbeddingSize)})."));
        if (options.Timings)
        {
            context.Error.WriteLine(stages.Report(loadTime, commitTime));
        }

        return 0;
    }

    /// <summary>Parses, scores, formats and writes block after block; <paramref name="stages"/> gets the stopwatch
    /// ticks of each.</summary>
    /// <remarks>Blocks of <see cref="RowsPerBlock"/> rows on one thread: the arrays a block of short rows needs (a
    /// SparseBlock's first ones, the scores, the text) are some hundred kilobytes, allocated once, so a run touches
    /// little fresh memory (a page fault costs microseconds, tens of them in some virtual machines: 8,192-row blocks
    /// grew the block's arrays to over a megabyte, about 800 faults at every run); several threads keep 8,192-row
    /// blocks, which they split into chunks. The text of several blocks is written at once to a file (one write per
    /// <see cref="PredictionText.TextBytes"/>); to stdout block by block, as before.</remarks>
    private static long Stream(SparseTextReader reader, FfmModelFile file, PredictCommand.PredictOptions options, Stream? target, TextWriter stdout, PredictCommand.StageTimes stages)
    {
        var block = new SparseBlock();
        int rowsPerBlock = options.Threads == 1 ? RowsPerBlock : ParallelRowsPerBlock;
        float[] scores = new float[rowsPerBlock];
        var sink = new PredictionText(rowsPerBlock, target, stdout);
        int[] mapped = [];
        FfmKernelEntry kernel = FfmKernels.For(file.Model.EmbeddingSize);
        long rows = 0;
        long t0 = Stopwatch.GetTimestamp();
        while (reader.ReadBlock(block, rowsPerBlock))
        {
            long t1 = Stopwatch.GetTimestamp();
            stages.Parse += t1 - t0;
            ReadOnlySpan<int> indices = block.Indices;
            if (file.Columns is not null)
            {
                if (mapped.Length < indices.Length)
                {
                    mapped = new int[indices.Length];
                }

                indices.CopyTo(mapped);
                file.MapFeatures(block.Fields, mapped.AsSpan(0, indices.Length));
                indices = mapped.AsSpan(0, indices.Length);
            }

            Span<float> output = scores.AsSpan(0, block.Count);
            FfmBatch.Score(kernel, file.Model, block.Offsets, block.Fields, indices, block.Values, output, options.Threads == 0 ? 0 : options.Threads);
            long t2 = Stopwatch.GetTimestamp();
            stages.Score += t2 - t1;
            sink.Add(output, options.Probability, options.Clip);

            rows += block.Count;
            t0 = Stopwatch.GetTimestamp();
            stages.Write += t0 - t2;
        }

        sink.Flush();
        stages.Parse += Stopwatch.GetTimestamp() - t0;
        return rows;
    }

    /// <summary><c>fm convert</c> of a field-aware model: to native or xlearn.</summary>
    public static int Convert(string modelPath, FfmModelFormat format, string to, string outputPath, FmTask? task, bool xlearnNorm, CliContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        FfmModelFormat target = to.Trim().ToLowerInvariant() switch
        {
            "native" or "fm" or "bin" => FfmModelFormat.Native,
            "xlearn" => FfmModelFormat.XLearn,
            "libffm" or "mlnet" => throw new CliUserException($"--to {to}: FmCodegen reads {to} field-aware models but does not write them; use --to native or --to xlearn."),
            _ => throw new CliUserException($"--to must be native or xlearn for a field-aware model; got '{to}'."),
        };
        FfmModelFile file = Load(modelPath, format, xlearnNorm);
        if (task is { } t)
        {
            file = file with { Task = t };
        }

        if (Path.GetFullPath(outputPath) == Path.GetFullPath(modelPath))
        {
            throw new CliUserException("--output is the input model; write to another file.");
        }

        if (file.Columns is not null)
        {
            context.Error.WriteLine("fm convert: note: the ML.NET model's feature ids are column offset + index; the converted model keeps them, so score it with data already in that numbering.");
        }

        FfmModelFiles.Save(file, outputPath, target);
        context.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"fm convert: {FfmModelFiles.Name(file.Format)} -> {FfmModelFiles.Name(target)}: field-aware, {file.Model.NumFeatures:N0} features x {file.Model.NumFields} fields, k = {file.Model.EmbeddingSize}, written to {outputPath}."));
        if (target == FfmModelFormat.XLearn && file.Model.Normalization != FfmNormalization.None)
        {
            context.Error.WriteLine($"fm convert: note: xLearn's text does not record normalisation; this model scores with {Describe(file.Model.Normalization)} normalisation.");
        }

        return 0;
    }

    /// <summary>The report <c>fm info</c> prints for a field-aware model.</summary>
    public static string Describe(FfmModelFile file, string path, long bytes)
    {
        ArgumentNullException.ThrowIfNull(file);
        FfmModel model = file.Model;
        var text = new StringBuilder();
        void Line(string name, string value) => text.Append(CultureInfo.InvariantCulture, $"{name,-13} {value}\n");
        string format = FfmModelFiles.Name(file.Format);
        Line("file", string.Create(CultureInfo.InvariantCulture, $"{path} ({bytes:N0} bytes)"));
        Line("format", $"{format} (field-aware FM)");
        Line("task", file.Task switch
        {
            FmTask.Regression => "regression",
            FmTask.BinaryClassification => "classification",
            _ => $"unknown ({format} files do not record it)",
        });
        Line("k", model.EmbeddingSize.ToString(CultureInfo.InvariantCulture));
        Line("features", model.NumFeatures.ToString("N0", CultureInfo.InvariantCulture));
        Line("fields", model.NumFields.ToString("N0", CultureInfo.InvariantCulture));
        Line("parameters", string.Create(CultureInfo.InvariantCulture,
            $"{(long)model.NumFeatures * model.NumFields * model.EmbeddingSize:N0} factors (features x fields x k) = {(long)model.NumFeatures * model.NumFields * model.EmbeddingSize * 4 / 1048576.0:F1} MB as float32"));
        Line("sections", $"bias {(file.HasBias ? "yes" : "no")}, linear {(file.HasLinear ? "yes" : "no")}, pairwise yes");
        Line("normalisation", Describe(model.Normalization));
        Line("checksum", file.ChecksumVerified ? "verified (CRC-32 of header and data match)" : $"none (the {format} format has no checksum)");
        if (file.Columns is not null)
        {
            Line("columns", string.Join(", ", file.Columns.Select(c => string.Create(CultureInfo.InvariantCulture, $"{c.Name} ({c.Width:N0})"))));
        }

        Line("kernel", FfmKernels.For(model.EmbeddingSize).ToString());
        Line("bias", model.Bias.ToString(CultureInfo.InvariantCulture));
        return text.ToString();
    }

    private static string Describe(FfmNormalization normalization) => normalization switch
    {
        FfmNormalization.None => "none",
        FfmNormalization.LibFfm => "libffm (pair term x 1/sum x^2)",
        FfmNormalization.XLearn => "xLearn (linear x 1/||x||, pairs x 1/sum x^2)",
        FfmNormalization.MlNet => "ML.NET (x / ||x||)",
        _ => normalization.ToString(),
    };
}

/// <summary>
/// Compiles the scoring kernel of a model's k on a background thread while the model loads and the first block is
/// parsed. The kernel's 512-bit paths are not in the ReadyToRun image (it targets x86-64-v3), so the JIT compiles them
/// at their first call; without this, the first row of <c>fm predict</c> waits some milliseconds for that. The thread
/// scores one made-up example (a small model of zeros, one feature per field in field order, every value 1: libffm's
/// one-hot data) through the kernel <see cref="FfmKernels.For"/> gives, which compiles the methods that shape of data
/// runs; the prediction's own first call then finds them compiled (or waits for the compilation under way). Nothing
/// it computes is used, so the output does not depend on whether or when it runs; any failure (the file unreadable,
/// not that format) leaves the compilation to the first row, as before, and the model's loading reports the error.
/// </summary>
internal static class FfmKernelWarmUp
{
    /// <summary>Fields (and features) of the made-up example.</summary>
    private const int Fields = 8;

    public static void Start(string modelPath, FfmModelFormat format)
    {
        var thread = new Thread(() => Run(modelPath, format)) { IsBackground = true, Name = "fm kernel warm-up" };
        thread.Start();
    }

    private static void Run(string modelPath, FfmModelFormat format)
    {
        try
        {
            if (FfmModelFiles.PeekEmbeddingSize(modelPath, format) is not int k)
            {
                return;
            }

            FfmKernelEntry kernel = FfmKernels.For(k);

            var model = FfmModel.Create(0f, new float[Fields], new float[Fields * Fields * k], Fields, k);
            int[] ids = new int[Fields];
            float[] ones = new float[Fields];
            for (int i = 0; i < Fields; i++)
            {
                ids[i] = i;
                ones[i] = 1f;
            }

            kernel.Score(model, ids, ids, ones);
        }
        catch (Exception)
        {
            // nothing it computes is used: any failure here (the file gone or changed since it was detected, a header
            // the loader will reject) is the model loading's to report on the main thread, with the usual message; an
            // exception left to escape this thread would end the process with a stack trace instead
        }
    }
}

/// <summary>
/// Compiles field-aware training's methods (<see cref="Training.FfmTrainer.WarmUp"/>: a made-up model of its own
/// trained for one epoch on four one-hot rows) on a background thread while <c>fm train</c> parses its data; the
/// training methods are AggressiveOptimization and the kernels' 512-bit paths are not in the ReadyToRun image, so
/// without it the first epoch waits for their compilation. Nothing it computes is used, so the model does not depend
/// on whether or when it runs; a failure (options the trainer refuses) is left to the real run to report.
/// </summary>
internal static class FfmTrainingWarmUp
{
    public static void Start(Training.FfmTrainingOptions options)
    {
        var thread = new Thread(() =>
        {
            try
            {
                Training.FfmTrainer.WarmUp(options);
            }
            catch (Exception)
            {
                // the real run checks the same options on the main thread and reports them with the usual message;
                // an exception left to escape this thread would end the process with a stack trace instead
            }
        })
        { IsBackground = true, Name = "fm training warm-up" };
        thread.Start();
    }
}

/// <summary><c>fm train --model-type ffm</c>: trains a field-aware FM on libffm data.</summary>
public static class FfmTrain
{
    /// <summary>The options of one field-aware training run, as the command line gives them.</summary>
    public sealed record Request(string Train, string? Validation, string? Test, SparseFormat InputFormat, Training.FfmTrainingOptions Options,
        string? Model, string? ModelFormat);

    public static int Run(Request request, CliContext context)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(context);
        if (request.InputFormat != SparseFormat.LibFfm)
        {
            throw new CliUserException("--model-type ffm trains on libffm data (field:index:value); add --input-format libffm.");
        }

        FfmModelFormat saveAs = request.ModelFormat?.Trim().ToLowerInvariant() switch
        {
            null or "" or "native" => FfmModelFormat.Native,
            "xlearn" => FfmModelFormat.XLearn,
            string other => throw new CliUserException($"--model-format for a field-aware model must be native or xlearn; got '{other}'."),
        };
        var clock = Stopwatch.StartNew();
        CliOptions.RequireFile(request.Train, "The training file");
        FfmTrainingWarmUp.Start(request.Options);
        SparseDataset train = SparseDataset.Load(request.Train, SparseFormat.LibFfm);
        Training.FfmTrainingOptions options = request.Options;
        if (request.Validation is { } validationPath)
        {
            CliOptions.RequireFile(validationPath, "The validation file");
            options = options with { Validation = SparseDataset.Load(validationPath, SparseFormat.LibFfm) };
        }

        SparseDataset? test = null;
        if (request.Test is { } testPath)
        {
            CliOptions.RequireFile(testPath, "The test file");
            test = SparseDataset.Load(testPath, SparseFormat.LibFfm);
        }

        double loadSeconds = clock.Elapsed.TotalSeconds;
        Training.FfmTrainingResult result;
        try
        {
            result = Training.FfmTrainer.Train(train, options, epoch => context.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"fm train: {(epoch.Refit ? "refit " : "")}epoch {epoch.Epoch,3}  train loss {epoch.TrainLoss:F5}{(epoch.ValidationLoss is double v ? $"  validation loss {v:F5}" : "")}  {epoch.Seconds:F2} s  {epoch.ExamplesPerSecond / 1e6:F2} M rows/s")));
        }
        catch (ArgumentException e)
        {
            throw new CliUserException(e.Message);
        }

        FfmModel model = result.Model;
        context.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"fm train: field-aware model, k = {model.EmbeddingSize}, {model.NumFeatures:N0} features x {model.NumFields} fields, best epoch {result.BestEpoch}, kernel {FfmKernels.For(model.EmbeddingSize)}; load {loadSeconds:F2} s, training {result.TrainingSeconds:F2} s."));
        if (test is not null)
        {
            var scores = new float[test.Count];
            Ffm.ScoreBatch(model, test.Offsets, test.Fields, test.Indices, test.Values, scores);
            Metrics.FmEvaluation evaluation = Metrics.FmMetrics.Evaluate(options.Task, scores, test.Labels);
            context.Output.WriteLine(options.Task == FmTask.BinaryClassification
                ? string.Create(CultureInfo.InvariantCulture, $"test: {test.Count:N0} rows, logloss {evaluation.LogLoss:F4}, AUC {evaluation.Auc:F4}, accuracy {evaluation.Accuracy:F4}")
                : string.Create(CultureInfo.InvariantCulture, $"test: {test.Count:N0} rows, RMSE {evaluation.Rmse:F4}, MAE {evaluation.Mae:F4}"));
        }

        if (request.Model is { } path)
        {
            FfmModelFiles.Save(new FfmModelFile(model, saveAs, options.Task, HasBias: options.UseLinear, HasLinear: options.UseLinear), path, saveAs);
            context.Error.WriteLine($"fm train: model written to {path} ({FfmModelFiles.Name(saveAs)}).");
        }

        return 0;
    }
}
