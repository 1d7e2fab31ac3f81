using FmCodegen.Data;
using FmCodegen.IO;

namespace FmCodegen.Training;

/// <summary>The optimiser.</summary>
public enum FmSolver
{
    /// <summary>Plain stochastic gradient descent with a constant learning rate (libFM's -method sgd).</summary>
    Sgd,

    /// <summary>AdaGrad: a learning rate per parameter, divided by the root of its summed squared gradients.</summary>
    AdaGrad,

    /// <summary>FTRL-Proximal (McMahan et al. 2013) with alpha = learning rate, beta = 1 and L2 in the closed form.</summary>
    Ftrl,
}

/// <summary>L2 regularisation per part of the model, applied at each update of a parameter (as libFM).</summary>
/// <param name="Bias">On w0.</param>
/// <param name="Linear">On each w_i.</param>
/// <param name="Factors">On each v_if.</param>
public sealed record FmRegularization(float Bias, float Linear, float Factors);

/// <summary>
/// Everything that shapes a training run. Immutable; unset (null) values take the solver's tuned default
/// (see <see cref="FmTrainer.Defaults"/>). Only <see cref="Task"/> is required.
/// </summary>
public sealed record FmTrainingOptions
{
    /// <summary>Regression or binary classification.</summary>
    public required FmTask Task { get; init; }

    /// <summary>The optimiser. Null: AdaGrad, with the task's tuned defaults (see <see cref="FmTrainer.Defaults"/>).</summary>
    public FmSolver? Solver { get; init; }

    /// <summary>The number of factors per feature, k (default 8); 0 trains a plain linear or logistic regression (the
    /// model then has one factor per feature, all 0).</summary>
    public int EmbeddingSize { get; init; } = 8;

    /// <summary>The highest order of interaction: 2 (pairs, the default) or 3 (pairs and triples, with a second
    /// factor table of k per feature; Blondel et al. 2016). Order 3 trains with the SGD family (SGD, AdaGrad, FTRL).</summary>
    public int Order { get; init; } = 2;

    /// <summary>Use the global bias w0 (libFM's k0; default true). Off: w0 stays 0.</summary>
    public bool UseBias { get; init; } = true;

    /// <summary>Use the linear weights w (libFM's k1; default true). Off: every w_i stays 0 and only the pairwise
    /// interactions (and the bias) are learnt.</summary>
    public bool UseLinear { get; init; } = true;

    /// <summary>Train and score with xLearn's instance normalisation (its default): with norm = 1 / sum_j x_j^2 over an
    /// example, its linear term uses x sqrt(norm) and both sides of every factor product x norm
    /// (<see cref="FmModel.InstanceNormalization"/>). The trained model records it, so every API that scores it, and
    /// a native model file saved from it, score the same. Null: off (<c>fm train --normalize auto</c> and the self-tuning
    /// trainer choose it on validation data).</summary>
    public bool? InstanceNormalization { get; init; }

    /// <summary>The largest number of passes over the training data; early stopping may end sooner. Null: automatic,
    /// up to 100 epochs with early stopping on the held-out fraction, then a refit on all the data (see <see cref="Refit"/>).</summary>
    public int? Epochs { get; init; }

    /// <summary>After early stopping on a held-out fraction found the best number of epochs, train again from scratch
    /// on all the training data for that many epochs, so no example is lost to validation. Null: on when
    /// <see cref="Epochs"/> is null and the validation data is a held-out fraction, off otherwise.</summary>
    public bool? Refit { get; init; }

    /// <summary>Scale the L2 of a feature at each of its updates by sqrt(mean count / its count) over the training
    /// data, so the total penalty grows more slowly than the feature's frequency (rare features are held closer to
    /// zero, frequent ones freer). Null: on for regression, off for classification.</summary>
    public bool? FrequencyScaledL2 { get; init; }

    /// <summary>The learning rate (alpha for FTRL). Null: the solver's default.</summary>
    public float? LearningRate { get; init; }

    /// <summary>L2 per part. Null: the solver's default.</summary>
    public FmRegularization? Regularization { get; init; }

    /// <summary>The standard deviation of the normal the factors start from. Null: the default.</summary>
    public float? InitStdev { get; init; }

    /// <summary>The seed of every random choice (initialisation, validation split, shuffling).</summary>
    public int Seed { get; init; } = 1;

    /// <summary>Threads (cores) to train on. The model depends on it, deterministically: the same data, options,
    /// seed and thread count give the same bytes, whichever kernel serves k and whichever instruction set runs it
    /// (AVX-512, AVX2, SSE or scalar: tested on one machine). Default 1, so the model does not depend on the number
    /// of cores. Between machines or operating systems the bytes are the same unless the platform's double-precision
    /// log or cos (used for the initial factors, a classifier's initial bias and the validation logloss) differs in a
    /// bit that survives rounding to float; see docs/training.md, "Determinism".</summary>
    public int Threads { get; init; } = 1;

    /// <summary>A validation set to watch (and stop early on). When null, <see cref="ValidationFraction"/> of the
    /// training data is held out instead.</summary>
    public SparseDataset? Validation { get; init; }

    /// <summary>The fraction of the training data held out for validation when no <see cref="Validation"/> set is
    /// given (0 = none). Null: the default (0.1).</summary>
    public double? ValidationFraction { get; init; }

    /// <summary>Epochs without a better validation loss before training stops (0 = never stop early). Null: the default.</summary>
    public int? Patience { get; init; }

    /// <summary>When stopping, return the model of the epoch with the best validation loss (default true).</summary>
    public bool RestoreBest { get; init; } = true;

    /// <summary>Visit the training examples in a new seeded random order each epoch (default true).</summary>
    public bool Shuffle { get; init; } = true;

    /// <summary>Start from this model's parameters (its k must equal <see cref="EmbeddingSize"/>) instead of a random initialisation.</summary>
    public FmModel? WarmStart { get; init; }
}

/// <summary>One epoch of a training run.</summary>
/// <param name="Epoch">1-based.</param>
/// <param name="TrainLoss">The mean loss over the epoch's examples, each measured just before its update
/// (squared error / 2 for regression, logistic loss for classification).</param>
/// <param name="TrainMetric">Measured the same way: RMSE for regression, accuracy for classification.</param>
/// <param name="Validation">Metrics on the validation data after the epoch, or null without validation data.</param>
/// <param name="Seconds">Wall time of the epoch's training (validation excluded).</param>
/// <param name="ExamplesPerSecond">Example updates per second during the epoch.</param>
/// <param name="Refit">True for the epochs of the final refit on all the training data (they have no validation).</param>
/// <param name="PlannedEpochs">The most epochs this phase will run (early stopping may end it sooner).</param>
public sealed record FmEpoch(int Epoch, double TrainLoss, double TrainMetric, Metrics.FmEvaluation? Validation, double Seconds, double ExamplesPerSecond,
    bool Refit = false, int PlannedEpochs = 0)
{
    /// <summary>Bytes read from the row cache during the epoch (out-of-core training; 0 in memory).</summary>
    public long BytesRead { get; init; }
}

/// <summary>The outcome of <see cref="FmTrainer.Train"/>.</summary>
/// <param name="Model">The trained model (the best epoch's when early stopping restored it).</param>
/// <param name="Task">The task it was trained for.</param>
/// <param name="History">Every epoch run, in order.</param>
/// <param name="BestEpoch">The epoch <see cref="Model"/> comes from (with a refit: the number of epochs of the refit).</param>
/// <param name="TargetMin">The smallest training target (regression predictions are clipped to it, as libFM).</param>
/// <param name="TargetMax">The largest training target.</param>
/// <param name="Options">The options with every default filled in.</param>
/// <param name="TrainExamples">Examples the final model was trained on (after any validation hold-out).</param>
/// <param name="ValidationExamples">Examples validated on.</param>
public sealed record FmTrainingResult(FmModel Model, FmTask Task, IReadOnlyList<FmEpoch> History, int BestEpoch,
    float TargetMin, float TargetMax, FmTrainingOptions Options, int TrainExamples, int ValidationExamples)
{
    /// <summary>Saves the model with its task recorded, atomically: native format unless the name ends in .libfm or
    /// .xlearn or <paramref name="format"/> says otherwise (<see cref="ModelFiles.Save(FmModel, string, FmTask?, ModelFormat?)"/>).
    /// A regression model's native file also records the training targets' range (<see cref="File"/>).</summary>
    public void Save(string path, ModelFormat? format = null) => ModelFiles.Save(File, path, format);

    /// <summary>The model as it is saved: the task, the sections, and for regression the training targets' range
    /// (<see cref="ModelFile.TargetRange"/>), to which <c>fm predict</c> clamps its predictions by default.</summary>
    public ModelFile File => new(Model, Task, HasBias: Options.UseBias, HasLinear: Options.UseLinear)
    {
        TargetRange = Task == FmTask.Regression && float.IsFinite(TargetMin) && float.IsFinite(TargetMax) && TargetMin <= TargetMax
            ? (TargetMin, TargetMax) : null,
    };

    /// <summary>Total training seconds over all epochs (validation excluded).</summary>
    public double TrainingSeconds => History.Sum(e => e.Seconds);

    /// <summary>A prediction for a raw score: the probability for classification, the clipped score for regression.</summary>
    public float Predict(float score) => Task == FmTask.BinaryClassification ? Fm.Sigmoid(score) : Math.Clamp(score, TargetMin, TargetMax);
}
