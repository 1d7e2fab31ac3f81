using System.CommandLine;
using System.Globalization;
using FmCodegen.Data;
using FmCodegen.IO;
using FmCodegen.Spark;

namespace FmCodegen.Cli;

/// <summary>Options and value parsers shared by the verbs, so every verb spells and checks them the same way.</summary>
public static class CliOptions
{
    public static Option<string> Model(string description = "The model file.") =>
        new("--model", "-m") { Description = description, Required = true, HelpName = "FILE" };

    public static Option<string?> ModelFormat(string description = "The model format: native, libfm, xlearn, spark (a Spark MLlib FM model directory), libffm or mlnet; default: detected from the content (libffm, mlnet and xLearn FFM text are field-aware).") =>
        new("--model-format") { Description = description, HelpName = "native|libfm|xlearn|spark|libffm|mlnet" };

    public static Option<string> Output(string description) =>
        new("--output", "-o") { Description = description, Required = true, HelpName = "FILE" };

    public static Option<string> InputFormat() =>
        new("--input-format") { Description = "The data format: libfm (libFM/libSVM) or libffm.", DefaultValueFactory = _ => "libfm", HelpName = "libfm|libffm" };

    public static Option<int> Threads() =>
        new("--threads", "-t") { Description = "Cores used for scoring (0: all).", DefaultValueFactory = _ => 1, HelpName = "N" };

    /// <summary>Parses a model format name (case-insensitive); null or empty gives null (detect).</summary>
    public static ModelFormat? ParseModelFormat(string? text, string option = "--model-format") =>
        text?.Trim().ToLowerInvariant() switch
        {
            null or "" or "auto" => null,
            "native" or "fm" or "bin" => IO.ModelFormat.Native,
            "libfm" => IO.ModelFormat.LibFm,
            "xlearn" => IO.ModelFormat.XLearn,
            "spark" => IO.ModelFormat.Spark,
            "libffm" or "mlnet" => throw new CliUserException($"{option} {text}: a field-aware model format, which this verb does not take here."),
            _ => throw new CliUserException($"{option} must be native, libfm, xlearn, spark, libffm or mlnet; got '{text}'."),
        };

    /// <summary>Parses a data format name.</summary>
    public static SparseFormat ParseDataFormat(string? text, string option = "--input-format") =>
        text?.Trim().ToLowerInvariant() switch
        {
            null or "" or "libfm" or "libsvm" => SparseFormat.LibFm,
            "libffm" or "ffm" => SparseFormat.LibFfm,
            _ => throw new CliUserException($"{option} must be libfm or libffm; got '{text}'."),
        };

    /// <summary>Parses "MIN,MAX" with MIN &lt;= MAX, both finite.</summary>
    public static (float Min, float Max) ParseRange(string text, string option)
    {
        string[] parts = text.Split(',', StringSplitOptions.TrimEntries);
        if (parts.Length == 2
            && float.TryParse(parts[0], NumberStyles.Float, CultureInfo.InvariantCulture, out float min)
            && float.TryParse(parts[1], NumberStyles.Float, CultureInfo.InvariantCulture, out float max)
            && float.IsFinite(min) && float.IsFinite(max) && min <= max)
        {
            return (min, max);
        }

        throw new CliUserException($"{option} takes MIN,MAX with finite numbers and MIN <= MAX (e.g. {option} 1,5); got '{text}'.");
    }

    /// <summary>Refuses a missing input file with a clear message (before any output is opened).</summary>
    public static void RequireFile(string path, string what)
    {
        if (!File.Exists(path))
        {
            throw new CliUserException(Directory.Exists(path) ? $"{what} '{path}' is a folder, not a file." : $"{what} '{path}' does not exist.");
        }
    }

    /// <summary>
    /// Refuses, before anything is read or written, an output that is the same file as an input (by device and
    /// inode on Linux, so links and other spellings are caught too) or as another output, an output that is a
    /// folder, and an output whose folder is missing or not writable. '-' (stdout) and null entries are skipped.
    /// </summary>
    public static void CheckOutputs(IEnumerable<(string Option, string? Path)> outputs, IEnumerable<(string Option, string? Path)> inputs)
    {
        ArgumentNullException.ThrowIfNull(outputs);
        ArgumentNullException.ThrowIfNull(inputs);
        // plain loops: the LINQ operators over these tuples are generic code the ReadyToRun image lacks, compiled at
        // every start of every verb
        var outs = new List<(string Option, string Path)>();
        foreach ((string option, string? path) in outputs)
        {
            if (path is not null && path != "-")
            {
                outs.Add((option, path));
            }
        }

        var ins = new List<(string Option, string Path)>();
        foreach ((string option, string? path) in inputs)
        {
            if (path is not null)
            {
                ins.Add((option, path));
            }
        }

        for (int o = 0; o < outs.Count; o++)
        {
            (string option, string path) = outs[o];
            foreach ((string inOption, string inPath) in ins)
            {
                if (SameFile(path, inPath))
                {
                    throw new CliUserException($"{option} '{path}' is the same file as {inOption} '{inPath}': writing it would destroy that input; write to another file.");
                }
            }

            for (int p = 0; p < o; p++)
            {
                if (SameFile(path, outs[p].Path))
                {
                    throw new CliUserException($"{option} '{path}' and {outs[p].Option} '{outs[p].Path}' are the same file; give each output its own file.");
                }
            }

            try
            {
                AtomicFile.CheckWritable(path);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new CliUserException($"{option}: {e.Message}", e);
            }
        }
    }

    internal static bool SameFile(string a, string b) =>
        FileIdentity.Same(a, b) || string.Equals(FileIdentity.Resolved(a), FileIdentity.Resolved(b), StringComparison.Ordinal);

    /// <summary>Loads a model, naming the format in errors. A directory with metadata/ is a Spark model.</summary>
    public static ModelFile LoadModel(string path, ModelFormat? format, bool instanceNormalization = false)
    {
        if (format == IO.ModelFormat.Spark || (format is null && SparkModelDirectory.IsModelDirectory(path)))
        {
            ModelFile spark = SparkModelDirectory.Load(path);
            return instanceNormalization ? spark with { Model = spark.Model.WithInstanceNormalization(true) } : spark;
        }

        if (Directory.Exists(path))
        {
            throw new CliUserException($"The model '{path}' is a folder without metadata/; only a Spark model is a folder (--model-format spark).");
        }

        RequireFile(path, "The model file");
        return ModelFiles.Load(path, format, instanceNormalization);
    }

    /// <summary>The bytes a model occupies: the file's length, or the sum of a model directory's files.</summary>
    public static long ModelBytes(string path) => Directory.Exists(path)
        ? new DirectoryInfo(path).EnumerateFiles("*", SearchOption.AllDirectories).Sum(f => f.Length)
        : new FileInfo(path).Length;
}
