using FmCodegen.Metrics;
using FmCodegen.Training;
using FsCheck.Xunit;

namespace FmCodegen.Training.Tests;

public class MetricsTests
{
    [Fact]
    public void Rmse_and_mae_match_hand_computed_values()
    {
        float[] predictions = [1f, 2f, 3f];
        float[] targets = [1f, 2f, 5f];
        Assert.Equal(Math.Sqrt(4.0 / 3.0), FmMetrics.Rmse(predictions, targets), 12);
        Assert.Equal(2.0 / 3.0, FmMetrics.Mae(predictions, targets), 12);
        Assert.Equal(1.0, FmMetrics.Mae([0f, 0f], [1f, -1f]), 12);
    }

    [Fact]
    public void LogLoss_uses_natural_log_of_the_sigmoid()
    {
        // p = 0.5 for label 1: ln 2; p = 0.75 for label 0: ln 4
        float[] scores = [0f, MathF.Log(3f)];
        float[] labels = [1f, 0f];
        Assert.Equal((Math.Log(2) + Math.Log(4)) / 2, FmMetrics.LogLoss(scores, labels), 6);
        Assert.Equal((Math.Log(2) + Math.Log(4)) / 2, FmMetrics.LogLossOfProbabilities([0.5f, 0.75f], [1f, -1f]), 6);
    }

    [Fact]
    public void LogLoss_clips_probabilities_at_1e15()
    {
        Assert.Equal(-Math.Log(1e-15), FmMetrics.LogLoss([-100f], [1f]), 9);
        Assert.Equal(-Math.Log(1e-15), FmMetrics.LogLossOfProbabilities([0f], [1f]), 9);
    }

    [Fact]
    public void Auc_counts_pairs()
    {
        // pairs (pos, neg): 0.35 > 0.1, 0.35 < 0.4, 0.8 > both: 3 of 4
        Assert.Equal(0.75, FmMetrics.Auc([0.1f, 0.4f, 0.35f, 0.8f], [0f, 0f, 1f, 1f]), 12);
        Assert.Equal(1.0, FmMetrics.Auc([0.1f, 0.2f, 0.3f], [-1f, 1f, 1f]), 12);
        Assert.Equal(0.0, FmMetrics.Auc([0.9f, 0.2f], [0f, 1f]), 12);
    }

    [Fact]
    public void Auc_gives_tied_scores_the_averaged_rank()
    {
        // positive 0.5 ties with two negatives (half a win each), positive 0.9 beats both: (1 + 2) / 4
        Assert.Equal(0.75, FmMetrics.Auc([0.5f, 0.5f, 0.5f, 0.9f], [0f, 1f, 0f, 1f]), 12);
        Assert.Equal(0.5, FmMetrics.Auc([1f, 1f, 1f, 1f], [0f, 1f, 0f, 1f]), 12);
    }

    [Fact]
    public void Auc_is_NaN_with_one_class()
    {
        Assert.True(double.IsNaN(FmMetrics.Auc([0.1f, 0.2f], [1f, 1f])));
    }

    [Fact]
    public void Accuracy_thresholds_scores_at_zero_and_labels_at_zero()
    {
        // -1 vs 0 right, 2 vs 1 right, 0.5 vs 0 wrong, -0.2 vs -1 right, 0 vs 1 wrong (0 predicts negative)
        Assert.Equal(0.6, FmMetrics.Accuracy([-1f, 2f, 0.5f, -0.2f, 0f], [0f, 1f, 0f, -1f, 1f]), 12);
        Assert.Equal(0.5, FmMetrics.Accuracy([0.4f, 0.6f], [1f, 1f], threshold: 0.5f), 12);
    }

    [Fact]
    public void Evaluate_clips_regression_predictions()
    {
        FmEvaluation e = FmMetrics.Evaluate(FmTask.Regression, [0f, 7f, 3f], [1f, 5f, 4f], 1f, 5f);
        Assert.Equal(Math.Sqrt(1.0 / 3.0), e.Rmse, 12);
        Assert.Equal(1.0 / 3.0, e.Mae, 12);
        Assert.True(double.IsNaN(e.Auc));
        Assert.Equal(e.Rmse, e.Loss);
    }

    [Fact]
    public void Mismatched_lengths_are_rejected()
    {
        Assert.Throws<ArgumentException>(() => FmMetrics.Rmse([1f], [1f, 2f]));
        Assert.Throws<ArgumentException>(() => FmMetrics.Auc([1f, 2f], [1f]));
    }

    private static (float[] Scores, float[] Labels) Draw(int[] raw, bool[] positive)
    {
        int n = Math.Min(raw.Length, positive.Length);
        var scores = new float[n];
        var labels = new float[n];
        for (int i = 0; i < n; i++)
        {
            scores[i] = raw[i] % 7; // few distinct values: many ties
            labels[i] = positive[i] ? 1f : 0f;
        }

        return (scores, labels);
    }

    [Property]
    public bool Auc_equals_the_pairwise_definition(int[] raw, bool[] positive)
    {
        (float[] scores, float[] labels) = Draw(raw, positive);
        double wins = 0;
        long pairs = 0;
        for (int i = 0; i < scores.Length; i++)
        {
            for (int j = 0; j < scores.Length; j++)
            {
                if (labels[i] > 0 && labels[j] <= 0)
                {
                    pairs++;
                    wins += scores[i] > scores[j] ? 1 : scores[i] == scores[j] ? 0.5 : 0;
                }
            }
        }

        double auc = FmMetrics.Auc(scores, labels);
        return pairs == 0 ? double.IsNaN(auc) : Math.Abs(auc - (wins / pairs)) < 1e-12;
    }

    [Property]
    public bool Auc_of_negated_scores_is_one_minus_auc(int[] raw, bool[] positive)
    {
        (float[] scores, float[] labels) = Draw(raw, positive);
        bool both = labels.Any(l => l > 0) && labels.Any(l => l <= 0);
        float[] negated = scores.Select(s => -s).ToArray();
        return (!both || Math.Abs(FmMetrics.Auc(scores, labels) + FmMetrics.Auc(negated, labels) - 1) < 1e-12);
    }

    [Property]
    public bool Rmse_is_at_least_mae(float[] a)
    {
        float[] p = a.Select(x => float.IsFinite(x) ? x % 1000f : 0f).ToArray();
        float[] t = p.Select((x, i) => x + (i % 3) - 1).ToArray();
        return FmMetrics.Rmse(p, t) + 1e-9 >= FmMetrics.Mae(p, t);
    }
}
