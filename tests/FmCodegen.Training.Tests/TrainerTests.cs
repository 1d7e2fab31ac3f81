using FmCodegen.Data;
using FmCodegen.Metrics;
using FmCodegen.Training;

namespace FmCodegen.Training.Tests;

public class TrainerTests
{
    private static readonly int[] Indices = [1, 4, 6];
    private static readonly float[] Values = [1f, 0.5f, -2f];

    /// <summary>A warm-start model with fixed, distinct parameters, 8 features.</summary>
    private static FmModel Start(int k)
    {
        var weights = new float[8];
        var factors = new float[8 * k];
        for (int i = 0; i < weights.Length; i++)
        {
            weights[i] = 0.1f * (i - 3);
        }

        for (int j = 0; j < factors.Length; j++)
        {
            factors[j] = 0.05f * ((j * 7 % 11) - 5);
        }

        return FmModel.Create(0.2f, weights, factors, k);
    }

    private static SparseDataset OneExample(float label) =>
        SparseDataset.Create([label], [0, Indices.Length], Indices, Values);

    private static FmTrainingOptions OneStep(FmTask task, FmSolver solver, int k, FmRegularization l2, float lr) => new()
    {
        Task = task,
        Solver = solver,
        EmbeddingSize = k,
        Epochs = 1,
        LearningRate = lr,
        Regularization = l2,
        ValidationFraction = 0,
        Shuffle = false,
        Refit = false,
        FrequencyScaledL2 = false,
        WarmStart = Start(k),
    };

    /// <summary>The loss gradient d loss / d score for the one example, from the definition in double.</summary>
    private static (double G, double[] Sums) Gradient(FmModel m, FmTask task, float label)
    {
        double score = Fm.ScoreNaive(m, Indices, Values);
        int k = m.EmbeddingSize;
        var sums = new double[k];
        for (int j = 0; j < Indices.Length; j++)
        {
            for (int f = 0; f < k; f++)
            {
                sums[f] += (double)m.FactorRow(Indices[j])[f] * Values[j];
            }
        }

        if (task == FmTask.Regression)
        {
            return (score - label, sums);
        }

        double y = label > 0 ? 1 : -1;
        return (-y / (1 + Math.Exp(y * score)), sums);
    }

    private delegate double Rule(double p, double grad, double l2);

    /// <summary>One update of the one example against the rule applied to the definition's gradient. With
    /// <paramref name="normalize"/> (xLearn's instance normalisation, norm = 1 / sum x^2) the linear gradients carry
    /// x sqrt(norm) and the factor gradients norm^2 x (s_f - v x); without bias or linear terms those stay 0.</summary>
    private static void AssertOneStep(FmTask task, FmSolver solver, int k, float label, Rule rule, bool normalize = false, bool useBias = true, bool useLinear = true)
    {
        var l2 = new FmRegularization(0.01f, 0.02f, 0.03f);
        FmModel start = Start(k);
        if (!useLinear)
        {
            start = FmModel.Create(start.Bias, new float[start.NumFeatures], start.Factors, k);
        }

        start = FmModel.Create(useBias ? start.Bias : 0f, start.Weights, start.Factors, k).WithInstanceNormalization(normalize);
        FmTrainingResult result = FmTrainer.Train(OneExample(label), OneStep(task, solver, k, l2, 0.1f) with
        {
            InstanceNormalization = normalize,
            UseBias = useBias,
            UseLinear = useLinear,
            WarmStart = Start(k).WithInstanceNormalization(normalize),
        });
        FmModel trained = result.Model;
        Assert.Equal(normalize, trained.InstanceNormalization);
        (double g, double[] s) = Gradient(start, task, label);
        double norm = normalize ? 1 / Values.Sum(x => (double)x * x) : 1;
        double linearScale = Math.Sqrt(norm), pairScale = norm * norm;

        Assert.Equal(useBias ? rule(start.Bias, g, l2.Bias) : 0, trained.Bias, 2e-6);
        for (int i = 0; i < 8; i++)
        {
            int at = Array.IndexOf(Indices, i);
            double x = at >= 0 ? Values[at] : 0;
            double w = start.Weight(i);
            Assert.Equal(!useLinear ? 0 : at >= 0 ? rule(w, g * x * linearScale, l2.Linear) : w, trained.Weight(i), 2e-6);
            if (!useLinear)
            {
                Assert.Equal(0, BitConverter.SingleToInt32Bits(trained.Weight(i)));   // +0, not FTRL's -0
            }

            for (int f = 0; f < k; f++)
            {
                double v = start.FactorRow(i)[f];
                double expected = at >= 0 ? rule(v, pairScale * g * x * (s[f] - (v * x)), l2.Factors) : v;
                Assert.Equal(expected, trained.FactorRow(i)[f], 2e-6);
            }
        }
    }

    [Theory]
    [InlineData(3, FmSolver.Sgd)]
    [InlineData(8, FmSolver.Sgd)]
    [InlineData(8, FmSolver.AdaGrad)]
    [InlineData(16, FmSolver.Ftrl)]
    public void One_normalised_step_matches_the_gradient_of_the_normalised_model(int k, FmSolver solver)
    {
        Rule rule = solver switch { FmSolver.Sgd => Sgd, FmSolver.AdaGrad => AdaGrad, _ => Ftrl };
        AssertOneStep(FmTask.Regression, solver, k, 2.5f, rule, normalize: true);
        AssertOneStep(FmTask.BinaryClassification, solver, k, 0f, rule, normalize: true);
    }

    [Theory]
    [InlineData(FmSolver.Sgd)]
    [InlineData(FmSolver.AdaGrad)]
    [InlineData(FmSolver.Ftrl)]
    public void Without_bias_or_linear_terms_they_stay_zero_and_the_rest_follows_the_rule(FmSolver solver)
    {
        Rule rule = solver switch { FmSolver.Sgd => Sgd, FmSolver.AdaGrad => AdaGrad, _ => Ftrl };
        AssertOneStep(FmTask.Regression, solver, 8, 2.5f, rule, useBias: false);
        AssertOneStep(FmTask.BinaryClassification, solver, 8, 1f, rule, useLinear: false);
        AssertOneStep(FmTask.Regression, solver, 5, -1f, rule, normalize: true, useBias: false, useLinear: false);
    }

    [Fact]
    public void A_normalised_model_keeps_its_flag_through_the_native_file_and_libfm_text_refuses_it()
    {
        var rng = new Random(3);
        int rows = 200;
        var labels = new float[rows];
        var offsets = new int[rows + 1];
        var indices = new List<int>();
        var values = new List<float>();
        for (int r = 0; r < rows; r++)
        {
            foreach (int f in Enumerable.Range(0, 6).Where(_ => rng.Next(2) == 0))
            {
                indices.Add(f);
                values.Add((float)(rng.NextDouble() * 40));
            }

            labels[r] = rng.Next(2);
            offsets[r + 1] = indices.Count;
        }

        SparseDataset data = SparseDataset.Create(labels, offsets, indices.ToArray(), values.ToArray());
        FmTrainingResult result = FmTrainer.Train(data, new FmTrainingOptions { Task = FmTask.BinaryClassification, EmbeddingSize = 4, Epochs = 3, InstanceNormalization = true });
        Assert.True(result.Model.InstanceNormalization);
        string folder = Path.Combine(Path.GetTempPath(), "fmcg-norm-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(folder);
        try
        {
            string path = Path.Combine(folder, "m.fmb");
            result.Save(path);
            FmModel loaded = FmCodegen.IO.ModelFiles.Load(path).Model;
            Assert.True(loaded.InstanceNormalization);
            var expected = new float[rows];
            var actual = new float[rows];
            Fm.ScoreBatch(result.Model, data.Offsets, data.Indices, data.Values, expected);
            Fm.ScoreBatch(loaded, data.Offsets, data.Indices, data.Values, actual, maxThreads: 2);
            Assert.Equal(expected, actual);
            for (int r = 0; r < rows; r++)
            {
                Assert.Equal(expected[r], Fm.Score(loaded, data.RowIndices(r), data.RowValues(r)));
                Assert.Equal(expected[r], Fm.ScoreNaive(loaded, data.RowIndices(r), data.RowValues(r)), 1e-4);
            }

            Assert.Throws<FmCodegen.IO.ModelFileException>(() => result.Save(Path.Combine(folder, "m.libfm")));
            Assert.False(File.Exists(Path.Combine(folder, "m.libfm")));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    private static double Sgd(double p, double grad, double l2) => p - (0.1 * (grad + (l2 * p)));

    private static double AdaGrad(double p, double grad, double l2)
    {
        double full = grad + (l2 * p);
        return p - (0.1 * full / (Math.Sqrt(full * full) + 1e-8));
    }

    private static double Ftrl(double p, double grad, double l2)
    {
        const double alpha = 0.1;
        double z = (-p * ((1 / alpha) + l2)) + grad - (Math.Abs(grad) / alpha * p);
        return -z / (((1 + Math.Abs(grad)) / alpha) + l2);
    }

    [Theory]
    [InlineData(3)]   // rows of 4 floats: the scalar row update
    [InlineData(5)]   // the runtime-k kernel
    [InlineData(8)]   // generated kernels
    [InlineData(16)]
    public void One_sgd_step_matches_the_gradient_of_the_definition(int k)
    {
        AssertOneStep(FmTask.Regression, FmSolver.Sgd, k, 2.5f, Sgd);
        AssertOneStep(FmTask.BinaryClassification, FmSolver.Sgd, k, 1f, Sgd);
        AssertOneStep(FmTask.BinaryClassification, FmSolver.Sgd, k, 0f, Sgd);
    }

    [Theory]
    [InlineData(3)]
    [InlineData(8)]
    [InlineData(32)]
    public void One_adagrad_step_matches_the_rule(int k)
    {
        AssertOneStep(FmTask.Regression, FmSolver.AdaGrad, k, -1f, AdaGrad);
        AssertOneStep(FmTask.BinaryClassification, FmSolver.AdaGrad, k, 1f, AdaGrad);
    }

    [Theory]
    [InlineData(3)]
    [InlineData(8)]
    [InlineData(12)]
    public void One_ftrl_step_matches_the_rule(int k)
    {
        AssertOneStep(FmTask.Regression, FmSolver.Ftrl, k, 1.5f, Ftrl);
        AssertOneStep(FmTask.BinaryClassification, FmSolver.Ftrl, k, 0f, Ftrl);
    }

    private static (SparseDataset Train, SparseDataset Test) Synthetic(FmTask task)
    {
        (SparseDataset train, FmModel truth) = SyntheticFm.Generate(task, 4000, fields: 5, valuesPerField: 12, embeddingSize: 4, noise: 0.2, seed: 7);
        SparseDataset test = SyntheticFm.Sample(truth, task, 1000, 5, 12, 0.2, seed: 8);
        return (train, test);
    }

    private static FmEvaluation Test(FmTrainingResult result, SparseDataset test)
    {
        var scores = new float[test.Count];
        Fm.ScoreBatch(result.Model, test.Offsets, test.Indices, test.Values, scores);
        return FmMetrics.Evaluate(result.Task, scores, test.Labels, result.TargetMin, result.TargetMax);
    }

    [Theory]
    [InlineData(FmSolver.Sgd)]
    [InlineData(FmSolver.AdaGrad)]
    [InlineData(FmSolver.Ftrl)]
    public void Every_solver_learns_a_known_regression_fm(FmSolver solver)
    {
        (SparseDataset train, SparseDataset test) = Synthetic(FmTask.Regression);
        double spread = FmMetrics.Rmse(test.Labels.ToArray().Select(_ => test.Labels.ToArray().Average()).ToArray(), test.Labels);
        FmTrainingResult result = FmTrainer.Train(train, new FmTrainingOptions
        {
            Task = FmTask.Regression, Solver = solver, EmbeddingSize = 4, Epochs = 30, Seed = 3,
            LearningRate = solver == FmSolver.Sgd ? 0.05f : 0.1f,
        });
        FmEvaluation e = Test(result, test);
        // the noise is 0.2; predicting the mean scores the spread (about 1)
        Assert.True(e.Rmse < 0.5 * spread, $"{solver}: RMSE {e.Rmse} vs spread {spread}");
        Assert.True(result.History[^1].TrainLoss < result.History[0].TrainLoss);
    }

    [Theory]
    [InlineData(FmSolver.Sgd)]
    [InlineData(FmSolver.AdaGrad)]
    [InlineData(FmSolver.Ftrl)]
    public void Every_solver_learns_a_known_classification_fm(FmSolver solver)
    {
        (SparseDataset train, FmModel truth) = SyntheticFm.Generate(FmTask.BinaryClassification, 8000, fields: 5, valuesPerField: 12, embeddingSize: 4, seed: 7);
        SparseDataset test = SyntheticFm.Sample(truth, FmTask.BinaryClassification, 2000, 5, 12, 0, seed: 8);
        FmTrainingResult result = FmTrainer.Train(train, new FmTrainingOptions
        {
            Task = FmTask.BinaryClassification, Solver = solver, EmbeddingSize = 4, Epochs = 20, Seed = 3,
        });
        FmEvaluation e = Test(result, test);
        var scores = new float[test.Count];
        Fm.ScoreBatch(truth, test.Offsets, test.Indices, test.Values, scores);
        FmEvaluation best = FmMetrics.Evaluate(FmTask.BinaryClassification, scores, test.Labels);
        // labels are Bernoulli draws, so even the true model is far from perfect: compare with it
        Assert.True(e.Auc > best.Auc - 0.03, $"{solver}: AUC {e.Auc}, the true model's {best.Auc}");
        Assert.True(e.LogLoss < best.LogLoss + 0.03, $"{solver}: logloss {e.LogLoss}, the true model's {best.LogLoss}");
    }

    private static byte[] Bytes(FmModel m)
    {
        var bytes = new List<byte>(BitConverter.GetBytes(m.Bias));
        foreach (float v in m.RowTable)
        {
            bytes.AddRange(BitConverter.GetBytes(v));
        }

        return bytes.ToArray();
    }

    [Theory]
    [InlineData(1, FmSolver.AdaGrad)]
    [InlineData(2, FmSolver.AdaGrad)]
    [InlineData(2, FmSolver.Sgd)]
    [InlineData(3, FmSolver.Ftrl)]
    public void The_same_seed_and_thread_count_give_the_same_bytes(int threads, FmSolver solver)
    {
        // 20,000 rows: several merge windows per epoch with 2 or 3 threads
        (SparseDataset train, _) = SyntheticFm.Generate(FmTask.BinaryClassification, 20000, fields: 5, valuesPerField: 30, embeddingSize: 4, seed: 11);
        var options = new FmTrainingOptions { Task = FmTask.BinaryClassification, Solver = solver, EmbeddingSize = 8, Epochs = 3, Threads = threads, Seed = 5 };
        byte[] first = Bytes(FmTrainer.Train(train, options).Model);
        byte[] second = Bytes(FmTrainer.Train(train, options).Model);
        Assert.Equal(first, second);
        byte[] otherSeed = Bytes(FmTrainer.Train(train, options with { Seed = 6 }).Model);
        Assert.NotEqual(first, otherSeed);
    }

    [Fact]
    public void Two_threads_learn_about_as_well_as_one()
    {
        (SparseDataset train, FmModel truth) = SyntheticFm.Generate(FmTask.Regression, 30000, fields: 5, valuesPerField: 30, embeddingSize: 4, noise: 0.2, seed: 12);
        SparseDataset test = SyntheticFm.Sample(truth, FmTask.Regression, 2000, 5, 30, 0.2, seed: 13);
        var options = new FmTrainingOptions { Task = FmTask.Regression, EmbeddingSize = 4, Epochs = 15, Seed = 2 };
        double one = Test(FmTrainer.Train(train, options), test).Rmse;
        double two = Test(FmTrainer.Train(train, options with { Threads = 2 }), test).Rmse;
        Assert.True(two < one * 1.1, $"1 thread RMSE {one}, 2 threads {two}");
    }

    [Fact]
    public void Labels_0_1_and_minus1_plus1_train_the_same_model()
    {
        (SparseDataset train, _) = Synthetic(FmTask.BinaryClassification);
        float[] signed = train.Labels.ToArray().Select(l => l > 0 ? 1f : -1f).ToArray();
        SparseDataset trainSigned = SparseDataset.Create(signed, train.Offsets, train.Indices, train.Values);
        var options = new FmTrainingOptions { Task = FmTask.BinaryClassification, EmbeddingSize = 4, Epochs = 2 };
        Assert.Equal(Bytes(FmTrainer.Train(train, options).Model), Bytes(FmTrainer.Train(trainSigned, options).Model));
    }

    [Fact]
    public void Early_stopping_returns_the_best_epochs_model()
    {
        // few rows, many features, no regularisation, a high rate: it overfits within a few epochs
        (SparseDataset train, FmModel truth) = SyntheticFm.Generate(FmTask.Regression, 300, fields: 5, valuesPerField: 40, embeddingSize: 4, noise: 0.5, seed: 4);
        SparseDataset validation = SyntheticFm.Sample(truth, FmTask.Regression, 300, 5, 40, 0.5, seed: 5);
        FmTrainingResult result = FmTrainer.Train(train, new FmTrainingOptions
        {
            Task = FmTask.Regression, Solver = FmSolver.Sgd, EmbeddingSize = 8, Epochs = 200, LearningRate = 0.1f,
            Regularization = new FmRegularization(0, 0, 0), InitStdev = 0.3f, Validation = validation, Patience = 3,
        });
        Assert.True(result.History.Count < 200, "it should have stopped early");
        Assert.Equal(result.History.Count - 3, result.BestEpoch);
        double best = result.History.Min(e => e.Validation!.Loss);
        Assert.Equal(best, result.History[result.BestEpoch - 1].Validation!.Loss);
        Assert.Equal(best, Test(result, validation).Loss, 5);
    }

    [Fact]
    public void Default_options_hold_out_a_tenth_then_refit_on_everything()
    {
        (SparseDataset train, _) = Synthetic(FmTask.Regression);
        FmTrainingResult result = FmTrainer.Train(train, new FmTrainingOptions { Task = FmTask.Regression, EmbeddingSize = 4 });
        Assert.Equal(400, result.ValidationExamples);
        Assert.Equal(train.Count, result.TrainExamples);
        Assert.Equal(result.BestEpoch, result.History.Count(e => e.Refit));
        Assert.All(result.History.Where(e => e.Refit), e => Assert.Null(e.Validation));
        Assert.Equal(FmSolver.AdaGrad, result.Options.Solver);
        Assert.True(result.Options.FrequencyScaledL2);
    }

    [Fact]
    public void Warm_start_continues_from_the_model()
    {
        (SparseDataset train, _) = Synthetic(FmTask.Regression);
        var options = new FmTrainingOptions { Task = FmTask.Regression, EmbeddingSize = 4, Epochs = 0 };
        FmModel start = FmTrainer.Train(train, options with { Epochs = 3 }).Model;
        Assert.Equal(start, FmTrainer.Train(train, options with { WarmStart = start }).Model);
        Assert.Throws<ArgumentException>(() => FmTrainer.Train(train, options with { WarmStart = start, EmbeddingSize = 8 }));
    }

    [Fact]
    public void Bad_options_are_rejected_with_a_reason()
    {
        (SparseDataset train, _) = Synthetic(FmTask.Regression);
        var options = new FmTrainingOptions { Task = FmTask.Regression };
        Assert.Contains("learning rate", Assert.Throws<ArgumentException>(() => FmTrainer.Train(train, options with { LearningRate = -1 })).Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentException>(() => FmTrainer.Train(train, options with { EmbeddingSize = -1 }));
        Assert.Throws<ArgumentException>(() => FmTrainer.Train(train, options with { ValidationFraction = 1.0 }));
        Assert.Throws<ArgumentException>(() => FmTrainer.Train(train, options with { Threads = 0 }));
    }

    [Fact]
    public void Features_only_in_the_validation_data_keep_zero_parameters()
    {
        (SparseDataset train, _) = Synthetic(FmTask.Regression);
        int unseen = train.NumFeatures + 3;
        SparseDataset validation = SparseDataset.Create([1f, 2f], [0, 2, 3], [0, unseen, 1], [1f, 1f, 1f]);
        FmModel model = FmTrainer.Train(train, new FmTrainingOptions { Task = FmTask.Regression, EmbeddingSize = 4, Epochs = 2, Validation = validation }).Model;
        Assert.Equal(unseen + 1, model.NumFeatures);
        Assert.All(model.FactorRow(unseen).ToArray(), v => Assert.Equal(0f, v));
        Assert.Equal(0f, model.Weight(unseen));
        Assert.Contains(model.FactorRow(0).ToArray(), v => v != 0f);
    }

    [Fact]
    public void Frequency_scaled_l2_is_plain_l2_when_every_feature_is_equally_frequent()
    {
        // 4 features, each in exactly half of the rows: every scale is sqrt(mean / count) = 1
        var labels = new float[200];
        var offsets = new int[201];
        var indices = new int[400];
        var values = new float[400];
        for (int r = 0; r < 200; r++)
        {
            labels[r] = (r % 5) * 0.5f;
            indices[2 * r] = r % 2;
            indices[(2 * r) + 1] = 2 + ((r / 2) % 2);
            values[2 * r] = 1f;
            values[(2 * r) + 1] = 1f;
            offsets[r + 1] = 2 * (r + 1);
        }

        SparseDataset even = SparseDataset.Create(labels, offsets, indices, values);
        var options = new FmTrainingOptions { Task = FmTask.Regression, EmbeddingSize = 4, Epochs = 3, ValidationFraction = 0, Regularization = new FmRegularization(0, 0.1f, 0.1f) };
        Assert.Equal(Bytes(FmTrainer.Train(even, options with { FrequencyScaledL2 = false }).Model), Bytes(FmTrainer.Train(even, options with { FrequencyScaledL2 = true }).Model));

        (SparseDataset skewed, _) = Synthetic(FmTask.Regression);
        Assert.NotEqual(Bytes(FmTrainer.Train(skewed, options with { FrequencyScaledL2 = false }).Model), Bytes(FmTrainer.Train(skewed, options with { FrequencyScaledL2 = true }).Model));
    }

    [Fact]
    public void Cancelling_a_multi_threaded_run_stops_it()
    {
        (SparseDataset train, _) = SyntheticFm.Generate(FmTask.Regression, 20000, fields: 5, valuesPerField: 30, embeddingSize: 4, seed: 11);
        using var cancel = new CancellationTokenSource();
        var history = new List<FmEpoch>();
        Assert.ThrowsAny<OperationCanceledException>(() => FmTrainer.Train(train,
            new FmTrainingOptions { Task = FmTask.Regression, Threads = 2, Epochs = 50 },
            e =>
            {
                history.Add(e);
                cancel.Cancel();
            },
            cancel.Token));
        Assert.Single(history);
    }

    [Fact]
    public void A_diverging_run_says_so()
    {
        (SparseDataset train, _) = Synthetic(FmTask.Regression);
        var ex = Assert.Throws<InvalidOperationException>(() => FmTrainer.Train(train, new FmTrainingOptions
        {
            Task = FmTask.Regression, Solver = FmSolver.Sgd, Epochs = 20, LearningRate = 5f, InitStdev = 1f,
        }));
        Assert.Contains("diverged", ex.Message, StringComparison.Ordinal);
    }
}
