namespace FmCodegen.IO;

/// <summary>The model file formats FmCodegen reads and writes.</summary>
public enum ModelFormat
{
    /// <summary>FmCodegen's binary format (see <see cref="NativeModelFile"/>).</summary>
    Native,

    /// <summary>libFM's text model (<c>-save_model</c>).</summary>
    LibFm,

    /// <summary>xLearn's FM text model (<c>-t FILE</c>).</summary>
    XLearn,
}

/// <summary>What a model predicts. Text formats do not record it.</summary>
public enum FmTask
{
    /// <summary>Not recorded in the file.</summary>
    Unknown = 0,

    /// <summary>The raw score is the prediction.</summary>
    Regression = 1,

    /// <summary>The logistic of the score is the probability of the positive class.</summary>
    Classification = 2,
}

/// <summary>Whether a file's checksum was verified.</summary>
public enum ChecksumState
{
    /// <summary>The format has no checksum (the text formats).</summary>
    None,

    /// <summary>The stored checksum matches the content.</summary>
    Verified,
}

/// <summary>
/// A model as read from (or to be written to) a file: the <see cref="FmModel"/> and what the file says around it.
/// </summary>
/// <param name="Model">The parameters.</param>
/// <param name="Format">The file format it came from.</param>
/// <param name="Task">What the model predicts, when the file says.</param>
/// <param name="HasBias">False when the file has no bias (libFM <c>-dim '0,..'</c>); the bias is then 0.</param>
/// <param name="HasLinear">False when the file has no linear weights (libFM <c>-dim '.,0,.'</c>); they are then 0.</param>
/// <param name="InstanceNormalization">True when scores must use xLearn's instance normalisation (native files
/// record it; xLearn's text does not, so it comes from the user).</param>
/// <param name="Checksum">Whether the file carried a checksum that was verified.</param>
public sealed record ModelFile(
    FmModel Model,
    ModelFormat Format,
    FmTask Task = FmTask.Unknown,
    bool HasBias = true,
    bool HasLinear = true,
    bool InstanceNormalization = false,
    ChecksumState Checksum = ChecksumState.None)
{
    /// <summary>For a Bayesian model (MCMC): the posterior samples, whose averaged predictions are the model's
    /// (<see cref="FmSampleSet"/>); <see cref="Model"/> is then their parameter mean, for inspection only. Null for
    /// one ordinary model. Only the native format stores sample sets.</summary>
    public FmSampleSet? Samples { get; init; }
}
