using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using FmCodegen.Data;
using FmCodegen.Kernels;
using FmCodegen.Metrics;

namespace FmCodegen.Training;

/// <summary>
/// Trains Factorization Machines with SGD, AdaGrad or FTRL on sparse data: a pure function from (data, options)
/// to a model and its history.
/// </summary>
/// <remarks>
/// <para>Each example is scored with the same kernel that scores a trained model (the generated fixed-k kernel when
/// there is one), which also returns the sums s_f = sum_i v_if x_i; the pair gradient of feature i is then
/// x_i (s_f - v_if x_i), applied to a whole row (k factors and the linear weight) with 512- or 256-bit vectors.</para>
/// <para><b>Deterministic multi-threading (windowed model averaging).</b> With T threads each epoch's shuffled
/// order (of blocks of rows, see <see cref="EpochData"/>) is cut into windows of T x <see cref="WindowPerThread"/>
/// examples. Within a window thread t trains its own
/// replica of the parameters and optimiser state on the t-th contiguous slice, with no sharing. At the end of the
/// window the replicas are merged: every feature updated by at least one replica gets, in every replica, the mean
/// of its values (parameters and optimiser state) over the replicas that updated it, summed in replica order
/// 0..T-1; the bias is averaged over all replicas that trained. A feature seen by one thread only thus keeps that
/// thread's update exactly (sparse features lose nothing to averaging), while frequent features are averaged as in
/// model-averaging SGD. Which thread runs which slice and which feature is merged by which thread are fixed by
/// the indices alone, so the bytes of the model depend on the data, the options, the seed and T, never on
/// scheduling. With T = 1 this is plain sequential training.</para>
/// </remarks>
public static class FmTrainer
{
    /// <summary>Examples each thread trains between two merges of the replicas.</summary>
    public const int WindowPerThread = 8192;

    /// <summary>The options with every unset value replaced by its default for the task and solver. Measured on
    /// frappe, a9a and MovieLens-100k (eval/results.md): AdaGrad for both tasks, with frequency-scaled L2 for
    /// regression (MovieLens' rare users and items overfit without it).</summary>
    public static FmTrainingOptions Defaults(FmTrainingOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        bool classification = options.Task == FmTask.BinaryClassification;
        FmSolver solver = options.Solver ?? FmSolver.AdaGrad;
        (float lr, FmRegularization l2, float init) = (solver, classification) switch
        {
            (FmSolver.Sgd, true) => (0.02f, new FmRegularization(0f, 0f, 0.02f), 0.1f),
            (FmSolver.Sgd, false) => (0.01f, new FmRegularization(0f, 0.02f, 0.12f), 0.05f),
            (FmSolver.Ftrl, true) => (0.05f, new FmRegularization(0f, 1e-4f, 0.01f), 0.1f),
            (FmSolver.Ftrl, false) => (0.05f, new FmRegularization(0f, 0.02f, 0.12f), 0.05f),
            (_, true) => (0.15f, new FmRegularization(0f, 1e-4f, 0.025f), 0.1f),
            (_, false) => (0.05f, new FmRegularization(0f, 0.02f, 0.12f), 0.05f),
        };
        bool heldOut = options.Validation is null;
        return options with
        {
            Solver = solver,
            Epochs = options.Epochs ?? 100,
            Refit = options.Refit ?? (options.Epochs is null && heldOut),
            FrequencyScaledL2 = options.FrequencyScaledL2 ?? !classification,
            LearningRate = options.LearningRate ?? lr,
            Regularization = options.Regularization ?? l2,
            InitStdev = options.InitStdev ?? init,
            ValidationFraction = heldOut ? options.ValidationFraction ?? 0.1 : 0,
            Patience = options.Patience ?? 10,
        };
    }

    /// <summary>
    /// Trains a model on <paramref name="train"/>. <paramref name="onEpoch"/>, when given, hears about each epoch as
    /// it ends (for progress displays); it does not change the result.
    /// </summary>
    /// <exception cref="ArgumentException">The options are out of range or disagree with the data.</exception>
    /// <exception cref="InvalidOperationException">Training diverged (a loss became infinite or NaN).</exception>
    public static FmTrainingResult Train(SparseDataset train, FmTrainingOptions options, Action<FmEpoch>? onEpoch = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(train);
        FmTrainingOptions o = Defaults(options);
        Validate(o, train);
        return o.Solver switch
        {
            FmSolver.Sgd => WithKernel<SgdRule>(train, o, onEpoch, cancellationToken),
            FmSolver.Ftrl => WithKernel<FtrlRule>(train, o, onEpoch, cancellationToken),
            _ => WithKernel<AdaGradRule>(train, o, onEpoch, cancellationToken),
        };
    }

    /// <summary>Compiles the training loop for the solver and, when the built-in generated kernel serves k, for that kernel.</summary>
    private static FmTrainingResult WithKernel<TRule>(SparseDataset train, FmTrainingOptions o, Action<FmEpoch>? onEpoch, CancellationToken cancellationToken)
        where TRule : struct, IUpdateRule
    {
        FmKernel kernel = FmKernels.For(o.EmbeddingSize);
        return kernel switch
        {
            _ when ReferenceEquals(kernel, BuiltInKernel4.Kernel) => Run<TRule, Kernel4Call>(train, o, onEpoch, cancellationToken),
            _ when ReferenceEquals(kernel, BuiltInKernel8.Kernel) => Run<TRule, Kernel8Call>(train, o, onEpoch, cancellationToken),
            _ when ReferenceEquals(kernel, BuiltInKernel16.Kernel) => Run<TRule, Kernel16Call>(train, o, onEpoch, cancellationToken),
            _ when ReferenceEquals(kernel, BuiltInKernel32.Kernel) => Run<TRule, Kernel32Call>(train, o, onEpoch, cancellationToken),
            _ when ReferenceEquals(kernel, BuiltInKernel64.Kernel) => Run<TRule, Kernel64Call>(train, o, onEpoch, cancellationToken),
            _ => Run<TRule, VirtualKernelCall>(train, o, onEpoch, cancellationToken),
        };
    }

    private static void Validate(FmTrainingOptions o, SparseDataset train)
    {
        if (train.Count == 0)
        {
            throw new ArgumentException("The training data has no examples.", nameof(train));
        }

        Check(Enum.IsDefined(o.Task), $"Unknown task {o.Task}.");
        Check(Enum.IsDefined(o.Solver!.Value), $"Unknown solver {o.Solver}.");
        Check(o.EmbeddingSize is >= 1 and <= FmModel.MaxEmbeddingSize, $"k (the embedding size) must be between 1 and {FmModel.MaxEmbeddingSize}; got {o.EmbeddingSize}.");
        Check(o.Epochs >= 0, $"Epochs must be 0 or more; got {o.Epochs}.");
        Check(o.LearningRate is > 0 and < float.PositiveInfinity, $"The learning rate must be positive and finite; got {o.LearningRate}.");
        FmRegularization r = o.Regularization!;
        Check(r.Bias >= 0 && r.Linear >= 0 && r.Factors >= 0 && float.IsFinite(r.Bias + r.Linear + r.Factors),
            $"L2 values must be finite and 0 or more; got {r.Bias}, {r.Linear}, {r.Factors}.");
        Check(o.InitStdev is >= 0 and < float.PositiveInfinity, $"The init stdev must be finite and 0 or more; got {o.InitStdev}.");
        Check(o.Threads is >= 1 and <= 1024, $"Threads must be between 1 and 1024; got {o.Threads}.");
        Check(o.ValidationFraction is >= 0 and < 1, $"The validation fraction must be in [0, 1); got {o.ValidationFraction}.");
        Check(o.Patience >= 0, $"Patience must be 0 or more; got {o.Patience}.");
        if (o.WarmStart is { } warm)
        {
            Check(warm.EmbeddingSize == o.EmbeddingSize, $"The warm-start model has k = {warm.EmbeddingSize}, but k = {o.EmbeddingSize} was asked for.");
            Check(!warm.InstanceNormalization, "The warm-start model scores with xLearn's instance normalisation, which training does not use; pass model.WithInstanceNormalization(false) to start from its parameters.");
        }

        static void Check(bool ok, string message)
        {
            if (!ok)
            {
                throw new ArgumentException(message, "options");
            }
        }
    }

    /// <summary>What every phase of one run shares.</summary>
    private sealed class RunContext
    {
        public required SparseDataset Train { get; init; }
        public required FmTrainingOptions Options { get; init; }
        public required Hyper Hyper { get; init; }
        public required int NumFeatures { get; init; }
        public required float TargetMin { get; init; }
        public required float TargetMax { get; init; }
        public required float InitialBias { get; init; }
        public required FmKernel Kernel { get; init; }
        public required List<FmEpoch> History { get; init; }
        public Action<FmEpoch>? OnEpoch { get; init; }
        public CancellationToken CancellationToken { get; init; }
    }

    private static FmTrainingResult Run<TRule, TKernel>(SparseDataset train, FmTrainingOptions o, Action<FmEpoch>? onEpoch, CancellationToken cancellationToken)
        where TRule : struct, IUpdateRule
        where TKernel : struct, IKernelCall
    {
        var rng = new SplitMix64(((ulong)(uint)o.Seed * 0x9E3779B97F4A7C15UL) ^ 0x5DEECE66DUL);

        // the validation split: a seeded random fraction of the rows, both parts kept in file order
        int[] allRows = Enumerable.Range(0, train.Count).ToArray();
        int[] trainRows;
        SparseDataset validationData;
        int[] validationRows;
        var splitRng = new SplitMix64(rng.NextULong());
        if (o.Validation is { } validation)
        {
            trainRows = allRows;
            validationData = validation;
            validationRows = Enumerable.Range(0, validation.Count).ToArray();
        }
        else
        {
            int held = Math.Min((int)Math.Round(train.Count * o.ValidationFraction!.Value), train.Count - 1);
            var shuffled = (int[])allRows.Clone();
            if (held > 0)
            {
                splitRng.Shuffle(shuffled);
            }

            validationRows = shuffled[..held];
            trainRows = shuffled[held..];
            Array.Sort(validationRows);
            Array.Sort(trainRows);
            validationData = train;
        }

        float targetMin = float.PositiveInfinity, targetMax = float.NegativeInfinity;
        double targetSum = 0;
        int positives = 0;
        foreach (float label in train.Labels)
        {
            targetMin = Math.Min(targetMin, label);
            targetMax = Math.Max(targetMax, label);
            targetSum += label;
            positives += label > 0 ? 1 : 0;
        }

        // start the bias at the best constant: the mean target, or the log-odds of the positive rate
        double rate = Math.Clamp((double)positives / train.Count, 1e-6, 1 - 1e-6);
        float initialBias = o.Task == FmTask.Regression ? (float)(targetSum / train.Count) : (float)Math.Log(rate / (1 - rate));
        var context = new RunContext
        {
            Train = train,
            Options = o,
            Hyper = new Hyper(o.LearningRate!.Value),
            NumFeatures = Math.Max(train.NumFeatures, Math.Max(validationData.NumFeatures, o.WarmStart?.NumFeatures ?? 0)),
            TargetMin = targetMin,
            TargetMax = targetMax,
            InitialBias = initialBias,
            Kernel = FmKernels.For(o.EmbeddingSize),
            History = [],
            OnEpoch = onEpoch,
            CancellationToken = cancellationToken,
        };

        ulong phaseSeed = rng.NextULong();
        (AlignedTable table, float bias, int bestEpoch) = RunPhase<TRule, TKernel>(context, trainRows, validationData, validationRows,
            o.Epochs!.Value, refit: false, phaseSeed);
        int trainExamples = trainRows.Length;
        if (o.Refit == true && validationRows.Length > 0 && o.Validation is null && bestEpoch > 0)
        {
            // the same seed: the same initialisation, a new order over all rows
            (table, bias, _) = RunPhase<TRule, TKernel>(context, allRows, validationData, [], bestEpoch, refit: true, phaseSeed);
            trainExamples = allRows.Length;
        }

        FmModel model = FmModel.FromTable(bias, table, "training");
        return new FmTrainingResult(model, o.Task, context.History, bestEpoch, targetMin, targetMax, o, trainExamples, validationRows.Length);
    }

    private static (AlignedTable Table, float Bias, int BestEpoch) RunPhase<TRule, TKernel>(RunContext c, int[] trainRows,
        SparseDataset validationData, int[] validationRows, int epochs, bool refit, ulong seed)
        where TRule : struct, IUpdateRule
        where TKernel : struct, IKernelCall
    {
        FmTrainingOptions o = c.Options;
        SparseDataset train = c.Train;
        int k = o.EmbeddingSize;
        int numFeatures = c.NumFeatures;
        Hyper hyper = c.Hyper;
        FmRegularization l2 = o.Regularization!;
        var rng = new SplitMix64(seed);
        var table = new AlignedTable(numFeatures, k);
        float bias;
        var initRng = new SplitMix64(rng.NextULong());
        if (o.WarmStart is { } warm)
        {
            warm.Table.Span[..(warm.NumFeatures * table.Stride)].CopyTo(table.Span);
            bias = warm.Bias;
        }
        else
        {
            // features that never occur in the training rows (validation-only ones) keep zero factors: random
            // ones would never be trained and would only add noise to the scores of the rows that have them
            var seen = new bool[numFeatures];
            foreach (int r in trainRows)
            {
                foreach (int f in train.RowIndices(r))
                {
                    seen[f] = true;
                }
            }

            float stdev = o.InitStdev!.Value;
            for (int i = 0; i < numFeatures; i++)
            {
                Span<float> factors = table.Factors(i);
                for (int f = 0; f < k; f++)
                {
                    double draw = initRng.NextGaussian() * stdev;
                    factors[f] = seen[i] ? (float)draw : 0f;
                }
            }

            bias = c.InitialBias;
        }

        int threads = Math.Min(o.Threads, Math.Max(1, trainRows.Length / 64));
        var replicas = new Replica[threads];
        for (int t = 0; t < threads; t++)
        {
            replicas[t] = new Replica(t == 0 ? table : table.Clone(), o.Solver!.Value, l2, threads);
        }

        float[]? regScale = o.FrequencyScaledL2 == true ? FrequencyScale(train, trainRows, numFeatures) : null;
        foreach (Replica replica in replicas)
        {
            replica.RegularizationScale = regScale;
            replica.Bias = bias;
            InitializeState<TRule>(replica, hyper, l2);
        }

        FmKernel kernel = c.Kernel;
        var order = (int[])trainRows.Clone();
        var shuffleRng = new SplitMix64(rng.NextULong());
        if (o.Shuffle)
        {
            shuffleRng.Shuffle(order);
        }

        using TrainingTeam? team = threads > 1 ? new TrainingTeam(threads) : null;
        var epochData = new EpochData(train, order);
        if (team is null)
        {
            epochData.Fill(train, order);
        }
        else
        {
            epochData.PlaceRows(train, order);
            team.Run(t => epochData.CopyPart(train, order, t, threads));
        }

        var blocks = Enumerable.Range(0, epochData.Blocks).ToArray();
        int[]? mergeStamp = threads > 1 ? new int[numFeatures] : null;
        if (mergeStamp is not null)
        {
            Array.Fill(mergeStamp, -1);
        }

        int window = 0;
        int bestEpoch = 0;
        double bestLoss = double.PositiveInfinity;
        AlignedTable? bestTable = null;
        float bestBias = bias;
        var validationScores = new float[validationRows.Length];
        var validationLabels = new float[validationRows.Length];
        for (int i = 0; i < validationRows.Length; i++)
        {
            validationLabels[i] = validationData.Labels[validationRows[i]];
        }

        int patience = o.Patience!.Value;
        int epoch = 0;
        while (++epoch <= epochs)
        {
            c.CancellationToken.ThrowIfCancellationRequested();
            if (o.Shuffle)
            {
                shuffleRng.Shuffle(blocks);
            }

            foreach (Replica replica in replicas)
            {
                replica.ResetEpochStatistics();
            }

            long started = Stopwatch.GetTimestamp();
            if (team is null)
            {
                replicas[0].Run<TRule, TKernel>(epochData, blocks, kernel, o.Task, hyper, l2.Bias, window++);
            }
            else
            {
                // one team step per epoch: window after window, each member trains its slice of the window's
                // blocks, all meet, each merges its share of the features, all meet
                int firstWindow = window;
                int chunk = threads * (WindowPerThread / EpochData.RowsPerBlock);
                int windows = (blocks.Length + chunk - 1) / chunk;
                team.Run([MethodImpl(MethodImplOptions.AggressiveOptimization)] (t) =>
                {
                    Replica replica = replicas[t];
                    for (int i = 0; i < windows; i++)
                    {
                        int from = i * chunk;
                        int size = Math.Min(chunk, blocks.Length - from);
                        int w = firstWindow + i;
                        replica.ResetTouched();
                        replica.Examples = 0;
                        // a member that fails records it and keeps meeting the others, so no one waits forever
                        try
                        {
                            if (!team.Failed)
                            {
                                int a = from + (int)((long)size * t / threads), b = from + (int)((long)size * (t + 1) / threads);
                                replica.Run<TRule, TKernel>(epochData, blocks.AsSpan(a, b - a), kernel, o.Task, hyper, l2.Bias, w);
                            }
                        }
                        catch (Exception e) when (e is not OutOfMemoryException)
                        {
                            team.Record(t, e);
                        }

                        team.Sync();
                        try
                        {
                            if (!team.Failed)
                            {
                                Merge(replicas, mergeStamp!, w, t);
                            }
                        }
                        catch (Exception e) when (e is not OutOfMemoryException)
                        {
                            team.Record(t, e);
                        }

                        team.Sync();
                    }
                });
                window += windows;
            }

            double seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
            double lossSum = 0, metricSum = 0;
            long count = 0;
            foreach (Replica replica in replicas)
            {
                lossSum += replica.LossSum;
                metricSum += replica.MetricSum;
                count += replica.Count;
            }

            double trainLoss = lossSum / Math.Max(1, count);
            double trainMetric = o.Task == FmTask.Regression ? Math.Sqrt(metricSum / Math.Max(1, count)) : metricSum / Math.Max(1, count);
            if (!double.IsFinite(trainLoss) || !float.IsFinite(replicas[0].Bias))
            {
                throw new InvalidOperationException(
                    $"Training diverged in epoch {epoch} (the training loss is {trainLoss}); lower the learning rate (now {hyper.LearningRate}) or raise the L2 regularisation.");
            }

            FmEvaluation? evaluation = null;
            if (validationRows.Length > 0)
            {
                ScoreRows(kernel, replicas[0], validationData, validationRows, validationScores, team);
                evaluation = FmMetrics.Evaluate(o.Task, validationScores, validationLabels, c.TargetMin, c.TargetMax);
            }

            var record = new FmEpoch(epoch, trainLoss, trainMetric, evaluation, seconds, count / Math.Max(seconds, 1e-9), refit, epochs);
            c.History.Add(record);
            c.OnEpoch?.Invoke(record);

            if (evaluation is null)
            {
                bestEpoch = epoch;
                continue;
            }

            double loss = evaluation.Loss;
            if (!double.IsFinite(loss))
            {
                throw new InvalidOperationException(
                    $"Training diverged in epoch {epoch} (the validation loss is {loss}); lower the learning rate (now {hyper.LearningRate}) or raise the L2 regularisation.");
            }

            if (loss < bestLoss)
            {
                bestLoss = loss;
                bestEpoch = epoch;
                if (o.RestoreBest && epoch < epochs)
                {
                    bestTable ??= new AlignedTable(numFeatures, k);
                    replicas[0].Parameters.Span.CopyTo(bestTable.Span);
                    bestBias = replicas[0].Bias;
                }
            }
            else if (patience > 0 && epoch - bestEpoch >= patience)
            {
                break;
            }
        }

        int ran = Math.Min(epoch, epochs);
        if (o.RestoreBest && bestTable is not null && bestEpoch != ran)
        {
            return (bestTable, bestBias, bestEpoch);
        }

        return (replicas[0].Parameters, replicas[0].Bias, ran);
    }

    /// <summary>sqrt(mean count / count_i) for each feature over the training rows (1 for unseen features).</summary>
    private static float[] FrequencyScale(SparseDataset train, int[] rows, int numFeatures)
    {
        var counts = new int[numFeatures];
        long total = 0;
        foreach (int r in rows)
        {
            foreach (int f in train.RowIndices(r))
            {
                counts[f]++;
                total++;
            }
        }

        int seen = counts.Count(c => c > 0);
        double mean = seen == 0 ? 1 : (double)total / seen;
        var scale = new float[numFeatures];
        for (int i = 0; i < numFeatures; i++)
        {
            scale[i] = counts[i] == 0 ? 1f : (float)Math.Sqrt(mean / counts[i]);
        }

        return scale;
    }

    private static void InitializeState<TRule>(Replica replica, in Hyper hyper, FmRegularization l2)
        where TRule : struct, IUpdateRule
    {
        TRule.Initialize(replica.Bias, ref replica.BiasState1, ref replica.BiasState2, l2.Bias, hyper);
        if (replica.State1 is null)
        {
            return;
        }

        AlignedTable p = replica.Parameters;
        AlignedTable s1 = replica.State1;
        AlignedTable? s2 = replica.State2;
        int k = p.EmbeddingSize;
        float unused = 0;
        for (int i = 0; i < p.NumFeatures; i++)
        {
            Span<float> pr = p.Row(i), r1 = s1.Row(i);
            Span<float> r2 = s2 is null ? default : s2.Row(i);
            for (int f = 0; f <= k; f++)
            {
                TRule.Initialize(pr[f], ref r1[f], ref r2.IsEmpty ? ref unused : ref r2[f], f < k ? l2.Factors : l2.Linear, hyper);
            }
        }
    }

    /// <summary>Thread <paramref name="part"/>'s share of the merge: the features it owns (<see cref="Replica.MergeOwner"/>)
    /// that any replica updated in window <paramref name="window"/>, and the bias for part 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void Merge(Replica[] replicas, int[] mergeStamp, int window, int part)
    {
        int threads = replicas.Length;
        if (part == 0)
        {
            float b = 0, b1 = 0, b2 = 0;
            int trained = 0;
            foreach (Replica r in replicas)
            {
                if (r.Examples > 0)
                {
                    b += r.Bias;
                    b1 += r.BiasState1;
                    b2 += r.BiasState2;
                    trained++;
                }
            }

            if (trained > 0)
            {
                b /= trained;
                b1 /= trained;
                b2 /= trained;
                foreach (Replica r in replicas)
                {
                    r.Bias = b;
                    r.BiasState1 = b1;
                    r.BiasState2 = b2;
                }
            }
        }

        // the tables are pinned (AlignedTable lives on the pinned object heap): take each replica's base pointers once
        int stride = replicas[0].Parameters.Stride;
        int tables = replicas[0].State2 is not null ? 3 : replicas[0].State1 is not null ? 2 : 1;
        Span<nint> bases = stackalloc nint[threads * tables];
        for (int r = 0; r < threads; r++)
        {
            bases[r * tables] = Address(replicas[r].Parameters);
            if (tables > 1)
            {
                bases[(r * tables) + 1] = Address(replicas[r].State1!);
            }

            if (tables > 2)
            {
                bases[(r * tables) + 2] = Address(replicas[r].State2!);
            }
        }

        Span<int> updaters = stackalloc int[threads];
        for (int source = 0; source < threads; source++)
        {
            Replica owner = replicas[source];
            ReadOnlySpan<int> touched = owner.Touched![part].AsSpan(0, owner.TouchedCounts![part]);
            foreach (int feature in touched)
            {
                if (mergeStamp[feature] == window)
                {
                    continue;
                }

                mergeStamp[feature] = window;
                int count = 0;
                for (int r = 0; r < threads; r++)
                {
                    if (replicas[r].Stamp![feature] == window)
                    {
                        updaters[count++] = r;
                    }
                }

                nint offset = (nint)feature * stride * sizeof(float);
                for (int table = 0; table < tables; table++)
                {
                    MergeRow(bases, tables, table, offset, stride, updaters[..count]);
                }
            }
        }
    }

    private static unsafe nint Address(AlignedTable table) => (nint)Unsafe.AsPointer(ref MemoryMarshal.GetReference(table.Span));

    /// <summary>Every replica's row of one table becomes the mean of the updaters' rows, summed in replica order
    /// (one updater: its row, exactly), written to every replica from registers.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void MergeRow(ReadOnlySpan<nint> bases, int tables, int table, nint offset, int stride, ReadOnlySpan<int> updaters)
    {
        int replicas = bases.Length / tables;
        float* first = (float*)(bases[(updaters[0] * tables) + table] + offset);
        float scale = 1f / updaters.Length;
        int j = 0;
        for (; j + 8 <= stride; j += 8)
        {
            Vector256<float> value = Vector256.Load(first + j);
            if (updaters.Length > 1)
            {
                for (int u = 1; u < updaters.Length; u++)
                {
                    value += Vector256.Load((float*)(bases[(updaters[u] * tables) + table] + offset) + j);
                }

                value *= scale;
            }

            for (int r = 0; r < replicas; r++)
            {
                Vector256.Store(value, (float*)(bases[(r * tables) + table] + offset) + j);
            }
        }

        for (; j < stride; j++)
        {
            float value = first[j];
            if (updaters.Length > 1)
            {
                for (int u = 1; u < updaters.Length; u++)
                {
                    value += ((float*)(bases[(updaters[u] * tables) + table] + offset))[j];
                }

                value *= scale;
            }

            for (int r = 0; r < replicas; r++)
            {
                ((float*)(bases[(r * tables) + table] + offset))[j] = value;
            }
        }
    }

    /// <summary>Raw scores of the given rows under a replica's parameters; rows are independent, so splitting them
    /// across threads changes nothing.</summary>
    private static void ScoreRows(FmKernel kernel, Replica replica, SparseDataset data, int[] rowList, float[] output, TrainingTeam? team)
    {
        AlignedTable table = replica.Parameters;
        float bias = replica.Bias;
        if (team is null || rowList.Length < 4096)
        {
            ScoreRange(0, rowList.Length);
        }
        else
        {
            int parts = team.Size;
            team.Run(p => ScoreRange((int)((long)rowList.Length * p / parts), (int)((long)rowList.Length * (p + 1) / parts)));
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        void ScoreRange(int from, int to)
        {
            var rows = new FmRows(table.Span, table.Stride, table.NumFeatures, table.EmbeddingSize);
            for (int i = from; i < to; i++)
            {
                int r = rowList[i];
                output[i] = bias + kernel.Interaction(rows, data.RowIndices(r), data.RowValues(r));
            }
        }
    }
}
