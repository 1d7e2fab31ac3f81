using FmCodegen.Data;

namespace FmCodegen.Training.Tests;

/// <summary>SGD with adaptive regularisation (<see cref="FmSgdaTrainer"/>, libFM's -method sgda).</summary>
public sealed class SgdaTests
{
    private static (SparseDataset Train, SparseDataset Validation, SparseDataset Test) Data(FmTask task)
    {
        (SparseDataset train, FmModel truth) = SyntheticFm.Generate(task, 3_000, fields: 4, valuesPerField: 15, embeddingSize: 3, noise: 0.3, seed: 31);
        return (train, SyntheticFm.Sample(truth, task, 600, 4, 15, 0.3, seed: 32), SyntheticFm.Sample(truth, task, 1_000, 4, 15, 0.3, seed: 33));
    }

    [Fact]
    public void Sgda_is_deterministic_for_a_seed_and_learns_nonnegative_regularisation()
    {
        (SparseDataset train, SparseDataset validation, SparseDataset test) = Data(FmTask.Regression);
        var options = new FmSgdaOptions { Task = FmTask.Regression, EmbeddingSize = 4, Iterations = 6, LearningRate = 0.02, Seed = 5 };
        FmSgdaResult first = FmSgdaTrainer.Train(train, validation, options, test);
        FmSgdaResult second = FmSgdaTrainer.Train(train, validation, options, test);
        FmSgdaResult other = FmSgdaTrainer.Train(train, validation, options with { Seed = 6 }, test);
        Assert.Equal(first.Model, second.Model);
        Assert.Equal(first.TestPredictions, second.TestPredictions);
        Assert.NotEqual(first.Model, other.Model);

        // the first pass makes no regularisation step; later ones move the L2 off 0 and never below it
        Assert.All(first.History[0].LinearLambda.Concat(first.History[0].FactorLambda), l => Assert.Equal(0, l));
        double[] last = [.. first.History[^1].LinearLambda, .. first.History[^1].FactorLambda];
        Assert.All(last, l => Assert.True(l >= 0));
        Assert.Contains(last, l => l > 0);

        // it learns: the test error falls well below that of predicting the mean
        double mean = train.Labels.ToArray().Average();
        double baseline = Math.Sqrt(test.Labels.ToArray().Average(y => (y - mean) * (y - mean)));
        Assert.True(first.History[^1].Test!.Rmse < 0.8 * baseline, $"RMSE {first.History[^1].Test!.Rmse} vs mean-only {baseline}");
    }

    [Fact]
    public void Sgda_classifies_with_groups_and_with_the_dim_switches()
    {
        (SparseDataset train, SparseDataset validation, SparseDataset test) = Data(FmTask.BinaryClassification);
        int[] groups = Enumerable.Range(0, train.NumFeatures).Select(j => j / 15).ToArray();
        var options = new FmSgdaOptions { Task = FmTask.BinaryClassification, EmbeddingSize = 4, Iterations = 5, LearningRate = 0.05, Groups = groups };
        FmSgdaResult result = FmSgdaTrainer.Train(train, validation, options, test);
        Assert.Equal(4, result.History[^1].LinearLambda.Length);
        Assert.Equal(16, result.History[^1].FactorLambda.Length);
        Assert.True(result.History[^1].Test!.Auc > 0.6, $"AUC {result.History[^1].Test!.Auc}");
        Assert.All(result.TestPredictions!, p => Assert.InRange(p, 0f, 1f));

        FmSgdaResult linearOnly = FmSgdaTrainer.Train(train, validation, options with { EmbeddingSize = 0, UseBias = false });
        Assert.Equal(0f, linearOnly.Model.Bias);
        Assert.All(linearOnly.Model.Factors.ToArray(), v => Assert.Equal(0f, v));
        Assert.Throws<ArgumentException>(() => FmSgdaTrainer.Train(train, validation, options with { Groups = [0, 1] }));
        Assert.Throws<ArgumentException>(() => FmSgdaTrainer.Train(train, SparseDataset.Create([], [0], [], []), options));
    }
}
