using FmCodegen.Data;
using FmCodegen.Kernels;

namespace FmCodegen.Training;

/// <summary>What every phase of one stochastic-gradient run shares.</summary>
internal sealed class RunContext
{
    public required FmTrainingOptions Options { get; init; }
    public required Hyper Hyper { get; init; }
    public required int NumFeatures { get; init; }
    public required float TargetMin { get; init; }
    public required float TargetMax { get; init; }
    public required float InitialBias { get; init; }
    public required List<FmEpoch> History { get; init; }
    public Action<FmEpoch>? OnEpoch { get; init; }
    public CancellationToken CancellationToken { get; init; }
}

/// <summary>
/// One run of SGD, AdaGrad or FTRL (the update rule TRule) with kernel struct TKernel:
/// the validation split, the starting bias, the training phase and, when asked, the refit on all rows.
/// </summary>
internal static class StochasticTraining
{
    /// <summary>The state of a run's generator for a seed: its first draw seeds the validation split, its second the
    /// training phases.</summary>
    public static ulong RunSeed(int seed) => ((ulong)(uint)seed * 0x9E3779B97F4A7C15UL) ^ 0x5DEECE66DUL;

    public static FmTrainingResult Run<TRule, TKernel>(SparseDataset train, FmTrainingOptions o, Action<FmEpoch>? onEpoch, CancellationToken cancellationToken)
        where TRule : struct, IUpdateRule
        where TKernel : struct, IFmKernel
    {
        var rng = new SplitMix64(RunSeed(o.Seed));
        FmTrainingOptions asked = o;

        // hashed data: train on the ids that occur, so the epoch's cost follows them rather than the index space
        FeatureCompaction? compaction = FeatureCompaction.For(train, o.Validation, o.WarmStart);
        if (compaction is not null)
        {
            train = compaction.Train!;
            o = o with { Validation = compaction.Validation, WarmStart = compaction.WarmStart };
        }

        // the validation split: a seeded random fraction of the rows, both parts kept in file order
        ValidationSplit split = ValidationSplit.Make(train, o, rng.NextULong());

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
        float initialBias = !o.UseBias ? 0f : o.Task == FmTask.Regression ? (float)(targetSum / train.Count) : (float)Math.Log(rate / (1 - rate));
        var context = new RunContext
        {
            Options = o,
            Hyper = new Hyper(o.LearningRate!.Value),
            NumFeatures = Math.Max(train.NumFeatures, Math.Max(split.ValidationData.NumFeatures, o.WarmStart?.NumFeatures ?? 0)),
            TargetMin = targetMin,
            TargetMax = targetMax,
            InitialBias = initialBias,
            History = [],
            OnEpoch = onEpoch,
            CancellationToken = cancellationToken,
        };

        TrainingMemory.Check(context.NumFeatures, o.EmbeddingSize, o.Solver!.Value, o.Threads, o.Order);
        ulong phaseSeed = rng.NextULong();
        SparseDataset rows = train;
        Func<SplitMix64, TrainingTeam?, IEpochSource> RowsOf(int[] subset) =>
            (shuffle, team) => MemoryEpochSource.Create(rows, subset, context.NumFeatures, o.Shuffle, shuffle, team, o.InstanceNormalization == true);
        (AlignedTable table, float bias, int bestEpoch) = TrainingPhase.Run<TRule, TKernel>(context, split.TrainRows.Length, RowsOf(split.TrainRows),
            split.ValidationData, split.ValidationRows, o.Epochs!.Value, refit: false, phaseSeed);
        int trainExamples = split.TrainRows.Length;
        if (o.Refit == true && split.ValidationRows.Length > 0 && o.Validation is null && bestEpoch > 0)
        {
            // the same seed: the same initialisation, a new order over all rows
            (table, bias, _) = TrainingPhase.Run<TRule, TKernel>(context, split.AllRows.Length, RowsOf(split.AllRows), split.ValidationData, [], bestEpoch, refit: true, phaseSeed);
            trainExamples = split.AllRows.Length;
        }

        FmModel model = ModelOf(table, bias, compaction, o);
        return new FmTrainingResult(model, o.Task, context.History, bestEpoch, targetMin, targetMax, asked, trainExamples, split.ValidationRows.Length);
    }

    /// <summary>The trained table as the model (in memory and out of core): the ids spread back from compact ids,
    /// the instance normalisation recorded, and without linear terms the weights stored as plain zeros (no gradient
    /// ever reached them, but FTRL's closed form writes -0).</summary>
    internal static FmModel ModelOf(AlignedTable table, float bias, FeatureCompaction? compaction, FmTrainingOptions o)
    {
        if (!o.UseLinear)
        {
            for (int i = 0; i < table.NumFeatures; i++)
            {
                table.Weight(i) = 0f;
            }
        }

        FmModel model = compaction is null
            ? FmModel.FromTable(bias, table, "training")
            : FmModel.FromTable(bias, compaction.Expand(table), "training", compaction.Ids);
        return model.WithInstanceNormalization(o.InstanceNormalization == true);
    }
}
