using System.Diagnostics;
using System.Runtime.InteropServices;
using FmCodegen.Data;
using FmCodegen.Kernels;

namespace FmCodegen.Training;

/// <summary>The optimiser of a field-aware model.</summary>
public enum FfmSolver
{
    /// <summary>libffm's: AdaGrad with accumulators starting at 1 (exact square roots).</summary>
    AdaGrad,

    /// <summary>Plain SGD with a constant learning rate.</summary>
    Sgd,
}

/// <summary>
/// Everything that shapes a field-aware training run; immutable. Only <see cref="Task"/> is required; the defaults
/// were chosen on validation splits of training data (docs/ffm.md).
/// </summary>
public sealed record FfmTrainingOptions
{
    /// <summary>Regression (squared loss) or binary classification (logistic loss; label &gt; 0 is positive).</summary>
    public required FmTask Task { get; init; }

    /// <summary>AdaGrad (default) or SGD.</summary>
    public FfmSolver Solver { get; init; } = FfmSolver.AdaGrad;

    /// <summary>Factors per feature and field (default 4, libffm's).</summary>
    public int EmbeddingSize { get; init; } = 4;

    /// <summary>The most passes over the data. Null: up to 30 with early stopping on the held-out fraction, then a
    /// refit on all the training data for the best number of epochs.</summary>
    public int? Epochs { get; init; }

    /// <summary>Learning rate eta (default 0.2, libffm's).</summary>
    public float LearningRate { get; init; } = 0.2f;

    /// <summary>L2 on the factors (default 2e-5, libffm's).</summary>
    public float Lambda { get; init; } = 2e-5f;

    /// <summary>L2 on the linear weights (default 2e-5).</summary>
    public float LinearLambda { get; init; } = 2e-5f;

    /// <summary>Learn a bias and linear weights (libffm has neither). Default true.</summary>
    public bool UseLinear { get; init; } = true;

    /// <summary>Instance normalisation while training and in the model (default: xLearn's, x / ||x||; None turns it off).</summary>
    public FfmNormalization Normalization { get; init; } = FfmNormalization.XLearn;

    /// <summary>Seed of every random choice (initialisation, split, order).</summary>
    public int Seed { get; init; } = 1;

    /// <summary>Training threads. Field-aware training runs on one thread (values other than 1 are refused).</summary>
    public int Threads { get; init; } = 1;

    /// <summary>Validation data to stop early on; when null, <see cref="ValidationFraction"/> of the rows are held out.</summary>
    public SparseDataset? Validation { get; init; }

    /// <summary>Rows held out when no validation set is given (default 0.1; 0 = none).</summary>
    public double ValidationFraction { get; init; } = 0.1;

    /// <summary>Epochs without a better validation loss before stopping (default 2; 0 = never).</summary>
    public int Patience { get; init; } = 2;

    /// <summary>Visit the rows in a new seeded order each epoch (default true, as libffm).</summary>
    public bool Shuffle { get; init; } = true;

    /// <summary>
    /// A bound on the model's size: features at or beyond this many are left out (they score as unseen features
    /// do), so the model holds at most MaxFeatures x fields x k factors. Null: every feature of the data. Hash or
    /// renumber features so the frequent ones come first before using it.
    /// </summary>
    public int? MaxFeatures { get; init; }

    /// <summary>Start from this model's parameters (same k); features and fields it lacks start fresh.</summary>
    public FfmModel? WarmStart { get; init; }
}

/// <summary>One epoch: mean training loss (before each update), validation loss (null without), seconds, rows/s.</summary>
public sealed record FfmEpoch(int Epoch, double TrainLoss, double? ValidationLoss, double Seconds, double ExamplesPerSecond, bool Refit = false);

/// <summary>The outcome of <see cref="FfmTrainer.Train"/>.</summary>
public sealed record FfmTrainingResult(FfmModel Model, FmTask Task, IReadOnlyList<FfmEpoch> History, int BestEpoch, float TargetMin, float TargetMax,
    FfmTrainingOptions Options, int TrainExamples, int ValidationExamples)
{
    /// <summary>Total training seconds.</summary>
    public double TrainingSeconds => History.Sum(e => e.Seconds);
}

/// <summary>
/// Trains field-aware FMs: per example one forward pass through the kernel's PairSum (the same bits the trained model
/// scores with) and one pass of the kernel's pair updates, plus the bias and linear weights. Deterministic for the
/// data, options and seed.
/// </summary>
public static class FfmTrainer
{
    /// <summary>Trains a model on libffm data (fields required).</summary>
    /// <exception cref="ArgumentException">An option is out of range or the data has no fields.</exception>
    public static FfmTrainingResult Train(SparseDataset train, FfmTrainingOptions options, Action<FfmEpoch>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(options);
        Check(train, options);
        SparseDataset fit = train;
        SparseDataset? validation = options.Validation;
        bool heldOut = false;
        if (validation is null && options.ValidationFraction > 0 && train.Count >= 10)
        {
            (fit, validation) = Split(train, options.ValidationFraction, options.Seed);
            heldOut = true;
        }

        int n = Math.Max(train.NumFeatures, Math.Max(validation?.NumFeatures ?? 0, options.WarmStart?.NumFeatures ?? 0));
        if (options.MaxFeatures is int cap)
        {
            n = Math.Min(n, cap);
        }

        int m = Math.Max(1, Math.Max(train.NumFields, Math.Max(validation?.NumFields ?? 0, options.WarmStart?.NumFields ?? 0)));
        FfmKernelEntry kernel = FfmKernels.For(options.EmbeddingSize);
        var history = new List<FfmEpoch>();
        int maxEpochs = options.Epochs ?? 30;
        var run = new Run(options, n, m);
        int best = run.Fit(kernel, fit, validation, maxEpochs, options.Patience, history, progress, refit: false);
        if (heldOut && options.Epochs is null)
        {
            run = new Run(options, n, m);
            run.Fit(kernel, train, null, best, 0, history, progress, refit: true);
        }

        (float min, float max) = Range(train.Labels);
        return new FfmTrainingResult(run.ToModel(), options.Task, history, best, min, max, options, heldOut && options.Epochs is null ? train.Count : fit.Count, validation?.Count ?? 0);
    }

    private static void Check(SparseDataset train, FfmTrainingOptions options)
    {
        if (!train.HasFields && train.NonZeros > 0)
        {
            throw new ArgumentException("Field-aware training needs libffm data (field:index:value); load it with SparseFormat.LibFfm.", nameof(train));
        }

        if (options.EmbeddingSize < 1 || options.EmbeddingSize > FfmLayout.MaxEmbeddingSize)
        {
            throw new ArgumentException($"EmbeddingSize must be between 1 and {FfmLayout.MaxEmbeddingSize}; got {options.EmbeddingSize}.", nameof(options));
        }

        if (options.Threads != 1)
        {
            throw new ArgumentException($"Field-aware training runs on one thread; got Threads = {options.Threads}.", nameof(options));
        }

        if (options.Epochs is < 1 || !(options.LearningRate > 0) || !(options.Lambda >= 0) || !(options.LinearLambda >= 0)
            || options.ValidationFraction is < 0 or >= 1 || options.Patience < 0 || !float.IsFinite(options.LearningRate) || options.MaxFeatures is < 1)
        {
            throw new ArgumentException("Epochs must be at least 1, the learning rate positive, the L2 values non-negative, the validation fraction in [0, 1), the patience non-negative and MaxFeatures at least 1.", nameof(options));
        }

        if (options.WarmStart is { } warm && warm.EmbeddingSize != options.EmbeddingSize)
        {
            throw new ArgumentException($"The warm-start model has k = {warm.EmbeddingSize}, but EmbeddingSize is {options.EmbeddingSize}.", nameof(options));
        }

        if (options.Validation is { HasFields: false, NonZeros: > 0 })
        {
            throw new ArgumentException("The validation data must be libffm data (with fields).", nameof(options));
        }
    }

    private static (SparseDataset Fit, SparseDataset Held) Split(SparseDataset data, double fraction, int seed)
    {
        int[] order = Enumerable.Range(0, data.Count).ToArray();
        new SplitMix64(unchecked((ulong)seed * 0x9E3779B97F4A7C15UL) ^ 0x5EEDUL).Shuffle(order);
        int held = Math.Max(1, (int)Math.Round(data.Count * fraction));
        int[] heldRows = order[..held];
        int[] fitRows = order[held..];
        Array.Sort(heldRows);
        Array.Sort(fitRows);
        return (Subset(data, fitRows), Subset(data, heldRows));
    }

    internal static SparseDataset Subset(SparseDataset data, int[] rows)
    {
        var labels = new float[rows.Length];
        var offsets = new int[rows.Length + 1];
        int nnz = 0;
        foreach (int r in rows)
        {
            nnz += data.Offsets[r + 1] - data.Offsets[r];
        }

        var indices = new int[nnz];
        var values = new float[nnz];
        var fields = new int[nnz];
        int at = 0;
        for (int i = 0; i < rows.Length; i++)
        {
            int r = rows[i];
            labels[i] = data.Labels[r];
            int start = data.Offsets[r], count = data.Offsets[r + 1] - start;
            data.Indices.Slice(start, count).CopyTo(indices.AsSpan(at));
            data.Values.Slice(start, count).CopyTo(values.AsSpan(at));
            data.Fields.Slice(start, count).CopyTo(fields.AsSpan(at));
            at += count;
            offsets[i + 1] = at;
        }

        return SparseDataset.FromTrustedArrays(labels, offsets, indices, values, fields, data.NumFeatures, data.NumFields);
    }

    private static (float Min, float Max) Range(ReadOnlySpan<float> labels)
    {
        if (labels.IsEmpty)
        {
            return (0, 0);
        }

        float min = float.PositiveInfinity, max = float.NegativeInfinity;
        foreach (float y in labels)
        {
            min = Math.Min(min, y);
            max = Math.Max(max, y);
        }

        return (min, max);
    }

    /// <summary>The parameters being trained: factor blocks with their AdaGrad sums right after the weights.</summary>
    private sealed class Run
    {
        private readonly FfmTrainingOptions _options;
        public readonly FfmTable Table;
        public readonly float[] Weights;
        public readonly float[] WeightSums;
        public float Bias;
        public float BiasSum = 1f;
        private FfmTable? _bestTable;
        private float[]? _bestWeights;
        private float _bestBias;

        public Run(FfmTrainingOptions options, int n, int m)
        {
            _options = options;
            int k = options.EmbeddingSize;
            int stride = FfmLayout.FieldStride(k);
            Table = new FfmTable(n, m, k, 2 * stride);
            Weights = new float[n + 1];
            WeightSums = new float[n + 1];
            Array.Fill(WeightSums, 1f);
            var rng = new SplitMix64(unchecked((ulong)options.Seed) * 0xD1B54A32D192ED03UL + 1);
            float scale = 1f / MathF.Sqrt(k);
            FfmModel? warm = options.WarmStart;
            for (int j = 0; j < n; j++)
            {
                for (int f = 0; f < m; f++)
                {
                    Span<float> block = Table.WholeBlock(j, f);
                    for (int c = 0; c < k; c++)
                    {
                        // libffm's initialisation: U(0, 1) / sqrt(k)
                        block[c] = (float)rng.NextDouble() * scale;
                    }

                    if (warm is not null && j < warm.NumFeatures && f < warm.NumFields)
                    {
                        warm.FactorBlock(j, f).CopyTo(block);
                    }

                    block[stride..(stride + stride)].Fill(1f);
                }
            }

            if (warm is not null)
            {
                Bias = warm.Bias;
                for (int j = 0; j < Math.Min(n, warm.NumFeatures); j++)
                {
                    Weights[j] = warm.Weight(j);
                }
            }
        }

        public int Fit(FfmKernelEntry kernel, SparseDataset data, SparseDataset? validation, int epochs, int patience, List<FfmEpoch> history, Action<FfmEpoch>? progress, bool refit)
        {
            var rng = new SplitMix64(unchecked((ulong)_options.Seed) ^ 0xA5A5_5A5A_1234_5678UL);
            int[] order = Enumerable.Range(0, data.Count).ToArray();
            double bestLoss = double.PositiveInfinity;
            int bestEpoch = epochs, sinceBest = 0;
            var visitor = new EpochVisitor(this, data, order);
            for (int epoch = 1; epoch <= epochs; epoch++)
            {
                if (_options.Shuffle)
                {
                    rng.Shuffle(order);
                }

                long start = Stopwatch.GetTimestamp();
                double loss = kernel.Accept(visitor) / Math.Max(1, data.Count);
                double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
                double? validationLoss = validation is null ? null : Loss(validation);
                var record = new FfmEpoch(epoch, loss, validationLoss, seconds, data.Count / Math.Max(seconds, 1e-9), refit);
                history.Add(record);
                progress?.Invoke(record);
                if (validationLoss is double v)
                {
                    if (v < bestLoss)
                    {
                        bestLoss = v;
                        bestEpoch = epoch;
                        sinceBest = 0;
                        Snapshot();
                    }
                    else if (patience > 0 && ++sinceBest >= patience)
                    {
                        break;
                    }
                }
            }

            if (validation is not null && _bestTable is not null)
            {
                _bestTable.Span.CopyTo(Table.Span);
                _bestWeights!.CopyTo(Weights.AsSpan());
                Bias = _bestBias;
            }

            return bestEpoch;
        }

        private void Snapshot()
        {
            _bestTable ??= new FfmTable(Table.NumFeatures, Table.NumFields, Table.EmbeddingSize, Table.BlockStride);
            _bestWeights ??= new float[Weights.Length];
            Table.Span.CopyTo(_bestTable.Span);
            Weights.CopyTo(_bestWeights.AsSpan());
            _bestBias = Bias;
        }

        /// <summary>Mean loss over a dataset, scored with the model as it will be saved.</summary>
        public double Loss(SparseDataset data)
        {
            FfmModel model = ToModel();
            var scores = new float[data.Count];
            Ffm.ScoreBatch(model, data.Offsets, data.Fields, data.Indices, data.Values, scores);
            double sum = 0;
            for (int r = 0; r < scores.Length; r++)
            {
                sum += ExampleLoss(_options.Task, scores[r], data.Labels[r]);
            }

            return sum / Math.Max(1, scores.Length);
        }

        public FfmModel ToModel()
        {
            var table = new FfmTable(Table.NumFeatures, Table.NumFields, Table.EmbeddingSize);
            for (int j = 0; j < Table.NumFeatures; j++)
            {
                for (int f = 0; f < Table.NumFields; f++)
                {
                    Table.Block(j, f).CopyTo(table.Block(j, f));
                }
            }

            float[] weights = _options.UseLinear ? (float[])Weights.Clone() : new float[Weights.Length];
            return FfmModel.FromParts(_options.UseLinear ? Bias : 0f, weights, table, _options.Normalization, "FFM training");
        }

        public FfmTrainingOptions Options => _options;
    }

    internal static double ExampleLoss(FmTask task, float score, float label)
    {
        if (task == FmTask.Regression)
        {
            double e = score - label;
            return 0.5 * e * e;
        }

        double yz = label > 0 ? score : -score;
        return Math.Max(-yz, 0) + Math.Log(1 + Math.Exp(-Math.Abs(yz)));
    }

    /// <summary>One epoch, compiled per kernel struct.</summary>
    private sealed class EpochVisitor(Run run, SparseDataset data, int[] order) : IFfmKernelVisitor<double>
    {
        public double Visit<TKernel>() where TKernel : struct, IFfmKernel => Epoch<TKernel>(run, data, order);
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    [System.Runtime.CompilerServices.SkipLocalsInit]
    private static double Epoch<TKernel>(Run run, SparseDataset data, int[] order) where TKernel : struct, IFfmKernel
    {
        FfmTrainingOptions options = run.Options;
        FfmTable table = run.Table;
        float[] weights = run.Weights, sums = run.WeightSums;
        bool adaGrad = options.Solver == FfmSolver.AdaGrad, linear = options.UseLinear, classification = options.Task == FmTask.BinaryClassification;
        float eta = options.LearningRate, lambda = options.Lambda, linearLambda = options.LinearLambda;
        FfmNormalization normalization = options.Normalization;
        int k = table.EmbeddingSize, stride = table.FieldStride;
        int longest = 0;
        ReadOnlySpan<int> offsets = data.Offsets;
        for (int r = 0; r < data.Count; r++)
        {
            longest = Math.Max(longest, offsets[r + 1] - offsets[r]);
        }

        var rows = new int[longest + 1];
        var blocks = new int[longest + 1];
        var x = new float[longest + 1];
        var kept = new int[longest + 1];
        ReadOnlySpan<int> fields = data.Fields, indices = data.Indices;
        ReadOnlySpan<float> values = data.Values, labels = data.Labels;
        ref float origin = ref table.Origin;
        int numFeatures = table.NumFeatures, numFields = table.NumFields, rowStride = table.RowStride, blockStride = table.BlockStride;
        double totalLoss = 0;
        foreach (int r in order)
        {
            int start = offsets[r], end = offsets[r + 1];
            float lin = 0f, squares = 0f;
            int count = 0;
            for (int a = start; a < end; a++)
            {
                float v = values[a];
                squares += v * v;
                int j = indices[a], f = fields[a];
                if ((uint)j < (uint)numFeatures && (uint)f < (uint)numFields)
                {
                    lin += weights[j] * v;
                    rows[count] = j * rowStride;
                    blocks[count] = f * blockStride;
                    x[count] = v;
                    kept[count] = j;
                    count++;
                }
            }

            float pairs = count < 2 ? 0f : TKernel.PairSum(ref origin, ref MemoryMarshal.GetArrayDataReference(rows), ref MemoryMarshal.GetArrayDataReference(blocks), ref MemoryMarshal.GetArrayDataReference(x), count, k, stride);
            (float ls, float ps) = FfmScaling.Scales(normalization, squares);
            float bias = linear ? run.Bias : 0f;
            float score = FfmCore.Combine(bias, ls, linear ? lin : 0f, ps, pairs);
            float label = labels[r];
            float kappa;
            if (classification)
            {
                float y = label > 0 ? 1f : -1f;
                // d/ds log(1 + e^(-y s)) = -y / (1 + e^(y s))
                kappa = -y / (1f + MathF.Exp(y * score));
                totalLoss += ExampleLoss(FmTask.BinaryClassification, score, label);
            }
            else
            {
                kappa = score - label;
                totalLoss += 0.5 * (double)kappa * kappa;
            }

            if (count >= 2)
            {
                if (adaGrad)
                {
                    TKernel.UpdatePairsAdaGrad(ref origin, ref MemoryMarshal.GetArrayDataReference(rows), ref MemoryMarshal.GetArrayDataReference(blocks), ref MemoryMarshal.GetArrayDataReference(x), count, k, stride, kappa * ps, eta, lambda);
                }
                else
                {
                    TKernel.UpdatePairsSgd(ref origin, ref MemoryMarshal.GetArrayDataReference(rows), ref MemoryMarshal.GetArrayDataReference(blocks), ref MemoryMarshal.GetArrayDataReference(x), count, k, stride, kappa * ps, eta, lambda);
                }
            }

            if (linear)
            {
                float kl = kappa * ls;
                for (int a = 0; a < count; a++)
                {
                    int j = kept[a];
                    float w = weights[j];
                    float g = MathF.FusedMultiplyAdd(kl, x[a], linearLambda * w);
                    if (adaGrad)
                    {
                        float h = MathF.FusedMultiplyAdd(g, g, sums[j]);
                        sums[j] = h;
                        weights[j] = w - (eta * g / MathF.Sqrt(h));
                    }
                    else
                    {
                        weights[j] = w - (eta * g);
                    }
                }

                if (adaGrad)
                {
                    run.BiasSum = MathF.FusedMultiplyAdd(kappa, kappa, run.BiasSum);
                    run.Bias -= eta * kappa / MathF.Sqrt(run.BiasSum);
                }
                else
                {
                    run.Bias -= eta * kappa;
                }
            }
        }

        return totalLoss;
    }
}
