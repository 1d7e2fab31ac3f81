using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace FmCodegen.Data;

/// <summary>
/// Number parsing and formatting over UTF-8 bytes. Parsing is exact: a fast path covers decimal numbers whose
/// digits fit in 24 bits with a power of ten up to 10^10 (then both operands are exact floats and one IEEE multiply
/// or divide rounds correctly); everything else goes to the runtime's correctly rounded parser.
/// </summary>
internal static class NumberText
{
    private static ReadOnlySpan<float> PowersOf10 => [1e0f, 1e1f, 1e2f, 1e3f, 1e4f, 1e5f, 1e6f, 1e7f, 1e8f, 1e9f, 1e10f];

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

        float v = exponent == 0 ? mantissa : mantissa / PowersOf10[-exponent];
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

        // the runtime's parser also takes surrounding white space (\r, \v, \f) and trailing NUL bytes: a token
        // holding any of them is not a number here
        ReadOnlySpan<byte> token = line[position..end];
        if (token.IndexOfAnyInRange((byte)0, (byte)' ') < 0
            && float.TryParse(token, NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint | NumberStyles.AllowExponent, CultureInfo.InvariantCulture, out value))
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

    /// <summary>The most bytes <see cref="FormatFloat(float, Span{byte})"/> writes ("-0.0000123456789").</summary>
    public const int MaxFloatBytes = 16;

    /// <summary>
    /// Writes a float as the shortest text of 6 to 9 significant digits that parses back to the same float
    /// (invariant culture; 'e' notation below 1e-5 and from 1e9 on). Digits come from double arithmetic and a
    /// candidate is taken only when it lies inside the float's rounding interval with a safety margin far above the
    /// double error; otherwise (never seen in practice) the runtime's shortest round-trip formatter writes it.
    /// </summary>
    public static int FormatFloat(float value, Span<byte> destination)
    {
        if (destination.Length >= MaxFloatBytes)
        {
            return FormatFloat(value, ref MemoryMarshal.GetReference(destination));
        }

        // a short destination: the text in a buffer of the longest, then copied when it fits
        Span<byte> room = stackalloc byte[MaxFloatBytes];
        int written = FormatFloat(value, ref MemoryMarshal.GetReference(room));
        if (written > destination.Length)
        {
            throw new InvalidOperationException("The number buffer is too small.");
        }

        room[..written].CopyTo(destination);
        return written;
    }

    /// <summary><see cref="FormatFloat(float, Span{byte})"/> into <paramref name="buffer"/> from
    /// <paramref name="offset"/> (the loops that write a prediction per line call this: no span per number).</summary>
    public static int FormatFloat(float value, byte[] buffer, int offset)
    {
        ArgumentNullException.ThrowIfNull(buffer);
        return (uint)offset <= (uint)buffer.Length && buffer.Length - offset >= MaxFloatBytes
            ? FormatFloat(value, ref buffer[offset])
            : FormatFloat(value, buffer.AsSpan(offset));
    }

    /// <summary>
    /// The lines <c>fm predict</c> writes: for each score its logistic (<paramref name="probability"/>), clamped to
    /// <paramref name="clip"/> when given, as <see cref="FormatFloat(float, Span{byte})"/> writes it, and a newline.
    /// Returns the bytes written; <paramref name="text"/> holds at least <see cref="MaxFloatBytes"/> + 1 per score.
    /// </summary>
    public static int FormatPredictions(ReadOnlySpan<float> scores, bool probability, (float Min, float Max)? clip, byte[] text) =>
        FormatPredictions(scores, probability, clip, text, 0);

    /// <summary><see cref="FormatPredictions(ReadOnlySpan{float}, bool, ValueTuple{float, float}?, byte[])"/> into
    /// <paramref name="text"/> from <paramref name="offset"/> (after lines already there), which leaves at least
    /// <see cref="MaxFloatBytes"/> + 1 bytes per score.</summary>
    [SkipLocalsInit]
    public static int FormatPredictions(ReadOnlySpan<float> scores, bool probability, (float Min, float Max)? clip, byte[] text, int offset)
    {
        ArgumentNullException.ThrowIfNull(text);
        if ((uint)offset > (uint)text.Length)
        {
            throw new ArgumentOutOfRangeException(nameof(offset), offset, $"The offset must be within the {text.Length} bytes of text.");
        }

        if ((text.Length - offset) / (MaxFloatBytes + 1) < scores.Length)
        {
            throw new ArgumentException($"text holds {text.Length - offset} bytes from {offset}; {scores.Length} predictions need up to {(long)scores.Length * (MaxFloatBytes + 1)}.", nameof(text));
        }

        bool clamp = clip.HasValue;
        (float min, float max) = clip.GetValueOrDefault();
        ref byte start = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(text), offset);
        int used = 0;
        Span<float> chunk = stackalloc float[PredictionChunk];
        for (int from = 0; from < scores.Length; from += PredictionChunk)
        {
            // a chunk's logistics first, then their text: the exponentials are independent chains of dependent
            // double operations, which the processor overlaps when no formatting sits between them (the same
            // operations on each score, so the same bits)
            int count = Math.Min(PredictionChunk, scores.Length - from);
            for (int i = 0; i < count; i++)
            {
                float y = scores[from + i];
                if (probability)
                {
                    y = FmMath.Sigmoid(y);
                }

                if (clamp)
                {
                    y = Math.Clamp(y, min, max);
                }

                chunk[i] = y;
            }

            for (int i = 0; i < count; i++)
            {
                used += FormatFloat(chunk[i], ref Unsafe.Add(ref start, used));
                Unsafe.Add(ref start, used++) = (byte)'\n';
            }
        }

        return used;
    }

    /// <summary>Scores FormatPredictions turns into probabilities before it writes them.</summary>
    private const int PredictionChunk = 64;

    /// <summary>The formatter over <see cref="MaxFloatBytes"/> bytes of room at <paramref name="destination"/>.</summary>
    private static int FormatFloat(float value, ref byte destination)
    {
        // small integers (labels, one-hot values) are the common case of data files
        if (value == (int)value && value is >= 0 and < 10 && !float.IsNegative(value))
        {
            destination = (byte)('0' + (int)value);
            return 1;
        }

        int bits = BitConverter.SingleToInt32Bits(value);
        int biased = (bits >> 23) & 0xFF;
        if (biased == 0 || biased == 0xFF)
        {
            // zero, subnormal, infinity, NaN
            return FormatFloatRuntime(value, MemoryMarshal.CreateSpan(ref destination, MaxFloatBytes));
        }

        int e2 = biased - 127;
        double a = Math.Abs((double)value);
        int e10 = (int)Math.Floor(e2 * 0.30102999566398119521);
        if (a >= Pow10(e10 + 1))
        {
            e10++;
        }

        // half the distance to the neighbouring floats (the smaller one below a power of two), less a margin that
        // covers the double rounding of the candidate's value (a few 1e-16 relative)
        double halfGap = BitConverter.Int64BitsToDouble((long)(e2 - 24 + 1023) << 52);
        if ((bits & 0x7FFFFF) == 0)
        {
            halfGap *= 0.5;
        }

        halfGap *= 1 - 1e-6;

        // nine significant digits before the decimal point; fewer digits are that rounded to tens, hundreds, ...
        double scale = Pow10(8 - e10);
        double scaled = a * scale;
        double gap = halfGap * scale;
        for (int precision = 6; precision <= 9; precision++)
        {
            // the candidate is digits x unit with at most `precision` digits, so the double product is exact and
            // the digits are the rounded quotient itself
            double digits = Math.Round(scaled * InverseUnits[precision]);
            if (Math.Abs((digits * Units[precision]) - scaled) < gap)
            {
                uint m = (uint)digits;
                int exponent = e10;
                if (m >= LongPowersOf10[precision])
                {
                    m /= 10;
                    exponent++;
                }

                return WriteDecimal(value < 0, m, precision, exponent, ref destination);
            }
        }

        return FormatFloatRuntime(value, MemoryMarshal.CreateSpan(ref destination, MaxFloatBytes));
    }

    private static ReadOnlySpan<double> Units => [1e9, 1e8, 1e7, 1e6, 1e5, 1e4, 1e3, 1e2, 1e1, 1e0];

    private static ReadOnlySpan<double> InverseUnits => [1e-9, 1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1e0];

    private static ReadOnlySpan<uint> LongPowersOf10 => [1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000, 1000000000];

    /// <summary>10^-70 .. 10^70, each the correctly rounded double (the compiler rounds the literals).</summary>
    private static ReadOnlySpan<double> DoublePowersOf10 => [1e-70, 1e-69, 1e-68, 1e-67, 1e-66, 1e-65, 1e-64, 1e-63, 1e-62, 1e-61, 1e-60, 1e-59, 1e-58, 1e-57, 1e-56, 1e-55, 1e-54, 1e-53, 1e-52, 1e-51, 1e-50, 1e-49, 1e-48, 1e-47, 1e-46, 1e-45, 1e-44, 1e-43, 1e-42, 1e-41, 1e-40, 1e-39, 1e-38, 1e-37, 1e-36, 1e-35, 1e-34, 1e-33, 1e-32, 1e-31, 1e-30, 1e-29, 1e-28, 1e-27, 1e-26, 1e-25, 1e-24, 1e-23, 1e-22, 1e-21, 1e-20, 1e-19, 1e-18, 1e-17, 1e-16, 1e-15, 1e-14, 1e-13, 1e-12, 1e-11, 1e-10, 1e-9, 1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22, 1e23, 1e24, 1e25, 1e26, 1e27, 1e28, 1e29, 1e30, 1e31, 1e32, 1e33, 1e34, 1e35, 1e36, 1e37, 1e38, 1e39, 1e40, 1e41, 1e42, 1e43, 1e44, 1e45, 1e46, 1e47, 1e48, 1e49, 1e50, 1e51, 1e52, 1e53, 1e54, 1e55, 1e56, 1e57, 1e58, 1e59, 1e60, 1e61, 1e62, 1e63, 1e64, 1e65, 1e66, 1e67, 1e68, 1e69, 1e70];

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static double Pow10(int exponent) => DoublePowersOf10[exponent + 70];

    /// <summary>Writes +-d.ddd x 10^exponent from <paramref name="digits"/> significant digits in m (at most
    /// <see cref="MaxFloatBytes"/> bytes).</summary>
    private static int WriteDecimal(bool negative, uint m, int digits, int exponent, ref byte destination)
    {
        while (digits > 1 && m % 10 == 0)
        {
            m /= 10;
            digits--;
        }

        int p = 0;
        if (negative)
        {
            Unsafe.Add(ref destination, p++) = (byte)'-';
        }

        if (exponent is >= -5 and < 0)
        {
            Unsafe.Add(ref destination, p++) = (byte)'0';
            Unsafe.Add(ref destination, p++) = (byte)'.';
            for (int i = -1; i > exponent; i--)
            {
                Unsafe.Add(ref destination, p++) = (byte)'0';
            }

            WriteDigits(m, ref Unsafe.Add(ref destination, p), digits);
            return p + digits;
        }

        if (exponent is >= 0 and < 9)
        {
            int integerDigits = exponent + 1;
            if (digits <= integerDigits)
            {
                WriteDigits(m, ref Unsafe.Add(ref destination, p), digits);
                p += digits;
                for (int i = digits; i < integerDigits; i++)
                {
                    Unsafe.Add(ref destination, p++) = (byte)'0';
                }

                return p;
            }

            // integer digits, the point, the fraction digits: written right to left
            int fraction = digits - integerDigits;
            uint scale = LongPowersOf10[fraction];
            WriteDigits(m % scale, ref Unsafe.Add(ref destination, p + integerDigits + 1), fraction);
            WriteDigits(m / scale, ref Unsafe.Add(ref destination, p), integerDigits);
            Unsafe.Add(ref destination, p + integerDigits) = (byte)'.';
            return p + digits + 1;
        }

        uint power = LongPowersOf10[digits - 1];
        uint lead = m / power;
        Unsafe.Add(ref destination, p++) = (byte)('0' + lead);
        if (digits > 1)
        {
            Unsafe.Add(ref destination, p++) = (byte)'.';
            WriteDigits(m - (lead * power), ref Unsafe.Add(ref destination, p), digits - 1);
            p += digits - 1;
        }

        Unsafe.Add(ref destination, p++) = (byte)'e';
        Unsafe.Add(ref destination, p++) = exponent < 0 ? (byte)'-' : (byte)'+';
        int magnitude = exponent < 0 ? -exponent : exponent;
        Unsafe.Add(ref destination, p++) = (byte)('0' + (magnitude / 10));
        Unsafe.Add(ref destination, p++) = (byte)('0' + (magnitude % 10));
        return p;
    }

    /// <summary>Writes the low <paramref name="count"/> decimal digits of m (leading zeros included), right to left,
    /// two at a time.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void WriteDigits(uint m, ref byte destination, int count)
    {
        ref byte pairs = ref MemoryMarshal.GetReference(DigitPairs);
        int i = count;
        while (i >= 2)
        {
            uint q = m / 100;
            i -= 2;
            Unsafe.WriteUnaligned(ref Unsafe.Add(ref destination, i), Unsafe.ReadUnaligned<ushort>(ref Unsafe.Add(ref pairs, (nint)(2 * (m - (q * 100))))));
            m = q;
        }

        if (i == 1)
        {
            destination = (byte)('0' + (m % 10));
        }
    }

    /// <summary>"00" .. "99": the two digits of every number below 100.</summary>
    private static ReadOnlySpan<byte> DigitPairs => "00010203040506070809101112131415161718192021222324252627282930313233343536373839404142434445464748495051525354555657585960616263646566676869707172737475767778798081828384858687888990919293949596979899"u8;

    /// <summary>The runtime's shortest round-trip text (invariant culture).</summary>
    internal static int FormatFloatRuntime(float value, Span<byte> destination)
    {
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
