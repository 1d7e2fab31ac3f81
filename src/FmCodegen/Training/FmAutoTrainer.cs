using System.Diagnostics;
using System.Globalization;
using FmCodegen.Data;
using FmCodegen.IO;
using FmCodegen.Metrics;
using FmCodegen.Training.Bayesian;

namespace FmCodegen.Training;

/// <summary>What <see cref="FmAutoTrainer.Train"/> may choose from. Only <see cref="Task"/> is required.</summary>
public sealed record FmAutoOptions
{
    /// <summary>Regression or binary classification.</summary>
    public required FmTask Task { get; init; }

    /// <summary>The number of factors k (0: a linear or logistic regression).</summary>
    public int EmbeddingSize { get; init; } = 8;

    /// <summary>The seed of every random choice (the validation split, each trial, the final run).</summary>
    public int Seed { get; init; } = 1;

    /// <summary>Threads for the SGD-family trials and the final SGD-family run (MCMC runs on one).</summary>
    public int Threads { get; init; } = 1;

    /// <summary>The SGD-family solver to tune. Null: AdaGrad, and MCMC is a candidate too (when it fits
    /// <see cref="McmcSeconds"/>); set: that solver only.</summary>
    public FmSolver? Solver { get; init; }

    /// <summary>Instance normalisation (<see cref="FmTrainingOptions.InstanceNormalization"/>). Null: searched.</summary>
    public bool? InstanceNormalization { get; init; }

    /// <summary>Use the global bias (libFM's k0).</summary>
    public bool UseBias { get; init; } = true;

    /// <summary>Use the linear weights (libFM's k1).</summary>
    public bool UseLinear { get; init; } = true;

    /// <summary>The fraction of the training rows held out to compare the candidates (seeded).</summary>
    public double ValidationFraction { get; init; } = 0.1;

    /// <summary>MCMC is a candidate only when its two runs (100 sweeps on the search split, 100 on all rows) are
    /// estimated to take at most this many seconds, at <see cref="FmAutoTrainer.McmcUpdatesPerSecond"/>.</summary>
    public double McmcSeconds { get; init; } = 60;
}

/// <summary>One candidate tried on the validation split.</summary>
/// <param name="Name">What it was, e.g. "AdaGrad lr 0.15 L2 0,1e-4,0.025 normalised".</param>
/// <param name="ValidationLoss">Logloss (classification) or RMSE (regression, in the target's own units) on the
/// held-out rows; infinity when it diverged.</param>
/// <param name="Epochs">The best epoch (SGD family) or the sweeps (MCMC).</param>
/// <param name="Seconds">Wall time of the trial.</param>
public sealed record FmAutoTrial(string Name, double ValidationLoss, int Epochs, double Seconds);

/// <summary>The outcome of <see cref="FmAutoTrainer.Train"/>: the model trained on all rows with the chosen settings.</summary>
/// <param name="File">The model as it is saved: one <see cref="FmModel"/>, or MCMC's posterior samples.</param>
/// <param name="Choice">One line: what was chosen and why.</param>
/// <param name="Trials">Every candidate, in the order tried.</param>
/// <param name="TargetMin">The smallest training target (regression predictions are clipped to it).</param>
/// <param name="TargetMax">The largest training target.</param>
/// <param name="Options">For an SGD-family choice, the options of the final run on all rows (on the data as the
/// search transformed it; see <see cref="FmAutoTrainer"/>); null for MCMC.</param>
public sealed record FmAutoResult(ModelFile File, string Choice, IReadOnlyList<FmAutoTrial> Trials, float TargetMin, float TargetMax, FmTrainingOptions? Options)
{
    /// <summary>The task.</summary>
    public FmTask Task => File.Task!.Value;

    /// <summary>Saves the model (sample sets: native format only), atomically.</summary>
    public void Save(string path, ModelFormat? format = null) => ModelFiles.Save(File, path, format);

    /// <summary>Predictions for a CSR batch: probabilities for classification, values clipped to the training
    /// targets' range for regression.</summary>
    public void Predict(SparseDataset data, Span<float> output)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (File.Samples is { } samples)
        {
            samples.PredictBatch(data.Offsets, data.Indices, data.Values, output);
            return;
        }

        Fm.ScoreBatch(File.Model, data.Offsets, data.Indices, data.Values, output);
        for (int i = 0; i < output.Length; i++)
        {
            output[i] = Task == FmTask.BinaryClassification ? Fm.Sigmoid(output[i]) : Math.Clamp(output[i], TargetMin, TargetMax);
        }
    }
}

/// <summary>
/// Chooses the solver and its settings on the training data alone, then trains on all of it: "only the task, k and a
/// seed" for data nobody tuned on.
/// </summary>
/// <remarks>
/// <para>A seeded fraction of the training rows (10%) is held out. Every candidate trains on the rest (SGD family:
/// up to 100 epochs, early stopping with patience 10, the best epoch kept) and is scored row by row on the held-out
/// rows (logloss, or squared error). The lowest mean is the reference; every candidate above it by at most one
/// standard error of the paired per-row differences is as good as those rows can tell, and among them MCMC is
/// preferred, then the SGD-family candidate tried first (closest to the tuned defaults). An SGD-family choice is
/// trained again on all rows for its best number of epochs; when that run does worse on the held-out rows (which it
/// has now seen) than the validated model did, the refit undid the choice, and the validated model is kept instead.
/// The search is deterministic for a seed and a thread count.</para>
/// <para>Candidates, in order (a coordinate search, at most 9 SGD-family trainings plus one MCMC run):
/// (1) the representation: today's tuned defaults on the raw values; xLearn's instance normalisation with its
/// settings (lr 0.2, L2 2e-5); and each feature divided by its largest absolute value on the training rows
/// (skipped when that changes nothing, e.g. one-hot data), folded back into the saved model so it scores raw values;
/// (2) the learning rate of the best one times 1/4 and 4 (and one more step while the end of the range wins);
/// (3) its L2 (linear and factors) times 1/10 and 10 (likewise); and Bayesian FM by MCMC (100 sweeps, libFM's
/// defaults: nothing to tune) on the column-scaled values when both its runs fit the time budget.</para>
/// <para>Regression targets whose standard deviation is outside [0.5, 2] are divided by it for training (the
/// learning rates assume unit-scale targets), and the saved model is scaled back: w0, w by s, the factors by
/// sqrt(s).</para>
/// </remarks>
public static class FmAutoTrainer
{
    /// <summary>The rate (nonzeros x (k + 1) per sweep, per second) used to estimate MCMC's time: measured 65-73 M on
    /// w8a and a9a (one thread, this project's 2 shared cores), taken lower to leave room for slower machines.</summary>
    public const double McmcUpdatesPerSecond = 50e6;

    /// <summary>Below this many training rows MCMC is chosen without a search (when it may be chosen): a held-out
    /// tenth of them is too small to compare settings on (criteo_small: 200 rows, 20 held out).</summary>
    public const int SmallData = 1000;

    private const int SearchEpochs = 100;
    private const int SearchPatience = 10;

    private enum Representation
    {
        Raw,
        Normalized,
        ColumnScaled,
    }

    private sealed record Candidate(Representation Representation, float LearningRate, FmRegularization L2, bool FrequencyScaled, float InitStdev);

    /// <summary>Searches, chooses, trains on all rows. <paramref name="log"/> hears a line per trial.</summary>
    /// <exception cref="ArgumentException">The options are out of range or the data has no rows.</exception>
    public static FmAutoResult Train(SparseDataset train, FmAutoOptions options, Action<string>? log = null, CancellationToken cancellationToken = default) =>
        Search(train, options, log, finalRun: null, cancellationToken);

    /// <summary>Below this many rows the whole file is the sample of <see cref="TrainOutOfCore"/>.</summary>
    public const int MaxSampleRows = 1_000_000;

    /// <summary>
    /// The automatic choice for a training file that does not fit in memory: the file is parsed once into the row cache
    /// of out-of-core training (<see cref="FmTrainer.TrainOutOfCore"/>); the settings are chosen as <see cref="Train"/>
    /// chooses them, on a deterministic sample read from the cache into memory: every s-th row, starting with the first,
    /// with s the smallest stride that keeps the sample within <paramref name="sampleBytes"/> in memory (4 bytes per
    /// nonzero, 8 with values, plus 8 per row) and at most <see cref="MaxSampleRows"/> rows; then the chosen solver,
    /// settings and number of epochs train on all rows out of core. On the sample the search keeps to what out-of-core
    /// training can do with the file as it is: raw values or instance normalisation (no column scaling), the targets
    /// unscaled, no MCMC.
    /// </summary>
    /// <param name="trainPath">The libFM/libSVM (or libffm, fields ignored) training file.</param>
    /// <param name="format">Its format.</param>
    /// <param name="options">What may be chosen.</param>
    /// <param name="sampleBytes">The memory the sample may take (e.g. an eighth of what the process may use: the search
    /// holds the sample, a shuffled copy and the tables).</param>
    /// <param name="outOfCore">Where the cache and the temporary files go.</param>
    /// <param name="log">Hears what was sampled and a line per trial.</param>
    /// <param name="onEpoch">Hears the final run's epochs.</param>
    /// <param name="cancellationToken">Stops the search or the training.</param>
    public static FmAutoResult TrainOutOfCore(string trainPath, SparseFormat format, FmAutoOptions options, long sampleBytes, FmOutOfCoreOptions? outOfCore = null,
        Action<string>? log = null, Action<FmEpoch>? onEpoch = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(trainPath);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(sampleBytes);
        outOfCore ??= new FmOutOfCoreOptions();
        string folder = outOfCore.TempDirectory
            ?? (outOfCore.CachePath is { } kept ? Path.GetDirectoryName(Path.GetFullPath(kept)) : null)
            ?? Path.GetTempPath();
        string cachePath = outOfCore.CachePath ?? Path.Combine(folder, $".fm-rows-{Environment.ProcessId}-{Guid.NewGuid():N}.cache");
        try
        {
            SparseDataset sample;
            long rows;
            int stride;
            using (RowCacheReader cache = OutOfCoreTraining.OpenOrBuild(trainPath, format, cachePath, outOfCore.OnPass))
            {
                rows = cache.Rows;
                double bytesPerRow = 8 + ((double)cache.NonZeros / Math.Max(1, cache.Rows) * (cache.UnitValues ? 4 : 8));
                long fits = Math.Max(2, (long)(sampleBytes / bytesPerRow));
                stride = (int)Math.Clamp(Math.Max(DivideUp(rows, fits), DivideUp(rows, MaxSampleRows)), 1, int.MaxValue);
                sample = OutOfCoreTraining.SampleRows(cache, stride);
            }

            log?.Invoke(string.Create(CultureInfo.InvariantCulture,
                $"sample: every {(stride == 1 ? "row" : Ordinal(stride) + " row")} of {rows:N0}, {sample.Count:N0} rows and {sample.NonZeros:N0} nonzeros in memory"));
            FmOutOfCoreOptions final = outOfCore with { CachePath = cachePath, TempDirectory = folder };
            return Search(sample, options, log, (chosen, why, trials) =>
            {
                FmTrainingResult result = FmTrainer.TrainOutOfCore(trainPath, format, chosen, final, onEpoch, cancellationToken);
                var saved = new ModelFile(result.Model, options.Task, options.UseBias, options.UseLinear)
                {
                    TargetRange = options.Task == FmTask.BinaryClassification ? null : (result.TargetMin, result.TargetMax),
                };
                return new FmAutoResult(saved,
                    string.Create(CultureInfo.InvariantCulture, $"{why}, chosen on every {(stride == 1 ? "row" : Ordinal(stride) + " row")} ({sample.Count:N0} of {rows:N0}), then trained on all {result.TrainExamples:N0} rows out of core"),
                    trials, result.TargetMin, result.TargetMax, chosen);
            }, cancellationToken);
        }
        finally
        {
            if (outOfCore.CachePath is null)
            {
                File.Delete(cachePath);
            }
        }

        static long DivideUp(long a, long b) => (a + b - 1) / b;
        static string Ordinal(int n) => n + ((n % 100) is 11 or 12 or 13 ? "th" : (n % 10) switch { 1 => "st", 2 => "nd", 3 => "rd", _ => "th" });
    }

    /// <summary>The search; <paramref name="finalRun"/> (out of core: the search runs on a sample) trains the chosen
    /// SGD-family options on all rows instead of <paramref name="train"/>, given the options, why and the trials.</summary>
    private static FmAutoResult Search(SparseDataset train, FmAutoOptions options, Action<string>? log,
        Func<FmTrainingOptions, string, IReadOnlyList<FmAutoTrial>, FmAutoResult>? finalRun, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(options);
        if (train.Count == 0)
        {
            throw new ArgumentException("The training data has no examples.", nameof(train));
        }

        if (options.ValidationFraction is <= 0 or >= 1)
        {
            throw new ArgumentException($"The validation fraction must be above 0 and below 1; got {options.ValidationFraction}.", nameof(options));
        }

        FmTask task = options.Task;
        bool classification = task == FmTask.BinaryClassification;
        (float targetMin, float targetMax, float targetScale) = Targets(train, task);
        bool sampled = finalRun is not null;
        if (sampled)
        {
            targetScale = 1f; // out of core trains on the file's targets and values as they are
        }

        float[] columnScale = sampled ? [] : ColumnScale(train);
        bool scalingChanges = columnScale.Any(c => c != 1f);

        // the data each representation trains on (targets scaled alike); the SGD-family trials hold out FmTrainer's own
        // seeded fraction, so the trial of the fixed defaults and its refit are exactly FmTrainer.Train's default run,
        // and MCMC is validated on the same rows
        SparseDataset rawAll = Transform(train, null, targetScale);
        SparseDataset scaledAll = scalingChanges ? Transform(train, columnScale, targetScale) : rawAll;
        (int[] searchRows, int[] heldRows) = Split(train, options);

        // MCMC: a candidate when both its runs fit the budget
        long nonZeros = train.NonZeros;
        double mcmcSeconds = 1.9 * 100 * nonZeros * (Math.Max(options.EmbeddingSize, 0) + 1) / McmcUpdatesPerSecond;
        bool mcmcFits = !sampled && options.Solver is null && mcmcSeconds <= options.McmcSeconds;
        double mcmcLoss = double.PositiveInfinity;
        var bayes = new FmBayesOptions
        {
            Task = task,
            EmbeddingSize = options.EmbeddingSize,
            Seed = options.Seed,
            UseBias = options.UseBias,
            UseLinear = options.UseLinear,
            StoreSamples = false,
        };
        var trials = new List<FmAutoTrial>();
        // too few rows to choose on a held-out tenth: MCMC, which has nothing to tune
        if (mcmcFits && train.Count < SmallData)
        {
            return FinalMcmc(string.Create(CultureInfo.InvariantCulture,
                $"chose MCMC without a search: {train.Count:N0} rows are fewer than {SmallData:N0}, too few to compare settings on a held-out {options.ValidationFraction * 100:G3}%, and MCMC has no learning rate or L2 to choose; trained on all rows"));
        }

        FmAutoResult FinalMcmc(string choice)
        {
            cancellationToken.ThrowIfCancellationRequested();
            FmBayesResult final = FmBayesTrainer.Train(scaledAll, bayes with
            {
                StoreSamples = true,
                NumFeatures = scaledAll.NumFeatures,
                KeptSamples = SamplesThatFit(scaledAll.NumFeatures, options.EmbeddingSize),
            });
            FmSampleSet samples = FmSampleSet.Create(final.Samples!.Samples.Select(m => Fold(m, columnScale, targetScale)),
                classification ? FmSampleLink.Probit : FmSampleLink.Identity,
                classification ? float.NegativeInfinity : targetMin, classification ? float.PositiveInfinity : targetMax);
            var file = new ModelFile(samples.MeanModel(), task, options.UseBias, options.UseLinear) { Samples = samples };
            return new FmAutoResult(file, choice, trials, targetMin, targetMax, null);
        }

        if (heldRows.Length == 0)
        {
            throw new ArgumentException($"{train.Count} training rows leave none to hold out ({options.ValidationFraction * 100:G3}%) for choosing the settings; give more data, or fix the solver's settings.", nameof(train));
        }

        FmSolver solver = options.Solver ?? FmSolver.AdaGrad;
        FmTrainingOptions defaults = FmTrainer.Defaults(new FmTrainingOptions { Task = task, Solver = solver });
        var cache = new Dictionary<Candidate, Outcome>();
        var order = new List<Candidate>();
        SparseDataset heldRaw = Subset(rawAll, heldRows);
        SparseDataset heldScaled = scalingChanges ? Subset(scaledAll, heldRows) : heldRaw;
        float lowest = targetMin / targetScale, highest = targetMax / targetScale;

        // the loss of each held-out row (logloss, or the squared error in the targets' own units)
        double[] RowLosses(ReadOnlySpan<float> predictions, ReadOnlySpan<float> labels)
        {
            var losses = new double[predictions.Length];
            for (int i = 0; i < losses.Length; i++)
            {
                losses[i] = classification ? RowLogLoss(predictions[i], labels[i] > 0) : Square((predictions[i] - labels[i]) * (double)targetScale);
            }

            return losses;
        }

        double[] ModelRowLosses(FmModel model, SparseDataset held)
        {
            var p = new float[held.Count];
            Fm.ScoreBatch(model, held.Offsets, held.Indices, held.Values, p);
            for (int i = 0; i < p.Length; i++)
            {
                p[i] = classification ? Fm.Sigmoid(p[i]) : Math.Clamp(p[i], lowest, highest);
            }

            return RowLosses(p, held.Labels);
        }

        // the model a candidate trains on the search rows, stopped at its best epoch on the held-out rows
        FmTrainingResult Validated(Candidate c) =>
            FmTrainer.Train(c.Representation == Representation.ColumnScaled ? scaledAll : rawAll, TrialOptions(c) with
            {
                Epochs = SearchEpochs,
                Patience = SearchPatience,
                ValidationFraction = options.ValidationFraction,
                Refit = false,
                RestoreBest = true,
            }, cancellationToken: cancellationToken);

        Outcome Try(Candidate c)
        {
            if (cache.TryGetValue(c, out Outcome? known))
            {
                return known;
            }

            cancellationToken.ThrowIfCancellationRequested();
            bool scaled = c.Representation == Representation.ColumnScaled;
            var clock = Stopwatch.StartNew();
            double[]? rows = null;
            int epochs = 0;
            try
            {
                FmTrainingResult r = Validated(c);
                epochs = r.BestEpoch;
                rows = ModelRowLosses(r.Model, scaled ? heldScaled : heldRaw);
            }
            catch (InvalidOperationException)
            {
                // diverged: this candidate loses
            }

            var outcome = new Outcome(rows is null ? double.PositiveInfinity : Loss(rows, classification), epochs, rows);
            cache[c] = outcome;
            order.Add(c);
            var trial = new FmAutoTrial(Describe(c, solver), outcome.Loss, epochs, clock.Elapsed.TotalSeconds);
            trials.Add(trial);
            log?.Invoke(Line(trial, classification));
            return outcome;
        }

        FmTrainingOptions TrialOptions(Candidate c) => new()
        {
            Task = task,
            Solver = solver,
            EmbeddingSize = options.EmbeddingSize,
            Seed = options.Seed,
            Threads = options.Threads,
            LearningRate = c.LearningRate,
            Regularization = c.L2,
            FrequencyScaledL2 = c.FrequencyScaled,
            InitStdev = c.InitStdev,
            InstanceNormalization = c.Representation == Representation.Normalized,
            UseBias = options.UseBias,
            UseLinear = options.UseLinear,
        };

        // (1) the representation
        var baseline = new Candidate(Representation.Raw, defaults.LearningRate!.Value, defaults.Regularization!, defaults.FrequencyScaledL2!.Value, defaults.InitStdev!.Value);
        var starts = new List<Candidate>();
        if (options.InstanceNormalization != true)
        {
            starts.Add(baseline);
            if (scalingChanges)
            {
                starts.Add(baseline with { Representation = Representation.ColumnScaled });
            }
        }

        if (options.InstanceNormalization != false)
        {
            // xLearn's defaults: AdaGrad lr 0.2, lambda 2e-5 on every parameter
            starts.Add(new Candidate(Representation.Normalized, solver == FmSolver.Sgd ? defaults.LearningRate.Value : 0.2f,
                new FmRegularization(0f, options.UseLinear ? 2e-5f : 0f, 2e-5f), false, defaults.InitStdev.Value));
        }

        Candidate best = starts[0];
        foreach (Candidate c in starts)
        {
            if (Try(c).Loss < Try(best).Loss)
            {
                best = c;
            }
        }

        // (2) the learning rate, (3) the L2: x1/4, x4 (x1/10, x10), one more step while an end wins
        best = Search(best, 4f, (c, f) => c with { LearningRate = c.LearningRate * f });
        best = Search(best, 10f, (c, f) => c with { L2 = new FmRegularization(c.L2.Bias, c.L2.Linear * f, c.L2.Factors * f) });

        Candidate Search(Candidate from, float step, Func<Candidate, float, Candidate> move)
        {
            Candidate down = move(from, 1 / step), up = move(from, step);
            double here = Try(from).Loss, lower = Try(down).Loss, higher = Try(up).Loss;
            if (here <= lower && here <= higher)
            {
                return from;
            }

            bool goDown = lower < higher;
            Candidate next = goDown ? down : up;
            Candidate further = move(next, goDown ? 1 / step : step);
            return Try(further).Loss < Try(next).Loss ? further : next;
        }

        Outcome? mcmc = null;
        if (mcmcFits)
        {
            var clock = Stopwatch.StartNew();
            SparseDataset held = Subset(scaledAll, heldRows);
            FmBayesResult r = FmBayesTrainer.Train(Subset(scaledAll, searchRows), bayes with { NumFeatures = scaledAll.NumFeatures }, held);
            double[] rows = RowLosses(r.TestPredictions!, held.Labels);
            mcmcLoss = Loss(rows, classification);
            mcmc = new Outcome(mcmcLoss, 100, double.IsFinite(mcmcLoss) ? rows : null);

            var trial = new FmAutoTrial("MCMC 100 sweeps" + (scalingChanges ? ", columns scaled" : ""), mcmcLoss, 100, clock.Elapsed.TotalSeconds);
            trials.Add(trial);
            log?.Invoke(Line(trial, classification));
        }

        // the choice, robust to the noise of a held-out tenth: the lowest validation loss is the reference, and every
        // candidate whose loss is above it by at most one standard error of the paired per-row difference is as good as
        // far as these rows can tell; among those MCMC is preferred (nothing tuned, its samples averaged), then the
        // SGD-family candidate tried first (the search starts at the tuned defaults and moves away from them)
        Outcome reference = cache.Values.Append(mcmc ?? Outcome.Diverged).MinBy(o => o.Loss)!;
        bool mcmcChosen = mcmc is not null && WithinNoise(mcmc, reference);
        Candidate chosenCandidate = mcmcChosen ? best : order.FirstOrDefault(c => WithinNoise(cache[c], reference)) ?? best;
        Outcome sgd = cache[chosenCandidate];
        string lossName = classification ? "logloss" : "RMSE";
        string searched = string.Create(CultureInfo.InvariantCulture,
            $"{trials.Count} trials on {searchRows.Length:N0} rows, validated on {heldRows.Length:N0} held-out training rows");
        string mcmcNote = options.Solver is not null ? "" : mcmcFits ? "" : sampled ? "; MCMC not tried (it needs every row in memory)" : string.Create(CultureInfo.InvariantCulture,
            $"; MCMC not tried (estimated {mcmcSeconds:F0} s > {options.McmcSeconds:F0} s budget)");
        string noise = ReferenceEquals(reference, mcmcChosen ? mcmc : sgd) ? "" : string.Create(CultureInfo.InvariantCulture,
            $", within one standard error of the lowest, {reference.Loss:F4}, and preferred as the more conservative");
        if (mcmcChosen)
        {
            return FinalMcmc(string.Create(CultureInfo.InvariantCulture,
                $"chose MCMC (validation {lossName} {mcmcLoss:F4}{noise}; best SGD-family {Describe(best, solver)}: {cache[best].Loss:F4}; {searched}), then trained on all {train.Count:N0} rows"));
        }

        if (double.IsPositiveInfinity(sgd.Loss))
        {
            throw new InvalidOperationException($"Every candidate diverged ({searched}); scale the data's values or the targets.");
        }

        // the final run on all rows for the best epoch count; it has now seen the held-out rows, so it must do at least
        // as well on them as the validated model that never saw them: when it does worse (an unstable trajectory, e.g.
        // a high learning rate stopped after an epoch or two, or large raw values), the refit undid the choice and the
        // validated model (trained on the search rows) is kept instead
        SparseDataset data = chosenCandidate.Representation == Representation.ColumnScaled ? scaledAll : rawAll;
        FmTrainingOptions chosen = TrialOptions(chosenCandidate) with
        {
            Epochs = Math.Max(1, sgd.Epochs),
            ValidationFraction = 0,
            Patience = 0,
            Refit = false,
        };
        if (finalRun is not null)
        {
            return finalRun(chosen, string.Create(CultureInfo.InvariantCulture,
                $"chose {Describe(chosenCandidate, solver)}, {sgd.Epochs} epochs (validation {lossName} {sgd.Loss:F4}{noise}; {searched}{mcmcNote})"), trials);
        }

        FmModel? refit = null;
        try
        {
            refit = FmTrainer.Train(data, chosen, cancellationToken: cancellationToken).Model;
        }
        catch (InvalidOperationException)
        {
            // diverged on all rows: keep the validated model
        }

        double refitLoss = refit is null ? double.PositiveInfinity
            : Loss(ModelRowLosses(refit, chosenCandidate.Representation == Representation.ColumnScaled ? heldScaled : heldRaw), classification);
        bool keepRefit = refitLoss <= sgd.Loss;
        FmModel trained = keepRefit ? refit! : Validated(chosenCandidate).Model;
        FmModel model = Fold(trained, chosenCandidate.Representation == Representation.ColumnScaled ? columnScale : null, targetScale);
        string how = keepRefit
            ? string.Create(CultureInfo.InvariantCulture, $"then trained on all {train.Count:N0} rows (its {lossName} on the held-out rows: {refitLoss:G4})")
            : string.Create(CultureInfo.InvariantCulture,
                $"kept the model trained on the {searchRows.Length:N0} search rows: the run on all {train.Count:N0} rows did worse on the held-out rows it had seen ({lossName} {refitLoss:G4} vs {sgd.Loss:G4})");
        string why = string.Create(CultureInfo.InvariantCulture,
            $"chose {Describe(chosenCandidate, solver)}, {sgd.Epochs} epochs (validation {lossName} {sgd.Loss:F4}{noise}{(mcmcFits ? $"; MCMC {mcmcLoss:F4}" : "")}; {searched}{mcmcNote}; {trials.Count + 2 - (keepRefit ? 1 : 0)} single trainings in all), {how}");
        var saved = new ModelFile(model, task, options.UseBias, options.UseLinear) { TargetRange = classification ? null : (targetMin, targetMax) };
        return new FmAutoResult(saved, why, trials, targetMin, targetMax,
            keepRefit ? chosen : TrialOptions(chosenCandidate) with { Epochs = SearchEpochs, Patience = SearchPatience, ValidationFraction = options.ValidationFraction, Refit = false });
    }

    /// <summary>What a candidate scored on the held-out rows: the mean loss (logloss, or RMSE in the targets' units),
    /// its best epoch, and each row's loss (logloss or squared error; null when it diverged).</summary>
    internal sealed record Outcome(double Loss, int Epochs, double[]? Rows)
    {
        public static readonly Outcome Diverged = new(double.PositiveInfinity, 0, null);
    }

    /// <summary>True when <paramref name="candidate"/>'s mean row loss is above the reference's by at most one standard
    /// error of the paired per-row differences (the reference itself is within noise of itself).</summary>
    internal static bool WithinNoise(Outcome candidate, Outcome reference)
    {
        if (ReferenceEquals(candidate, reference))
        {
            return true;
        }

        if (candidate.Rows is not { } a || reference.Rows is not { } b || a.Length != b.Length || a.Length < 2)
        {
            return false;
        }

        double sum = 0, squares = 0;
        for (int i = 0; i < a.Length; i++)
        {
            double d = a[i] - b[i];
            sum += d;
            squares += d * d;
        }

        double mean = sum / a.Length;
        double variance = Math.Max(0, (squares / a.Length) - (mean * mean)) * a.Length / (a.Length - 1);
        return double.IsFinite(mean) && mean <= Math.Sqrt(variance / a.Length);
    }

    /// <summary>The mean of the row losses: logloss, or the RMSE (square root of the mean squared error); infinity for
    /// NaN.</summary>
    private static double Loss(double[] rows, bool classification)
    {
        double mean = rows.Length == 0 ? 0 : rows.Sum() / rows.Length;
        double loss = classification ? mean : Math.Sqrt(mean);
        return double.IsNaN(loss) ? double.PositiveInfinity : loss;
    }

    private static double RowLogLoss(float probability, bool positive)
    {
        double p = Math.Clamp((double)probability, 1e-15, 1 - 1e-15);
        return -Math.Log(positive ? p : 1 - p);
    }

    private static double Square(double x) => x * x;

    private static string Line(FmAutoTrial t, bool classification) => string.Create(CultureInfo.InvariantCulture,
        $"{t.Name}: validation {(classification ? "logloss" : "RMSE")} {t.ValidationLoss:F4} (best epoch {t.Epochs}, {t.Seconds:F2} s)");

    private static string Describe(Candidate c, FmSolver solver) => string.Create(CultureInfo.InvariantCulture,
        $"{solver} lr {c.LearningRate:G3} L2 {c.L2.Bias:G3},{c.L2.Linear:G3},{c.L2.Factors:G3}{(c.FrequencyScaled ? " (frequency-scaled)" : "")}, {c.Representation switch
        {
            Representation.Normalized => "instance-normalised",
            Representation.ColumnScaled => "columns scaled",
            _ => "raw values",
        }}");

    /// <summary>MCMC keeps at most 100 samples, fewer when they would take more than 256 MB.</summary>
    private static int SamplesThatFit(int numFeatures, int k)
    {
        long perSample = ((long)numFeatures * (Math.Max(k, 1) + 1) * sizeof(float)) + sizeof(float);
        return (int)Math.Clamp((256L << 20) / Math.Max(perSample, 1), 1, 100);
    }

    /// <summary>The targets' range and the scale they are divided by for training (regression with a standard
    /// deviation outside [0.5, 2]; else 1).</summary>
    private static (float Min, float Max, float Scale) Targets(SparseDataset train, FmTask task)
    {
        float min = float.PositiveInfinity, max = float.NegativeInfinity;
        double sum = 0, squares = 0;
        foreach (float y in train.Labels)
        {
            min = Math.Min(min, y);
            max = Math.Max(max, y);
            sum += y;
            squares += (double)y * y;
        }

        if (task == FmTask.BinaryClassification)
        {
            return (min, max, 1f);
        }

        double mean = sum / train.Count;
        double sd = Math.Sqrt(Math.Max(0, (squares / train.Count) - (mean * mean)));
        return (min, max, sd is > 0 and (< 0.5 or > 2) && double.IsFinite(sd) ? (float)sd : 1f);
    }

    /// <summary>Per feature, the largest absolute value on the training rows (1 for a feature that never occurs or is
    /// always 0).</summary>
    private static float[] ColumnScale(SparseDataset train)
    {
        var scale = new float[train.NumFeatures];
        ReadOnlySpan<int> indices = train.Indices;
        ReadOnlySpan<float> values = train.Values;
        for (int p = 0; p < indices.Length; p++)
        {
            scale[indices[p]] = Math.Max(scale[indices[p]], Math.Abs(values[p]));
        }

        for (int i = 0; i < scale.Length; i++)
        {
            if (!(scale[i] > 0) || !float.IsFinite(scale[i]))
            {
                scale[i] = 1f;
            }
        }

        return scale;
    }

    /// <summary>The data with each value divided by its feature's scale and each target by the target scale.</summary>
    private static SparseDataset Transform(SparseDataset data, float[]? columnScale, float targetScale)
    {
        if (columnScale is null && targetScale == 1f)
        {
            return data;
        }

        float[] labels = data.Labels.ToArray();
        if (targetScale != 1f)
        {
            for (int i = 0; i < labels.Length; i++)
            {
                labels[i] /= targetScale;
            }
        }

        float[] values = data.Values.ToArray();
        if (columnScale is not null)
        {
            ReadOnlySpan<int> indices = data.Indices;
            for (int p = 0; p < values.Length; p++)
            {
                values[p] /= columnScale[indices[p]];
            }
        }

        return SparseDataset.Create(labels, data.Offsets.ToArray(), data.Indices.ToArray(), values);
    }

    /// <summary>The model that scores raw values and targets as <paramref name="model"/> scores transformed ones:
    /// w_i / c_i and v_i / c_i for the column scales c, then w0 and w times the target scale s and v times sqrt(s).</summary>
    private static FmModel Fold(FmModel model, float[]? columnScale, float targetScale)
    {
        if (columnScale is null && targetScale == 1f)
        {
            return model;
        }

        int k = model.EmbeddingSize;
        float[] weights = model.Weights.ToArray();
        float[] factors = model.Factors.ToArray();
        float factorScale = MathF.Sqrt(targetScale);
        for (int i = 0; i < weights.Length; i++)
        {
            float c = columnScale is not null && i < columnScale.Length ? columnScale[i] : 1f;
            weights[i] = weights[i] / c * targetScale;
            for (int f = 0; f < k; f++)
            {
                factors[(i * k) + f] = factors[(i * k) + f] / c * factorScale;
            }
        }

        return FmModel.Create(model.Bias * targetScale, weights, factors, k).WithInstanceNormalization(model.InstanceNormalization);
    }

    /// <summary>The rows trained on and held out, both in file order: the split FmTrainer makes for the same seed
    /// and fraction (<see cref="StochasticTraining"/> draws its seed first from the same generator).</summary>
    private static (int[] Search, int[] Held) Split(SparseDataset train, FmAutoOptions options)
    {
        var rng = new SplitMix64(StochasticTraining.RunSeed(options.Seed));
        ValidationSplit split = ValidationSplit.Make(train, new FmTrainingOptions { Task = options.Task, ValidationFraction = options.ValidationFraction }, rng.NextULong());
        return (split.TrainRows, split.ValidationRows);
    }

    private static SparseDataset Subset(SparseDataset data, int[] rows)
    {
        var labels = new float[rows.Length];
        var offsets = new int[rows.Length + 1];
        long nonZeros = 0;
        foreach (int r in rows)
        {
            nonZeros += data.Offsets[r + 1] - data.Offsets[r];
        }

        var indices = new int[nonZeros];
        var values = new float[nonZeros];
        int at = 0;
        for (int i = 0; i < rows.Length; i++)
        {
            int r = rows[i];
            labels[i] = data.Labels[r];
            ReadOnlySpan<int> idx = data.RowIndices(r);
            idx.CopyTo(indices.AsSpan(at));
            data.RowValues(r).CopyTo(values.AsSpan(at));
            at += idx.Length;
            offsets[i + 1] = at;
        }

        return SparseDataset.Create(labels, offsets, indices, values);
    }
}
