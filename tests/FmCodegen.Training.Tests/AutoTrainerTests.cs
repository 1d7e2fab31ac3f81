using FmCodegen.Data;
using FmCodegen.Metrics;

namespace FmCodegen.Training.Tests;

/// <summary>The self-tuning trainer: deterministic, folds its rescaling back into the saved model, small data.</summary>
public class AutoTrainerTests
{
    /// <summary>Regression on unscaled values: y = 1000 + 40 x0 - 3 x1 + a one-hot effect, x0 in [0, 100], x1 in
    /// [0, 2000] (targets with a standard deviation far from 1, features far from unit scale).</summary>
    private static SparseDataset Unscaled(int rows, int seed)
    {
        var rng = new Random(seed);
        var labels = new float[rows];
        var offsets = new int[rows + 1];
        var indices = new List<int>();
        var values = new List<float>();
        for (int r = 0; r < rows; r++)
        {
            float x0 = (float)(rng.NextDouble() * 100), x1 = (float)(rng.NextDouble() * 2000);
            int item = rng.Next(5);
            indices.AddRange([0, 1, 2 + item]);
            values.AddRange([x0, x1, 1f]);
            labels[r] = 1000 + (40 * x0) - (3 * x1) + (200 * item) + (float)(rng.NextDouble() * 20);
            offsets[r + 1] = indices.Count;
        }

        return SparseDataset.Create(labels, offsets, indices.ToArray(), values.ToArray());
    }

    [Fact]
    public void On_unscaled_data_it_learns_and_the_saved_model_scores_raw_values()
    {
        SparseDataset train = Unscaled(3000, 1), test = Unscaled(500, 2);
        var options = new FmAutoOptions { Task = FmTask.Regression, EmbeddingSize = 4, Seed = 3, Solver = FmSolver.AdaGrad };
        var lines = new List<string>();
        FmAutoResult result = FmAutoTrainer.Train(train, options, lines.Add);

        Assert.NotNull(result.Options);
        Assert.Null(result.File.Samples);
        Assert.InRange(result.Trials.Count, 5, 10);
        Assert.Equal(result.Trials.Count, lines.Count);
        Assert.StartsWith("chose AdaGrad", result.Choice, StringComparison.Ordinal);

        var predictions = new float[test.Count];
        result.Predict(test, predictions);
        double rmse = FmMetrics.Rmse(predictions, test.Labels);
        double mean = test.Labels.ToArray().Average();
        double sd = Math.Sqrt(test.Labels.ToArray().Average(y => (y - mean) * (y - mean)));
        Assert.True(rmse < 0.1 * sd, $"RMSE {rmse} against a standard deviation of {sd}; {result.Choice}");

        // the model file holds raw-value parameters: Fm.Score on the raw test rows gives the same predictions
        for (int r = 0; r < 20; r++)
        {
            float score = Fm.Score(result.File.Model, test.RowIndices(r), test.RowValues(r));
            Assert.Equal(predictions[r], Math.Clamp(score, result.TargetMin, result.TargetMax));
        }

        // a regression model records the training targets' range for fm predict
        Assert.Equal((result.TargetMin, result.TargetMax), result.File.TargetRange);
        Assert.Contains("single trainings in all", result.Choice, StringComparison.Ordinal);

        // deterministic: the same data, options and seed give the same model
        FmAutoResult again = FmAutoTrainer.Train(train, options);
        Assert.Equal(result.File.Model, again.File.Model);
        Assert.Equal(result.Choice, again.Choice);
    }

    [Fact]
    public void With_MCMC_allowed_it_compares_it_on_the_same_held_out_rows()
    {
        (SparseDataset train, _) = SyntheticFm.Generate(FmTask.BinaryClassification, 1500, fields: 4, valuesPerField: 8, embeddingSize: 4, seed: 5);
        FmAutoResult result = FmAutoTrainer.Train(train, new FmAutoOptions { Task = FmTask.BinaryClassification, EmbeddingSize = 4, Seed = 1 });
        Assert.Contains(result.Trials, t => t.Name.StartsWith("MCMC", StringComparison.Ordinal));
        Assert.Contains(result.Trials, t => t.Name.Contains("instance-normalised", StringComparison.Ordinal));
        Assert.Contains(result.Choice.StartsWith("chose MCMC", StringComparison.Ordinal) ? "best SGD-family" : "; MCMC ", result.Choice, StringComparison.Ordinal);
        Assert.Equal(result.Choice.StartsWith("chose MCMC", StringComparison.Ordinal), result.File.Samples is not null);
        var p = new float[train.Count];
        result.Predict(train, p);
        Assert.All(p, v => Assert.InRange(v, 0f, 1f));
    }

    [Fact]
    public void Small_data_takes_MCMC_without_a_search_and_too_few_rows_for_a_fixed_solver_are_refused()
    {
        (SparseDataset train, _) = SyntheticFm.Generate(FmTask.Regression, 300, fields: 3, valuesPerField: 5, embeddingSize: 2, seed: 7);
        FmAutoResult result = FmAutoTrainer.Train(train, new FmAutoOptions { Task = FmTask.Regression, EmbeddingSize = 2 });
        Assert.Empty(result.Trials);
        Assert.NotNull(result.File.Samples);
        Assert.StartsWith("chose MCMC without a search", result.Choice, StringComparison.Ordinal);
        Assert.Equal(FmSampleLink.Identity, result.File.Samples!.Link);
        Assert.Equal(result.TargetMin, result.File.Samples.ClipMin);

        SparseDataset four = SparseDataset.Create([1f, 0f, 1f, 0f], [0, 1, 2, 3, 4], [0, 1, 0, 1], [1f, 1f, 1f, 1f]);
        ArgumentException e = Assert.Throws<ArgumentException>(() =>
            FmAutoTrainer.Train(four, new FmAutoOptions { Task = FmTask.BinaryClassification, Solver = FmSolver.Sgd }));
        Assert.Contains("none to hold out", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_candidate_is_within_noise_only_when_its_excess_loss_is_at_most_one_standard_error()
    {
        var rng = new Random(4);
        double[] reference = Enumerable.Range(0, 400).Select(_ => rng.NextDouble()).ToArray();
        var best = new FmAutoTrainer.Outcome(reference.Average(), 5, reference);
        Assert.True(FmAutoTrainer.WithinNoise(best, best));

        // the same rows with differences of mean 0 (each pair of rows +e, -e): within; a clear shift on every row: not
        double[] noisy = reference.Select((v, i) => v + (i % 2 == 0 ? 0.1 : -0.1)).ToArray();
        double[] shifted = reference.Select(v => v + 0.05 + ((rng.NextDouble() - 0.5) * 0.02)).ToArray();
        Assert.True(FmAutoTrainer.WithinNoise(new(noisy.Average(), 5, noisy), best));
        Assert.False(FmAutoTrainer.WithinNoise(new(shifted.Average(), 5, shifted), best));

        // a quarter of the rows far worse: not within noise; a lower loss is always within
        double[] manyBad = reference.Select((v, i) => i % 4 == 0 ? v + 3 : v).ToArray();
        Assert.False(FmAutoTrainer.WithinNoise(new(manyBad.Average(), 5, manyBad), best));
        double[] better = reference.Select(v => v - 0.01).ToArray();
        Assert.True(FmAutoTrainer.WithinNoise(new(better.Average(), 5, better), best));

        // a diverged candidate (no rows) is never within noise
        Assert.False(FmAutoTrainer.WithinNoise(new(double.PositiveInfinity, 0, null), best));
    }
}
