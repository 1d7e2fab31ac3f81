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
    [InlineData("--solver", "als", "--solver must be sgd, adagrad or ftrl")]
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
            "-load_model", Path.Combine(fixtures, "a9a_sgd.libfm.model"), "-iter", "0", "-out", At("libfm.pred"));
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
    public void Libfm_rejects_unknown_flags_and_unsupported_meta()
    {
        Assert.Contains("Unknown libFM flag", Fm("libfm", "-task", "c", "-train", At("train.libfm"), "-bogus", "1").Error, StringComparison.Ordinal);
        Assert.Contains("-meta", Fm("libfm", "-task", "c", "-train", At("train.libfm"), "-meta", "g.txt").Error, StringComparison.Ordinal);
    }
}
