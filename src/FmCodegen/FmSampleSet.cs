namespace FmCodegen;

/// <summary>How a <see cref="FmSampleSet"/> turns each member's raw score into a prediction before averaging.</summary>
public enum FmSampleLink
{
    /// <summary>Regression: the raw score, clamped to the set's range when it has one.</summary>
    Identity = 0,

    /// <summary>Probit classification: the standard normal CDF Phi(score), the probability of the positive class.</summary>
    Probit = 1,
}

/// <summary>
/// Posterior samples of a Bayesian Factorization Machine (MCMC): several models of the same shape whose predictions
/// are averaged. Each member is an ordinary <see cref="FmModel"/> scored by <see cref="Fm.Score"/> and the generated
/// kernels; the set's prediction for an example is the mean over members of link(score): the clamped raw score for
/// regression (libFM clips each sample to the training targets' range), Phi(score) for classification.
/// </summary>
public sealed class FmSampleSet
{
    private readonly FmModel[] _samples;

    private FmSampleSet(FmModel[] samples, FmSampleLink link, float clipMin, float clipMax)
    {
        _samples = samples;
        Link = link;
        ClipMin = clipMin;
        ClipMax = clipMax;
    }

    /// <summary>The members, in the order they were drawn.</summary>
    public IReadOnlyList<FmModel> Samples => _samples;

    /// <summary>The link applied to each member's score.</summary>
    public FmSampleLink Link { get; }

    /// <summary>The lower clamp of each member's regression score (negative infinity: none).</summary>
    public float ClipMin { get; }

    /// <summary>The upper clamp of each member's regression score (positive infinity: none).</summary>
    public float ClipMax { get; }

    /// <summary>The embedding size k shared by every member.</summary>
    public int EmbeddingSize => _samples[0].EmbeddingSize;

    /// <summary>The number of features shared by every member.</summary>
    public int NumFeatures => _samples[0].NumFeatures;

    /// <summary>Builds a set from at least one model; every member must have the same k and feature count.</summary>
    /// <exception cref="ArgumentException">No members, shapes differ, or the clamp range is empty or NaN.</exception>
    public static FmSampleSet Create(IEnumerable<FmModel> samples, FmSampleLink link,
        float clipMin = float.NegativeInfinity, float clipMax = float.PositiveInfinity)
    {
        ArgumentNullException.ThrowIfNull(samples);
        FmModel[] members = samples.ToArray();
        if (members.Length == 0)
        {
            throw new ArgumentException("A sample set needs at least one model.", nameof(samples));
        }

        int higher = Array.FindIndex(members, m => m.Order != 2);
        if (higher >= 0)
        {
            throw new ArgumentException($"Sample {higher} has order {members[higher].Order}; a sample set (Bayesian FM) holds order-2 models.", nameof(samples));
        }

        for (int s = 1; s < members.Length; s++)
        {
            if (members[s].EmbeddingSize != members[0].EmbeddingSize || members[s].NumFeatures != members[0].NumFeatures)
            {
                throw new ArgumentException(
                    $"Sample {s} has k = {members[s].EmbeddingSize} and {members[s].NumFeatures:N0} features; sample 0 has k = {members[0].EmbeddingSize} and {members[0].NumFeatures:N0}.",
                    nameof(samples));
            }
        }

        if (link is not FmSampleLink.Identity and not FmSampleLink.Probit)
        {
            throw new ArgumentOutOfRangeException(nameof(link), link, "Unknown link.");
        }

        if (float.IsNaN(clipMin) || float.IsNaN(clipMax) || clipMin > clipMax)
        {
            throw new ArgumentException($"The clamp range [{clipMin}, {clipMax}] is empty or NaN.", nameof(clipMin));
        }

        return new FmSampleSet(members, link, clipMin, clipMax);
    }

    /// <summary>The averaged prediction for one example (a probability for <see cref="FmSampleLink.Probit"/>).</summary>
    public float Predict(ReadOnlySpan<int> indices, ReadOnlySpan<float> values)
    {
        double sum = 0;
        foreach (FmModel member in _samples)
        {
            sum += Apply(Fm.Score(member, indices, values));
        }

        return (float)(sum / _samples.Length);
    }

    /// <summary>Averaged predictions for a CSR batch, one per row, through <see cref="Fm.ScoreBatch"/> per member.
    /// Gives the same bits as <see cref="Predict"/> row by row.</summary>
    public void PredictBatch(ReadOnlySpan<int> offsets, ReadOnlySpan<int> indices, ReadOnlySpan<float> values, Span<float> output, int maxThreads = 1)
    {
        var sums = new double[output.Length];
        var scores = new float[output.Length];
        foreach (FmModel member in _samples)
        {
            Fm.ScoreBatch(member, offsets, indices, values, scores, maxThreads);
            Accumulate(scores, sums);
        }

        Finish(sums, output);
    }

    /// <summary>Adds link(score) of one member's scores into running sums (the training loop's running average uses it).</summary>
    public void Accumulate(ReadOnlySpan<float> scores, Span<double> sums)
    {
        if (scores.Length != sums.Length)
        {
            throw new ArgumentException($"scores ({scores.Length}) and sums ({sums.Length}) must have the same length.");
        }

        for (int i = 0; i < scores.Length; i++)
        {
            sums[i] += Apply(scores[i]);
        }
    }

    /// <summary>Divides sums of <see cref="Accumulate"/> over all members into predictions.</summary>
    public void Finish(ReadOnlySpan<double> sums, Span<float> output)
    {
        if (sums.Length != output.Length)
        {
            throw new ArgumentException($"sums ({sums.Length}) and output ({output.Length}) must have the same length.");
        }

        for (int i = 0; i < sums.Length; i++)
        {
            output[i] = (float)(sums[i] / _samples.Length);
        }
    }

    /// <summary>link(score) for this set: Phi for probit, the clamped score for identity.</summary>
    public double Apply(float score) => Link == FmSampleLink.Probit ? NormalCdf(score) : Math.Clamp(score, ClipMin, ClipMax);

    /// <summary>The mean of the members' parameters: a point summary for inspection and conversion. Its scores are
    /// not the set's predictions (an FM's score is not linear in its factors); score with the set.</summary>
    public FmModel MeanModel()
    {
        int n = NumFeatures;
        int k = EmbeddingSize;
        var w = new double[n];
        var v = new double[(long)n * k];
        double bias = 0;
        foreach (FmModel member in _samples)
        {
            bias += member.Bias;
            ReadOnlySpan<float> mw = member.Weights;
            ReadOnlySpan<float> mv = member.Factors;
            for (int i = 0; i < n; i++)
            {
                w[i] += mw[i];
            }

            for (int i = 0; i < v.Length; i++)
            {
                v[i] += mv[i];
            }
        }

        double scale = 1.0 / _samples.Length;
        return FmModel.Create((float)(bias * scale), w.Select(x => (float)(x * scale)).ToArray(), v.Select(x => (float)(x * scale)).ToArray(), k);
    }

    /// <summary>The standard normal CDF, with relative error below 1.2e-7 in both tails (a Chebyshev fit of erfc).</summary>
    public static double NormalCdf(double x)
    {
        if (double.IsNaN(x))
        {
            return double.NaN;
        }

        // Phi(x) = erfc(-x / sqrt 2) / 2
        double z = -x * 0.70710678118654752440;
        double a = Math.Abs(z);
        double t = 1.0 / (1.0 + 0.5 * a);
        double erfc = t * Math.Exp(-a * a - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806
            + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
        return 0.5 * (z >= 0 ? erfc : 2.0 - erfc);
    }
}
