using System.Globalization;
using System.Text;
using FmCodegen.Cli;
using FmCodegen.Data;
using FmCodegen.Kernels;
using FmCodegen.Metrics;
using FmCodegen.Training;

namespace FmCodegen.Training.Tests;

/// <summary>Order-3 training: the update is the gradient of the order-3 score, it learns a three-way interaction
/// that order 2 cannot, it is deterministic and the same bytes on every kernel, and the CLI trains, saves and scores it.</summary>
public sealed class Order3TrainingTests : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "fm-order3-tests-" + Guid.NewGuid().ToString("N"));

    public Order3TrainingTests() => Directory.CreateDirectory(_folder);

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    /// <summary>Three fields of two values (one-hot), the label the parity s1 s2 s3 of their signs (regression) or its
    /// sign (classification): a pure three-way interaction, with no linear or pairwise part.</summary>
    private static SparseDataset Parity(FmTask task, int rows, int seed)
    {
        var random = new Random(seed);
        var text = new StringBuilder();
        for (int r = 0; r < rows; r++)
        {
            int product = 1;
            var features = new List<string>();
            for (int field = 0; field < 3; field++)
            {
                int bit = random.Next(2);
                product *= bit == 0 ? -1 : 1;
                features.Add($"{(2 * field) + bit}:1");
            }

            string label = task == FmTask.Regression ? product.ToString(CultureInfo.InvariantCulture) : product > 0 ? "1" : "0";
            text.Append(label).Append(' ').AppendJoin(' ', features).Append('\n');
        }

        return Load(text.ToString());
    }

    private static SparseDataset Load(string text)
    {
        string path = Path.Combine(Path.GetTempPath(), $"fm-order3-{Guid.NewGuid():N}.libfm");
        File.WriteAllText(path, text);
        try
        {
            return SparseDataset.Load(path);
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static FmEvaluation Evaluate(FmTrainingResult result, SparseDataset data)
    {
        var scores = new float[data.Count];
        for (int r = 0; r < data.Count; r++)
        {
            scores[r] = FmCodegen.Fm.Score(result.Model, data.RowIndices(r), data.RowValues(r));
        }

        return FmMetrics.Evaluate(result.Task, scores, data.Labels, result.TargetMin, result.TargetMax);
    }

    [Fact]
    public void Order_3_learns_a_three_way_interaction_that_order_2_cannot()
    {
        SparseDataset train = Parity(FmTask.Regression, 2000, seed: 1);
        SparseDataset test = Parity(FmTask.Regression, 500, seed: 2);
        var options = new FmTrainingOptions { Task = FmTask.Regression, EmbeddingSize = 4, Epochs = 30, Seed = 3, FrequencyScaledL2 = false,
            Regularization = new FmRegularization(0, 0, 0), ValidationFraction = 0 };
        FmTrainingResult order2 = FmTrainer.Train(train, options);
        FmTrainingResult order3 = FmTrainer.Train(train, options with { Order = 3 });
        Assert.Equal(3, order3.Model.Order);
        double rmse2 = Evaluate(order2, test).Rmse, rmse3 = Evaluate(order3, test).Rmse;
        Assert.True(rmse2 > 0.9, $"order 2 has no degree-3 term, yet reached RMSE {rmse2}");
        Assert.True(rmse3 < 0.2, $"order 3 should fit the parity; RMSE {rmse3} (order 2: {rmse2})");
    }

    [Theory]
    [InlineData(FmSolver.Sgd)]
    [InlineData(FmSolver.AdaGrad)]
    [InlineData(FmSolver.Ftrl)]
    public void One_step_moves_every_parameter_along_the_gradient_of_the_order_3_score(FmSolver solver)
    {
        // one example, one epoch, no L2, no validation, a known start: each parameter's change is the rule applied
        // to g * d score / d parameter, checked against a central difference of Fm.ScoreNaive in double
        int k = 3;
        var random = new Random(4);
        float[] weights = Enumerable.Range(0, 5).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray();
        float[] factors = Enumerable.Range(0, 2 * 5 * k).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray();
        FmModel start = FmModel.Create(0.1f, weights, factors, k, order: 3);
        int[] indices = [0, 2, 3, 4];
        float[] values = [1f, 0.5f, -2f, 1.5f];
        SparseDataset one = Load("2.5 0:1 2:0.5 3:-2 4:1.5\n");
        float lr = 0.01f;
        FmTrainingResult result = FmTrainer.Train(one, new FmTrainingOptions
        {
            Task = FmTask.Regression, Solver = solver, EmbeddingSize = k, Order = 3, Epochs = 1, LearningRate = lr, Seed = 1,
            Regularization = new FmRegularization(0, 0, 0), ValidationFraction = 0, WarmStart = start, Shuffle = false,
        });
        double g = FmCodegen.Fm.ScoreNaive(start, indices, values) - 2.5;
        float[] before = start.Factors.ToArray(), after = result.Model.Factors.ToArray();
        for (int p = 0; p < before.Length; p++)
        {
            float[] up = (float[])before.Clone(), down = (float[])before.Clone();
            const float h = 1f / 64;
            up[p] += h;
            down[p] -= h;
            double derivative = (FmCodegen.Fm.ScoreNaive(FmModel.Create(0.1f, weights, up, k, order: 3), indices, values)
                - FmCodegen.Fm.ScoreNaive(FmModel.Create(0.1f, weights, down, k, order: 3), indices, values)) / (2 * h);
            double gradient = g * derivative;

            // SGD: p - lr g. AdaGrad's first step: p - lr g / (|g| + 1e-8), i.e. lr sign(g) for a gradient that is
            // not tiny. FTRL's first step from z = -p0 / lr, n = 0: p = (p0 (1 + |g|) - lr g) / (1 + |g|).
            double expected = solver switch
            {
                FmSolver.Sgd => before[p] - (lr * gradient),
                FmSolver.AdaGrad => before[p] - (lr * gradient / (Math.Abs(gradient) + 1e-8)),
                _ => ((before[p] * (1 + Math.Abs(gradient))) - (lr * gradient)) / (1 + Math.Abs(gradient)),
            };

            Assert.True(Math.Abs(after[p] - expected) < 1e-5 + (1e-4 * Math.Abs(lr * gradient)),
                $"{solver}: factor {p} ({(p < 5 * k ? "order 2" : "order 3")}): {before[p]} -> {after[p]}, expected {expected} (gradient {gradient})");
        }
    }

    [Fact]
    public void Order_3_training_is_deterministic_and_the_same_bytes_on_every_kernel()
    {
        (SparseDataset data, _) = SyntheticFm.Generate(FmTask.BinaryClassification, 3000, fields: 6, valuesPerField: 20, embeddingSize: 4, seed: 5);
        FmTrainingOptions options = FmTrainer.Defaults(new FmTrainingOptions
        {
            Task = FmTask.BinaryClassification, EmbeddingSize = 8, Order = 3, Epochs = 3, Threads = 2, Seed = 7,
        });
        FmModel generated = FmTrainer.Train(data, options).Model;
        Assert.NotNull(FmOrder3Kernels.Generated(8));
        Assert.Equal(generated, FmTrainer.Train(data, options).Model);
        Assert.Equal(generated, StochasticTraining.Run<AdaGradRule, Order3Adapter<RuntimeOrder3SimdKernel>>(data, options, null, default).Model);
        Assert.Equal(generated, StochasticTraining.Run<AdaGradRule, Order3Adapter<RuntimeOrder3ScalarKernel>>(data, options, null, default).Model);
        Assert.NotEqual(generated, FmTrainer.Train(data, options with { Threads = 1 }).Model);
    }

    /// <summary>The committed hash holds the order-3 training step to the same bytes on every instruction set (.ci/run
    /// repeats this project with AVX-512, AVX2 and all intrinsics off); the data comes from integer arithmetic only.</summary>
    [Fact]
    public void A_seeded_order_3_model_has_the_committed_hash()
    {
        var text = new StringBuilder();
        ulong state = 99;
        for (int r = 0; r < 2000; r++)
        {
            int a = (int)(Next(ref state) % 30), b = (int)(Next(ref state) % 30), c = (int)(Next(ref state) % 30);
            int label = ((a * 7) + (b * 3) + (a * b * c % 11)) % 5;
            text.Append(CultureInfo.InvariantCulture, $"{label} {a}:1 {30 + b}:1 {60 + c}:0.5\n");
        }

        FmTrainingResult result = FmTrainer.Train(Load(text.ToString()), new FmTrainingOptions
        {
            Task = FmTask.Regression, Solver = FmSolver.AdaGrad, EmbeddingSize = 16, Order = 3, Epochs = 3, Threads = 2, Seed = 1,
        });
        ulong hash = 14695981039346656037UL;
        foreach (float value in (float[])[result.Model.Bias, .. result.Model.RowTable])
        {
            uint bits = BitConverter.SingleToUInt32Bits(value);
            for (int i = 0; i < 4; i++)
            {
                hash = (hash ^ ((bits >> (8 * i)) & 0xff)) * 1099511628211UL;
            }
        }

        const ulong Expected = 0x96fbb7647b9f4b28UL;
        Assert.True(hash == Expected, $"kernel {FmOrder3Kernels.For(16)}: hash 0x{hash:x16}, committed 0x{Expected:x16}");
    }

    private static ulong Next(ref ulong state)
    {
        ulong z = state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    [Fact]
    public void Bad_order_options_are_refused_with_the_reason()
    {
        SparseDataset data = Parity(FmTask.Regression, 50, seed: 1);
        var order4 = Assert.Throws<ArgumentException>(() => FmTrainer.Train(data, new FmTrainingOptions { Task = FmTask.Regression, Order = 4 }));
        Assert.Contains("order must be 2", order4.Message, StringComparison.Ordinal);
        var linear = Assert.Throws<ArgumentException>(() => FmTrainer.Train(data, new FmTrainingOptions { Task = FmTask.Regression, Order = 3, EmbeddingSize = 0 }));
        Assert.Contains("Order 3 needs factors", linear.Message, StringComparison.Ordinal);
        FmModel order2 = FmModel.Create(0f, new float[6], new float[24], 4);
        var warm = Assert.Throws<ArgumentException>(() => FmTrainer.Train(data, new FmTrainingOptions { Task = FmTask.Regression, Order = 3, EmbeddingSize = 4, WarmStart = order2 }));
        Assert.Contains("warm-start model has order 2", warm.Message, StringComparison.Ordinal);
    }

    private static (int Code, string Output, string Error) Cli(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = Program.Run(args, output, error);
        return (code, output.ToString(), error.ToString());
    }

    [Fact]
    public void Fm_train_order_3_saves_a_native_model_that_info_and_predict_read()
    {
        string train = Path.Combine(_folder, "train.libfm");
        var text = new StringBuilder();
        SparseDataset parity = Parity(FmTask.BinaryClassification, 600, seed: 9);
        for (int r = 0; r < parity.Count; r++)
        {
            text.Append(parity.Labels[r].ToString(CultureInfo.InvariantCulture)).Append(' ')
                .AppendJoin(' ', parity.RowIndices(r).ToArray().Select(i => $"{i}:1")).Append('\n');
        }

        File.WriteAllText(train, text.ToString());
        string model = Path.Combine(_folder, "m.fmb");
        (int code, string output, string error) = Cli("train", "--train", train, "--task", "c", "--k", "4", "--order", "3", "--epochs", "20", "--model", model);
        Assert.True(code == 0, error);
        Assert.Contains("k=4 order 3", output, StringComparison.Ordinal);
        (code, output, error) = Cli("info", "--model", model);
        Assert.True(code == 0, error);
        Assert.Contains("order      3 (pairs and triples)", output, StringComparison.Ordinal);
        string predictions = Path.Combine(_folder, "p.txt");
        (code, _, error) = Cli("predict", "--model", model, "--input", train, "--output", predictions);
        Assert.True(code == 0, error);
        float[] p = File.ReadAllLines(predictions).Select(line => float.Parse(line, CultureInfo.InvariantCulture)).ToArray();
        FmModel loaded = FmCodegen.IO.ModelFiles.Load(model).Model;
        Assert.Equal(FmCodegen.Fm.Probability(loaded, parity.RowIndices(0), parity.RowValues(0)), p[0], 5);

        // refused before any training: a text format cannot hold order 3; MCMC and FFM model pairs only
        (code, _, error) = Cli("train", "--train", train, "--task", "c", "--order", "3", "--model", Path.Combine(_folder, "m.libfm"));
        Assert.Equal(1, code);
        Assert.Contains("fm train: error: an order-3 model can only be saved in the native format", error, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(_folder, "m.libfm")));
        (code, _, error) = Cli("train", "--train", train, "--task", "c", "--order", "3", "--solver", "mcmc");
        Assert.Equal(1, code);
        Assert.Contains("--order 3 trains with sgd, adagrad or ftrl", error, StringComparison.Ordinal);
        (code, _, error) = Cli("train", "--train", train, "--task", "c", "--order", "4");
        Assert.Equal(1, code);
        Assert.Contains("--order must be 2 (pairs) or 3", error, StringComparison.Ordinal);
    }
}
