using System.Globalization;
using System.Text;
using FsCheck.Xunit;

namespace FmCodegen.Data.Tests;

public class PropertyTests
{
    private static readonly string[] s_formats = ["R", "G6", "G9", "E3", "E10", "F2", "F7", "G17"];

    private static float Finite(float x) => float.IsFinite(x) ? x : 1.5f;

    /// <summary>Any finite float, spread over the whole range by taking its bits.</summary>
    private static float FromBits(int bits)
    {
        float f = BitConverter.Int32BitsToSingle(bits);
        return float.IsFinite(f) ? f : BitConverter.Int32BitsToSingle(bits & unchecked((int)0x807FFFFF) | 0x3F000000);
    }

    [Property(MaxTest = 1000)]
    public bool ParseAgreesWithTheRuntimeOnFormattedFloats(int bits, byte formatIndex)
    {
        float f = FromBits(bits);
        string text = f.ToString(s_formats[formatIndex % s_formats.Length], CultureInfo.InvariantCulture);
        float expected = float.Parse(text, CultureInfo.InvariantCulture);
        byte[] bytes = Encoding.ASCII.GetBytes(text + " ");
        int end = NumberText.ParseFloat(bytes, 0, colonEnds: false, out float parsed);
        return end == text.Length && BitConverter.SingleToInt32Bits(parsed) == BitConverter.SingleToInt32Bits(expected);
    }

    [Property(MaxTest = 1000)]
    public bool ParseAgreesWithTheRuntimeOnDecimalStrings(uint digits, byte pointAt, sbyte exponent, bool negative, bool withExponent)
    {
        string mantissa = digits.ToString(CultureInfo.InvariantCulture);
        int point = pointAt % (mantissa.Length + 1);
        string text = (negative ? "-" : "") + mantissa[..point] + "." + mantissa[point..] + (withExponent ? "e" + (exponent % 40).ToString(CultureInfo.InvariantCulture) : "");
        float expected = float.Parse(text, CultureInfo.InvariantCulture);
        int end = NumberText.ParseFloat(Encoding.ASCII.GetBytes(text), 0, colonEnds: false, out float parsed);
        return end == text.Length && BitConverter.SingleToInt32Bits(parsed) == BitConverter.SingleToInt32Bits(expected);
    }

    [Property(MaxTest = 2000)]
    public bool FormatRoundTripsEveryFloat(int bits)
    {
        float f = FromBits(bits);
        Span<byte> buffer = stackalloc byte[32];
        int n = NumberText.FormatFloat(f, buffer);
        float back = float.Parse(Encoding.ASCII.GetString(buffer[..n]), CultureInfo.InvariantCulture);
        return BitConverter.SingleToInt32Bits(back) == BitConverter.SingleToInt32Bits(f);
    }

    [Property(MaxTest = 500)]
    public bool FormatIsNoLongerThanTheRuntimesShortestPlusExponentStyle(int bits)
    {
        // scores and probabilities: the fast formatter must stay as short as the runtime's shortest form
        float f = FromBits(bits);
        if (Math.Abs(f) is < 1e-5f or >= 1e9f)
        {
            return true;
        }

        Span<byte> buffer = stackalloc byte[32];
        int n = NumberText.FormatFloat(f, buffer);
        return n <= f.ToString(CultureInfo.InvariantCulture).Length;
    }

    [Property(MaxTest = 200)]
    public bool LibFmWriteThenReadGivesTheSameDataset(float[] labels, byte[] rowLengths, int[] indices, float[] values) =>
        RoundTrip(labels, rowLengths, indices, values, withFields: false);

    [Property(MaxTest = 200)]
    public bool LibffmWriteThenReadGivesTheSameDataset(float[] labels, byte[] rowLengths, int[] indices, float[] values) =>
        RoundTrip(labels, rowLengths, indices, values, withFields: true);

    [Property(MaxTest = 20)]
    public bool GzipFileRoundTrip(float[] labels, byte[] rowLengths, int[] indices, float[] values)
    {
        SparseDataset data = Build(labels, rowLengths, indices, values, withFields: false);
        using var folder = new TempFolder();
        string path = folder.File("d.libfm.gz");
        data.Save(path);
        byte[] bytes = File.ReadAllBytes(path);
        return SparseDataset.Load(path).ContentEquals(data) && (data.Count == 0 || (bytes[0] == 0x1f && bytes[1] == 0x8b));
    }

    private static bool RoundTrip(float[] labels, byte[] rowLengths, int[] indices, float[] values, bool withFields)
    {
        SparseDataset data = Build(labels, rowLengths, indices, values, withFields);
        SparseFormat format = withFields ? SparseFormat.LibFfm : SparseFormat.LibFm;
        using var stream = new MemoryStream();
        SparseTextWriter.Write(data, stream, format);
        stream.Position = 0;
        using var reader = new SparseTextReader(stream, format, "roundtrip");
        SparseDataset back = reader.ReadToEnd();
        return back.ContentEquals(data);
    }

    /// <summary>A dataset from arbitrary arrays: rows take lengths, indices and values cyclically.</summary>
    private static SparseDataset Build(float[] labels, byte[] rowLengths, int[] indices, float[] values, bool withFields)
    {
        labels ??= [];
        var offsets = new List<int> { 0 };
        var idx = new List<int>();
        var val = new List<float>();
        var fields = new List<int>();
        for (int r = 0; r < labels.Length; r++)
        {
            int length = rowLengths is { Length: > 0 } ? rowLengths[r % rowLengths.Length] % 12 : 0;
            for (int j = 0; j < length; j++)
            {
                int t = idx.Count;
                int raw = indices is { Length: > 0 } ? indices[t % indices.Length] : t;
                idx.Add((raw & int.MaxValue) % (int.MaxValue - 1));
                val.Add(values is { Length: > 0 } ? Finite(values[t % values.Length]) : 1f);
                fields.Add(j);
            }

            offsets.Add(idx.Count);
        }

        float[] finiteLabels = Array.ConvertAll(labels, Finite);
        return SparseDataset.Create(finiteLabels, offsets.ToArray(), idx.ToArray(), val.ToArray(), withFields ? fields.ToArray() : default);
    }
}
