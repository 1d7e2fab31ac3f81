using System.IO.Compression;
using System.Text;

namespace FmCodegen.Data.Tests;

public class ReaderTests
{
    [Fact]
    public void ReadsLabelsIndicesAndValues()
    {
        SparseDataset d = TestFiles.Parse("1 0:1 3:0.5\n-1 2:2.25\n");
        Assert.Equal(2, d.Count);
        Assert.Equal([1f, -1f], d.Labels.ToArray());
        Assert.Equal([0, 2, 3], d.Offsets.ToArray());
        Assert.Equal([0, 3, 2], d.Indices.ToArray());
        Assert.Equal([1f, 0.5f, 2.25f], d.Values.ToArray());
        Assert.Equal(4, d.NumFeatures);
        Assert.False(d.HasFields);
    }

    [Fact]
    public void AcceptsCrlfTrailingSpacesTabsAndLeadingBlanks()
    {
        SparseDataset d = TestFiles.Parse("1 1:1 2:1 \r\n\t 0\t3:1\t\t4:2\t\r\n1 5:1   \n");
        Assert.Equal(3, d.Count);
        Assert.Equal([1, 2, 3, 4, 5], d.Indices.ToArray());
        Assert.Equal([1f, 1f, 1f, 2f, 1f], d.Values.ToArray());
    }

    [Fact]
    public void SkipsEmptyLinesCommentLinesAndTrailingComments()
    {
        SparseDataset d = TestFiles.Parse("# header comment\n\n   \n1 1:1 # a trailing comment: 9:9\n\r\n  # indented comment\n0 2:1#no space before it\n");
        Assert.Equal(2, d.Count);
        Assert.Equal([1, 2], d.Indices.ToArray());
    }

    [Fact]
    public void KeepsUnsortedAndRepeatedIndicesAsGiven()
    {
        SparseDataset d = TestFiles.Parse("1 9:1 2:3 9:4 0:1\n");
        Assert.Equal([9, 2, 9, 0], d.Indices.ToArray());
        Assert.Equal([1f, 3f, 4f, 1f], d.Values.ToArray());
        Assert.Equal(10, d.NumFeatures);
    }

    [Theory]
    [InlineData("0", 0f)]
    [InlineData("1", 1f)]
    [InlineData("-1", -1f)]
    [InlineData("+1", 1f)]
    [InlineData("4.5", 4.5f)]
    [InlineData("-0.25", -0.25f)]
    [InlineData("1e2", 100f)]
    [InlineData("3.", 3f)]
    [InlineData(".5", 0.5f)]
    public void AcceptsLabelsOfEveryKind(string label, float expected)
    {
        SparseDataset d = TestFiles.Parse($"{label} 1:1\n");
        Assert.Equal(expected, d.Labels[0]);
    }

    [Theory]
    [InlineData("-0 1:1\n")]
    [InlineData("+0\t1:1\n")]
    [InlineData("7\t1:1\n")]
    [InlineData("-9 1:1\n")]
    [InlineData("12 1:1\n")]
    [InlineData("-1")]
    [InlineData("  +1  \n")]
    [InlineData("1.0 1:1\n")]
    public void ReadsOneDigitLabelsWithTheBitsOfTheGeneralParser(string text)
    {
        // one-digit labels take a short path; its values must be the general parser's, sign of zero included
        float expected = float.Parse(text.Trim().Split(' ', '\t')[0], System.Globalization.CultureInfo.InvariantCulture);
        SparseDataset d = TestFiles.Parse(text);
        Assert.Equal(BitConverter.SingleToInt32Bits(expected), BitConverter.SingleToInt32Bits(d.Labels[0]));
        SparseDataset f = TestFiles.Parse(text.Replace("1:1", "0:1:1", StringComparison.Ordinal), SparseFormat.LibFfm);
        Assert.Equal(BitConverter.SingleToInt32Bits(expected), BitConverter.SingleToInt32Bits(f.Labels[0]));
    }

    [Theory]
    [InlineData("- 1:1\n")]
    [InlineData("1x 1:1\n")]
    [InlineData("-1: 1:1\n")]
    [InlineData("+\n")]
    public void RefusesLabelsThatStartLikeOneDigit(string text)
    {
        Assert.Contains("bad label", TestFiles.ParseError(text).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AcceptsRowsWithoutFeaturesAndALastLineWithoutNewline()
    {
        SparseDataset d = TestFiles.Parse("1\n0 \n1 3:1");
        Assert.Equal(3, d.Count);
        Assert.Equal([0, 0, 0, 1], d.Offsets.ToArray());
    }

    [Fact]
    public void ReadsValuesExactly()
    {
        SparseDataset d = TestFiles.Parse("1 1:0.1 2:-3.4028235e38 3:1.17549435e-38 4:1e-45 5:123456789 6:0.30000001192092896 7:-0\n");
        Assert.Equal([0.1f, -3.4028235e38f, 1.17549435e-38f, 1e-45f, 123456789f, 0.3f, -0f], d.Values.ToArray());
        Assert.True(float.IsNegative(d.Values[6]));
    }

    [Fact]
    public void ReadsLinesLongerThanTheBuffer()
    {
        var line = new StringBuilder("1");
        for (int i = 0; i < 300_000; i++)
        {
            line.Append(' ').Append(i).Append(":0.5");
        }

        SparseDataset d = TestFiles.Parse(line + "\n0 7:1\n");
        Assert.True(line.Length > 1 << 21);
        Assert.Equal(2, d.Count);
        Assert.Equal(300_001, d.NonZeros);
        Assert.Equal(299_999, d.Indices[299_999]);
        Assert.Equal(7, d.Indices[300_000]);
    }

    [Fact]
    public void ReadsLibffmFieldsIndicesValues()
    {
        SparseDataset d = TestFiles.Parse("1 0:5:1 1:7:0.5\r\n0\t2:3:2 # comment\n", SparseFormat.LibFfm);
        Assert.True(d.HasFields);
        Assert.Equal([0, 1, 2], d.Fields.ToArray());
        Assert.Equal([5, 7, 3], d.Indices.ToArray());
        Assert.Equal([1f, 0.5f, 2f], d.Values.ToArray());
        Assert.Equal(3, d.NumFields);
        Assert.Equal(8, d.NumFeatures);
    }

    [Fact]
    public void ReadsGzipTransparently()
    {
        using var folder = new TempFolder();
        string path = folder.File("data.libfm.gz");
        using (var file = File.Create(path))
        using (var gzip = new GZipStream(file, CompressionLevel.Fastest))
        {
            gzip.Write("1 1:1 2:2\n0 3:3\n"u8);
        }

        SparseDataset d = SparseDataset.Load(path);
        Assert.Equal(2, d.Count);
        Assert.Equal([1, 2, 3], d.Indices.ToArray());
    }

    [Fact]
    public void StreamsBlocksWithTheirLineNumbers()
    {
        using var stream = new MemoryStream("# c\n1 1:1\n0 2:1\n\n1 3:1\n"u8.ToArray());
        using var reader = new SparseTextReader(stream, SparseFormat.LibFm, "s");
        var block = new SparseBlock();
        Assert.True(reader.ReadBlock(block, 2));
        Assert.Equal(2, block.Count);
        Assert.Equal(2, block.FirstLine);
        Assert.True(reader.ReadBlock(block, 2));
        Assert.Equal(1, block.Count);
        Assert.Equal(5, block.FirstLine);
        Assert.Equal([3], block.Indices.ToArray());
        Assert.False(reader.ReadBlock(block, 2));
        Assert.Equal(3, reader.RowsRead);
        Assert.Equal(3, reader.MaxIndex);
    }

    [Theory]
    [InlineData("1 1:1\n0 2:x\n", 2, 5, "not a number", "0 2:x")]
    [InlineData("1 1:1\n0 2:1.5.5\n", 2, 5, "not a number", "")]
    [InlineData("1 1:NaN\n", 1, 5, "not finite", "")]
    [InlineData("1 1:nan\n", 1, 5, "not finite", "")]
    [InlineData("1 1:-Infinity\n", 1, 5, "not finite", "")]
    [InlineData("1 1:1e39\n", 1, 5, "not finite", "")]
    [InlineData("1 -1:1\n", 1, 3, "negative index", "")]
    [InlineData("1 1:1 2147483647:1\n", 1, 7, "overflows", "")]
    [InlineData("1 99999999999999999999:1\n", 1, 3, "overflows", "")]
    [InlineData("1 1:1 2\n", 1, 8, "missing colon", "")]
    [InlineData("1 1:1 2=3\n", 1, 8, "found '='", "2=3")]
    [InlineData("1 a:1\n", 1, 3, "expected a non-negative integer index", "")]
    [InlineData("x 1:1\n", 1, 1, "bad label", "")]
    [InlineData("NaN 1:1\n", 1, 1, "bad label", "")]
    [InlineData("1:1 2:1\n", 1, 1, "must start with its target", "")]
    [InlineData("\n\n  inf 1:1\r\n", 3, 3, "bad label", "  inf 1:1")]
    public void RefusesBadInputNamingLineAndColumn(string text, int line, int column, string reason, string shown)
    {
        DataFormatException e = TestFiles.ParseError(text);
        Assert.Equal(line, e.LineNumber);
        Assert.Equal(column, e.Column);
        Assert.Contains(reason, e.Message, StringComparison.Ordinal);
        Assert.StartsWith($"test.libfm:{line}:{column}: ", e.Message, StringComparison.Ordinal);
        Assert.Contains(shown, e.LineText, StringComparison.Ordinal);
        Assert.DoesNotContain("\r", e.LineText, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("1 0:1\n", 1, 6, "missing colon")]
    [InlineData("1 0:1:x\n", 1, 7, "not a number")]
    [InlineData("1 -2:1:1\n", 1, 3, "negative field")]
    [InlineData("1 0:-1:1\n", 1, 5, "negative index")]
    [InlineData("1 2147483647:1:1\n", 1, 3, "overflows")]
    public void RefusesBadLibffm(string text, int line, int column, string reason)
    {
        DataFormatException e = TestFiles.ParseError(text, SparseFormat.LibFfm);
        Assert.Equal(line, e.LineNumber);
        Assert.Equal(column, e.Column);
        Assert.Contains(reason, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ErrorMessageShowsTheLineWithACaret()
    {
        DataFormatException e = TestFiles.ParseError("1 1:1\n0 7:1 8:zz 9:1\n");
        string[] lines = e.Message.Split(Environment.NewLine);
        Assert.Equal(3, lines.Length);
        Assert.Equal("    0 7:1 8:zz 9:1", lines[1]);
        Assert.Equal("    " + new string(' ', 8) + "^", lines[2]);
    }

    [Fact]
    public void LinesThatLeaveThePointerPathMidwayAreParsedWhole()
    {
        // the fast path stops at the 10-digit index and at the exponent; the checked parser redoes those lines
        SparseDataset d = TestFiles.Parse("1 1:1 2:0.5 1234567890:1 3:1\n0 4:1 5:1e-3 6:7\n1 7:1\n");
        Assert.Equal([1, 2, 1234567890, 3, 4, 5, 6, 7], d.Indices.ToArray());
        Assert.Equal([1f, 0.5f, 1f, 1f, 1f, 1e-3f, 7f, 1f], d.Values.ToArray());
        Assert.Equal([0, 4, 7, 8], d.Offsets.ToArray());
        Assert.Equal(1234567891, d.NumFeatures);
    }

    [Fact]
    public void LibffmLinesThatLeaveThePointerPathMidwayAreParsedWhole()
    {
        SparseDataset d = TestFiles.Parse("1 0:1:1 1234567890:2:0.5 2:3:2.5e1\n0 3:4:1\n", SparseFormat.LibFfm);
        Assert.Equal([0, 1234567890, 2, 3], d.Fields.ToArray());
        Assert.Equal([1, 2, 3, 4], d.Indices.ToArray());
        Assert.Equal([1f, 0.5f, 25f, 1f], d.Values.ToArray());
        Assert.Equal(1234567891, d.NumFields);
        Assert.Equal(5, d.NumFeatures);
    }

    [Fact]
    public void AnErrorAfterGoodPairsIsStillLocated()
    {
        DataFormatException e = TestFiles.ParseError("1 1:1 2:1 3:1 4:1 5:1 6:1 7:1 8:1 9:x\n");
        Assert.Equal(1, e.LineNumber);
        Assert.Equal(37, e.Column);
        Assert.Contains("'x' is not a number", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void TheLargestIndexBelowIntMaxIsAccepted()
    {
        SparseDataset d = TestFiles.Parse("1 2147483646:1\n");
        Assert.Equal(int.MaxValue, d.NumFeatures);
    }

    [Fact]
    public void TheBadInputCorpusFailsWhereExpected()
    {
        string folder = TestFiles.Fixture("bad");
        int checkedFiles = 0;
        foreach (string entry in File.ReadAllLines(Path.Combine(folder, "expected.txt")))
        {
            if (entry.StartsWith('#'))
            {
                continue;
            }

            string[] parts = entry.Split(' ', 4);
            SparseFormat format = parts[0].EndsWith(".ffm", StringComparison.Ordinal) ? SparseFormat.LibFfm : SparseFormat.LibFm;
            string path = Path.Combine(folder, parts[0]);
            DataFormatException e = Assert.Throws<DataFormatException>(() => SparseDataset.Load(path, format));
            Assert.Equal(long.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture), e.LineNumber);
            Assert.Equal(int.Parse(parts[2], System.Globalization.CultureInfo.InvariantCulture), e.Column);
            Assert.Contains(parts[3], e.Message, StringComparison.Ordinal);
            Assert.StartsWith(path + ":", e.Message, StringComparison.Ordinal);
            checkedFiles++;
        }

        Assert.Equal(12, checkedFiles);
    }
}
