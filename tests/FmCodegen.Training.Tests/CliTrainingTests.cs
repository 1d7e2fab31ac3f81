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
