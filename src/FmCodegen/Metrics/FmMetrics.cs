namespace FmCodegen.Metrics;

/// <summary>
/// The metrics of the two tasks, as pure functions over raw scores (or predictions) and labels. Sums are taken in
/// double, in index order, so the same inputs always give the same result.
/// </summary>
/// <remarks>
/// Classification labels follow libFM: a label &lt;= 0 is negative, anything else positive.
/// Classification scores are raw FM scores (logits); probabilities are their sigmoid.
/// </remarks>
public static class FmMetrics
{
    /// <summary>Probabilities are clipped to [Epsilon, 1 - Epsilon] before the logarithm of the log loss.</summary>
    public const double Epsilon = 1e-15;

    /// <summary>Root mean squared error of predictions against targets (0 for empty input).</summary>
    public static double Rmse(ReadOnlySpan<float> predictions, ReadOnlySpan<float> targets)
    {
        CheckLengths(predictions, targets);
        if (predictions.IsEmpty)
        {
            return 0;
        }

        double sum = 0;
        for (int i = 0; i < predictions.Length; i++)
        {
            double d = (double)predictions[i] - targets[i];
            sum += d * d;
        }

        return Math.Sqrt(sum / predictions.Length);
    }

    /// <summary>Mean absolute error of predictions against targets (0 for empty input).</summary>
    public static double Mae(ReadOnlySpan<float> predictions, ReadOnlySpan<float> targets)
    {
        CheckLengths(predictions, targets);
        if (predictions.IsEmpty)
        {
            return 0;
        }

        double sum = 0;
        for (int i = 0; i < predictions.Length; i++)
        {
            sum += Math.Abs((double)predictions[i] - targets[i]);
        }

        return sum / predictions.Length;
    }

    /// <summary>Mean logistic loss in natural log of raw scores (logits); the probability sigmoid(score) is
    /// clipped to [1e-15, 1 - 1e-15].</summary>
    public static double LogLoss(ReadOnlySpan<float> scores, ReadOnlySpan<float> labels)
    {
        CheckLengths(scores, labels);
        if (scores.IsEmpty)
        {
            return 0;
        }

        double sum = 0;
        for (int i = 0; i < scores.Length; i++)
        {
            sum += LogLossOfProbability(FmMath.Sigmoid((double)scores[i]), labels[i] > 0);
        }

        return sum / scores.Length;
    }

    /// <summary>Mean logistic loss in natural log of probabilities, each clipped to [1e-15, 1 - 1e-15].</summary>
    public static double LogLossOfProbabilities(ReadOnlySpan<float> probabilities, ReadOnlySpan<float> labels)
    {
        CheckLengths(probabilities, labels);
        if (probabilities.IsEmpty)
        {
            return 0;
        }

        double sum = 0;
        for (int i = 0; i < probabilities.Length; i++)
        {
            sum += LogLossOfProbability(probabilities[i], labels[i] > 0);
        }

        return sum / probabilities.Length;
    }

    /// <summary>Fraction of examples on the right side: score &gt; threshold predicts positive.
    /// Use threshold 0 for raw scores and 0.5 for probabilities.</summary>
    public static double Accuracy(ReadOnlySpan<float> scores, ReadOnlySpan<float> labels, float threshold = 0f)
    {
        CheckLengths(scores, labels);
        if (scores.IsEmpty)
        {
            return 0;
        }

        int right = 0;
        for (int i = 0; i < scores.Length; i++)
        {
            if ((scores[i] > threshold) == (labels[i] > 0))
            {
                right++;
            }
        }

        return (double)right / scores.Length;
    }

    /// <summary>
    /// Area under the ROC curve: the Mann-Whitney statistic with tied scores given their averaged rank.
    /// Any monotone transform of the scores (probabilities or logits) gives the same value. NaN when one class
    /// is absent.
    /// </summary>
    public static double Auc(ReadOnlySpan<float> scores, ReadOnlySpan<float> labels)
    {
        CheckLengths(scores, labels);
        int n = scores.Length;
        var order = new int[n];
        var keys = scores.ToArray();
        for (int i = 0; i < n; i++)
        {
            order[i] = i;
            if (float.IsNaN(keys[i]))
            {
                throw new ArgumentException($"scores[{i}] is NaN; AUC needs comparable scores.", nameof(scores));
            }
        }

        Array.Sort(keys, order);
        long positives = 0;
        double rankSum = 0;
        int start = 0;
        while (start < n)
        {
            int end = start + 1;
            while (end < n && keys[end] == keys[start])
            {
                end++;
            }

            // ranks start + 1 .. end share their average
            double averageRank = (start + 1 + end) / 2.0;
            for (int j = start; j < end; j++)
            {
                if (labels[order[j]] > 0)
                {
                    positives++;
                    rankSum += averageRank;
                }
            }

            start = end;
        }

        long negatives = n - positives;
        if (positives == 0 || negatives == 0)
        {
            return double.NaN;
        }

        return (rankSum - (positives * (positives + 1) / 2.0)) / ((double)positives * negatives);
    }

    /// <summary>All metrics of a task for raw scores. Regression predictions are clipped to
    /// [<paramref name="clipMin"/>, <paramref name="clipMax"/>] first (pass infinities for none).</summary>
    public static FmEvaluation Evaluate(FmTask task, ReadOnlySpan<float> scores, ReadOnlySpan<float> labels,
        float clipMin = float.NegativeInfinity, float clipMax = float.PositiveInfinity)
    {
        CheckLengths(scores, labels);
        if (task == FmTask.BinaryClassification)
        {
            return new FmEvaluation(task, scores.Length, LogLoss: LogLoss(scores, labels), Auc: Auc(scores, labels),
                Accuracy: Accuracy(scores, labels), Rmse: double.NaN, Mae: double.NaN);
        }

        var clipped = new float[scores.Length];
        for (int i = 0; i < clipped.Length; i++)
        {
            clipped[i] = Math.Clamp(scores[i], clipMin, clipMax);
        }

        return new FmEvaluation(task, scores.Length, LogLoss: double.NaN, Auc: double.NaN, Accuracy: double.NaN,
            Rmse: Rmse(clipped, labels), Mae: Mae(clipped, labels));
    }

    internal static double LogLossOfProbability(double p, bool positive)
    {
        p = Math.Clamp(p, Epsilon, 1 - Epsilon);
        return positive ? -Math.Log(p) : -Math.Log(1 - p);
    }

    private static void CheckLengths(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        if (a.Length != b.Length)
        {
            throw new ArgumentException($"Predictions ({a.Length}) and labels ({b.Length}) must have the same length.");
        }
    }
}

/// <summary>The metrics of one evaluation. Those that do not apply to the task are NaN.</summary>
/// <param name="Task">The task the metrics belong to.</param>
/// <param name="Count">The number of examples.</param>
/// <param name="LogLoss">Mean logistic loss, natural log (classification).</param>
/// <param name="Auc">Area under the ROC curve, ties averaged (classification).</param>
/// <param name="Accuracy">Fraction right at probability 0.5 (classification).</param>
/// <param name="Rmse">Root mean squared error (regression).</param>
/// <param name="Mae">Mean absolute error (regression).</param>
public sealed record FmEvaluation(FmTask Task, int Count, double LogLoss, double Auc, double Accuracy, double Rmse, double Mae)
{
    /// <summary>The loss early stopping watches: log loss for classification, RMSE for regression (lower is better).</summary>
    public double Loss => Task == FmTask.BinaryClassification ? LogLoss : Rmse;

    /// <summary>The headline metric: AUC for classification, RMSE for regression.</summary>
    public double Metric => Task == FmTask.BinaryClassification ? Auc : Rmse;

    /// <summary>The name of <see cref="Metric"/>.</summary>
    public string MetricName => Task == FmTask.BinaryClassification ? "AUC" : "RMSE";

    /// <summary>The name of <see cref="Loss"/>.</summary>
    public string LossName => Task == FmTask.BinaryClassification ? "logloss" : "RMSE";
}
