using System.CommandLine;
using System.Globalization;
using FmCodegen.IO;
using FmCodegen.Kernels;

namespace FmCodegen.Cli.Commands;

/// <summary><c>fm info</c>: what a model file holds, its checksum state and a summary of its weights.</summary>
public static class InfoCommand
{
    public static Command Create()
    {
        Option<string> model = CliOptions.Model("The model file to describe.");
        Option<string?> modelFormat = CliOptions.ModelFormat();
        var command = new Command("info", "Describe a model file: format, k, features, task, checksum, weight summary.")
        {
            model, modelFormat,
        };

        CliRunner.SetAction(command, (parse, context) =>
        {
            string path = parse.GetRequiredValue(model);
            if (FfmCli.Route(path, parse.GetValue(modelFormat)) is { } ffm)
            {
                context.Output.Write(FfmCli.Describe(FfmCli.Load(path, ffm, xlearnNormalization: false), path, new FileInfo(path).Length));
                return 0;
            }

            ModelFile file = CliOptions.LoadModel(path, CliOptions.ParseModelFormat(parse.GetValue(modelFormat)));
            context.Output.Write(Describe(file, path, CliOptions.ModelBytes(path)));
            return 0;
        });
        return command;
    }

    /// <summary>The report <c>fm info</c> prints.</summary>
    public static string Describe(ModelFile file, string path, long bytes)
    {
        ArgumentNullException.ThrowIfNull(file);
        FmModel model = file.Model;
        var text = new System.Text.StringBuilder();
        void Line(string name, string value) => text.Append(CultureInfo.InvariantCulture, $"{name,-10} {value}\n");
        string format = ModelFiles.Name(file.Format);

        Line("file", string.Create(CultureInfo.InvariantCulture, $"{path} ({bytes:N0} bytes)"));
        Line("format", format);
        Line("task", file.Task switch
        {
            FmTask.Regression => "regression",
            FmTask.BinaryClassification => "classification",
            _ => file.Format == ModelFormat.Native ? "unknown (not recorded)" : $"unknown ({format} files do not record it)",
        });
        Line("k", model.EmbeddingSize.ToString(CultureInfo.InvariantCulture));
        Line("order", model.Order == 3 ? "3 (pairs and triples)" : "2 (pairs)");
        Line("features", model.NumFeatures.ToString("N0", CultureInfo.InvariantCulture));
        Line("sections", $"bias {(file.HasBias ? "yes" : "no")}, linear {(file.HasLinear ? "yes" : "no")}, pairwise yes{(model.Order == 3 ? ", order-3 yes" : string.Empty)}");
        Line("checksum", file.ChecksumVerified ? "verified (CRC-32 of header and data match)" : $"none (the {format} format has no checksum)");
        if (file.Format == ModelFormat.Native)
        {
            Line("scoring", file.InstanceNormalization ? "xLearn instance normalisation" : "plain FM");
            if (file.TargetRange is { } range)
            {
                Line("target range", string.Create(CultureInfo.InvariantCulture, $"[{range.Min:G9}, {range.Max:G9}] (the training targets; fm predict clamps to it unless --no-clip)"));
            }
        }

        Line("kernel", model.Order == 3 ? FmOrder3Kernels.For(model.EmbeddingSize).ToString() : FmKernels.For(model.EmbeddingSize).ToString());
        Line("bias", model.Bias.ToString(CultureInfo.InvariantCulture));
        Line("linear", Summary(model.Weights));
        Line("factors", Summary(model.Factors[..(model.NumFeatures * model.EmbeddingSize)]));
        if (model.Order == 3)
        {
            Line("order-3", Summary(model.Factors[(model.NumFeatures * model.EmbeddingSize)..]));
        }

        int zeroRows = 0;
        double normSum = 0;
        for (int i = 0; i < model.NumFeatures; i++)
        {
            double norm = 0;
            foreach (float v in model.FactorRow(i))
            {
                norm += (double)v * v;
            }

            zeroRows += norm == 0 ? 1 : 0;
            normSum += Math.Sqrt(norm);
        }

        Line("rows", string.Create(CultureInfo.InvariantCulture,
            $"mean |v_i| {(model.NumFeatures == 0 ? 0 : normSum / model.NumFeatures):G6}, features with all-zero factors {zeroRows:N0}"));
        return text.ToString();
    }

    private static string Summary(ReadOnlySpan<float> values)
    {
        if (values.IsEmpty)
        {
            return "none";
        }

        float min = float.MaxValue, max = float.MinValue;
        double sum = 0, sumAbs = 0, sumSquares = 0;
        int zeros = 0;
        foreach (float v in values)
        {
            min = Math.Min(min, v);
            max = Math.Max(max, v);
            sum += v;
            sumAbs += Math.Abs(v);
            sumSquares += (double)v * v;
            zeros += v == 0 ? 1 : 0;
        }

        int n = values.Length;
        return string.Create(CultureInfo.InvariantCulture,
            $"n {n:N0}, min {min:G6}, max {max:G6}, mean {sum / n:G6}, mean |x| {sumAbs / n:G6}, rms {Math.Sqrt(sumSquares / n):G6}, zeros {zeros:N0}");
    }
}
