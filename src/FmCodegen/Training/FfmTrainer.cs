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

    /// <summary>Training threads (1 to 1024; default 1). The model depends on it, deterministically: the same data,
    /// options, seed and thread count give the same bytes (the windowed replica averaging of FM training, see
    /// <see cref="FfmTrainer"/>).</summary>
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
/// data, options, seed and thread count.
/// </summary>
/// <remarks>
/// The rows are compacted (feature, field block offset, value; nonzeros beyond the model dropped, each row's
/// normalisation scales computed) and copied once per fit in a seeded random order, cut into blocks of
/// <see cref="EpochData.RowsPerBlock"/> rows, and every epoch visits the blocks in a new seeded order, as FM
/// training does (visiting rows in a shuffled order in place cost several times the arithmetic on data larger than
/// the cache). With T threads each epoch is cut into windows of T x <see cref="FmTrainer.WindowPerThread"/> rows;
/// thread t trains its own replica on the t-th slice of each window, then every feature updated in the window gets,
/// in every replica, the mean of its row (factor blocks and AdaGrad sums), linear weight and its sum over the
/// replicas that updated it, summed in replica order; the bias is averaged over the replicas that trained. Which
/// thread runs which slice and merges which feature is fixed by indices alone, so the model's bytes depend on the
/// data, the options, the seed and T, never on scheduling; T = 1 is plain sequential training.
/// </remarks>
public static class FfmTrainer
{
    /// <summary>Trains a model on libffm data (fields required).</summary>
    /// <exception cref="ArgumentException">An option is out of range or the data has no fields.</exception>
    public static FfmTrainingResult Train(SparseDataset train, FfmTrainingOptions options, Action<FfmEpoch>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(options);
        Check(train, options);
        var fit = new FfmRowSet(train, null);
        FfmRowSet? validation = options.Validation is { } given ? new FfmRowSet(given, null) : null;
        bool heldOut = false;
        if (validation is null && options.ValidationFraction > 0 && train.Count >= 10)
        {
            // neither part is copied into a dataset of its own: the epoch copy (FfmEpochData) reads the rows fitted
            // on from the training data through their list (it reads every row through its shuffled order anyway),
            // and the validation loss scores the held-out rows where they are
            (ReadOnlyMemory<int> fitRows, ReadOnlyMemory<int> heldRows) = Split(train.Count, options.ValidationFraction, options.Seed);
            fit = new FfmRowSet(train, fitRows);
            validation = new FfmRowSet(train, heldRows);
            heldOut = true;
        }

        int fitCount = fit.Count;
        int n = Math.Max(train.NumFeatures, Math.Max(validation?.Data.NumFeatures ?? 0, options.WarmStart?.NumFeatures ?? 0));
        if (options.MaxFeatures is int cap)
        {
            n = Math.Min(n, cap);
        }

        int m = Math.Max(1, Math.Max(train.NumFields, Math.Max(validation?.Data.NumFields ?? 0, options.WarmStart?.NumFields ?? 0)));
        FfmKernelEntry kernel = FfmKernels.For(options.EmbeddingSize);
        var history = new List<FfmEpoch>();
        int maxEpochs = options.Epochs ?? 30;
        var run = new FfmRun(options, n, m, fitCount);
        int best = run.Fit(kernel, fit, validation, maxEpochs, options.Patience, history, progress, refit: false);
        if (heldOut && options.Epochs is null)
        {
            run = new FfmRun(options, n, m, train.Count);
            run.Fit(kernel, new FfmRowSet(train, null), null, best, 0, history, progress, refit: true);
        }

        (float min, float max) = Range(train.Labels);
        return new FfmTrainingResult(run.ToModel(), options.Task, history, best, min, max, options, heldOut && options.Epochs is null ? train.Count : fitCount, validation?.Count ?? 0);
    }

    /// <summary>
    /// Compiles the methods a training run with these options calls on one-hot rows (libffm's usual data) by
    /// training a made-up model: four rows of <see cref="WarmUpFields"/> fields in field order, every value 1, one
    /// epoch, then scoring one row as the validation loss does. The training methods are AggressiveOptimization (not
    /// in the precompiled image) and the kernels' 512-bit paths too, so the JIT compiles them at their first call;
    /// run on another thread while the data is parsed, the run's own first epoch then finds them compiled (or waits
    /// for the compilation under way). Nothing it computes is used or shared: the model it trains is its own.
    /// </summary>
    internal static void WarmUp(FfmTrainingOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        const int Rows = 4;
        var labels = new float[Rows];
        var offsets = new int[Rows + 1];
        var indices = new int[Rows * WarmUpFields];
        var fields = new int[Rows * WarmUpFields];
        for (int r = 0; r < Rows; r++)
        {
            labels[r] = r & 1;
            offsets[r + 1] = (r + 1) * WarmUpFields;
            for (int f = 0; f < WarmUpFields; f++)
            {
                fields[(r * WarmUpFields) + f] = f;
                indices[(r * WarmUpFields) + f] = (2 * f) + (r & 1);
            }
        }

        SparseDataset data = SparseDataset.FromTrustedArrays(labels, offsets, indices, null, fields, 2 * WarmUpFields, WarmUpFields);
        FfmTrainingResult result = Train(data, options with
        {
            Epochs = 1, ValidationFraction = 0, Validation = null, WarmStart = null, Threads = 1, MaxFeatures = null,
        });
        FfmKernels.For(options.EmbeddingSize).Score(result.Model, data.RowFields(0), data.RowIndices(0), data.RowValues(0));
    }

    /// <summary>Fields of <see cref="WarmUp"/>'s rows.</summary>
    private const int WarmUpFields = 10;

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

        if (options.Threads is < 1 or > 1024)
        {
            throw new ArgumentException($"Threads must be between 1 and 1024; got {options.Threads}.", nameof(options));
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

    /// <summary>Holds out a seeded random fraction of <paramref name="count"/> rows: the rows left to fit on and the
    /// rows held out, each in file order (one array holds both lists).</summary>
    internal static (ReadOnlyMemory<int> FitRows, ReadOnlyMemory<int> HeldRows) Split(int count, double fraction, int seed)
    {
        int[] order = new int[count];
        for (int i = 0; i < count; i++)
        {
            order[i] = i;
        }

        new SplitMix64(unchecked((ulong)seed * 0x9E3779B97F4A7C15UL) ^ 0x5EEDUL).Shuffle(order);
        int held = Math.Max(1, (int)Math.Round(count * fraction));

        // the first rows of the shuffled order are held out: a mark per row, then both lists in file order (what
        // sorting the two parts of the order gave) into the order array, which is no longer read: the held-out
        // rows at its end, the others from its start
        var heldOut = new ulong[(count + 63) >> 6];
        foreach (int r in order.AsSpan(0, held))
        {
            heldOut[r >> 6] |= 1UL << r;
        }

        int f = 0, h = count - held;
        for (int r = 0; r < count; r++)
        {
            if ((heldOut[r >> 6] & (1UL << r)) != 0)
            {
                order[h++] = r;
            }
            else
            {
                order[f++] = r;
            }
        }

        return (order.AsMemory(0, f), order.AsMemory(f, held));
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
}

/// <summary>Rows of a dataset: all of them (<see cref="Rows"/> null), or those listed, in file order (the rows a
/// held-out split leaves to fit on, or holds out), read where they are.</summary>
internal readonly record struct FfmRowSet(SparseDataset Data, ReadOnlyMemory<int>? Rows)
{
    public int Count => Rows?.Length ?? Data.Count;
}
