using System.CommandLine;
using System.Globalization;
using FmCodegen.IO;
using FmCodegen.Training;
using FmCodegen.Training.Bayesian;

namespace FmCodegen.Cli.Commands;

/// <summary><c>fm train</c>: trains a model on a data file with SGD, AdaGrad or FTRL (one line per epoch), or with
/// MCMC or ALS (<see cref="BayesRun"/>, one line per sweep).</summary>
public static class TrainCommand
{
    public static Command Create()
    {
        Option<string> train = new("--train") { Description = "The training data (libFM/libSVM or libffm text; .gz read transparently).", Required = true, HelpName = "FILE" };
        Option<string?> validation = new("--validation") { Description = "Validation data for early stopping (default: 10% of the training rows are held out, then the model is refit on all of them).", HelpName = "FILE" };
        Option<string?> test = new("--test") { Description = "Test data: its metrics are printed at the end.", HelpName = "FILE" };
        Option<string> inputFormat = CliOptions.InputFormat();
        Option<string> task = new("--task") { Description = "r (regression) or c (binary classification; label <= 0 negative, > 0 positive).", Required = true, HelpName = "r|c" };
        Option<int?> k = new("--k", "--dim") { Description = "Factors per feature (default 8; 4 for --model-type ffm; 0: a plain linear or logistic regression).", HelpName = "K" };
        Option<int?> order = new("--order") { Description = "fm only: the highest order of interaction, 2 (pairs, default) or 3 (pairs and triples, a second factor table; SGD, AdaGrad or FTRL; native model files).", HelpName = "2|3" };
        Option<string> modelType = new("--model-type") { Description = "fm (default) or ffm (field-aware FM on libffm data: AdaGrad or SGD, instance normalisation on unless --no-norm).", DefaultValueFactory = _ => "fm", HelpName = "fm|ffm" };
        Option<bool> noNorm = new("--no-norm") { Description = "ffm only: train and score without instance normalisation." };
        Option<bool> noLinear = new("--no-linear") { Description = "No linear weights (libFM's -dim '1,0,k'); with --model-type ffm, no bias either (as libffm)." };
        Option<bool> noBias = new("--no-bias") { Description = "No global bias (libFM's -dim '0,1,k')." };
        Option<string?> normalize = new("--normalize") { Description = "xLearn's instance normalisation (x / ||x||; recorded in the model): on, off, or auto (chosen on held-out training rows; the default when the settings are chosen automatically, else off).", HelpName = "on|off|auto" };
        Option<int?> maxFeatures = new("--max-features") { Description = "ffm only: keep features 0 .. N-1 and leave the rest out, so the model holds at most N x fields x k factors (hashed CTR data: hash into N buckets).", HelpName = "N" };
        Option<string?> solver = new("--solver") { Description = "auto, sgd, adagrad, ftrl, mcmc (Bayesian FM by Gibbs sampling, as libFM) or als. Default: auto when no --lr, --l2, --epochs, --init-stdev, --patience, --validation, --validation-fraction, --history or --plot is given: MCMC or AdaGrad, whichever does better on 10% of the training rows held out, with AdaGrad's learning rate, L2 and normalisation searched there (a few short trainings), then trained on all rows; otherwise adagrad with its fixed defaults.", HelpName = "auto|sgd|adagrad|ftrl|mcmc|als" };
        Option<int?> burnIn = new("--burn-in") { Description = "MCMC: sweeps whose samples are neither averaged nor kept (default 0, as libFM).", HelpName = "N" };
        Option<int?> keep = new("--keep") { Description = "MCMC: the last N samples make the model; predictions average them (default: every sweep after the burn-in, at most what fits 256 MB).", HelpName = "N" };
        Option<string?> meta = new("--meta") { Description = "MCMC/ALS: libFM's groups file, one group id per feature (default: one group; libffm data: its fields).", HelpName = "FILE" };
        Option<int?> epochs = new("--epochs") { Description = "Epochs, 1 or more (default: automatic, up to 100 with early stopping, then a refit on all rows).", HelpName = "N" };
        Option<float?> lr = new("--lr") { Description = "Learning rate (alpha for FTRL; default: the solver's).", HelpName = "X" };
        Option<string?> l2 = new("--l2") { Description = "L2 on bias, linear weights, factors: one value or three (b,w,v).", HelpName = "b,w,v" };
        Option<float?> initStdev = new("--init-stdev") { Description = "Standard deviation of the initial factors.", HelpName = "X" };
        Option<int> seed = new("--seed") { Description = "Seed of every random choice.", DefaultValueFactory = _ => 1, HelpName = "N" };
        Option<int> threads = new("--threads", "-t") { Description = "Training threads; the model is deterministic for a given count.", DefaultValueFactory = _ => 1, HelpName = "N" };
        Option<int?> patience = new("--patience") { Description = "Epochs without a better validation loss before stopping (0: never; default 10).", HelpName = "N" };
        Option<double?> validationFraction = new("--validation-fraction") { Description = "Training rows held out when no --validation file is given (default 0.1; 0: none).", HelpName = "X" };
        Option<string?> model = new("--model", "-m") { Description = "Where to save the model.", HelpName = "FILE" };
        Option<string?> modelFormat = CliOptions.ModelFormat("The model file format: native, libfm or xlearn (default: libfm for a name ending in .libfm, xlearn for .xlearn, else native).");
        Option<string?> history = new("--history") { Description = "Write the learning curves (one row per epoch) as CSV.", HelpName = "FILE.csv" };
        Option<string?> plot = new("--plot") { Description = "Plot the learning curves as SVG, the best epoch marked.", HelpName = "FILE.svg" };
        Option<bool> outOfCore = new("--out-of-core") { Description = "Keep the training rows on disk: parse them once into a binary cache and stream them from it every epoch (default: when the file would not fit the memory the process may use). The same seed and threads give the same model as in memory." };
        Option<string?> memoryLimit = new("--memory-limit") { Description = "The memory training may use, for the in-memory or out-of-core choice (e.g. 800M, 2G; default: what the process may use).", HelpName = "SIZE" };
        Option<string?> cache = new("--cache") { Description = "Out of core: keep the binary row cache at this path and reuse it while the training file is unchanged (implies --out-of-core; default: a temporary file, deleted after training). An existing file that is not such a cache is refused, never overwritten.", HelpName = "FILE" };

        var command = new Command("train", "Train a Factorization Machine on libFM/libffm data: with only --task (and --k, --seed) the solver and its settings are chosen on held-out training rows; or SGD, AdaGrad, FTRL, MCMC, ALS with the settings you give.")
        {
            train, validation, test, inputFormat, task, k, solver, epochs, lr, l2, initStdev, seed, threads, patience,
            validationFraction, model, modelFormat, history, plot, modelType, noNorm, noLinear, maxFeatures, burnIn, keep, meta,
            noBias, normalize, order, outOfCore, memoryLimit, cache,
        };

        CliRunner.SetAction(command, (parse, context) =>
        {
            string type = parse.GetValue(modelType)?.Trim().ToLowerInvariant() ?? "fm";
            int orderValue = parse.GetValue(order) ?? 2;
            if (orderValue is not (2 or 3))
            {
                throw new CliUserException($"--order must be 2 (pairs) or 3 (pairs and triples); got {orderValue}.");
            }

            if (orderValue == 3 && type == "ffm")
            {
                throw new CliUserException("--order 3 is for --model-type fm; a field-aware FM models pairs only.");
            }

            if (type == "ffm")
            {
                if (parse.GetResult(noBias) is { Implicit: false } || parse.GetResult(normalize) is { Implicit: false })
                {
                    throw new CliUserException("--no-bias and --normalize apply to --model-type fm (ffm: --no-linear drops the bias and linear terms, --no-norm the normalisation).");
                }

                return FfmTrain.Run(FfmRequest(parse, train, validation, test, inputFormat, task, k, solver, epochs, lr, l2, seed, threads, patience, validationFraction, model, modelFormat, noNorm, noLinear, maxFeatures), context);
            }

            if (type != "fm")
            {
                throw new CliUserException($"--model-type must be fm or ffm; got '{type}'.");
            }

            string? solverChoice = parse.GetValue(solver)?.Trim().ToLowerInvariant();
            foreach (Option diskOnly in new Option[] { outOfCore, memoryLimit, cache })
            {
                if (parse.GetResult(diskOnly) is { Implicit: false } && solverChoice is "mcmc" or "als")
                {
                    throw new CliUserException($"{diskOnly.Name} is for the SGD, AdaGrad and FTRL solvers: {BayesRun.WhyInMemory} Use --solver adagrad (or sgd, ftrl) to train out of core.");
                }
            }

            if (parse.GetValue(noNorm) || parse.GetValue(maxFeatures) is not null)
            {
                throw new CliUserException("--no-norm and --max-features apply to --model-type ffm only (fm: --normalize off).");
            }

            string? normalizeText = parse.GetValue(normalize)?.Trim().ToLowerInvariant();
            bool? normalizeChoice = normalizeText switch
            {
                null or "auto" => null,
                "on" => true,
                "off" => false,
                _ => throw new CliUserException($"--normalize must be on, off or auto; got '{parse.GetValue(normalize)}'."),
            };
            string? solverName = parse.GetValue(solver)?.Trim().ToLowerInvariant();
            if (solverName is "mcmc" or "als")
            {
                if (orderValue == 3)
                {
                    throw new CliUserException($"--order 3 trains with sgd, adagrad or ftrl; --solver {solverName} (Bayesian FM) models pairs only.");
                }

                if (normalizeChoice == true)
                {
                    throw new CliUserException($"--normalize on does not apply to --solver {solverName} (libFM's MCMC and ALS score raw values).");
                }

                return RunBayes(parse, solverName == "mcmc", context);
            }

            // the settings are chosen automatically unless something fixes them
            Option[] fixers = [lr, l2, epochs, initStdev, patience, validation, validationFraction, history, plot];
            // order 3 trains with the options given (the self-tuning search is over order-2 settings)
            Option? fixer = fixers.FirstOrDefault(f => parse.GetResult(f) is { Implicit: false }) ?? (orderValue == 3 ? order : null);
            bool explicitAuto = solverName == "auto" || normalizeText == "auto";
            bool auto = explicitAuto || (solverName is null or "" && fixer is null);
            if (auto && fixer is not null)
            {
                throw new CliUserException($"--{(solverName == "auto" ? "solver" : "normalize")} auto chooses the settings on held-out training rows; {fixer.Name} fixes one. Leave {fixer.Name} out, or give --solver adagrad|sgd|ftrl and --normalize on|off.");
            }

            foreach (Option only in new Option[] { burnIn, keep, meta })
            {
                if (parse.GetResult(only) is { Implicit: false })
                {
                    throw new CliUserException($"{only.Name} is for --solver mcmc{(only == meta ? " and als" : "")}.");
                }
            }

            if (auto)
            {
                var autoOptions = new FmAutoOptions
                {
                    Task = ParseTask(parse.GetRequiredValue(task), "--task"),
                    Solver = solverName is null or "" or "auto" ? null : ParseSolver(solverName, "--solver"),
                    EmbeddingSize = parse.GetValue(k) ?? 8,
                    Seed = parse.GetValue(seed),
                    Threads = parse.GetValue(threads),
                    InstanceNormalization = normalizeChoice,
                    UseBias = !parse.GetValue(noBias),
                    UseLinear = !parse.GetValue(noLinear),
                };
                return AutoRun.Run(new AutoRun.Request(parse.GetRequiredValue(train), parse.GetValue(test), CliOptions.ParseDataFormat(parse.GetValue(inputFormat)),
                    autoOptions, parse.GetValue(model), CliOptions.ParseModelFormat(parse.GetValue(modelFormat)))
                {
                    OutOfCore = parse.GetValue(outOfCore) || parse.GetValue(cache) is not null ? true : null,
                    MemoryLimit = parse.GetValue(memoryLimit) is { } autoLimit ? TrainingRun.ParseSize(autoLimit, "--memory-limit") : null,
                    Cache = parse.GetValue(cache),
                }, context);
            }

            var options = new FmTrainingOptions
            {
                Task = ParseTask(parse.GetRequiredValue(task), "--task"),
                Solver = ParseSolver(parse.GetValue(solver), "--solver"),
                EmbeddingSize = parse.GetValue(k) ?? 8,
                Order = orderValue,
                Epochs = parse.GetValue(epochs),
                LearningRate = parse.GetValue(lr),
                Regularization = parse.GetValue(l2) is { } text ? ParseL2(text, "--l2") : null,
                InitStdev = parse.GetValue(initStdev),
                Seed = parse.GetValue(seed),
                Threads = parse.GetValue(threads),
                Patience = parse.GetValue(patience),
                ValidationFraction = parse.GetValue(validationFraction),
                InstanceNormalization = normalizeChoice ?? false,
                UseBias = !parse.GetValue(noBias),
                UseLinear = !parse.GetValue(noLinear),
            };
            var request = new TrainingRequest
            {
                Train = parse.GetRequiredValue(train),
                Validation = parse.GetValue(validation),
                Test = parse.GetValue(test),
                InputFormat = CliOptions.ParseDataFormat(parse.GetValue(inputFormat)),
                Options = options,
                Model = parse.GetValue(model),
                ModelFormat = CliOptions.ParseModelFormat(parse.GetValue(modelFormat)),
                History = parse.GetValue(history),
                Plot = parse.GetValue(plot),
                OutOfCore = parse.GetValue(outOfCore) || parse.GetValue(cache) is not null ? true : null,
                MemoryLimit = parse.GetValue(memoryLimit) is { } limit ? TrainingRun.ParseSize(limit, "--memory-limit") : null,
                Cache = parse.GetValue(cache),
            };
            return TrainingRun.Run("train", request, context);
        });
        return command;

        int RunBayes(ParseResult parse, bool mcmc, CliContext context)
        {
            string name = mcmc ? "mcmc" : "als";
            foreach ((Option option, string why) in new (Option, string)[]
            {
                (lr, "it has no learning rate"), (validation, "it needs no validation data (libFM's MCMC and ALS use none)"),
                (validationFraction, "it needs no validation data"), (patience, "it does not stop early"), (plot, "it has no learning curve to plot"),
            })
            {
                if (parse.GetResult(option) is { Implicit: false })
                {
                    throw new CliUserException($"{option.Name} does not apply to --solver {name}: {why}.");
                }
            }

            if (mcmc && parse.GetResult(l2) is { Implicit: false })
            {
                throw new CliUserException("--l2 does not apply to --solver mcmc: it draws the regularisation from the data (hyperpriors); use --solver als for a fixed L2.");
            }

            if (!mcmc && (parse.GetResult(burnIn) is { Implicit: false } || parse.GetResult(keep) is { Implicit: false }))
            {
                throw new CliUserException("--burn-in and --keep are for --solver mcmc; ALS keeps its last sweep.");
            }

            // the sampler's result does not depend on the thread count, so it takes every core unless told otherwise
            int bayesThreads = parse.GetResult(threads) is { Implicit: false } ? parse.GetValue(threads) : 0;
            if (bayesThreads < 0)
            {
                throw new CliUserException($"--threads must be 1 or more; got {bayesThreads}.");
            }

            string? format = parse.GetValue(modelFormat);
            ModelFormat modelFileFormat = CliOptions.ParseModelFormat(format) ?? ModelFormat.Native;
            if (mcmc && modelFileFormat != ModelFormat.Native)
            {
                throw new CliUserException("An MCMC model is a set of posterior samples; only the native format stores it (--model-format native).");
            }

            FmBayesRegularization? regularization = null;
            if (parse.GetValue(l2) is { } text)
            {
                FmRegularization r = ParseL2(text, "--l2");
                regularization = FmBayesRegularization.Uniform(r.Bias, r.Linear, r.Factors);
            }

            int iterations = parse.GetValue(epochs) ?? 100;
            var options = new FmBayesOptions
            {
                Task = ParseTask(parse.GetRequiredValue(task), "--task"),
                Method = mcmc ? FmBayesMethod.Mcmc : FmBayesMethod.Als,
                EmbeddingSize = parse.GetValue(k) ?? 8,
                Iterations = iterations,
                BurnIn = parse.GetValue(burnIn) ?? 0,
                KeptSamples = parse.GetValue(keep),
                InitStdev = parse.GetValue(initStdev) ?? 0.1,
                Seed = parse.GetValue(seed),
                Regularization = regularization,
                UseBias = !parse.GetValue(noBias),
                UseLinear = !parse.GetValue(noLinear),
                Threads = bayesThreads,
            };
            var request = new BayesRequest
            {
                Train = parse.GetRequiredValue(train),
                Test = parse.GetValue(test),
                Meta = parse.GetValue(meta),
                InputFormat = CliOptions.ParseDataFormat(parse.GetValue(inputFormat)),
                Options = options,
                Model = parse.GetValue(model),
                ModelFormat = modelFileFormat,
                Log = parse.GetValue(history),
                CapSamplesBytes = 256L << 20,
            };
            return BayesRun.Run("train", request, context);
        }
    }

    private static FfmTrain.Request FfmRequest(ParseResult parse, Option<string> train, Option<string?> validation, Option<string?> test, Option<string> inputFormat,
        Option<string> task, Option<int?> k, Option<string?> solver, Option<int?> epochs, Option<float?> lr, Option<string?> l2, Option<int> seed, Option<int> threads,
        Option<int?> patience, Option<double?> validationFraction, Option<string?> model, Option<string?> modelFormat, Option<bool> noNorm, Option<bool> noLinear, Option<int?> maxFeatures)
    {
        var options = new FfmTrainingOptions
        {
            Task = ParseTask(parse.GetRequiredValue(task), "--task"),
            Solver = parse.GetValue(solver)?.Trim().ToLowerInvariant() switch
            {
                null or "" or "adagrad" or "sgda" => FfmSolver.AdaGrad,
                "sgd" => FfmSolver.Sgd,
                string other => throw new CliUserException($"--solver for --model-type ffm must be adagrad or sgd; got '{other}'."),
            },
            EmbeddingSize = parse.GetValue(k) ?? 4,
            Epochs = parse.GetValue(epochs),
            Seed = parse.GetValue(seed),
            Threads = parse.GetValue(threads),
            Normalization = parse.GetValue(noNorm) ? FfmNormalization.None : FfmNormalization.XLearn,
            UseLinear = !parse.GetValue(noLinear),
            MaxFeatures = parse.GetValue(maxFeatures),
        };
        if (parse.GetValue(lr) is float rate)
        {
            options = options with { LearningRate = rate };
        }

        if (parse.GetValue(l2) is { } text)
        {
            FmRegularization r = ParseL2(text, "--l2");
            options = options with { LinearLambda = r.Linear, Lambda = r.Factors };
        }

        if (parse.GetValue(patience) is int p)
        {
            options = options with { Patience = p };
        }

        if (parse.GetValue(validationFraction) is double fraction)
        {
            options = options with { ValidationFraction = fraction };
        }

        return new FfmTrain.Request(parse.GetRequiredValue(train), parse.GetValue(validation), parse.GetValue(test),
            CliOptions.ParseDataFormat(parse.GetValue(inputFormat)), options, parse.GetValue(model), parse.GetValue(modelFormat));
    }

    internal static FmTask ParseTask(string text, string option) => text.Trim().ToLowerInvariant() switch
    {
        "r" or "regression" => FmTask.Regression,
        "c" or "classification" or "binary" => FmTask.BinaryClassification,
        _ => throw new CliUserException($"{option} must be r (regression) or c (classification); got '{text}'."),
    };

    internal static FmSolver? ParseSolver(string? text, string option) => text?.Trim().ToLowerInvariant() switch
    {
        null or "" => null,
        "sgd" => FmSolver.Sgd,
        "adagrad" or "sgda" => FmSolver.AdaGrad,
        "ftrl" => FmSolver.Ftrl,
        _ => throw new CliUserException($"{option} must be auto, sgd, adagrad, ftrl, mcmc or als; got '{text}'."),
    };

    /// <summary>One value (all three parts) or three values b,w,v, separated by ',' or ';' (libFM's lists).</summary>
    internal static FmRegularization ParseL2(string text, string option)
    {
        string[] parts = text.Split([',', ';'], StringSplitOptions.TrimEntries);
        var numbers = new float[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            if (!float.TryParse(parts[i], NumberStyles.Float, CultureInfo.InvariantCulture, out numbers[i]) || !float.IsFinite(numbers[i]) || numbers[i] < 0)
            {
                throw new CliUserException($"{option} takes one value or three (bias,linear,factors), each finite and 0 or more; got '{text}'.");
            }
        }

        return numbers.Length switch
        {
            1 => new FmRegularization(numbers[0], numbers[0], numbers[0]),
            3 => new FmRegularization(numbers[0], numbers[1], numbers[2]),
            _ => throw new CliUserException($"{option} takes one value or three (bias,linear,factors); got {numbers.Length} in '{text}'."),
        };
    }
}
