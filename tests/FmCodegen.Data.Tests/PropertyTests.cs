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

public class ParserPathTests
{
    private static readonly string[] s_values = ["1", "0", "7", "0.5", "-2.25", "1e-3", "3.", ".5", "+4", "123456789", "1.5e10", "-0", "x", "NaN", "1e99", "2:3", "", "0x1"];
    private static readonly string[] s_indices = ["0", "5", "42", "999999999", "1234567890", "2147483646", "2147483647", "-3", "a", "", "007"];
    private static readonly string[] s_separators = [" ", "\t", "  ", " \t"];

    /// <summary>Builds a line from choices; bad tokens appear now and then so errors are compared too.</summary>
    private static string Line(int[] choices, bool ffm)
    {
        var line = new System.Text.StringBuilder(choices.Length > 0 && choices[0] % 7 == 0 ? "-1" : "1");
        for (int t = 1; t + 2 < choices.Length; t += 3)
        {
            line.Append(s_separators[(choices[t] & int.MaxValue) % s_separators.Length]);
            if (ffm)
            {
                line.Append(s_indices[(choices[t + 1] & int.MaxValue) % 4]).Append(':');
            }

            line.Append(s_indices[(choices[t + 1] & int.MaxValue) % s_indices.Length]).Append(':')
                .Append(s_values[(choices[t + 2] & int.MaxValue) % s_values.Length]);
        }

        if (choices.Length % 5 == 0)
        {
            line.Append(" # comment 1:1");
        }

        return line.ToString();
    }

    private static (SparseDataset? Data, string? Error) Parse(string text, SparseFormat format, bool checkedOnly)
    {
        using var stream = new MemoryStream(System.Text.Encoding.UTF8.GetBytes(text));
        using var reader = new SparseTextReader(stream, format, "p") { CheckedParserOnly = checkedOnly };
        try
        {
            return (reader.ReadToEnd(), null);
        }
        catch (DataFormatException e)
        {
            return (null, e.Message);
        }
    }

    [FsCheck.Xunit.Property(MaxTest = 500)]
    public bool PointerPathAndCheckedParserAgree(int[][] lines, bool ffm)
    {
        lines ??= [];
        string text = string.Join("\n", lines.Where(l => l is not null).Select(l => Line(l, ffm))) + "\n";
        SparseFormat format = ffm ? SparseFormat.LibFfm : SparseFormat.LibFm;
        var fast = Parse(text, format, checkedOnly: false);
        var slow = Parse(text, format, checkedOnly: true);
        return fast.Error == slow.Error
            && (fast.Data is null ? slow.Data is null : slow.Data is not null && fast.Data.ContentEquals(slow.Data));
    }

    /// <summary>The shapes the one-pass parser builds itself or hands on (short decimals, 8 and 9 digit numbers,
    /// leading zeros, a comment or a tab right after a value, the end of the line right after a token, a line too
    /// long for its copy) give the checked parser's rows, values and errors, bit for bit.</summary>
    [Theory]
    [InlineData("1 0:1:0.5 1:22:12.25 2:333:0.125 3:4444:99999.9")]
    [InlineData("0 0:1:00000001 1:2:1. 2:3:16777216 3:4:16777217 4:5:12345678 5:6:1234.5678 6:7:0.00000001")]
    [InlineData("1 12345678:87654321:1 123456789:987654321:2 0001:0002:0003")]
    [InlineData("1 0:1:1#c 1:2:7\t2:3:4 # 9:9:9")]
    [InlineData("1 0:1:1 1:2:")]
    [InlineData("1 0:1:1 1:2:3x")]
    [InlineData("1 0:1:-0 1:2:+1 2:3:1e3 3:4:.5")]
    [InlineData("1 1234567890:1:1")]
    [InlineData("1 0:1:1\t")]
    [InlineData("1 0:1:1 1:2:0.5\r2:3:1")]
    [InlineData("1 0:1:1 1:2:1:")]
    [InlineData("1 0:1:1 1:2")]
    [InlineData("1 0:1:1 1:")]
    [InlineData("1 0:1:1 1")]
    [InlineData("1 0:1:12.")]
    public void OnePassParserAgreesWithCheckedParser(string line)
    {
        foreach (SparseFormat format in new[] { SparseFormat.LibFfm, SparseFormat.LibFm })
        {
            // parsed in place up to the line's '\n' or '\r', or copied (the last line of a stream without one)
            foreach (string end in new[] { "\n", "\r\n", "", "\r", "\n1 0:1:1" })
            {
                string text = (format == SparseFormat.LibFfm ? line : DropFields(line)) + end;
                var fast = Parse(text, format, checkedOnly: false);
                var slow = Parse(text, format, checkedOnly: true);
                Assert.Equal(slow.Error, fast.Error);
                Assert.True(fast.Data is null ? slow.Data is null : slow.Data is not null && fast.Data.ContentEquals(slow.Data), text);
            }
        }
    }

    [Fact]
    public void OnePassParserAgreesWithCheckedParserOnLinesLongerThanItsCopy()
    {
        var line = new StringBuilder("1");
        for (int t = 0; line.Length < 40000; t++)
        {
            line.Append(' ').Append(t % 50).Append(':').Append(t * 7).Append(':').Append(t % 3 == 0 ? "0.5" : "1");
        }

        foreach (string text in new[] { line + "\n", line + " 1:2:x\n", line.ToString(), line + " 1:2:x" })
        {
            var fast = Parse(text, SparseFormat.LibFfm, checkedOnly: false);
            var slow = Parse(text, SparseFormat.LibFfm, checkedOnly: true);
            Assert.Equal(slow.Error, fast.Error);
            Assert.True(fast.Data is null ? slow.Data is null : slow.Data is not null && fast.Data.ContentEquals(slow.Data));
        }
    }

    /// <summary>Every row of a stream read block by block (labels, line numbers, first lines, offsets, fields,
    /// indices, values as bits, the largest index and field), or the error message.</summary>
    private static string Blocks(string text, SparseFormat format, bool checkedOnly, int blockRows, int maxLineLength = ByteLineReader.DefaultMaxLineLength)
    {
        using var stream = new MemoryStream(Encoding.UTF8.GetBytes(text));
        using var reader = new SparseTextReader(stream, format, "b") { CheckedParserOnly = checkedOnly, MaxLineLength = maxLineLength };
        var rows = new StringBuilder();
        try
        {
            var block = new SparseBlock();
            while (reader.ReadBlock(block, blockRows))
            {
                rows.Append("block from line ").Append(block.FirstLine).Append('\n');
                for (int r = 0; r < block.Count; r++)
                {
                    rows.Append(BitConverter.SingleToInt32Bits(block.Labels[r])).Append('@').Append(block.LineOf(r)).Append('|');
                    for (int j = block.Offsets[r]; j < block.Offsets[r + 1]; j++)
                    {
                        rows.Append(block.HasFields ? block.Fields[j] : -1).Append(':').Append(block.Indices[j]).Append(':')
                            .Append(BitConverter.SingleToInt32Bits(block.Values[j])).Append(' ');
                    }

                    rows.Append('\n');
                }
            }

            return rows.Append("max ").Append(reader.MaxIndex).Append(' ').Append(reader.MaxField).Append(" rows ").Append(reader.RowsRead).ToString();
        }
        catch (DataFormatException e)
        {
            return rows.Append(e.Message).ToString();
        }
    }

    /// <summary>The many-lines pass (lines after the first, while they have the common shape) gives the rows, line
    /// numbers and errors of the checked parser for every shape above placed between common lines, at every block
    /// size, with '\n' and "\r\n" line ends.</summary>
    [Theory]
    [InlineData("1 0:1:0.5 1:22:12.25 2:333:0.125 3:4444:99999.9")]
    [InlineData("1 12345678:87654321:1 123456789:987654321:2 0001:0002:0003")]
    [InlineData("1 0:1:1#c 1:2:7\t2:3:4 # 9:9:9")]
    [InlineData("1 0:1:1 1:2:3x")]
    [InlineData("1 0:1:-0 1:2:+1 2:3:1e3 3:4:.5")]
    [InlineData("1 1234567890:1:1")]
    [InlineData("1 0:1:1 1:2:0.5\r2:3:1")]
    [InlineData("1 0:1:1 1:2:0.5\r\r")]
    [InlineData("1 0:1:1 1:2:1:")]
    [InlineData("1 0:1:1 1")]
    [InlineData("-0 0:1:1 1:2:2")]
    [InlineData("+7\t0:1:1")]
    [InlineData("0.5 0:1:1")]
    [InlineData("1")]
    [InlineData("1 ")]
    [InlineData("1 \t ")]
    [InlineData("11 0:1:1")]
    [InlineData("1: 0:1:1")]
    [InlineData("  1 0:1:1")]
    [InlineData("")]
    [InlineData("# 1 0:1:1")]
    [InlineData("1 0:1:1\u0000")]
    public void ManyLinesPassAgreesWithCheckedParser(string line)
    {
        foreach (SparseFormat format in new[] { SparseFormat.LibFfm, SparseFormat.LibFm })
        {
            string shaped = format == SparseFormat.LibFfm ? line : DropFields(line);
            foreach (string end in new[] { "\n", "\r\n" })
            {
                string common = format == SparseFormat.LibFfm ? "-1 0:5:1 1:17:1 2:9:0.25" : "-1 5:1 17:1 9:0.25";
                string text = common + end + common + end + shaped + end + common + end + shaped + end + common;
                foreach (int rows in new[] { 1, 2, 3, 1000 })
                {
                    Assert.Equal(Blocks(text, format, checkedOnly: true, rows), Blocks(text, format, checkedOnly: false, rows));
                    Assert.Equal(Blocks(text + end, format, checkedOnly: true, rows), Blocks(text + end, format, checkedOnly: false, rows));
                }
            }
        }
    }

    /// <summary>Over several refills of the line buffer and growths of the block (many more rows than a block's first
    /// arrays hold), and with a line longer than the reader accepts after many good ones: the same rows, line
    /// numbers and error as the checked parser.</summary>
    [Fact]
    public void ManyLinesPassAgreesOverBufferRefillsAndBlockGrowth()
    {
        var text = new StringBuilder();
        var random = new Random(9);
        for (int r = 0; r < 12000; r++)
        {
            text.Append(random.Next(2) == 0 ? "-1" : "1");
            int tokens = random.Next(0, 30);
            for (int t = 0; t < tokens; t++)
            {
                text.Append(' ').Append(t).Append(':').Append(random.Next(100000)).Append(':').Append(random.Next(5) == 0 ? "0.5" : "1");
            }

            text.Append(r % 97 == 0 ? "\r\n" : r % 1001 == 0 ? "\n\n# comment\n" : "\n");
        }

        string all = text.ToString();
        foreach (int rows in new[] { 1000, 5000, 65536 })
        {
            Assert.Equal(Blocks(all, SparseFormat.LibFfm, checkedOnly: true, rows), Blocks(all, SparseFormat.LibFfm, checkedOnly: false, rows));
        }

        // lines of at most 250 bytes accepted: the first longer one fails, at its line, on both paths
        string tooLong = Blocks(all, SparseFormat.LibFfm, checkedOnly: false, 1000, maxLineLength: 250);
        Assert.Contains("longer than 250 bytes", tooLong, StringComparison.Ordinal);
        Assert.Equal(Blocks(all, SparseFormat.LibFfm, checkedOnly: true, 1000, maxLineLength: 250), tooLong);
    }

    /// <summary>field:index:value tokens as index:value (the first colon-separated part dropped).</summary>
    private static string DropFields(string line) =>
        string.Join(' ', line.Split(' ').Select(token => token.Count(c => c == ':') >= 2 ? token[(token.IndexOf(':') + 1)..] : token));
}
