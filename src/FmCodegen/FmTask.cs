namespace FmCodegen;

/// <summary>What a model predicts: the one task vocabulary of training, model files, metrics and the command line.</summary>
/// <remarks>The values are stored in native model files; a file that does not record the task has
/// <c>ModelFile.Task == null</c>.</remarks>
public enum FmTask
{
    /// <summary>A real target, squared loss; the raw score is the prediction (clipped to the training targets' range
    /// when the trainer knows it).</summary>
    Regression = 1,

    /// <summary>Two classes (label &lt;= 0 negative, &gt; 0 positive, as libFM), logistic loss; the logistic of the
    /// score is the probability of the positive class.</summary>
    BinaryClassification = 2,
}
