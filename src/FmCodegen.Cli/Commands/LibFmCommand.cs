using System.CommandLine;
using System.Globalization;
using FmCodegen.Data;
using FmCodegen.IO;
using FmCodegen.Training;

namespace FmCodegen.Cli.Commands;

/// <summary>
/// <c>fm libfm</c>: libFM's command line (<c>-task -train -test -dim -iter -method -learn_rate -regular -init_stdev
/// -out -save_model -load_model -seed -validation -rlog</c>, each as <c>-name value</c> or <c>--name value</c>, lists
/// split by ',' or ';') mapped onto the same trainer, so a libFM user's scripts keep working. As libFM, it trains
/// -iter epochs on all the training rows (no hold-out, no early stopping), writes -out predictions for the test
/// file (probabilities for -task c, scores clipped to the training targets' range for -task r) and -save_model in
/// libFM's text format.
/// </summary>
public static class LibFmCommand
{
    private static readonly string[] Known =
    [
        "task", "train", "test", "validation", "dim", "iter", "method", "learn_rate", "regular", "init_stdev", "out",
        "save_model", "load_model", "seed", "rlog", "verbosity", "cache_size", "threads",
    ];

    public static Command Create()
    {
        Argument<string[]> flags = new("flags") { Description = "libFM's flags, e.g. -task c -train a.libfm -test b.libfm -dim '1,1,8' -iter 100 -method sgd -learn_rate 0.01 -out pred.txt", Arity = ArgumentArity.ZeroOrMore };
        var command = new Command("libfm", "Train with libFM's command-line flags (-task -train -test -dim -iter -method ...).") { flags };
        command.TreatUnmatchedTokensAsErrors = false;
        CliRunner.SetAction(command, (parse, context) =>
        {
            var tokens = new List<string>(parse.GetValue(flags) ?? []);
            tokens.AddRange(parse.UnmatchedTokens);
            return Run(Parse(tokens), context);
        });
        return command;
    }

    /// <summary>Reads libFM's flags into name/value pairs (names without their dashes).</summary>
    internal static Dictionary<string, string> Parse(IReadOnlyList<string> tokens)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        for (int i = 0; i < tokens.Count; i++)
        {
            string token = tokens[i];
            if (!token.StartsWith('-') || token.Length < 2 || char.IsDigit(token[1]))
            {
                throw new CliUserException($"Expected a libFM flag (-name value) but found '{token}'.");
            }

            string name = token.TrimStart('-');
            if (name is "meta" or "relation")
            {
                throw new CliUserException($"-{name} (libFM's grouping and relational data) is not supported by fm libfm.");
            }

            if (Array.IndexOf(Known, name) < 0)
            {
                throw new CliUserException($"Unknown libFM flag '{token}'. Known: {string.Join(", ", Known.Select(k => "-" + k))}.");
            }

            if (i + 1 >= tokens.Count)
            {
                throw new CliUserException($"The flag '{token}' needs a value.");
            }

            values[name] = tokens[++i];
        }

        return values;
    }

    internal static int Run(Dictionary<string, string> flags, CliContext context)
    {
        string Required(string name) => flags.TryGetValue(name, out string? v) ? v
            : throw new CliUserException($"-{name} is required (as in libFM).");
        string? Optional(string name) => flags.TryGetValue(name, out string? v) ? v : null;

        FmTask task = TrainCommand.ParseTask(Required("task"), "-task");
        int k = 8;
        if (Optional("dim") is { } dim)
        {
            string[] parts = dim.Split([',', ';'], StringSplitOptions.TrimEntries);
            if (parts.Length != 3 || parts[0] != "1" || parts[1] != "1" || !int.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out k) || k < 1)
            {
                throw new CliUserException($"-dim must be '1,1,k' with k >= 1 (the bias and linear terms on); got '{dim}'.");
            }
        }

        FmSolver? solver = null;
        switch (Optional("method")?.Trim().ToLowerInvariant())
        {
            case null:
                break;
            case "sgd":
                solver = FmSolver.Sgd;
                break;
            case "sgda" or "als" or "mcmc":
                context.Error.WriteLine($"fm libfm: -method {flags["method"]} is not implemented; training with AdaGrad, FmCodegen's default solver.");
                solver = FmSolver.AdaGrad;
                break;
            default:
                throw new CliUserException($"-method must be sgd, sgda, als or mcmc; got '{flags["method"]}'.");
        }

        FmModel? warm = null;
        if (Optional("load_model") is { } load)
        {
            warm = CliOptions.LoadModel(load, ModelFormat.LibFm).Model;
            k = warm.EmbeddingSize;
        }

        string? validation = Optional("validation");
        var options = new FmTrainingOptions
        {
            Task = task,
            Solver = solver,
            EmbeddingSize = k,
            Epochs = Int("iter", 100, 0),
            LearningRate = Optional("learn_rate") is { } lr ? Float(lr, "-learn_rate") : null,
            Regularization = Optional("regular") is { } reg ? TrainCommand.ParseL2(reg, "-regular") : null,
            InitStdev = Optional("init_stdev") is { } init ? Float(init, "-init_stdev") : null,
            Seed = Int("seed", 1, int.MinValue),
            Threads = Int("threads", 1, 1),
            ValidationFraction = 0,
            Patience = validation is null ? 0 : null,
            Refit = false,
            WarmStart = warm,
        };
        var request = new TrainingRequest
        {
            Train = Required("train"),
            Test = Optional("test"),
            Validation = validation,
            Options = options,
            Model = Optional("save_model"),
            ModelFormat = ModelFormat.LibFm,
            History = Optional("rlog"),
            Predictions = Optional("out"),
            LoadModel = Optional("load_model"),
            InputFormat = SparseFormat.LibFm,
        };
        if (request.Predictions is not null && request.Test is null)
        {
            throw new CliUserException("-out writes predictions for the -test file; give -test as well.");
        }

        return TrainingRun.Run("libfm", request, context);

        int Int(string name, int fallback, int min) => Optional(name) is not { } text ? fallback
            : int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int n) && n >= min ? n
            : throw new CliUserException($"-{name} must be a whole number of at least {min}; got '{text}'.");
    }

    private static float Float(string text, string flag) =>
        float.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out float value) && float.IsFinite(value)
            ? value
            : throw new CliUserException($"{flag} must be a number; got '{text}'.");
}
