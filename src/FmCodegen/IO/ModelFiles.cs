using FmCodegen.Data;

namespace FmCodegen.IO;

/// <summary>Loads and saves models in any supported format, detecting the format from the content when asked.</summary>
public static class ModelFiles
{
    /// <summary>
    /// Tells the format from the first bytes: the native magic; a '#' header line (libFM); a 'bias:' line (xLearn).
    /// </summary>
    /// <exception cref="ModelFileException">The content matches none of them.</exception>
    public static ModelFormat Detect(string path)
    {
        Span<byte> head = stackalloc byte[64];
        int got;
        using (Stream stream = TextModelParts.OpenModel(path))
        {
            try
            {
                got = stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false);
            }
            catch (InvalidDataException e)
            {
                throw new ModelFileException(e.Message, e);
            }
        }

        return Detect(head[..got], path);
    }

    /// <summary>Tells the format from the first bytes of a file.</summary>
    public static ModelFormat Detect(ReadOnlySpan<byte> head, string sourceName)
    {
        if (NativeModelFile.HasMagic(head) || (head.Length >= 4 && head[..4].SequenceEqual("FMCG"u8)))
        {
            return ModelFormat.Native;
        }

        ReadOnlySpan<byte> text = head.StartsWith("\uFEFF"u8) ? head[3..] : head;
        text = text.TrimStart(" \t\r\n"u8);
        if (text.StartsWith("#"u8))
        {
            return ModelFormat.LibFm;
        }

        if (text.StartsWith("bias:"u8))
        {
            return ModelFormat.XLearn;
        }

        throw new ModelFileException(head.IsEmpty
            ? $"{sourceName}: the file is empty; it is not a model"
            : $"{sourceName}: cannot tell the model format (not the native magic, no libFM '#' section header, no xLearn 'bias:' line); give the format explicitly");
    }

    /// <summary>Loads a model; <paramref name="format"/> null detects it.</summary>
    public static ModelFile Load(string path, ModelFormat? format = null, bool instanceNormalization = false)
    {
        ModelFormat actual = format ?? Detect(path);
        ModelFile file = actual switch
        {
            ModelFormat.Native => NativeModelFile.Load(path),
            ModelFormat.LibFm => LibFmModelFile.Load(path),
            ModelFormat.XLearn => XLearnModelFile.Load(path),
            ModelFormat.Spark => throw new ArgumentException(
                "Spark model directories are read by the FmCodegen.Spark package: FmCodegen.Spark.SparkModelDirectory.Load.", nameof(format)),
            _ => throw new ArgumentOutOfRangeException(nameof(format), format, "Unknown model format."),
        };
        if (instanceNormalization && file.Model.Order != 2)
        {
            throw new ModelFileException($"{path}: an order-3 model cannot be scored with xLearn's instance normalisation (xLearn defines it for order-2 models only)");
        }

        return instanceNormalization && !file.InstanceNormalization
            ? file with { Model = file.Model.WithInstanceNormalization(true) }
            : file;
    }

    /// <summary>
    /// Saves a model atomically (a temporary file renamed into place: never half-written). The format is
    /// <paramref name="format"/> when given, else the one the file name asks for (<see cref="FormatFor"/>): native
    /// unless the name ends in .libfm or .xlearn.
    /// </summary>
    /// <example><code>ModelFiles.Save(result.Model, "ctr.fmb", FmTask.BinaryClassification);</code></example>
    public static void Save(FmModel model, string path, FmTask? task = null, ModelFormat? format = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        Save(new ModelFile(model, task), path, format);
    }

    /// <summary>Saves a model with what the file records around it (task, sections), atomically; the format as
    /// <see cref="Save(FmModel, string, FmTask?, ModelFormat?)"/> decides it.</summary>
    public static void Save(ModelFile file, string path, ModelFormat? format = null)
    {
        ArgumentNullException.ThrowIfNull(file);
        ArgumentException.ThrowIfNullOrEmpty(path);
        ModelFormat actual = format ?? FormatFor(path);
        if (file.Samples is { } samples && actual != ModelFormat.Native)
        {
            throw new ModelFileException(
                $"{path}: a Bayesian model of {samples.Samples.Count} posterior samples can only be saved in the native format; {Name(actual)}'s text holds one model (averaging the samples' parameters would change its predictions)");
        }

        if (file.Model.Order != 2 && actual is ModelFormat.LibFm or ModelFormat.XLearn)
        {
            throw new ModelFileException(
                $"{path}: an order-3 model can only be saved in the native format; {Name(actual)}'s text holds order-2 models (pairs) only, and dropping the order-3 factors would change its predictions");
        }

        if (file.InstanceNormalization && actual == ModelFormat.LibFm)
        {
            throw new ModelFileException(
                $"{path}: the model scores with xLearn's instance normalisation, which libFM's text cannot record (libFM would score it without); save it in the native format, or as xLearn's text and load that with normalisation on");
        }

        switch (actual)
        {
            case ModelFormat.Native:
                NativeModelFile.Save(file, path);
                break;
            case ModelFormat.LibFm:
                LibFmModelFile.Save(file, path);
                break;
            case ModelFormat.XLearn:
                XLearnModelFile.Save(file, path);
                break;
            case ModelFormat.Spark:
                throw new ArgumentException("FmCodegen reads Spark model directories but does not write them; save as native, libfm or xlearn.", nameof(format));
            default:
                throw new ArgumentOutOfRangeException(nameof(format), format, "Unknown model format.");
        }
    }

    /// <summary>The format a file name asks for when saving: <see cref="ModelFormat.LibFm"/> for a name ending in
    /// .libfm, <see cref="ModelFormat.XLearn"/> for .xlearn, else <see cref="ModelFormat.Native"/> (.fmb by
    /// convention). Loading always detects the format from the content instead.</summary>
    public static ModelFormat FormatFor(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        string extension = Path.GetExtension(path);
        return extension.Equals(".libfm", StringComparison.OrdinalIgnoreCase) ? ModelFormat.LibFm
            : extension.Equals(".xlearn", StringComparison.OrdinalIgnoreCase) ? ModelFormat.XLearn
            : ModelFormat.Native;
    }

    /// <summary>The lower-case name used on the command line: native, libfm, xlearn.</summary>
    public static string Name(ModelFormat? format) => format switch
    {
        null => "in-memory",
        ModelFormat.Native => "native",
        ModelFormat.LibFm => "libfm",
        ModelFormat.XLearn => "xlearn",
        ModelFormat.Spark => "spark",
        _ => format.Value.ToString(),
    };
}
