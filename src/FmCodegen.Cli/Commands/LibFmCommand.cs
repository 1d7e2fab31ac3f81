using System.CommandLine;
using System.Globalization;
using FmCodegen.Data;
using FmCodegen.IO;
using FmCodegen.Training;
using FmCodegen.Training.Bayesian;

namespace FmCodegen.Cli.Commands;

/// <summary>
/// <c>fm libfm</c>: libFM's command line (<c>-task -train -test -dim -iter -method -learn_rate -regular -init_stdev
/// -out -save_model -load_model -seed -validation -rlog -meta</c>, each as <c>-name value</c> or <c>--name value</c>,
/// lists split by ',' or ';'), so a libFM user's scripts keep working. As libFM, the default method is MCMC (Gibbs
/// sampling, <see cref="FmBayesTrainer"/>); <c>als</c> is its point-estimate twin and <c>sgd</c> runs FmCodegen's SGD
/// for -iter epochs on all the training rows. -out writes the test predictions (probabilities for -task c, values
/// clipped to the training targets' range for -task r; MCMC: averaged over every sweep, as libFM). -save_model writes
/// libFM's text format (ALS, SGD) or, for MCMC, which libFM cannot save, FmCodegen's native sample set.
/// </summary>
public static class LibFmCommand
{
    private static readonly string[] Known =
    [
        "task", "train", "test", "validation", "dim", "iter", "method", "learn_rate", "regular", "init_stdev", "out",
        "save_model", "load_model", "seed", "rlog", "verbosity", "cache_size", "threads", "meta",
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
            if (name is "relation")
            {
                throw new CliUserException("-relation (libFM's block-structured relational data) is not supported by fm libfm; join the relations into the rows of -train and -test.");
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
        (bool bias, bool linear, int k) = ParseDim(Optional("dim") ?? "1,1,8");
        string method = Optional("method")?.Trim().ToLowerInvariant() ?? "mcmc";
        if (method is "mcmc" or "als")
        {
            return RunBayes(flags, task, bias, linear, k, method == "mcmc", context);
        }

        if (method == "sgda")
        {
            return RunSgda(flags, task, bias, linear, k, context);
        }

        if (Optional("meta") is not null)
        {
            throw new CliUserException($"-meta (groups) is used by -method mcmc, als and sgda; -method {method} has no groups.");
        }

        FmSolver? solver = method switch
        {
            "sgd" => FmSolver.Sgd,
            _ => throw new CliUserException($"-method must be sgd, sgda, als or mcmc; got '{flags["method"]}'."),
        };
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
            UseBias = bias,
            UseLinear = linear,
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

    /// <summary>libFM's -dim 'k0,k1,k2': bias on (1) or off (0), linear on or off, k factors (0: a linear model).</summary>
    internal static (bool Bias, bool Linear, int K) ParseDim(string dim)
    {
        string[] parts = dim.Split([',', ';'], StringSplitOptions.TrimEntries);
        if (parts.Length != 3 || parts[0] is not ("0" or "1") || parts[1] is not ("0" or "1")
            || !int.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out int k) || k > FmModel.MaxEmbeddingSize)
        {
            throw new CliUserException($"-dim must be 'k0,k1,k2': k0 and k1 are 0 or 1 (bias, linear terms), k2 the factors (0 .. {FmModel.MaxEmbeddingSize}); got '{dim}'.");
        }

        return (parts[0] == "1", parts[1] == "1", k);
    }

    /// <summary>libFM's -regular for MCMC and ALS: one value (all parts), three (bias, linear, factors), or with
    /// -meta 1 + 2 x groups (bias, then the linear L2 of each group, then the factor L2 of each group).</summary>
    internal static FmBayesRegularization ParseBayesRegular(string text, int groups)
    {
        string[] parts = text.Split([',', ';'], StringSplitOptions.TrimEntries);
        var values = new double[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            if (!double.TryParse(parts[i], NumberStyles.Float, CultureInfo.InvariantCulture, out values[i]) || !double.IsFinite(values[i]) || values[i] < 0)
            {
                throw new CliUserException($"-regular takes numbers, each finite and 0 or more; got '{parts[i]}' in '{text}'.");
            }
        }

        if (values.Length == 1)
        {
            return FmBayesRegularization.Uniform(values[0], values[0], values[0]);
        }

        if (values.Length == 3)
        {
            return FmBayesRegularization.Uniform(values[0], values[1], values[2]);
        }

        if (values.Length == 1 + (2 * groups))
        {
            return new FmBayesRegularization(values[0], values[1..(1 + groups)], values[(1 + groups)..]);
        }

        throw new CliUserException($"-regular takes 1 value, 3 (bias,linear,factors) or, with -meta, 1 + 2 x groups = {1 + (2 * groups)} (bias, linear per group, factors per group); got {values.Length} in '{text}'.");
    }

    private static int RunSgda(Dictionary<string, string> flags, FmTask task, bool bias, bool linear, int k, CliContext context)
    {
        string? Optional(string name) => flags.TryGetValue(name, out string? v) ? v : null;
        foreach (string unused in new[] { "load_model", "regular" })
        {
            if (Optional(unused) is not null)
            {
                throw new CliUserException(unused == "regular"
                    ? "-regular is not used by -method sgda: it learns the regularisation from -validation (starting at 0, as libFM); leave it out."
                    : "-load_model is not used by -method sgda (it starts from a random model, as libFM); leave it out.");
            }
        }

        string validation = Optional("validation")
            ?? throw new CliUserException("-method sgda needs -validation: the rows its regularisation is learned from (as in libFM).");
        if (Optional("iter") is "0")
        {
            throw new CliUserException("-iter must be 1 or more for -method sgda; 0 passes would write an untrained, random model.");
        }

        var options = new FmSgdaOptions
        {
            Task = task,
            EmbeddingSize = k,
            UseBias = bias,
            UseLinear = linear,
            Iterations = Int("iter", 100, 1),
            LearningRate = Optional("learn_rate") is { } lr ? Float(lr, "-learn_rate") : 0.1,
            InitStdev = Optional("init_stdev") is { } init ? Float(init, "-init_stdev") : 0.1,
            Seed = Int("seed", 1, int.MinValue),
        };
        if (!(options.LearningRate > 0))
        {
            throw new CliUserException($"-learn_rate must be above 0; got {options.LearningRate.ToString(CultureInfo.InvariantCulture)}.");
        }

        return SgdaRun.Run(Optional("train") ?? throw new CliUserException("-train is required (as in libFM)."), validation, Optional("test"),
            Optional("meta"), options, Optional("save_model"), Optional("out"), Optional("rlog"), context);

        int Int(string name, int fallback, int min) => Optional(name) is not { } text ? fallback
            : int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int n) && n >= min ? n
            : throw new CliUserException($"-{name} must be a whole number of at least {min}; got '{text}'.");
    }

    private static int RunBayes(Dictionary<string, string> flags, FmTask task, bool bias, bool linear, int k, bool mcmc, CliContext context)
    {
        string? Optional(string name) => flags.TryGetValue(name, out string? v) ? v : null;
        string method = mcmc ? "mcmc" : "als";
        foreach (string unused in new[] { "learn_rate", "load_model" })
        {
            if (Optional(unused) is not null)
            {
                throw new CliUserException($"-{unused} is not used by -method {method}{(unused == "load_model" ? " (it starts from a random model, as libFM)" : " (it has no learning rate)")}; leave it out.");
            }
        }


        if (Optional("validation") is not null)
        {
            context.Output.WriteLine($"fm libfm: note: -validation is only used by -method sgda (as libFM); -method {method} ignores it.");
        }

        string? meta = Optional("meta");
        if (meta is not null)
        {
            CliOptions.RequireFile(meta, "The meta (groups) file");
        }

        int groups = meta is null ? 1 : Math.Max(1, BayesRun.ReadGroups(meta).DefaultIfEmpty(0).Max() + 1);

        var options = new FmBayesOptions
        {
            Task = task,
            Method = mcmc ? FmBayesMethod.Mcmc : FmBayesMethod.Als,
            EmbeddingSize = k,
            UseBias = bias,
            UseLinear = linear,
            Iterations = Optional("iter") is "0" ? throw new CliUserException($"-iter must be 1 or more, or 0 with -load_model (which -method {method} does not use); 0 sweeps would write an untrained, random model.") : Int("iter", 100, 1),
            InitStdev = Optional("init_stdev") is { } init ? Float(init, "-init_stdev") : 0.1,
            Seed = Int("seed", 1, int.MinValue),
            Regularization = Optional("regular") is { } reg ? ParseBayesRegular(reg, groups) : null,
            StoreSamples = Optional("save_model") is not null,

            // libFM's per-sweep lines show accuracy and logloss only; the test AUC (a sort per sweep) is computed after
            // every sweep only when -rlog records it, otherwise after the last
            AucEverySweep = Optional("rlog") is not null,

            // the sampler gives the same bits on any thread count, so it takes every core unless -threads says otherwise
            Threads = Optional("threads") is null ? 0 : Int("threads", 1, 1),
        };
        if (Optional("out") is not null && Optional("test") is null)
        {
            throw new CliUserException("-out writes predictions for the -test file; give -test as well.");
        }

        var request = new BayesRequest
        {
            Train = flags.TryGetValue("train", out string? train) ? train : throw new CliUserException("-train is required (as in libFM)."),
            Test = Optional("test"),
            Meta = meta,
            Options = options,
            Model = Optional("save_model"),
            ModelFormat = ModelFormat.LibFm,
            Predictions = Optional("out"),
            Log = Optional("rlog"),
            LibFmLines = true,
        };
        return BayesRun.Run("libfm", request, context);

        int Int(string name, int fallback, int min) => Optional(name) is not { } text ? fallback
            : int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int n) && n >= min ? n
            : throw new CliUserException($"-{name} must be a whole number of at least {min}; got '{text}'.");
    }

    private static float Float(string text, string flag) =>
        float.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out float value) && float.IsFinite(value)
            ? value
            : throw new CliUserException($"{flag} must be a number; got '{text}'.");
}
