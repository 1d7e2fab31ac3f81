using FmCodegen.Data;
using FmCodegen.Kernels;

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
            InstanceNormalization = options.InstanceNormalization ?? false,
        };
    }

    /// <summary>
    /// Trains a model on <paramref name="train"/>. <paramref name="onEpoch"/>, when given, hears about each epoch as
    /// it ends (for progress displays); it does not change the result.
    /// </summary>
    /// <exception cref="ArgumentException">The options are out of range or disagree with the data.</exception>
    /// <exception cref="InvalidOperationException">Training diverged (a loss became infinite or NaN).</exception>
    /// <exception cref="InsufficientMemoryException">The model's tables would not fit in the memory the process may use.</exception>
    public static FmTrainingResult Train(SparseDataset train, FmTrainingOptions options, Action<FmEpoch>? onEpoch = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(train);
        FmTrainingOptions o = Defaults(options);
        Validate(o, train.Count);
        if (o.EmbeddingSize == 0)
        {
            // k = 0, a linear (or logistic) regression: one factor that starts at 0 stays 0 under every rule (its
            // gradient x_i (s_f - v_if x_i) is 0 when every v is 0), so the FM machinery trains exactly the linear model
            FmTrainingResult linear = Train(train, o with { EmbeddingSize = 1, InitStdev = 0 }, onEpoch, cancellationToken);
            return linear with { Options = linear.Options with { EmbeddingSize = 0, InitStdev = o.InitStdev } };
        }

        if (o.Order == 3)
        {
            return o.Solver switch
            {
                FmSolver.Sgd => WithOrder3Kernel<SgdRule>(train, o, onEpoch, cancellationToken),
                FmSolver.Ftrl => WithOrder3Kernel<FtrlRule>(train, o, onEpoch, cancellationToken),
                _ => WithOrder3Kernel<AdaGradRule>(train, o, onEpoch, cancellationToken),
            };
        }

        return o.Solver switch
        {
            FmSolver.Sgd => WithKernel<SgdRule>(train, o, onEpoch, cancellationToken),
            FmSolver.Ftrl => WithKernel<FtrlRule>(train, o, onEpoch, cancellationToken),
            _ => WithKernel<AdaGradRule>(train, o, onEpoch, cancellationToken),
        };
    }

    /// <summary>
    /// Trains a model on a libFM/libSVM (or libffm, fields ignored) text file whose rows stay on disk: the file is
    /// parsed once into a checked binary cache, and every epoch streams the training rows from it in segments of
    /// about 8M nonzeros (memory: one segment, the validation rows and the model's tables). The rows, the shuffling
    /// and the updates are those of <see cref="Train"/>, so for the same data, options, seed and thread count the
    /// model has the same bytes.
    /// </summary>
    /// <exception cref="DataFormatException">The text is not data.</exception>
    /// <exception cref="IOException">The cache path holds another file, or a cache of another version of the text.</exception>
    /// <exception cref="InvalidDataException">A kept cache is damaged or truncated.</exception>
    public static FmTrainingResult TrainOutOfCore(string trainPath, SparseFormat format, FmTrainingOptions options, FmOutOfCoreOptions? outOfCore = null,
        Action<FmEpoch>? onEpoch = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(trainPath);
        ArgumentNullException.ThrowIfNull(options);
        outOfCore ??= new FmOutOfCoreOptions();
        string folder = outOfCore.TempDirectory
            ?? (outOfCore.CachePath is { } kept ? Path.GetDirectoryName(Path.GetFullPath(kept)) : null)
            ?? Path.GetTempPath();
        string cachePath = outOfCore.CachePath ?? Path.Combine(folder, $".fm-rows-{Environment.ProcessId}-{Guid.NewGuid():N}.cache");
        RowCacheReader cache = OutOfCoreTraining.OpenOrBuild(trainPath, format, cachePath, outOfCore.OnPass);
        try
        {
            FmTrainingOptions o = Defaults(options);
            Validate(o, (int)Math.Min(cache.Rows, int.MaxValue));
            return TrainCached(cache, folder, o, onEpoch, outOfCore.OnPass, cancellationToken);
        }
        finally
        {
            cache.Dispose();
            if (outOfCore.CachePath is null)
            {
                File.Delete(cachePath);
            }
        }
    }

    private static FmTrainingResult TrainCached(RowCacheReader cache, string folder, FmTrainingOptions o, Action<FmEpoch>? onEpoch,
        Action<string, long, long>? onPass, CancellationToken cancellationToken)
    {
        if (o.EmbeddingSize == 0)
        {
            FmTrainingResult linear = TrainCached(cache, folder, o with { EmbeddingSize = 1, InitStdev = 0 }, onEpoch, onPass, cancellationToken);
            return linear with { Options = linear.Options with { EmbeddingSize = 0, InitStdev = o.InitStdev } };
        }

        if (o.Order == 3)
        {
            return o.Solver switch
            {
                FmSolver.Sgd => FmOrder3Kernels.For(o.EmbeddingSize).Accept(new CachedOrder3Run<SgdRule>(cache, folder, o, onEpoch, onPass, cancellationToken)),
                FmSolver.Ftrl => FmOrder3Kernels.For(o.EmbeddingSize).Accept(new CachedOrder3Run<FtrlRule>(cache, folder, o, onEpoch, onPass, cancellationToken)),
                _ => FmOrder3Kernels.For(o.EmbeddingSize).Accept(new CachedOrder3Run<AdaGradRule>(cache, folder, o, onEpoch, onPass, cancellationToken)),
            };
        }

        return o.Solver switch
        {
            FmSolver.Sgd => FmKernels.For(o.EmbeddingSize).Accept(new CachedRun<SgdRule>(cache, folder, o, onEpoch, onPass, cancellationToken)),
            FmSolver.Ftrl => FmKernels.For(o.EmbeddingSize).Accept(new CachedRun<FtrlRule>(cache, folder, o, onEpoch, onPass, cancellationToken)),
            _ => FmKernels.For(o.EmbeddingSize).Accept(new CachedRun<AdaGradRule>(cache, folder, o, onEpoch, onPass, cancellationToken)),
        };
    }

    private sealed class CachedRun<TRule>(RowCacheReader cache, string folder, FmTrainingOptions options, Action<FmEpoch>? onEpoch,
        Action<string, long, long>? onPass, CancellationToken cancellationToken) : IFmKernelVisitor<FmTrainingResult>
        where TRule : struct, IUpdateRule
    {
        public FmTrainingResult Visit<TKernel>()
            where TKernel : struct, IFmKernel =>
            OutOfCoreTraining.Run<TRule, TKernel>(cache, folder, options, onEpoch, onPass, cancellationToken);
    }

    /// <summary>Out of core with the order-3 kernel that serves k, through <see cref="Order3Adapter{TKernel}"/> as in memory.</summary>
    private sealed class CachedOrder3Run<TRule>(RowCacheReader cache, string folder, FmTrainingOptions options, Action<FmEpoch>? onEpoch,
        Action<string, long, long>? onPass, CancellationToken cancellationToken) : IFmOrder3KernelVisitor<FmTrainingResult>
        where TRule : struct, IUpdateRule
    {
        public FmTrainingResult Visit<TKernel>()
            where TKernel : struct, IFmOrder3Kernel =>
            OutOfCoreTraining.Run<TRule, Order3Adapter<TKernel>>(cache, folder, options, onEpoch, onPass, cancellationToken);
    }

    /// <summary>Runs the solver's training loop compiled for the kernel that serves k (a generated fixed-k one when
    /// registered, the runtime-k one otherwise): the registry's entry hands its kernel struct to the visitor.</summary>
    private static FmTrainingResult WithKernel<TRule>(SparseDataset train, FmTrainingOptions o, Action<FmEpoch>? onEpoch, CancellationToken cancellationToken)
        where TRule : struct, IUpdateRule =>
        FmKernels.For(o.EmbeddingSize).Accept(new SolverRun<TRule>(train, o, onEpoch, cancellationToken));

    /// <summary>The same training loops over order-3 rows, compiled for the order-3 kernel that serves k (through
    /// <see cref="Order3Adapter{TKernel}"/>, so the epochs, validation and merging are the order-2 ones).</summary>
    private static FmTrainingResult WithOrder3Kernel<TRule>(SparseDataset train, FmTrainingOptions o, Action<FmEpoch>? onEpoch, CancellationToken cancellationToken)
        where TRule : struct, IUpdateRule =>
        FmOrder3Kernels.For(o.EmbeddingSize).Accept(new Order3SolverRun<TRule>(train, o, onEpoch, cancellationToken));

    private sealed class Order3SolverRun<TRule>(SparseDataset train, FmTrainingOptions options, Action<FmEpoch>? onEpoch, CancellationToken cancellationToken)
        : IFmOrder3KernelVisitor<FmTrainingResult>
        where TRule : struct, IUpdateRule
    {
        public FmTrainingResult Visit<TKernel>()
            where TKernel : struct, IFmOrder3Kernel =>
            StochasticTraining.Run<TRule, Order3Adapter<TKernel>>(train, options, onEpoch, cancellationToken);
    }

    private sealed class SolverRun<TRule>(SparseDataset train, FmTrainingOptions options, Action<FmEpoch>? onEpoch, CancellationToken cancellationToken)
        : IFmKernelVisitor<FmTrainingResult>
        where TRule : struct, IUpdateRule
    {
        public FmTrainingResult Visit<TKernel>()
            where TKernel : struct, IFmKernel =>
            StochasticTraining.Run<TRule, TKernel>(train, options, onEpoch, cancellationToken);
    }

    private static void Validate(FmTrainingOptions o, int count)
    {
        if (count == 0)
        {
            throw new ArgumentException("The training data has no examples.", "train");
        }

        Check(Enum.IsDefined(o.Task), $"Unknown task {o.Task}.");
        Check(Enum.IsDefined(o.Solver!.Value), $"Unknown solver {o.Solver}.");
        Check(o.EmbeddingSize is >= 0 and <= FmModel.MaxEmbeddingSize, $"k (the embedding size) must be between 0 (a linear model) and {FmModel.MaxEmbeddingSize}; got {o.EmbeddingSize}.");
        Check(o.Epochs >= 0, $"Epochs must be 0 or more; got {o.Epochs}.");
        Check(o.LearningRate is > 0 and < float.PositiveInfinity, $"The learning rate must be positive and finite; got {o.LearningRate}.");
        FmRegularization r = o.Regularization!;
        Check(r.Bias >= 0 && r.Linear >= 0 && r.Factors >= 0 && float.IsFinite(r.Bias + r.Linear + r.Factors),
            $"L2 values must be finite and 0 or more; got {r.Bias}, {r.Linear}, {r.Factors}.");
        Check(o.InitStdev is >= 0 and < float.PositiveInfinity, $"The init stdev must be finite and 0 or more; got {o.InitStdev}.");
        Check(o.Threads is >= 1 and <= 1024, $"Threads must be between 1 and 1024; got {o.Threads}.");
        Check(o.ValidationFraction is >= 0 and < 1, $"The validation fraction must be in [0, 1); got {o.ValidationFraction}.");
        Check(o.Patience >= 0, $"Patience must be 0 or more; got {o.Patience}.");
        Check(o.Order is 2 or 3, $"The order must be 2 (pairs) or 3 (pairs and triples); got {o.Order}.");
        Check(o.Order == 2 || o.EmbeddingSize >= 1, "Order 3 needs factors: k must be 1 or more (k = 0 is a linear model, of no order).");
        Check(o.Order == 2 || o.InstanceNormalization != true, "Order 3 trains without instance normalisation (xLearn defines it for pairs only); set InstanceNormalization = false.");
        if (o.WarmStart is { } warm)
        {
            Check(warm.EmbeddingSize == Math.Max(o.EmbeddingSize, 1), $"The warm-start model has k = {warm.EmbeddingSize}, but k = {o.EmbeddingSize} was asked for.");
            Check(warm.Order == o.Order, $"The warm-start model has order {warm.Order}, but order {o.Order} was asked for.");
            Check(warm.InstanceNormalization == o.InstanceNormalization,
                warm.InstanceNormalization
                    ? "The warm-start model scores with xLearn's instance normalisation, but the options train without it; set InstanceNormalization = true, or pass model.WithInstanceNormalization(false) to start from its parameters."
                    : "The warm-start model scores without instance normalisation, but the options train with it; set InstanceNormalization = false, or pass model.WithInstanceNormalization(true).");
        }

        static void Check(bool ok, string message)
        {
            if (!ok)
            {
                throw new ArgumentException(message, "options");
            }
        }
    }
}
