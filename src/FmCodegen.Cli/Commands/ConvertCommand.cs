using System.CommandLine;
using System.Globalization;
using FmCodegen.IO;

namespace FmCodegen.Cli.Commands;

/// <summary><c>fm convert</c>: reads a model in one format and writes it in another, atomically.</summary>
public static class ConvertCommand
{
    public static Command Create()
    {
        Option<string> model = CliOptions.Model("The model file to convert.");
        Option<string?> modelFormat = CliOptions.ModelFormat();
        Option<string> to = new("--to") { Description = "The format to write: native, libfm or xlearn.", Required = true, HelpName = "native|libfm|xlearn" };
        Option<string> output = CliOptions.Output("The file to write.");
        Option<string?> task = new("--task") { Description = "Record the task in a native file: regression or classification (default: kept from the input, else unknown).", HelpName = "regression|classification" };
        Option<bool> xlearnNorm = new("--xlearn-norm") { Description = "Mark the model as scored with xLearn's instance normalisation (recorded in native files)." };

        var command = new Command("convert", "Convert a model between the native, libFM and xLearn formats (and from a Spark MLlib FM model directory).")
        {
            model, modelFormat, to, output, task, xlearnNorm,
        };

        CliRunner.SetAction(command, (parse, context) =>
        {
            if (FfmCli.Route(parse.GetRequiredValue(model), parse.GetValue(modelFormat)) is { } ffm)
            {
                FmTask? ffmTask = parse.GetValue(task)?.Trim().ToLowerInvariant() switch
                {
                    null or "" => null,
                    "regression" or "r" => FmTask.Regression,
                    "classification" or "c" => FmTask.BinaryClassification,
                    string other => throw new CliUserException($"--task must be regression or classification; got '{other}'."),
                };
                return FfmCli.Convert(parse.GetRequiredValue(model), ffm, parse.GetRequiredValue(to), parse.GetRequiredValue(output), ffmTask, parse.GetValue(xlearnNorm), context);
            }

            ModelFormat target = CliOptions.ParseModelFormat(parse.GetRequiredValue(to), "--to") is { } parsed and not IO.ModelFormat.Spark
                ? parsed
                : throw new CliUserException("--to must be native, libfm or xlearn (Spark model directories are read, not written).");
            FmTask? newTask = parse.GetValue(task)?.Trim().ToLowerInvariant() switch
            {
                null or "" => null,
                "regression" or "r" => FmTask.Regression,
                "classification" or "c" => FmTask.BinaryClassification,
                string other => throw new CliUserException($"--task must be regression or classification; got '{other}'."),
            };
            string outputPath = parse.GetRequiredValue(output);
            string modelPath = parse.GetRequiredValue(model);
            CliOptions.CheckOutputs([("--output", outputPath)], [("--model", modelPath)]);
            ModelFile file = CliOptions.LoadModel(modelPath, CliOptions.ParseModelFormat(parse.GetValue(modelFormat)), parse.GetValue(xlearnNorm));
            if (newTask is { } t)
            {
                file = file with { Task = t };
            }

            ModelFiles.Save(file, outputPath, target);
            context.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"fm convert: {ModelFiles.Name(file.Format)} -> {ModelFiles.Name(target)}: {file.Model.NumFeatures:N0} features, k = {file.Model.EmbeddingSize}, written to {outputPath}."));
            if (target == IO.ModelFormat.XLearn && !file.HasBias)
            {
                context.Error.WriteLine("fm convert: note: the model has no bias; xLearn's format always has one, written as 0.");
            }

            return 0;
        });
        return command;
    }
}
