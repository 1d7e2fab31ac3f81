using System.Buffers.Binary;
using FmCodegen.Data;
using FmCodegen.Kernels;

namespace FmCodegen.IO;

/// <summary>Loads and saves field-aware models in any supported format, detecting the format from the content.</summary>
public static class FfmModelFiles
{
    /// <summary>
    /// True when the file holds a field-aware model: the native FFM magic, an ML.NET zip, a libffm binary (its header
    /// and length agree), or xLearn text with <c>v_j_f:</c> lines.
    /// </summary>
    public static bool IsFieldAware(string path) => TryDetect(path) is not null;

    /// <summary>The bytes of a model file's head that <see cref="TryDetect"/> and <see cref="PeekEmbeddingSize"/> read.</summary>
    private const int HeadBytes = 64;

    /// <summary>The first bytes of the file (fewer when it is shorter) into <paramref name="head"/>, and its length.</summary>
    private static Span<byte> ReadHead(string path, Span<byte> head, out long length)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1);
        length = stream.Length;
        return head[..stream.ReadAtLeast(head, head.Length, throwOnEndOfStream: false)];
    }

    /// <summary>The format of a field-aware model file, or null when the content is not one.</summary>
    public static FfmModelFormat? TryDetect(string path)
    {
        Span<byte> head = stackalloc byte[HeadBytes];
        head = ReadHead(path, head, out long length);
        if (NativeFfmModelFile.HasMagic(head))
        {
            return FfmModelFormat.Native;
        }

        if (MlNetFfmModelFile.LooksLikeZip(head))
        {
            return FfmModelFormat.MlNet;
        }

        if (head.TrimStart(" \t\r\n"u8).StartsWith("bias:"u8) || (head.Length >= 2 && head[0] == 0x1F && head[1] == 0x8B))
        {
            return XLearnFfmModelFile.IsFieldAware(path) ? FfmModelFormat.XLearn : null;
        }

        return LibFfmModelFile.LooksLike(head, length) ? FfmModelFormat.LibFfm : null;
    }

    /// <summary>
    /// The embedding size k the header of a native or libffm model file states (its first 64 bytes only), or null for
    /// the other formats and for a file whose head is not such a header. Nothing beyond the head is checked:
    /// <see cref="Load"/> checks the whole file. The fm tool uses it to compile the scoring kernel of that k while the
    /// model loads.
    /// </summary>
    public static int? PeekEmbeddingSize(string path, FfmModelFormat format)
    {
        if (format is not (FfmModelFormat.Native or FfmModelFormat.LibFfm))
        {
            return null;
        }

        Span<byte> head = stackalloc byte[HeadBytes];
        head = ReadHead(path, head, out long length);
        int k = format == FfmModelFormat.Native
            ? NativeFfmModelFile.HasMagic(head) && head.Length >= 24 ? BinaryPrimitives.ReadInt32LittleEndian(head[20..]) : 0
            : LibFfmModelFile.LooksLike(head, length) ? BinaryPrimitives.ReadInt32LittleEndian(head[8..]) : 0;
        return k is >= 1 and <= FfmLayout.MaxEmbeddingSize ? k : null;
    }

    /// <summary>Loads a field-aware model; <paramref name="format"/> null detects it. <paramref name="xlearnNormalization"/>
    /// scores an xLearn text model with xLearn's instance normalisation (the text does not record it).</summary>
    /// <exception cref="ModelFileException">The file is not such a model, or is damaged.</exception>
    public static FfmModelFile Load(string path, FfmModelFormat? format = null, bool xlearnNormalization = false)
    {
        FfmModelFormat actual = format ?? TryDetect(path)
            ?? throw new ModelFileException($"{path}: not a field-aware model (not native FFM, an ML.NET zip, a libffm binary or xLearn FFM text)");
        return actual switch
        {
            FfmModelFormat.Native => NativeFfmModelFile.Load(path),
            FfmModelFormat.LibFfm => LibFfmModelFile.Load(path),
            FfmModelFormat.XLearn => XLearnFfmModelFile.Load(path, xlearnNormalization),
            FfmModelFormat.MlNet => MlNetFfmModelFile.Load(path),
            _ => throw new ArgumentOutOfRangeException(nameof(format), format, "Unknown field-aware model format."),
        };
    }

    /// <summary>Saves a field-aware model, atomically, as native or xLearn text (libffm and ML.NET are read only).</summary>
    public static void Save(FfmModelFile file, string path, FfmModelFormat format)
    {
        switch (format)
        {
            case FfmModelFormat.Native:
                NativeFfmModelFile.Save(file, path);
                break;
            case FfmModelFormat.XLearn:
                XLearnFfmModelFile.Save(file, path);
                break;
            default:
                throw new ArgumentException($"FmCodegen reads {Name(format)} field-aware models but does not write them; save as native or xlearn.", nameof(format));
        }
    }

    /// <summary>The lower-case command-line name: native, libffm, xlearn, mlnet.</summary>
    public static string Name(FfmModelFormat format) => format switch
    {
        FfmModelFormat.Native => "native",
        FfmModelFormat.LibFfm => "libffm",
        FfmModelFormat.XLearn => "xlearn",
        FfmModelFormat.MlNet => "mlnet",
        _ => format.ToString(),
    };

    /// <summary>Loads libffm data and maps it onto the model's features (ML.NET column offsets).</summary>
    public static SparseDataset MapData(FfmModelFile file, SparseDataset data)
    {
        ArgumentNullException.ThrowIfNull(file);
        ArgumentNullException.ThrowIfNull(data);
        if (file.Columns is null)
        {
            return data;
        }

        int[] indices = data.Indices.ToArray();
        file.MapFeatures(data.Fields, indices);
        return SparseDataset.Create(data.Labels, data.Offsets, indices, data.Values, data.Fields);
    }
}
