using FmCodegen.Data;
using FmCodegen.Metrics;

namespace FmCodegen.Training.Bayesian;

/// <summary>The coordinate-wise solvers of libFM.</summary>
public enum FmBayesMethod
{
    /// <summary>Gibbs sampling with hyperpriors (libFM's default, <c>-method mcmc</c>): no learning rate and no L2 to
    /// tune; predictions average the samples.</summary>
    Mcmc,

    /// <summary>Alternating least squares (<c>-method als</c>): the same updates with posterior means instead of draws,
    /// noise precision 1, prior means 0 and the L2 of <see cref="FmBayesOptions.Regularization"/> fixed.</summary>
    Als,
}

/// <summary>
/// L2 (prior precision) per part and group. For ALS these are the fixed penalties; for MCMC the per-group values are
/// only starting points (the sampler draws them) while <see cref="Bias"/> stays the prior precision of w0 (libFM's r0).
/// </summary>
/// <param name="Bias">On w0.</param>
/// <param name="Linear">On each w_j: one value for every group, or one per group.</param>
/// <param name="Factors">On each v_jf: one value for every group, or one per group.</param>
public sealed record FmBayesRegularization(double Bias, IReadOnlyList<double> Linear, IReadOnlyList<double> Factors)
{
    /// <summary>The same value for every group.</summary>
    public static FmBayesRegularization Uniform(double bias, double linear, double factors) => new(bias, [linear], [factors]);
}

/// <summary>Everything that shapes a Bayesian (MCMC) or ALS training run. Only <see cref="Task"/> is required.</summary>
public sealed record FmBayesOptions
{
    /// <summary>Regression (Gaussian noise) or binary classification (probit: a truncated-normal latent target).</summary>
    public required FmTask Task { get; init; }

    /// <summary>MCMC (default) or ALS.</summary>
    public FmBayesMethod Method { get; init; } = FmBayesMethod.Mcmc;

    /// <summary>The number of factors k; 0 gives a linear model (plain linear or probit regression).</summary>
    public int EmbeddingSize { get; init; } = 8;

    /// <summary>Use the global bias w0 (libFM's k0).</summary>
    public bool UseBias { get; init; } = true;

    /// <summary>Use the linear weights w (libFM's k1).</summary>
    public bool UseLinear { get; init; } = true;

    /// <summary>Sweeps over the data (libFM's -iter).</summary>
    public int Iterations { get; init; } = 100;

    /// <summary>MCMC: the first sweeps, whose samples are neither averaged nor kept (libFM: 0).</summary>
    public int BurnIn { get; init; }

    /// <summary>MCMC: how many of the last sweeps after the burn-in make the model (their predictions are averaged);
    /// null: all of them (libFM averages every sweep).</summary>
    public int? KeptSamples { get; init; }

    /// <summary>The standard deviation of the normal that w and V start from (libFM's -init_stdev).</summary>
    public double InitStdev { get; init; } = 0.1;

    /// <summary>The seed of every draw.</summary>
    public int Seed { get; init; } = 1;

    /// <summary>The group of every feature (libFM's -meta): each group has its own prior mean and precision for w and
    /// for each factor. Null: one group. Features beyond the list are refused.</summary>
    public IReadOnlyList<int>? Groups { get; init; }

    /// <summary>L2 per part and group (ALS) or starting precisions and w0's prior (MCMC). Null: all 0 (libFM's default).</summary>
    public FmBayesRegularization? Regularization { get; init; }

    /// <summary>The least number of features of the model (more when the training data has more), e.g. to cover the
    /// features of a test set as libFM does.</summary>
    public int NumFeatures { get; init; }

    /// <summary>Threads for the sweeps (0: one per core). The result does not depend on it: the work is cut into parts
    /// fixed by the data alone, partial sums are added in part order and every random draw is made on one thread in
    /// one order, so any thread count gives the same bits.</summary>
    public int Threads { get; init; }

    /// <summary>MCMC: keep the kept samples' models in the result (needed to save the model). Turning it off saves
    /// memory when only the test predictions are wanted.</summary>
    public bool StoreSamples { get; init; } = true;

    /// <summary>Classification with a test set: compute the test AUC after every sweep (a sort of the test
    /// predictions each time). Off: only after the last sweep (the other sweeps report NaN), as libFM's per-iteration
    /// lines do not show it.</summary>
    public bool AucEverySweep { get; init; } = true;

    /// <summary>For tests: for k = 8 never take the 512-bit column passes nor the written-out joint draw (they must give
    /// the same bits as the 256-bit passes and the draw's loops).</summary>
    internal bool NarrowVectors { get; init; }

    /// <summary>The group of each feature from libffm fields: a feature takes the field of its first occurrence
    /// (features that never occur go to group 0).</summary>
    public static int[] GroupsFromFields(SparseDataset data)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (!data.HasFields)
        {
            throw new ArgumentException("The data has no fields (it was not read as libffm).", nameof(data));
        }

        var groups = new int[data.NumFeatures];
        var seen = new bool[data.NumFeatures];
        ReadOnlySpan<int> indices = data.Indices;
        ReadOnlySpan<int> fields = data.Fields;
        for (int p = 0; p < indices.Length; p++)
        {
            if (!seen[indices[p]])
            {
                seen[indices[p]] = true;
                groups[indices[p]] = fields[p];
            }
        }

        return groups;
    }
}

/// <summary>One sweep of a Bayesian or ALS run.</summary>
/// <param name="Iteration">1-based.</param>
/// <param name="TrainMetric">On the training data with this sweep's parameters: RMSE of the clipped predictions
/// (regression) or accuracy (classification).</param>
/// <param name="Test">The test set's metrics of the averaged predictions so far (MCMC; ALS: this sweep's), or null.</param>
/// <param name="Alpha">The noise precision.</param>
/// <param name="Seconds">Wall time of the sweep, test scoring included.</param>
/// <param name="LinearMu">Per group: the prior mean of w.</param>
/// <param name="LinearLambda">Per group: the prior precision of w.</param>
/// <param name="FactorMu">Per group then factor (g * k + f): the prior mean of v.</param>
/// <param name="FactorLambda">Per group then factor: the prior precision of v.</param>
public sealed record FmBayesSweep(int Iteration, double TrainMetric, FmEvaluation? Test, double Alpha, double Seconds,
    double[] LinearMu, double[] LinearLambda, double[] FactorMu, double[] FactorLambda);

/// <summary>The outcome of <see cref="FmBayesTrainer.Train"/>.</summary>
/// <param name="Model">ALS: the final model. MCMC: the last sample (the prediction is the average of <see cref="Samples"/>).</param>
/// <param name="Samples">MCMC with <see cref="FmBayesOptions.StoreSamples"/>: the kept samples; otherwise null.</param>
/// <param name="History">Every sweep, in order.</param>
/// <param name="TargetMin">The smallest training target (regression predictions are clipped to it, as libFM).</param>
/// <param name="TargetMax">The largest training target.</param>
/// <param name="TestPredictions">For the test set given to training: the averaged predictions of the kept samples
/// (MCMC) or the final model's (ALS): probabilities for classification, clipped values for regression.</param>
/// <param name="Options">The options the run used.</param>
public sealed record FmBayesResult(FmModel Model, FmSampleSet? Samples, IReadOnlyList<FmBayesSweep> History, float TargetMin, float TargetMax,
    float[]? TestPredictions, FmBayesOptions Options)
{
    /// <summary>Total seconds over all sweeps.</summary>
    public double TrainingSeconds => History.Sum(s => s.Seconds);
}
