using System.Globalization;
using System.Text;
using FsCheck.Xunit;

namespace FmCodegen.Data.Tests;

public class NumberTextTests
{
    private static string Format(float value)
    {
        Span<byte> buffer = stackalloc byte[32];
        int n = NumberText.FormatFloat(value, buffer);
        return Encoding.ASCII.GetString(buffer[..n]);
    }

    [Theory]
    [InlineData(0f, "0")]
    [InlineData(7f, "7")]
    [InlineData(10f, "10")]
    [InlineData(-1f, "-1")]
    [InlineData(0.5f, "0.5")]
    [InlineData(-0.25f, "-0.25")]
    [InlineData(0.1f, "0.1")]
    [InlineData(1.5e-5f, "0.000015")]
    [InlineData(1.25e-6f, "1.25e-06")]
    [InlineData(123456.5f, "123456.5")]
    [InlineData(100000000f, "100000000")]
    [InlineData(1e9f, "1e+09")]
    [InlineData(3.4028235e38f, "3.4028235e+38")]
    [InlineData(0.131019f, "0.131019")]
    [InlineData(-0.681605f, "-0.681605")]
    [InlineData(16777217f, "16777216")]
    public void FormatsReadably(float value, string expected) => Assert.Equal(expected, Format(value));

    [Fact]
    public void NegativeZeroAndTinyValuesKeepTheirBits()
    {
        Assert.Equal("-0", Format(-0f));
        Assert.Equal(1e-45f, float.Parse(Format(1e-45f), CultureInfo.InvariantCulture));
    }

    [Property(MaxTest = 3000)]
    public bool RoundTripsInTheRangeOfScoresAndProbabilities(int mantissa, byte exponent, bool negative)
    {
        // values from 1e-6 to 1e9 with every mantissa: the fixed-notation branches
        float f = (float)((mantissa & 0x7FFFFF | 0x800000) * Math.Pow(2, -23) * Math.Pow(10, (exponent % 16) - 6));
        f = negative ? -f : f;
        return float.Parse(Format(f), CultureInfo.InvariantCulture) == f;
    }

    [Fact]
    public void EveryFloatNearPowersOfTenAndTwoRoundTrips()
    {
        for (int e = -10; e <= 12; e++)
        {
            float center = (float)Math.Pow(10, e);
            int bits = BitConverter.SingleToInt32Bits(center);
            for (int d = -300; d <= 300; d++)
            {
                float f = BitConverter.Int32BitsToSingle(bits + d);
                Assert.Equal(f, float.Parse(Format(f), CultureInfo.InvariantCulture));
            }
        }

        for (int e = -30; e <= 40; e++)
        {
            int bits = BitConverter.SingleToInt32Bits(MathF.Pow(2, e));
            for (int d = -3; d <= 3; d++)
            {
                float f = BitConverter.Int32BitsToSingle(bits + d);
                Assert.Equal(f, float.Parse(Format(f), CultureInfo.InvariantCulture));
            }
        }
    }

    [Property(MaxTest = 2000)]
    public bool EveryEntryWritesTheSameBytes(int bits, byte offset)
    {
        // the span entry, the array entry with room and the array entry near the end of its buffer (short room)
        float f = BitConverter.Int32BitsToSingle(bits);
        string expected = Format(f);
        byte[] buffer = new byte[64];
        int at = offset % 40;
        int n = NumberText.FormatFloat(f, buffer, at);
        byte[] tight = new byte[at + expected.Length];
        int m = NumberText.FormatFloat(f, tight, at);
        return Encoding.ASCII.GetString(buffer, at, n) == expected && Encoding.ASCII.GetString(tight, at, m) == expected;
    }

    [Fact]
    public void ATooSmallBufferIsRefused()
    {
        Assert.Throws<InvalidOperationException>(() => NumberText.FormatFloat(0.123456789f, new byte[4], 0));
        Assert.Equal(1, NumberText.FormatFloat(7f, new byte[1], 0));
    }

    [Theory]
    [InlineData("0", 0, 1)]
    [InlineData("2147483646", 2147483646, 10)]
    [InlineData("007:", 7, 3)]
    [InlineData("x", 0, -1)]
    [InlineData("2147483647", 0, -2)]
    [InlineData("99999999999999999999999", 0, -2)]
    public void ParsesIndices(string text, int value, int end)
    {
        int got = NumberText.ParseIndex(Encoding.ASCII.GetBytes(text), 0, out int parsed);
        Assert.Equal(end, got);
        if (end > 0)
        {
            Assert.Equal(value, parsed);
        }
    }
}
