using System.Globalization;
using FmCodegen.Data;

namespace FmCodegen.Eval;

/// <summary>
/// A minimal reader of libFM/libSVM text for this script only (label, then index:value pairs; blank lines and
/// '#' lines skipped; trailing spaces and CR accepted). The library's own readers live in FmCodegen.Data.
/// </summary>
internal static class LibFmLoader
{
    public static SparseDataset Load(string path)
    {
        var labels = new List<float>();
        var offsets = new List<int> { 0 };
        var indices = new List<int>();
        var values = new List<float>();
        int lineNumber = 0;
        foreach (string raw in File.ReadLines(path))
        {
            lineNumber++;
            ReadOnlySpan<char> line = raw.AsSpan().Trim();
            if (line.IsEmpty || line[0] == '#')
            {
                continue;
            }

            int hash = line.IndexOf('#');
            if (hash >= 0)
            {
                line = line[..hash].TrimEnd();
            }

            bool first = true;
            foreach (Range range in line.SplitAny(" \t"))
            {
                ReadOnlySpan<char> token = line[range];
                if (token.IsEmpty)
                {
                    continue;
                }

                if (first)
                {
                    labels.Add(float.Parse(token, NumberStyles.Float, CultureInfo.InvariantCulture));
                    first = false;
                    continue;
                }

                int colon = token.IndexOf(':');
                if (colon <= 0)
                {
                    throw new InvalidDataException($"{path}:{lineNumber}: expected index:value, got '{token}'.");
                }

                indices.Add(int.Parse(token[..colon], NumberStyles.None, CultureInfo.InvariantCulture));
                values.Add(float.Parse(token[(colon + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture));
            }

            offsets.Add(indices.Count);
        }

        return SparseDataset.Create(labels.ToArray(), offsets.ToArray(), indices.ToArray(), values.ToArray());
    }
}
