using FmCodegen.Data;

namespace FmCodegen.Cli;

/// <summary>
/// Turns a data error that comes from reading libffm text as libFM (tokens field:index:value) into the reader's
/// message plus what to do: add <c>--input-format libffm</c>.
/// </summary>
internal static class DataHints
{
    public const string LibFfmHint = "this looks like libffm data (field:index:value); read it with --input-format libffm";

    /// <summary>Runs <paramref name="read"/>, adding the hint to a data error it raises when it applies.</summary>
    public static T Read<T>(SparseFormat format, Func<T> read)
    {
        ArgumentNullException.ThrowIfNull(read);
        try
        {
            return read();
        }
        catch (DataFormatException e) when (LooksLikeLibFfm(e, format))
        {
            throw new CliUserException($"{e.Message}\n{LibFfmHint}.", e);
        }
    }

    /// <summary>Runs <paramref name="read"/>, adding the hint to a data error it raises when it applies.</summary>
    public static void Read(SparseFormat format, Action read)
    {
        ArgumentNullException.ThrowIfNull(read);
        _ = Read(format, () =>
        {
            read();
            return 0;
        });
    }

    /// <summary>True when the data was read as libFM and the offending line's features all have two colons, the
    /// offending token among them.</summary>
    internal static bool LooksLikeLibFfm(DataFormatException e, SparseFormat format)
    {
        if (format != SparseFormat.LibFm || !e.Reason.Contains(':', StringComparison.Ordinal))
        {
            return false;
        }

        string[] tokens = e.LineText.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
        return tokens.Length > 1 && tokens.Skip(1).All(t => t.StartsWith('#') || t.Count(c => c == ':') == 2);
    }
}
