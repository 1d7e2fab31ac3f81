using System.Globalization;
using System.Runtime.CompilerServices;

namespace FmCodegen.Data;

/// <summary>
/// Number parsing and formatting over UTF-8 bytes. Parsing is exact: a fast path covers decimal numbers whose
/// digits fit in 24 bits with a power of ten up to 10^10 (then both operands are exact floats and one IEEE multiply
/// or divide rounds correctly); everything else goes to the runtime's correctly rounded parser.
/// </summary>
internal static class NumberText
{
    private static readonly float[] s_powersOf10 = [1e0f, 1e1f, 1e2f, 1e3f, 1e4f, 1e5f, 1e6f, 1e7f, 1e8f, 1e9f, 1e10f];

    /// <summary>True for the bytes that end a token: space, tab, '#' (a comment) and the end of the line.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsTokenEnd(ReadOnlySpan<byte> line, int position) =>
        (uint)position >= (uint)line.Length || line[position] is (byte)' ' or (byte)'\t' or (byte)'#';

    /// <summary>
    /// Parses a float that starts at <paramref name="position"/> and ends at the first space, tab, '#', line end,
    /// or ':' when <paramref name="colonEnds"/>.
    /// Returns the end position, or -1 when the token is not a number (then <paramref name="value"/> is 0).
    /// A parsed NaN or infinity is returned as such; the caller refuses it.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int ParseFloat(ReadOnlySpan<byte> line, int position, bool colonEnds, out float value)
    {
        int p = position;
        bool negative = false;
        if ((uint)p < (uint)line.Length && (line[p] == (byte)'-' || line[p] == (byte)'+'))
        {
            negative = line[p] == (byte)'-';
            p++;
        }

        uint mantissa = 0;
        int digits = 0;
        int exponent = 0;
        int significant = 0;
        while ((uint)p < (uint)line.Length)
        {
            uint d = (uint)(line[p] - '0');
            if (d > 9)
            {
                break;
            }

            if (significant < 9)
            {
                mantissa = (mantissa * 10) + d;
                if (mantissa != 0)
                {
                    significant++;
                }
            }
            else
            {
                return ParseSlow(line, position, colonEnds, out value);
            }

            digits++;
            p++;
        }

        if ((uint)p < (uint)line.Length && line[p] == (byte)'.')
        {
            p++;
            while ((uint)p < (uint)line.Length)
            {
                uint d = (uint)(line[p] - '0');
                if (d > 9)
                {
                    break;
                }

                if (significant < 9)
                {
                    mantissa = (mantissa * 10) + d;
                    if (mantissa != 0)
                    {
                        significant++;
                    }

                    exponent--;
                }
                else if (d != 0)
                {
                    return ParseSlow(line, position, colonEnds, out value);
                }

                digits++;
                p++;
            }
        }

        if (digits == 0 || mantissa > (1u << 24) || exponent < -10)
        {
            return ParseSlow(line, position, colonEnds, out value);
        }

        if ((uint)p < (uint)line.Length)
        {
            byte c = line[p];
            if (c == (byte)'e' || c == (byte)'E' || !(c is (byte)' ' or (byte)'\t' or (byte)'#' || (colonEnds && c == (byte)':')))
            {
                return ParseSlow(line, position, colonEnds, out value);
            }
        }

        float v = exponent == 0 ? mantissa : mantissa / s_powersOf10[-exponent];
        value = negative ? -v : v;
        return p;
    }

    private static int ParseSlow(ReadOnlySpan<byte> line, int position, bool colonEnds, out float value)
    {
        int end = position;
        while ((uint)end < (uint)line.Length)
        {
            byte c = line[end];
            if (c is (byte)' ' or (byte)'\t' or (byte)'#' || (colonEnds && c == (byte)':'))
            {
                break;
            }

            end++;
        }

        if (float.TryParse(line[position..end], NumberStyles.Float, CultureInfo.InvariantCulture, out value))
        {
            return end;
        }

        value = 0;
        return -1;
    }

    /// <summary>
    /// Parses a non-negative int (an index or a field). Returns the end position; -1 when there is no digit,
    /// -2 when the number is int.MaxValue or more (so that largest + 1 still fits).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int ParseIndex(ReadOnlySpan<byte> line, int position, out int value)
    {
        int p = position;
        ulong acc = 0;
        while ((uint)p < (uint)line.Length)
        {
            uint d = (uint)(line[p] - '0');
            if (d > 9)
            {
                break;
            }

            acc = (acc * 10) + d;
            if (acc >= int.MaxValue)
            {
                value = 0;
                return -2;
            }

            p++;
        }

        value = (int)acc;
        return p == position ? -1 : p;
    }

    /// <summary>Writes the shortest text that parses back to the same float (invariant culture).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int FormatFloat(float value, Span<byte> destination)
    {
        // small integers (labels, one-hot values) are the common case: skip the general formatter
        if (value == (int)value && value is >= 0 and < 10 && !float.IsNegative(value))
        {
            destination[0] = (byte)('0' + (int)value);
            return 1;
        }

        if (!value.TryFormat(destination, out int written, default, CultureInfo.InvariantCulture))
        {
            throw new InvalidOperationException("The number buffer is too small.");
        }

        return written;
    }

    /// <summary>Writes an int in decimal.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int FormatInt(int value, Span<byte> destination)
    {
        if ((uint)value < 10)
        {
            destination[0] = (byte)('0' + value);
            return 1;
        }

        value.TryFormat(destination, out int written, default, CultureInfo.InvariantCulture);
        return written;
    }
}
