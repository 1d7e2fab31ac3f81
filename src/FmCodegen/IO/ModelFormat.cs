namespace FmCodegen.IO;

/// <summary>The model file formats FmCodegen reads and writes.</summary>
public enum ModelFormat
{
    /// <summary>FmCodegen's binary format: a checksummed header, then the kernels' row table (layout in docs/io.md).</summary>
    Native,

    /// <summary>libFM's text model (<c>-save_model</c>).</summary>
    LibFm,

    /// <summary>xLearn's FM text model (<c>-t FILE</c>).</summary>
    XLearn,

    /// <summary>A Spark MLlib FMClassificationModel / FMRegressionModel directory (metadata JSON and Parquet data),
    /// read by the FmCodegen.Spark package (<c>SparkModelDirectory.Load</c>); read-only.</summary>
    Spark,
}

/// <summary>
/// A model as read from (or to be written to) a file: the <see cref="FmModel"/> and what the file says around it.
/// </summary>
/// <param name="Model">The parameters (and whether they score with xLearn's instance normalisation).</param>
/// <param name="Task">What the model predicts, or null when the file does not say (the text formats never do).</param>
/// <param name="HasBias">False when the file has no bias (libFM <c>-dim '0,..'</c>); the bias is then 0.</param>
/// <param name="HasLinear">False when the file has no linear weights (libFM <c>-dim '.,0,.'</c>); they are then 0.</param>
public sealed record ModelFile(
    FmModel Model,
    FmTask? Task = null,
    bool HasBias = true,
    bool HasLinear = true)
{
    /// <summary>The format the file was read in; null for a <see cref="ModelFile"/> made in code.</summary>
    public ModelFormat? Format { get; init; }

    /// <summary>True when the file carried a checksum and it matched (native files); false for formats without one
    /// (the text formats) and for a <see cref="ModelFile"/> made in code.</summary>
    public bool ChecksumVerified { get; init; }

    /// <summary>True when the model scores with xLearn's instance normalisation (<see cref="FmModel.InstanceNormalization"/>;
    /// native files record it, xLearn's text does not, so there it comes from the caller).</summary>
    public bool InstanceNormalization => Model.InstanceNormalization;

    /// <summary>For a Bayesian model (MCMC): the posterior samples, whose averaged predictions are the model's
    /// (<see cref="FmSampleSet"/>); <see cref="Model"/> is then their parameter mean, for inspection only. Null for
    /// one ordinary model. Only the native format stores sample sets.</summary>
    public FmSampleSet? Samples { get; init; }

    /// <summary>For a regression model: the smallest and largest target it was trained on, to which its predictions
    /// are clamped by default (as libFM clamps regression predictions); null when the file does not record it (text
    /// formats, classification, native files written before version 4). The native format stores it for one model
    /// (version 4); a sample set records its own clamp range (<see cref="FmSampleSet.ClipMin"/>).</summary>
    public (float Min, float Max)? TargetRange { get; init; }
}
