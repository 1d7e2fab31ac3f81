using System.Globalization;
using System.Text;
using FmCodegen.Cli;
using FmCodegen.Data;

namespace FmCodegen.Training.Tests;

/// <summary>fm train, fm eval and fm libfm end to end on small synthetic files.</summary>
public sealed class CliTrainingTests : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "fm-train-tests-" + Guid.NewGuid().ToString("N"));

    public CliTrainingTests()
    {
        Directory.CreateDirectory(_folder);
        (SparseDataset train, FmModel truth) = SyntheticFm.Generate(FmTask.BinaryClassification, 3000, fields: 5, valuesPerField: 10, embeddingSize: 4, seed: 21);
        Write(Path.Combine(_folder, "train.libfm"), train);
        Write(Path.Combine(_folder, "test.libfm"), SyntheticFm.Sample(truth, FmTask.BinaryClassification, 500, 5, 10, 0, seed: 22));
        (SparseDataset ratings, _) = SyntheticFm.Generate(FmTask.Regression, 2000, fields: 4, valuesPerField: 10, embeddingSize: 4, seed: 23);
        Write(Path.Combine(_folder, "ratings.libfm"), ratings);
    }

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private string At(string name) => Path.Combine(_folder, name);

    private static void Write(string path, SparseDataset data)
    {
        var text = new StringBuilder();
        for (int r = 0; r < data.Count; r++)
        {
            text.Append(data.Labels[r].ToString("R", CultureInfo.InvariantCulture));
            ReadOnlySpan<int> indices = data.RowIndices(r);
            ReadOnlySpan<float> values = data.RowValues(r);
            for (int j = 0; j < indices.Length; j++)
            {
                text.Append(CultureInfo.InvariantCulture, $" {indices[j]}:{values[j].ToString("R", CultureInfo.InvariantCulture)}");
            }

            text.Append('\n');
        }

        File.WriteAllText(path, text.ToString());
    }

    private static (int Code, string Output, string Error) Fm(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = Program.Run(args, output, error);
        return (code, output.ToString(), error.ToString());
    }

    [Fact]
    public void Train_prints_epochs_saves_the_model_history_and_plot_and_eval_reads_it()
    {
        (int code, string output, string error) = Fm("train", "--train", At("train.libfm"), "--test", At("test.libfm"), "--task", "c", "--k", "4",
            "--epochs", "4", "--seed", "3", "--model", At("m.fm"), "--history", At("h.csv"), "--plot", At("p.svg"));
        Assert.True(code == 0, error);
        Assert.Contains("epoch 1/4", output, StringComparison.Ordinal);
        Assert.Contains("epoch 4/4", output, StringComparison.Ordinal);
        Assert.Contains("test (500 rows): logloss", output, StringComparison.Ordinal);
        Assert.Equal(5, File.ReadAllLines(At("h.csv")).Length);
        Assert.Contains("<svg", File.ReadAllText(At("p.svg")), StringComparison.Ordinal);

        (code, output, error) = Fm("eval", "--model", At("m.fm"), "--input", At("test.libfm"));
        Assert.True(code == 0, error);
        Assert.Matches(@"500 rows, classification: logloss 0\.\d{4}  AUC 0\.\d{4}  accuracy 0\.\d{4}", output);
    }

    [Theory]
    [InlineData("1")]
    [InlineData("2")]
    public void The_same_seed_and_threads_give_identical_model_files(string threads)
    {
        string[] args = ["train", "--train", At("train.libfm"), "--task", "c", "--k", "8", "--epochs", "3", "--seed", "9", "--threads", threads];
        Assert.Equal(0, Fm([.. args, "--model", At("a.fm")]).Code);
        Assert.Equal(0, Fm([.. args, "--model", At("b.fm")]).Code);
        Assert.Equal(File.ReadAllBytes(At("a.fm")), File.ReadAllBytes(At("b.fm")));
    }

    [Fact]
    public void Libfm_flags_train_and_write_predictions_and_a_libfm_model()
    {
        (int code, string output, string error) = Fm("libfm", "-task", "c", "-train", At("train.libfm"), "-test", At("test.libfm"),
            "-dim", "1,1,4", "-iter", "3", "-method", "sgd", "-learn_rate", "0.05", "--regular", "0;0;0.01", "-init_stdev", "0.1",
            "-out", At("pred.txt"), "-save_model", At("m.libfm"), "-seed", "1");
        Assert.True(code == 0, error + output);
        string[] predictions = File.ReadAllLines(At("pred.txt"));
        Assert.Equal(500, predictions.Length);
        Assert.All(predictions, p => Assert.InRange(double.Parse(p, CultureInfo.InvariantCulture), 0.0, 1.0));
        Assert.StartsWith("#global bias", File.ReadAllText(At("m.libfm")), StringComparison.Ordinal);
    }

    [Fact]
    public void Libfm_sgda_learns_its_regularisation_on_the_validation_file()
    {
        (int code, string output, string error) = Fm("libfm", "-task", "c", "-train", At("train.libfm"), "-test", At("test.libfm"),
            "-method", "sgda", "-dim", "1,1,4", "-iter", "4");
        Assert.Equal(1, code);
        Assert.Contains("-method sgda needs -validation", error, StringComparison.Ordinal);
        Assert.Empty(output);

        (code, output, error) = Fm("libfm", "-task", "c", "-train", At("train.libfm"), "-validation", At("test.libfm"), "-test", At("test.libfm"),
            "-method", "sgda", "-dim", "1,1,4", "-iter", "4", "-learn_rate", "0.05", "-out", At("sgda.txt"), "-rlog", At("sgda.csv"),
            "-save_model", At("sgda.libfm"), "-seed", "3");
        Assert.True(code == 0, error + output);
        Assert.Contains("#Iter=  3\tTrain=", output, StringComparison.Ordinal);
        Assert.All(File.ReadAllLines(At("sgda.txt")), p => Assert.InRange(double.Parse(p, CultureInfo.InvariantCulture), 0.0, 1.0));
        string[] log = File.ReadAllLines(At("sgda.csv"));
        Assert.Equal(5, log.Length);
        Assert.Contains("regw[0]", log[0], StringComparison.Ordinal);
        Assert.Contains("regv[0;3]", log[0], StringComparison.Ordinal);
        Assert.StartsWith("#global bias", File.ReadAllText(At("sgda.libfm")), StringComparison.Ordinal);
    }

    [Fact]
    public void Libfm_regression_predictions_are_clipped_to_the_training_range()
    {
        (int code, _, string error) = Fm("libfm", "-task", "r", "-train", At("ratings.libfm"), "-test", At("ratings.libfm"), "-iter", "2", "-out", At("r.txt"));
        Assert.True(code == 0, error);
        float[] labels = File.ReadAllLines(At("ratings.libfm")).Select(l => float.Parse(l.Split(' ')[0], CultureInfo.InvariantCulture)).ToArray();
        Assert.All(File.ReadAllLines(At("r.txt")), p => Assert.InRange(float.Parse(p, CultureInfo.InvariantCulture), labels.Min(), labels.Max()));
    }

    [Theory]
    [InlineData("--task", "x", "--task must be r")]
    [InlineData("--l2", "1,2", "--l2 takes one value or three")]
    [InlineData("--solver", "bogus", "--solver must be auto, sgd, adagrad, ftrl, mcmc or als")]
    [InlineData("--lr", "-1", "--lr must be a positive, finite number")]
    public void Bad_values_are_user_errors_with_a_reason(string option, string value, string message)
    {
        string[] args = option == "--task"
            ? ["train", "--train", At("train.libfm"), "--task", value]
            : ["train", "--train", At("train.libfm"), "--task", "c", option, value];
        (int code, _, string error) = Fm(args);
        Assert.Equal(1, code);
        Assert.Contains(message, error, StringComparison.Ordinal);
    }

    [Fact]
    public void Libfm_with_a_loaded_model_and_no_iterations_reproduces_libfms_predictions()
    {
        string fixtures = Path.Combine(AppContext.BaseDirectory, "Fixtures");
        string test = Path.Combine(fixtures, "a9a.t.head300");
        (int code, _, string error) = Fm("libfm", "-task", "c", "-train", test, "-test", test,
            "-method", "sgd", "-load_model", Path.Combine(fixtures, "a9a_sgd.libfm.model"), "-iter", "0", "-out", At("libfm.pred"));
        Assert.True(code == 0, error);
        double[] ours = File.ReadAllLines(At("libfm.pred")).Select(l => double.Parse(l, CultureInfo.InvariantCulture)).ToArray();
        double[] libfm = File.ReadAllLines(Path.Combine(fixtures, "a9a_sgd.libfm.loaded.pred.head300")).Select(l => double.Parse(l, CultureInfo.InvariantCulture)).ToArray();
        Assert.Equal(libfm.Length, ours.Length);
        for (int i = 0; i < ours.Length; i++)
        {
            Assert.Equal(libfm[i], ours[i], 5e-6);
        }
    }

    [Fact]
    public void Libfm_rejects_unknown_flags_relations_and_meta_without_groups()
    {
        Assert.Contains("Unknown libFM flag", Fm("libfm", "-task", "c", "-train", At("train.libfm"), "-bogus", "1").Error, StringComparison.Ordinal);
        Assert.Contains("-relation", Fm("libfm", "-task", "c", "-train", At("train.libfm"), "-relation", "r").Error, StringComparison.Ordinal);
        Assert.Contains("-meta (groups) is used by -method mcmc, als and sgda", Fm("libfm", "-task", "c", "-train", At("train.libfm"), "-method", "sgd", "-meta", "g.txt").Error, StringComparison.Ordinal);
        Assert.Contains("does not exist", Fm("libfm", "-task", "c", "-train", At("train.libfm"), "-meta", At("none.txt")).Error, StringComparison.Ordinal);
        Assert.Contains("-method sgda needs -validation", Fm("libfm", "-task", "c", "-train", At("train.libfm"), "-method", "sgda").Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Libfm_without_a_method_runs_mcmc_and_its_saved_sample_set_predicts_the_same_through_fm_predict()
    {
        (int code, string output, string error) = Fm("libfm", "-task", "r", "-train", At("ratings.libfm"), "-test", At("ratings.libfm"),
            "-dim", "1,1,4", "-iter", "8", "-seed", "1", "-out", At("mcmc.txt"), "-save_model", At("mcmc.fmb"), "-rlog", At("log.csv"));
        Assert.True(code == 0, error);
        Assert.Contains("MCMC", output, StringComparison.Ordinal);
        Assert.Contains("#Iter=  7\tTrain=", output, StringComparison.Ordinal);
        string[] log = File.ReadAllLines(At("log.csv"));
        Assert.Equal(9, log.Length);
        Assert.StartsWith("iter,seconds,train_metric,test_rmse", log[0], StringComparison.Ordinal);
        Assert.Contains("vlambda[0;3]", log[0], StringComparison.Ordinal);

        (code, _, error) = Fm("predict", "--model", At("mcmc.fmb"), "--input", At("ratings.libfm"), "--output", At("again.txt"));
        Assert.True(code == 0, error);
        Assert.Contains("8 posterior samples", error, StringComparison.Ordinal);
        Assert.Equal(File.ReadAllLines(At("mcmc.txt")), File.ReadAllLines(At("again.txt")));

        // libFM's text holds one model: converting a sample set to it is refused
        (code, _, error) = Fm("convert", "--model", At("mcmc.fmb"), "--to", "libfm", "--output", At("m.libfm"));
        Assert.Equal(1, code);
        Assert.Contains("posterior samples", error, StringComparison.Ordinal);
        Assert.False(File.Exists(At("m.libfm")));
    }

    [Theory]
    [InlineData("mcmc", "1,1,0")]
    [InlineData("mcmc", "0,1,8")]
    [InlineData("mcmc", "1,0,8")]
    [InlineData("als", "1,1,0")]
    [InlineData("als", "0,1,8")]
    [InlineData("als", "1,0,8")]
    public void Libfm_dim_switches_work_for_mcmc_and_als(string method, string dim)
    {
        string model = At($"{method}.{dim.Replace(',', '_')}.model");
        (int code, string output, string error) = Fm("libfm", "-task", "c", "-train", At("train.libfm"), "-test", At("test.libfm"),
            "-method", method, "-dim", dim, "-iter", "5", "-regular", "0,1,1", "-out", At("p.txt"), "-save_model", model);
        Assert.True(code == 0, error);
        Assert.Contains($"dim {dim}", output, StringComparison.Ordinal);
        Assert.All(File.ReadAllLines(At("p.txt")), line => Assert.InRange(float.Parse(line, CultureInfo.InvariantCulture), 0f, 1f));
        IO.ModelFile file = IO.ModelFiles.Load(model);
        Assert.Equal(dim[0] == '1', file.HasBias);
        Assert.Equal(dim[2] == '1', file.HasLinear);
        Assert.Equal(method == "mcmc", file.Samples is not null);
    }

    [Fact]
    public void Libfm_meta_groups_and_per_group_regular_are_read_and_checked()
    {
        File.WriteAllLines(At("meta.txt"), Enumerable.Range(0, 50).Select(j => (j / 10).ToString(CultureInfo.InvariantCulture)));
        (int code, string output, string error) = Fm("libfm", "-task", "c", "-train", At("train.libfm"), "-test", At("test.libfm"),
            "-meta", At("meta.txt"), "-method", "als", "-regular", "0,1,1,1,1,1,2,2,2,2,2", "-iter", "3", "-dim", "1,1,2");
        Assert.True(code == 0, error);
        Assert.Contains("5 group(s)", output, StringComparison.Ordinal);

        (code, _, error) = Fm("libfm", "-task", "c", "-train", At("train.libfm"), "-meta", At("meta.txt"), "-method", "als", "-regular", "0,1,1,1", "-iter", "1");
        Assert.Equal(1, code);
        Assert.Contains("1 + 2 x groups = 11", error, StringComparison.Ordinal);

        File.WriteAllLines(At("short.txt"), ["0", "1"]);
        (code, _, error) = Fm("libfm", "-task", "c", "-train", At("train.libfm"), "-meta", At("short.txt"), "-iter", "1");
        Assert.Equal(1, code);
        Assert.Contains("every feature needs a line", error, StringComparison.Ordinal);

        File.WriteAllLines(At("bad.txt"), ["0", "x1"]);
        (code, _, error) = Fm("libfm", "-task", "c", "-train", At("train.libfm"), "-meta", At("bad.txt"), "-iter", "1");
        Assert.Equal(1, code);
        Assert.Contains("bad.txt:2:1:", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("1,1")]
    [InlineData("2,1,8")]
    [InlineData("1,1,-1")]
    public void Libfm_bad_dim_is_a_user_error(string dim)
    {
        (int code, _, string error) = Fm("libfm", "-task", "c", "-train", At("train.libfm"), "-dim", dim);
        Assert.Equal(1, code);
        Assert.Contains("-dim must be 'k0,k1,k2'", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Train_with_mcmc_saves_a_sample_set_that_predict_reproduces_with_clip()
    {
        (int code, string output, string error) = Fm("train", "--solver", "mcmc", "--task", "r", "--k", "4", "--seed", "1", "--epochs", "10",
            "--burn-in", "2", "--keep", "5", "--train", At("ratings.libfm"), "--test", At("ratings.libfm"), "--model", At("r.fmb"), "--history", At("h.csv"));
        Assert.True(code == 0, error);
        Assert.Contains("sweep   10/10", output, StringComparison.Ordinal);
        Assert.Contains("5 posterior samples", output, StringComparison.Ordinal);
        string testLine = output.Split('\n').Single(l => l.StartsWith("test (", StringComparison.Ordinal));

        float[] labels = File.ReadAllLines(At("ratings.libfm")).Select(l => float.Parse(l.Split(' ')[0], CultureInfo.InvariantCulture)).ToArray();
        string clip = string.Create(CultureInfo.InvariantCulture, $"{labels.Min():R},{labels.Max():R}");
        (code, _, error) = Fm("predict", "--model", At("r.fmb"), "--input", At("ratings.libfm"), "--output", At("p.txt"), "--clip", clip);
        Assert.True(code == 0, error);
        float[] predictions = File.ReadAllLines(At("p.txt")).Select(l => float.Parse(l, CultureInfo.InvariantCulture)).ToArray();
        double rmse = Math.Sqrt(predictions.Zip(labels, (p, y) => (double)(p - y) * (p - y)).Average());
        Assert.Contains(string.Create(CultureInfo.InvariantCulture, $"RMSE {rmse:F4}"), testLine, StringComparison.Ordinal);

        Assert.Contains("--l2 does not apply to --solver mcmc", Fm("train", "--solver", "mcmc", "--task", "r", "--train", At("ratings.libfm"), "--l2", "0.1").Error, StringComparison.Ordinal);
        Assert.Contains("--burn-in is for --solver mcmc", Fm("train", "--task", "r", "--train", At("ratings.libfm"), "--burn-in", "3").Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Train_with_als_and_k_0_is_a_linear_model()
    {
        (int code, _, string error) = Fm("train", "--solver", "als", "--task", "c", "--k", "0", "--l2", "0,1,1", "--epochs", "5",
            "--train", At("train.libfm"), "--model", At("als.fmb"));
        Assert.True(code == 0, error);
        IO.ModelFile file = IO.ModelFiles.Load(At("als.fmb"));
        Assert.Null(file.Samples);
        Assert.All(file.Model.Factors.ToArray(), v => Assert.Equal(0f, v));
    }

    [Theory]
    [InlineData("sgd")]
    [InlineData("adagrad")]
    [InlineData("ftrl")]
    public void Train_with_k_0_gives_a_linear_model_for_every_stochastic_solver(string solver)
    {
        (int code, _, string error) = Fm("train", "--solver", solver, "--task", "c", "--k", "0", "--epochs", "3",
            "--train", At("train.libfm"), "--test", At("test.libfm"), "--model", At("lin.fmb"));
        Assert.True(code == 0, error);
        FmModel model = IO.ModelFiles.Load(At("lin.fmb")).Model;
        Assert.Equal(1, model.EmbeddingSize);
        Assert.All(model.Factors.ToArray(), v => Assert.Equal(0f, v));
        Assert.Contains(model.Weights.ToArray(), w => w != 0);
    }

    [Fact]
    public void Train_with_only_the_task_chooses_says_why_and_eval_reproduces_its_test_metrics()
    {
        string[] args = ["train", "--train", At("train.libfm"), "--test", At("test.libfm"), "--task", "c", "--k", "4", "--seed", "2"];
        (int code, string output, string error) = Fm([.. args, "--model", At("auto.fmb")]);
        Assert.True(code == 0, error);
        Assert.Contains("  tried AdaGrad", output, StringComparison.Ordinal);
        Assert.Single(output.Split('\n'), line => line.StartsWith("fm train: chose ", StringComparison.Ordinal));
        string logloss = System.Text.RegularExpressions.Regex.Match(output, @"test \(500 rows\): logloss (\d\.\d{4})").Groups[1].Value;
        Assert.NotEmpty(logloss);

        (code, string evaluated, error) = Fm("eval", "--model", At("auto.fmb"), "--input", At("test.libfm"));
        Assert.True(code == 0, error);
        Assert.Contains($"logloss {logloss}", evaluated, StringComparison.Ordinal);

        Assert.Equal(0, Fm([.. args, "--model", At("again.fmb")]).Code);
        Assert.Equal(File.ReadAllBytes(At("auto.fmb")), File.ReadAllBytes(At("again.fmb")));
    }

    [Theory]
    [InlineData("--solver", "auto", "--lr", "--lr fixes one")]
    [InlineData("--normalize", "auto", "--epochs", "--epochs fixes one")]
    [InlineData("--normalize", "maybe", null, "--normalize must be on, off or auto")]
    [InlineData("--solver", "mcmc", "--normalize", "--normalize on does not apply to --solver mcmc")]
    public void Contradicting_the_automatic_choice_is_a_user_error(string option, string value, string? other, string message)
    {
        List<string> args = ["train", "--train", At("train.libfm"), "--task", "c", option, value];
        if (other == "--normalize")
        {
            args.AddRange(["--normalize", "on"]);
        }
        else if (other is not null)
        {
            args.AddRange([other, "2"]);
            if (option == "--normalize")
            {
                args.AddRange(["--solver", "adagrad"]);
            }
        }

        (int code, _, string error) = Fm([.. args]);
        Assert.Equal(1, code);
        Assert.Contains(message, error, StringComparison.Ordinal);
    }

    [Fact]
    public void Normalize_on_and_the_bias_and_linear_switches_are_recorded_in_the_model()
    {
        (int code, _, string error) = Fm("train", "--train", At("train.libfm"), "--task", "c", "--solver", "adagrad", "--epochs", "3",
            "--normalize", "on", "--no-bias", "--model", At("n.fmb"));
        Assert.True(code == 0, error);
        IO.ModelFile file = IO.ModelFiles.Load(At("n.fmb"));
        Assert.True(file.InstanceNormalization);
        Assert.False(file.HasBias);
        Assert.Equal(0f, file.Model.Bias);

        (code, string output, error) = Fm("predict", "--model", At("n.fmb"), "--input", At("test.libfm"), "-o", At("n.txt"));
        Assert.True(code == 0, error);
        Assert.Contains("xLearn instance normalisation", output + error, StringComparison.Ordinal);

        (code, _, error) = Fm("train", "--train", At("train.libfm"), "--task", "c", "--solver", "ftrl", "--epochs", "2", "--no-linear", "--model", At("l.fmb"));
        Assert.True(code == 0, error);
        file = IO.ModelFiles.Load(At("l.fmb"));
        Assert.False(file.HasLinear);
        Assert.All(file.Model.Weights.ToArray(), w => Assert.Equal(0, BitConverter.SingleToInt32Bits(w)));
    }

    [Theory]
    [InlineData("1,1,0")]
    [InlineData("0,1,8")]
    [InlineData("1,0,8")]
    public void Libfm_dim_switches_work_for_sgd(string dim)
    {
        string model = At($"sgd.{dim.Replace(',', '_')}.model");
        (int code, string output, string error) = Fm("libfm", "-task", "c", "-train", At("train.libfm"), "-test", At("test.libfm"),
            "-method", "sgd", "-dim", dim, "-iter", "5", "-learn_rate", "0.05", "-out", At("p.txt"), "-save_model", model);
        Assert.True(code == 0, error);
        Assert.All(File.ReadAllLines(At("p.txt")), line => Assert.InRange(float.Parse(line, CultureInfo.InvariantCulture), 0f, 1f));
        IO.ModelFile file = IO.ModelFiles.Load(model);
        Assert.Equal(dim[0] == '1', file.HasBias);
        Assert.Equal(dim[2] == '1', file.HasLinear);
        Assert.Equal(dim[0] == '1', file.Model.Bias != 0);
        Assert.Equal(dim[2] == '1', file.Model.Weights.ToArray().Any(w => w != 0));
        Assert.Equal(dim[4] != '0', file.Model.Factors.ToArray().Any(v => v != 0));
        Assert.Contains("test (500 rows)", output, StringComparison.Ordinal);
    }

    [Fact]
    public void Training_a_classifier_on_one_class_warns()
    {
        File.WriteAllText(At("ones.libfm"), string.Concat(Enumerable.Range(0, 50).Select(i => $"1 {i % 7}:1 {7 + (i % 5)}:1\n")));
        (int code, _, string error) = Fm("train", "--train", At("ones.libfm"), "--task", "c", "--epochs", "2");
        Assert.Equal(0, code);
        Assert.Contains("fm train: warning: all 50 training labels are positive (> 0): one class", error, StringComparison.Ordinal);

        (code, _, error) = Fm("train", "--train", At("train.libfm"), "--task", "c", "--epochs", "1");
        Assert.Equal(0, code);
        Assert.DoesNotContain("warning", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_mistakes_of_train_name_the_flag_on_stderr_without_help()
    {
        (int code, string output, string error) = Fm("train", "--task", "c");
        Assert.Equal(1, code);
        Assert.Equal(string.Empty, output);
        Assert.StartsWith("fm train: error: --train FILE is required", error, StringComparison.Ordinal);

        (code, output, error) = Fm("train", "--train", At("train.libfm"), "--task", "c", "--lrr", "0.1");
        Assert.Equal(1, code);
        Assert.Equal(string.Empty, output);
        Assert.Contains("fm train: error: unknown option '--lrr'; did you mean --lr?", error, StringComparison.Ordinal);

        (code, _, error) = Fm("train", "--train", At("train.libfm"), "--task", "c", "--epochs", "ten");
        Assert.Equal(1, code);
        Assert.Contains("fm train: error: --epochs takes a whole number (N); got 'ten'", error, StringComparison.Ordinal);
    }

    private static FmEpoch Epoch(int epoch, int planned, double validationLoss) =>
        new(epoch, 0.5, 0.8, new Metrics.FmEvaluation(FmTask.BinaryClassification, 100, validationLoss, 0.7, 0.8, double.NaN, double.NaN), 0.1, 1e6, PlannedEpochs: planned);

    private static FmTrainingResult Result(int best, params FmEpoch[] history) =>
        new(FmModel.Create(0, [0f], [0f], 1), FmTask.BinaryClassification, history, best, 0, 1,
            new FmTrainingOptions { Task = FmTask.BinaryClassification, Epochs = 10, Patience = 2 }, 90, 10);

    [Fact]
    public void Early_stopping_with_fixed_epochs_says_it_stopped_and_restored_an_earlier_epoch()
    {
        string? note = Cli.Commands.TrainingRun.EarlyStoppingNote(Result(2, Epoch(1, 10, 0.6), Epoch(2, 10, 0.5), Epoch(3, 10, 0.55), Epoch(4, 10, 0.57)));
        Assert.Equal("early stopping: stopped after 4 of 10 epochs (2 without a better validation loss); restored the model of epoch 2, the best validation logloss (0.5000), not the last epoch's (4: 0.5700).", note);

        // all planned epochs run and the last one best: nothing to say
        Assert.Null(Cli.Commands.TrainingRun.EarlyStoppingNote(Result(3, Epoch(1, 3, 0.6), Epoch(2, 3, 0.5), Epoch(3, 3, 0.4))));

        // all planned epochs run, an earlier one restored
        Assert.Equal("early stopping: restored the model of epoch 2, the best validation logloss (0.4000), not the last epoch's (3: 0.4500).",
            Cli.Commands.TrainingRun.EarlyStoppingNote(Result(2, Epoch(1, 3, 0.6), Epoch(2, 3, 0.4), Epoch(3, 3, 0.45))));
    }

    [Fact]
    public void Early_stopping_end_to_end_reports_the_restored_epoch_when_the_model_is_not_the_last()
    {
        // random labels: the model only overfits, validation loss worsens after the first epochs, early stopping ends the run
        var random = new Random(1);
        var text = new StringBuilder();
        for (int r = 0; r < 400; r++)
        {
            text.Append(random.Next(2));
            foreach (int j in Enumerable.Range(0, 60).OrderBy(_ => random.Next()).Take(5).Order())
            {
                text.Append(CultureInfo.InvariantCulture, $" {j}:1");
            }

            text.Append('\n');
        }

        File.WriteAllText(At("noise.libfm"), text.ToString());
        (int code, string output, string error) = Fm("train", "--train", At("noise.libfm"), "--task", "c", "--epochs", "30", "--patience", "2", "--seed", "1");
        Assert.True(code == 0, error);
        Assert.Contains("early stopping: stopped after", output, StringComparison.Ordinal);
        Assert.Contains("restored the model of epoch", output, StringComparison.Ordinal);
    }

    [Fact]
    public void The_live_table_keeps_the_best_epoch_marked_and_never_wraps_its_header()
    {
        foreach (int width in new[] { 50, 64, 80, 120 })
        {
            var view = new Cli.Commands.ProgressTable(classification: true, noEarlyStopping: false, width);
            for (int e = 1; e <= 30; e++)
            {
                view.Add(Epoch(e, 100, e == 3 ? 0.1 : 0.5 + (e * 0.001)));
            }

            Assert.Equal(3, view.BestEpoch);
            var writer = new StringWriter();
            var console = Spectre.Console.AnsiConsole.Create(new Spectre.Console.AnsiConsoleSettings
            {
                Ansi = Spectre.Console.AnsiSupport.No,
                ColorSystem = Spectre.Console.ColorSystemSupport.NoColors,
                Out = new Spectre.Console.AnsiConsoleOutput(writer),
                Interactive = Spectre.Console.InteractionSupport.No,
            });
            console.Profile.Width = width;
            console.Write(view.Table);
            string text = writer.ToString();
            string[] lines = text.Split('\n');
            Assert.All(lines, line => Assert.True(line.TrimEnd('\r').Length <= width, $"width {width}: '{line}'"));
            string header = lines.First(l => l.Contains("epoch", StringComparison.Ordinal));
            Assert.DoesNotContain("…", text, StringComparison.Ordinal);
            foreach (string word in width >= 54 ? ["epoch", "loss", "acc", "val-loss", "val-AUC"] : new[] { "epoch", "loss", "val-loss", "val-AUC" })
            {
                Assert.Contains(word, header, StringComparison.Ordinal);
            }

            // the best epoch scrolled out of the last rows, yet stays on screen, marked
            Assert.True(text.Contains("3/100 *", StringComparison.Ordinal), text);
            Assert.Contains("3/100 *", text, StringComparison.Ordinal);
            Assert.Contains("30/100", text, StringComparison.Ordinal);
            Assert.DoesNotMatch(@"(?<!\d)4/100", text);
            Assert.Equal(Cli.Commands.ProgressTable.VisibleRows, lines.Count(l => l.Contains("/100", StringComparison.Ordinal) || l.Contains("...", StringComparison.Ordinal)));
        }
    }
}
