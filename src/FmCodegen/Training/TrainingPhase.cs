using System.Diagnostics;
using System.Runtime.CompilerServices;
using FmCodegen.Data;
using FmCodegen.Kernels;
using FmCodegen.Metrics;

namespace FmCodegen.Training;

/// <summary>
/// One training phase: initial parameters, one replica per thread, then epoch after epoch (train, validate, keep
/// the best) until the epochs run out or early stopping ends it. Generic over the update rule and the kernel, so
/// the loops inside are compiled once per (solver, kernel) with both inlined.
/// </summary>
internal static class TrainingPhase
{
    /// <summary>Runs the phase on the rows <paramref name="rowsFor"/> makes: given the phase's shuffle generator and
    /// its team (null with one thread), it returns them as segments (in memory or on disk), with the count of each
    /// feature. <paramref name="trainRows"/> is how many rows that will be.</summary>
    public static (AlignedTable Table, float Bias, int BestEpoch) Run<TRule, TKernel>(RunContext c, int trainRows,
        Func<SplitMix64, TrainingTeam?, IEpochSource> rowsFor, SparseDataset validationData, int[] validationRows, int epochs, bool refit, ulong seed)
        where TRule : struct, IUpdateRule
        where TKernel : struct, IFmKernel
    {
        FmTrainingOptions o = c.Options;
        var rng = new SplitMix64(seed);
        var initRng = new SplitMix64(rng.NextULong());
        var shuffleRng = new SplitMix64(rng.NextULong());
        int threads = Math.Min(o.Threads, Math.Max(1, trainRows / 64));
        using TrainingTeam? team = threads > 1 ? new TrainingTeam(threads) : null;
        using IEpochSource source = rowsFor(shuffleRng, team);
        (AlignedTable table, float bias) = InitialParameters(c, source.FeatureCounts, initRng);
        Replica[] replicas = CreateReplicas<TRule>(c, table, bias, source.FeatureCounts, threads);

        bool normalize = o.InstanceNormalization == true;
        var epochRunner = new EpochRunner<TRule, TKernel>(replicas, team, source, o.Task, c.Hyper, o.Regularization!.Bias, c.NumFeatures, o.UseBias);
        var validator = new Validator<TKernel>(validationData, validationRows, o.Task, c.TargetMin, c.TargetMax, normalize);
        var best = new BestEpoch(o.RestoreBest, o.Patience!.Value);
        int epoch = 0;
        while (++epoch <= epochs)
        {
            c.CancellationToken.ThrowIfCancellationRequested();
            long started = Stopwatch.GetTimestamp();
            long bytesBefore = source.BytesRead;
            epochRunner.Run(o.Shuffle ? shuffleRng : null);
            double seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
            (double trainLoss, double trainMetric, long count) = Statistics(replicas, o.Task);
            if (!double.IsFinite(trainLoss) || !float.IsFinite(replicas[0].Bias))
            {
                throw new InvalidOperationException(
                    $"Training diverged in epoch {epoch} (the training loss is {trainLoss}); lower the learning rate (now {c.Hyper.LearningRate}) or raise the L2 regularisation.");
            }

            FmEvaluation? evaluation = validator.Evaluate(replicas[0], team);
            var record = new FmEpoch(epoch, trainLoss, trainMetric, evaluation, seconds, count / Math.Max(seconds, 1e-9), refit, epochs)
            {
                BytesRead = source.BytesRead - bytesBefore,
            };
            c.History.Add(record);
            c.OnEpoch?.Invoke(record);
            if (evaluation is not null && !double.IsFinite(evaluation.Loss))
            {
                throw new InvalidOperationException(
                    $"Training diverged in epoch {epoch} (the validation loss is {evaluation.Loss}); lower the learning rate (now {c.Hyper.LearningRate}) or raise the L2 regularisation.");
            }

            if (best.Observe(epoch, evaluation?.Loss, replicas[0], isLast: epoch == epochs))
            {
                break;
            }
        }

        return best.Result(replicas[0], Math.Min(epoch, epochs));
    }

    /// <summary>The starting table and bias: the warm-start model's, or seeded Gaussian factors for the features that
    /// occur in the training rows (zero for the others), zero linear weights and the run's initial bias.</summary>
    private static (AlignedTable Table, float Bias) InitialParameters(RunContext c, int[] counts, SplitMix64 initRng)
    {
        FmTrainingOptions o = c.Options;
        int k = o.EmbeddingSize;
        var table = new AlignedTable(c.NumFeatures, k, o.Order);
        if (o.WarmStart is { } warm)
        {
            warm.Table.Span[..(warm.NumFeatures * table.Stride)].CopyTo(table.Span);
            if (!o.UseLinear)
            {
                for (int i = 0; i < warm.NumFeatures; i++)
                {
                    table.Weight(i) = 0f;
                }
            }

            return (table, o.UseBias ? warm.Bias : 0f);
        }

        // features that never occur in the training rows (validation-only ones) keep zero factors: random
        // ones would never be trained and would only add noise to the scores of the rows that have them
        float stdev = o.InitStdev!.Value;
        for (int i = 0; i < c.NumFeatures; i++)
        {
            Span<float> factors = table.Factors(i);
            for (int f = 0; f < k; f++)
            {
                double draw = initRng.NextGaussian() * stdev;
                factors[f] = i < counts.Length && counts[i] > 0 ? (float)draw : 0f;
            }
        }

        // order 3: the order-3 factors from the same stream after all order-2 ones, so the order-2 factors start
        // as an order-2 run's of the same seed
        if (o.Order == 3)
        {
            for (int i = 0; i < c.NumFeatures; i++)
            {
                Span<float> factors = table.Factors3(i);
                for (int f = 0; f < k; f++)
                {
                    double draw = initRng.NextGaussian() * stdev;
                    factors[f] = i < counts.Length && counts[i] > 0 ? (float)draw : 0f;
                }
            }
        }

        return (table, c.InitialBias);
    }

    /// <summary>One replica per thread (replica 0 owns <paramref name="table"/>, the others copies), each with the
    /// solver's initial state and the frequency-scaled L2, when asked.</summary>
    private static Replica[] CreateReplicas<TRule>(RunContext c, AlignedTable table, float bias, int[] counts, int threads)
        where TRule : struct, IUpdateRule
    {
        FmTrainingOptions o = c.Options;
        FmRegularization l2 = o.Regularization!;
        var replicas = new Replica[threads];
        for (int t = 0; t < threads; t++)
        {
            replicas[t] = new Replica(t == 0 ? table : table.Clone(), o.Solver!.Value, l2, threads, o.UseLinear);
        }

        float[]? regScale = o.FrequencyScaledL2 == true ? FrequencyScale(counts, c.NumFeatures) : null;
        foreach (Replica replica in replicas)
        {
            replica.RegularizationScale = regScale;
            replica.Bias = bias;
            InitializeState<TRule>(replica, c.Hyper, l2);
        }

        return replicas;
    }

    /// <summary>The epoch's progressive training loss and metric over all replicas, and the examples they saw.</summary>
    private static (double Loss, double Metric, long Count) Statistics(Replica[] replicas, FmTask task)
    {
        double lossSum = 0, metricSum = 0;
        long count = 0;
        foreach (Replica replica in replicas)
        {
            lossSum += replica.LossSum;
            metricSum += replica.MetricSum;
            count += replica.Count;
        }

        double loss = lossSum / Math.Max(1, count);
        double metric = task == FmTask.Regression ? Math.Sqrt(metricSum / Math.Max(1, count)) : metricSum / Math.Max(1, count);
        return (loss, metric, count);
    }

    /// <summary>sqrt(mean count / count_i) for each feature over the training rows (1 for unseen features).</summary>
    private static float[] FrequencyScale(int[] counts, int numFeatures)
    {
        long total = 0;
        foreach (int count in counts)
        {
            total += count;
        }

        int seen = counts.Count(c => c > 0);
        double mean = seen == 0 ? 1 : (double)total / seen;
        var scale = new float[numFeatures];
        for (int i = 0; i < numFeatures; i++)
        {
            scale[i] = i >= counts.Length || counts[i] == 0 ? 1f : (float)Math.Sqrt(mean / counts[i]);
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
        int third = FmLayout.Order3Offset(k);
        float unused = 0;
        for (int i = 0; i < p.NumFeatures; i++)
        {
            Span<float> pr = p.Row(i), r1 = s1.Row(i);
            Span<float> r2 = s2 is null ? default : s2.Row(i);
            for (int f = 0; f <= k; f++)
            {
                TRule.Initialize(pr[f], ref r1[f], ref r2.IsEmpty ? ref unused : ref r2[f], f < k ? l2.Factors : l2.Linear, hyper);
            }

            if (p.Order == 3)
            {
                for (int f = third; f < third + k; f++)
                {
                    TRule.Initialize(pr[f], ref r1[f], ref r2.IsEmpty ? ref unused : ref r2[f], l2.Factors, hyper);
                }
            }
        }
    }
}

/// <summary>
/// Trains every replica for one epoch, segment after segment (in a new random order each epoch, and within each its
/// blocks in a new random order): on one thread, the blocks in order; on T threads, window after window of the
/// segment, each member trains its slice of the window's blocks, all meet, each merges its share of the features
/// (<see cref="ReplicaMerge"/>), all meet. Windows do not cross segments.
/// </summary>
internal sealed class EpochRunner<TRule, TKernel>(Replica[] replicas, TrainingTeam? team, IEpochSource source, FmTask task, Hyper hyper, float biasL2, int numFeatures, bool useBias)
    where TRule : struct, IUpdateRule
    where TKernel : struct, IFmKernel
{
    private readonly int[]? _mergeStamp = team is null ? null : NewStamp(numFeatures);
    private readonly int[] _segmentOrder = Enumerable.Range(0, source.Segments).ToArray();
    private readonly int[]?[] _blockOrders = new int[source.Segments][];
    private int _window;

    /// <summary>One epoch; <paramref name="shuffle"/> (null: no shuffling) reorders the segments, then each
    /// segment's blocks as it comes.</summary>
    public void Run(SplitMix64? shuffle)
    {
        foreach (Replica replica in replicas)
        {
            replica.ResetEpochStatistics();
        }

        shuffle?.Shuffle(_segmentOrder);
        foreach (int s in _segmentOrder)
        {
            EpochData data = source.Load(s);
            int[] blocks = _blockOrders[s] ??= Enumerable.Range(0, data.Blocks).ToArray();
            shuffle?.Shuffle(blocks);
            RunSegment(data, blocks);
        }
    }

    private void RunSegment(EpochData data, int[] blocks)
    {
        if (team is null)
        {
            replicas[0].Run<TRule, TKernel>(data, blocks, task, hyper, biasL2, _window++, useBias);
            return;
        }

        int[] mergeStamp = _mergeStamp!;
        int windows = team.RunWindows(blocks.Length, _window,
            (t, w, first, count) =>
            {
                Replica replica = replicas[t];
                replica.ResetTouched();
                replica.Examples = 0;
                replica.Run<TRule, TKernel>(data, blocks.AsSpan(first, count), task, hyper, biasL2, w, useBias);
            },
            (t, w) => ReplicaMerge.Merge(replicas, mergeStamp, w, t));
        _window += windows;
    }

    private static int[] NewStamp(int numFeatures)
    {
        var stamp = new int[numFeatures];
        Array.Fill(stamp, -1);
        return stamp;
    }
}

/// <summary>Scores the validation rows under replica 0's parameters with the kernel and evaluates them; rows are
/// independent, so splitting them across the team's threads changes nothing. With <paramref name="normalize"/> the rows
/// are scored as the trained model will score them, with xLearn's instance normalisation.</summary>
internal sealed class Validator<TKernel>(SparseDataset data, int[] rows, FmTask task, float targetMin, float targetMax, bool normalize = false)
    where TKernel : struct, IFmKernel
{
    private readonly float[] _scores = new float[rows.Length];
    private readonly float[] _labels = rows.Select(r => data.Labels[r]).ToArray();

    /// <summary>The evaluation, or null when there are no validation rows.</summary>
    public FmEvaluation? Evaluate(Replica replica, TrainingTeam? team)
    {
        if (rows.Length == 0)
        {
            return null;
        }

        AlignedTable table = replica.Parameters;
        float bias = replica.Bias;
        if (team is null || rows.Length < 4096)
        {
            ScoreRange(table, bias, 0, rows.Length);
        }
        else
        {
            int parts = team.Size;
            team.Run(p => ScoreRange(table, bias, (int)((long)rows.Length * p / parts), (int)((long)rows.Length * (p + 1) / parts)));
        }

        return FmMetrics.Evaluate(task, _scores, _labels, targetMin, targetMax);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void ScoreRange(AlignedTable table, float bias, int from, int to)
    {
        FmRows fmRows = FmRows.Of(table);
        for (int i = from; i < to; i++)
        {
            int r = rows[i];
            _scores[i] = normalize
                ? FmBatch.Normalized<TKernel>(fmRows, bias, data.RowIndices(r), data.RowValues(r))
                : bias + TKernel.Interaction(fmRows, data.RowIndices(r), data.RowValues(r));
        }
    }
}

/// <summary>Early stopping: the epoch with the lowest validation loss so far, a copy of its parameters when they
/// are to be restored, and when patience has run out.</summary>
internal sealed class BestEpoch(bool restoreBest, int patience)
{
    private double _bestLoss = double.PositiveInfinity;
    private AlignedTable? _bestTable;
    private float _bestBias;

    public int Epoch { get; private set; }

    /// <summary>Records an epoch's validation loss (null: no validation, every epoch counts as best); true when
    /// training should stop.</summary>
    public bool Observe(int epoch, double? loss, Replica replica, bool isLast)
    {
        if (loss is not { } value)
        {
            Epoch = epoch;
            return false;
        }

        if (value < _bestLoss)
        {
            _bestLoss = value;
            Epoch = epoch;
            if (restoreBest && !isLast)
            {
                _bestTable ??= new AlignedTable(replica.Parameters.NumFeatures, replica.Parameters.EmbeddingSize, replica.Parameters.Order);
                replica.Parameters.Span.CopyTo(_bestTable.Span);
                _bestBias = replica.Bias;
            }

            return false;
        }

        return patience > 0 && epoch - Epoch >= patience;
    }

    /// <summary>The phase's result after <paramref name="ran"/> epochs: the best epoch's parameters when they are
    /// restored, else the last ones.</summary>
    public (AlignedTable Table, float Bias, int BestEpoch) Result(Replica replica, int ran) =>
        restoreBest && _bestTable is not null && Epoch != ran
            ? (_bestTable, _bestBias, Epoch)
            : (replica.Parameters, replica.Bias, ran);
}
