using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace FmCodegen.Data;

/// <summary>
/// The pointer fast path of <see cref="SparseTextReader"/>: the [field:]index:value tokens of one line in one pass
/// over its bytes, each read once. A line is parsed where it is when the byte after it is its '\r' or '\n' (every
/// line of a stream but an unterminated last one); that last line, up to <see cref="MaxCopied"/> bytes, is copied
/// into a scratch buffer and followed by a '#' (which ends a token and the line, as a comment does). Either way
/// every run of digits stops at that byte at the latest and no read needs a test of the end; the digits of fields and indices are accumulated as they are
/// read, and a value that is one digit, or up to 9 digits with an optional fraction (the common "1", "0.5",
/// "12.25"), is built the way <see cref="NumberText.ParseFloat"/> builds it (all its digits as an integer of at most
/// 2^24, divided by an exact power of ten: one correctly rounded IEEE operation), so it is the same float. Any other
/// token (a sign, an exponent, long numbers) is parsed with a test of the end before every read, its value by
/// <see cref="NumberText.ParseFloat"/>; anything that is not a valid token makes the whole line go to the checked
/// parser, which reports the exact error.
/// </summary>
internal static unsafe class FeatureParser
{
    /// <summary>An unterminated last line (after the label) up to this many bytes goes through the scratch copy; a
    /// longer one is parsed byte by byte in place.</summary>
    public const int MaxCopied = 16384;

    /// <summary>Room after the copied line for its closing '#'.</summary>
    private const int Padding = 16;

    /// <summary>A scratch buffer for <see cref="Parse"/>.</summary>
    public static byte[] NewScratch() => GC.AllocateUninitializedArray<byte>(MaxCopied + Padding);

    /// <summary>10^0 .. 10^9 as floats, each exact.</summary>
    private static ReadOnlySpan<float> PowersOf10 => [1e0f, 1e1f, 1e2f, 1e3f, 1e4f, 1e5f, 1e6f, 1e7f, 1e8f, 1e9f];

    /// <summary>
    /// Parses the tokens of the line <paramref name="text"/>[..<paramref name="length"/>] from
    /// <paramref name="start"/> when every field and index has at most 9 digits and every value is a finite number;
    /// returns the new nonzero count, or -1 (nothing committed) for a line the checked parser must handle.
    /// <paramref name="text"/> may hold one byte more, the line's '\r' or '\n': the line is then parsed in place,
    /// that byte stopping every run of digits as the '#' after a copy does. <paramref name="fields"/> is null for
    /// libFM data.
    /// </summary>
    public static int Parse(ReadOnlySpan<byte> text, int length, int start, byte[] scratch, int[]? fields, int[] indices, float[] values, int nnz, ref int maxIndex, ref int maxField)
    {
        bool withFields = fields is not null;
        int room = Math.Min(indices.Length, Math.Min(values.Length, withFields ? fields!.Length : int.MaxValue)) - nnz;
        if (room < 0 || (uint)length > (uint)text.Length || (uint)start > (uint)length || scratch.Length < MaxCopied + Padding)
        {
            return -1;
        }

        // pointers only from here on: in precompiled (ReadyToRun) code a call to a generic span or vector helper
        // of the runtime library is not inlined, and these loops run once per token
        int tokens = length - start;
        fixed (byte* lineStart = text)
        fixed (byte* copy = scratch)
        fixed (int* fieldBase = fields)
        fixed (int* indexBase = indices)
        fixed (float* valueBase = values)
        {
            byte* original = lineStart + start;
            int* fieldAt = fieldBase + nnz;
            int* indexAt = indexBase + nnz;
            float* valueAt = valueBase + nnz;
            int count;
            if (length < text.Length && lineStart[length] is (byte)'\n' or (byte)'\r')
            {
                // the line's own terminator follows it: parsed where it is
                count = withFields
                    ? StoppedTokens<WithFields>(original, original + tokens, fieldAt, indexAt, valueAt, room)
                    : StoppedTokens<WithoutFields>(original, original + tokens, fieldAt, indexAt, valueAt, room);
            }
            else if (tokens <= MaxCopied)
            {
                // the last line of a stream without a newline: copied and followed by a '#'
                Buffer.MemoryCopy(original, copy, MaxCopied, tokens);
                copy[tokens] = (byte)'#';
                count = withFields
                    ? StoppedTokens<WithFields>(copy, copy + tokens, fieldAt, indexAt, valueAt, room)
                    : StoppedTokens<WithoutFields>(copy, copy + tokens, fieldAt, indexAt, valueAt, room);
            }
            else
            {
                count = Tokens(original, original + tokens, withFields, fieldAt, indexAt, valueAt, room);
            }

            // the largest field and index of the line from the stored values (not a running maximum per token)
            if (count > 0)
            {
                maxIndex = Math.Max(maxIndex, Max(indexAt, count));
                if (withFields)
                {
                    maxField = Math.Max(maxField, Max(fieldAt, count));
                }
            }

            if (count < 0)
            {
                return -1;
            }

            return nnz + count;
        }
    }

    /// <summary>
    /// Parses whole lines of the buffered <paramref name="text"/> (which ends with a '\n') into
    /// <paramref name="block"/>, one row per line, as long as every line has the common shape: a label of one digit
    /// (optionally signed) followed by a blank, then tokens the pointer fast path takes, ended by '\n' or "\r\n".
    /// Stops before the first line of any other shape (empty, comment, leading blanks, another label or token, a line
    /// longer than <paramref name="maxLineLength"/>), before a row past <paramref name="maxRows"/> or the block's room,
    /// and at the end of <paramref name="text"/>; that line is left to the line-by-line parser, which reads it or
    /// reports its error exactly. Returns the bytes taken (whole lines, terminators included); <paramref name="lines"/>
    /// is the number of lines (rows) added, numbered from <paramref name="lineNumber"/> + 1.
    /// </summary>
    /// <remarks>One loop over many lines instead of a call per line: no search for each line's end, no spans or
    /// pinning per line, the largest field and index found once per call. Every label and value is built as the
    /// line-by-line parsers build it, so the rows are the same bits.</remarks>
    public static int ParseLines(ReadOnlySpan<byte> text, bool withFields, int maxLineLength, long lineNumber, SparseBlock block, int maxRows,
        ref int maxIndex, ref int maxField, out int lines)
    {
        lines = 0;
        int row = block.Count;
        int rowLimit = Math.Min(maxRows, Math.Min(Math.Min(block.LabelBuffer.Length, block.LineBuffer.Length), block.OffsetBuffer.Length - 1) - 1);
        int nnz = block.OffsetBuffer[row];
        int nnzLimit = Math.Min(block.IndexBuffer.Length, withFields ? Math.Min(block.ValueBuffer.Length, block.FieldBuffer.Length) : block.ValueBuffer.Length);
        if (text.IsEmpty || text[^1] != (byte)'\n' || row >= rowLimit || nnz > nnzLimit)
        {
            return 0;
        }

        int used;
        fixed (byte* start = text)
        fixed (float* labels = block.LabelBuffer)
        fixed (long* lineNumbers = block.LineBuffer)
        fixed (int* offsets = block.OffsetBuffer)
        fixed (int* fieldBase = block.FieldBuffer)
        fixed (int* indexBase = block.IndexBuffer)
        fixed (float* valueBase = block.ValueBuffer)
        {
            var target = new Rows(labels, lineNumbers, offsets, fieldBase, indexBase, valueBase);
            byte* end = start + text.Length;
            byte* after = withFields
                ? LineLoop<WithFields>(start, end, maxLineLength, lineNumber, target, ref row, rowLimit, ref nnz, nnzLimit)
                : LineLoop<WithoutFields>(start, end, maxLineLength, lineNumber, target, ref row, rowLimit, ref nnz, nnzLimit);
            used = (int)(after - start);
            lines = row - block.Count;
            if (lines > 0)
            {
                int first = block.OffsetBuffer[block.Count];
                if (nnz > first)
                {
                    maxIndex = Math.Max(maxIndex, Max(indexBase + first, nnz - first));
                    if (withFields)
                    {
                        maxField = Math.Max(maxField, Max(fieldBase + first, nnz - first));
                    }
                }
            }
        }

        block.Count = row;
        return used;
    }

    /// <summary>The arrays of a <see cref="SparseBlock"/> pinned for <see cref="LineLoop"/>.</summary>
    private readonly struct Rows(float* labels, long* lineNumbers, int* offsets, int* fields, int* indices, float* values)
    {
        public readonly float* Labels = labels;
        public readonly long* LineNumbers = lineNumbers;
        public readonly int* Offsets = offsets;
        public readonly int* Fields = fields;
        public readonly int* Indices = indices;
        public readonly float* Values = values;
    }

    /// <summary>
    /// The lines of [p, end) (end - 1 is a '\n', so every run of digits or blanks stops there at the latest and no
    /// read needs a test of the end), each committed (label, line number, offset) only when it is whole and every
    /// token of it has the common shape. Returns where the first line not taken starts.
    /// </summary>
    private static byte* LineLoop<TFormat>(byte* p, byte* end, int maxLineLength, long lineNumber, Rows target, ref int rowRef, int rowLimit, ref int nnzRef, int nnzLimit)
        where TFormat : struct, IFormat
    {
        int row = rowRef;
        int nnz = nnzRef;
        int* fieldAt = target.Fields + nnz;
        int* indexAt = target.Indices + nnz;
        float* valueAt = target.Values + nnz;
        int* indexLimit = target.Indices + nnzLimit;
        while (p < end && row < rowLimit)
        {
            byte* lineStart = p;

            // the label: one digit, optionally signed, then a blank (ShortLabelEnd's labels, the same floats)
            uint c = *p;
            bool negative = false;
            if (c == '-' || c == '+')
            {
                negative = c == '-';
                c = *++p;
            }

            uint digit = c - '0';
            if (digit > 9)
            {
                goto Stop;
            }

            c = *++p;
            if (c != ' ' && c != '\t')
            {
                goto Stop;
            }

            float label = negative ? -(float)digit : digit;

            // the tokens, as StoppedTokens reads them, up to the '\n' (or "\r\n") that ends the line
            int* lineFields = fieldAt;
            int* lineIndices = indexAt;
            float* lineValues = valueAt;
            while (true)
            {
                while ((c = *p) == ' ' || c == '\t')
                {
                    p++;
                }

                if (c == '\n')
                {
                    break;
                }

                if (c == '\r' && p[1] == '\n')
                {
                    p++;
                    break;
                }

                if (lineIndices >= indexLimit)
                {
                    goto Stop;
                }

                // a '\r' ends the value only before the line's '\n' (checked at the top of the loop)
                byte* q = Token<TFormat, LineEnds>(p, end, lineFields, lineIndices, lineValues);
                if (q == null)
                {
                    goto Stop;
                }

                p = q;
                if (TFormat.Fields)
                {
                    lineFields++;
                }

                lineIndices++;
                lineValues++;
            }

            // p is at the line's '\n'; its length is what ByteLineReader measures (to the '\n', a '\r' included)
            if (p - lineStart > maxLineLength)
            {
                goto Stop;
            }

            p++;
            fieldAt = lineFields;
            indexAt = lineIndices;
            valueAt = lineValues;
            nnz = (int)(indexAt - target.Indices);
            target.Labels[row] = label;
            target.LineNumbers[row] = ++lineNumber;
            target.Offsets[row + 1] = nnz;
            row++;
            continue;

        Stop:
            p = lineStart;
            break;
        }

        rowRef = row;
        nnzRef = nnz;
        return p;
    }

    /// <summary>The largest of <paramref name="count"/> (at least one) non-negative ints: eight at a time where
    /// 256-bit vectors exist (the last eight overlapping the rest).</summary>
    private static int Max(int* values, int count)
    {
        int i = 0, max = 0;
        if (Vector256.IsHardwareAccelerated && count >= Vector256<int>.Count)
        {
            // LoadUnsafe over a reference: precompiled code calls Vector256.Load(pointer) instead of inlining it
            ref int first = ref *values;
            Vector256<int> largest = Vector256.LoadUnsafe(ref first);
            for (i = Vector256<int>.Count; i < count; i += Vector256<int>.Count)
            {
                largest = Vector256.Max(largest, Vector256.LoadUnsafe(ref first, (nuint)Math.Min(i, count - Vector256<int>.Count)));
            }

            Vector128<int> half = Vector128.Max(largest.GetLower(), largest.GetUpper());
            max = Math.Max(Math.Max(half.GetElement(0), half.GetElement(1)), Math.Max(half.GetElement(2), half.GetElement(3)));
        }

        for (; i < count; i++)
        {
            max = Math.Max(max, values[i]);
        }

        return max;
    }

    /// <summary>Whether the tokens have a field (libffm) or not (libFM): a type argument, so each format gets its
    /// own loop with the test folded away.</summary>
    /// <summary>
    /// One token of the common shape at <paramref name="p"/>: [field:]index:value with the field and index of 9 digits
    /// at most and the value one digit, or digits[.digits] of 9 digits at most whose integer is at most 2^24 (the same
    /// float as NumberText.ParseFloat: an exact integer over one exact power of ten), ended where
    /// <typeparamref name="TEnd"/> says. Stores it and returns where it ends, or null (nothing stored that counts)
    /// when the token has another shape. Every run of digits stops at the byte the caller guarantees (a line's or
    /// buffer's last byte is never a digit), so no read needs a test of the end.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static byte* Token<TFormat, TEnd>(byte* p, byte* end, int* fieldAt, int* indexAt, float* valueAt)
        where TFormat : struct, IFormat
        where TEnd : struct, IValueEnd
    {
        byte* q = p;
        uint d;
        if (TFormat.Fields)
        {
            uint f = (uint)(*q - '0');
            if (f > 9)
            {
                return null;
            }

            // one digit and the colon (the fields of most files), else the digits that follow
            if (*++q != ':')
            {
                while ((d = (uint)(*q - '0')) <= 9)
                {
                    f = (f * 10) + d;
                    q++;
                }

                if (q - p > 9 || *q != ':')
                {
                    return null;
                }
            }

            *fieldAt = (int)f;
            q++;
        }

        byte* digits = q;
        uint j = (uint)(*q - '0');
        if (j > 9)
        {
            return null;
        }

        while ((d = (uint)(*++q - '0')) <= 9)
        {
            j = (j * 10) + d;
        }

        if (q - digits > 9 || *q != ':')
        {
            return null;
        }

        *indexAt = (int)j;

        // the value: one digit (one-hot and count data), else digits[.digits], 9 digits at most
        uint m = (uint)(*++q - '0');
        if (m > 9)
        {
            return null;
        }

        uint c = *++q;
        if (TEnd.Ends(c, q, end))
        {
            *valueAt = m;
            return q;
        }

        digits = q - 1;
        while ((d = (uint)(c - '0')) <= 9)
        {
            m = (m * 10) + d;
            c = *++q;
        }

        long integerDigits = q - digits;
        long fractionDigits = 0;
        if (c == '.')
        {
            byte* fraction = q + 1;
            while ((d = (uint)((c = *++q) - '0')) <= 9)
            {
                m = (m * 10) + d;
            }

            fractionDigits = q - fraction;
        }

        if (!TEnd.Ends(c, q, end) || integerDigits + fractionDigits > 9 || m > (1u << 24))
        {
            return null;
        }

        *valueAt = fractionDigits == 0 ? m : m / PowersOf10[(int)fractionDigits];
        return q;
    }

    /// <summary>What ends a value in <see cref="Token"/>.</summary>
    private interface IValueEnd
    {
        static abstract bool Ends(uint c, byte* q, byte* end);
    }

    /// <summary>A line parsed alone (<see cref="StoppedTokens"/>): a blank, a comment or the line's end.</summary>
    private readonly struct StopperEnds : IValueEnd
    {
        public static bool Ends(uint c, byte* q, byte* end) => c == ' ' || c == '\t' || c == '#' || q == end;
    }

    /// <summary>Whole lines of a buffer (<see cref="LineLoop"/>): a blank, or the '\r' or '\n' of a line's end.</summary>
    private readonly struct LineEnds : IValueEnd
    {
        public static bool Ends(uint c, byte* q, byte* end) => c == ' ' || c == '\t' || c == '\n' || c == '\r';
    }

    private interface IFormat
    {
        static abstract bool Fields { get; }
    }

    private readonly struct WithFields : IFormat
    {
        public static bool Fields => true;
    }

    private readonly struct WithoutFields : IFormat
    {
        public static bool Fields => false;
    }

    /// <summary>
    /// The tokens of a line [p, end) followed by a byte that is no digit, blank, colon or point (the '#' after a
    /// copy, or the line's own '\r' or '\n'): every run of digits stops there at the latest, so no read needs a
    /// test of the end and nothing is read past that byte. Returns how many tokens were stored, or -1.
    /// </summary>
    private static int StoppedTokens<TFormat>(byte* p, byte* end, int* fieldAt, int* indexAt, float* valueAt, int room)
        where TFormat : struct, IFormat
    {
        byte* begin = p;
        int* indexStart = indexAt;
        int* indexLimit = indexAt + room;
        while (true)
        {
            uint c;
            while ((c = *p) == ' ' || c == '\t')
            {
                p++;
            }

            if (c == '#' || p == end)
            {
                // a comment, or the end of the line
                break;
            }

            if (indexAt >= indexLimit)
            {
                return -1;
            }

            byte* q = Token<TFormat, StopperEnds>(p, end, fieldAt, indexAt, valueAt);
            if (q == null)
            {
                goto Bytewise;
            }

            p = q;
            goto Next;

        Bytewise:
            p = ParseToken(p, end, begin, TFormat.Fields, fieldAt, indexAt, valueAt);
            if (p == null)
            {
                return -1;
            }

        Next:
            if (TFormat.Fields)
            {
                fieldAt++;
            }

            indexAt++;
            valueAt++;
        }

        return (int)(indexAt - indexStart);
    }

    /// <summary>The tokens of a line too long to copy, in place and byte by byte. Returns how many were stored, or -1.</summary>
    private static int Tokens(byte* p, byte* end, bool withFields, int* fieldAt, int* indexAt, float* valueAt, int room)
    {
        byte* begin = p;
        int count = 0;
        while (true)
        {
            while (p < end && (*p == (byte)' ' || *p == (byte)'\t'))
            {
                p++;
            }

            if (p >= end || *p == (byte)'#')
            {
                return count;
            }

            if (count >= room)
            {
                return -1;
            }

            p = ParseToken(p, end, begin, withFields, fieldAt + count, indexAt + count, valueAt + count);
            if (p == null)
            {
                return -1;
            }

            count++;
        }
    }

    /// <summary>
    /// One token at <paramref name="p"/> (not a blank, not '#'), byte by byte with a test of the end before every
    /// read: a field and an index of 1 to 9 digits, each followed by a colon, then a value that the general parser
    /// reads when it is not a plain decimal. Returns the position after the token, or null for a token the checked
    /// parser must see.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static byte* ParseToken(byte* p, byte* end, byte* begin, bool withFields, int* field, int* index, float* value)
    {
        if (withFields)
        {
            p = NumberAndColon(p, end, out uint f);
            if (p == null)
            {
                return null;
            }

            *field = (int)f;
        }

        p = NumberAndColon(p, end, out uint j);
        if (p == null)
        {
            return null;
        }

        *index = (int)j;

        // the general parser over the bytes of the line (the copy without its padding)
        var text = new ReadOnlySpan<byte>(begin, (int)(end - begin));
        int after = NumberText.ParseFloat(text, (int)(p - begin), colonEnds: false, out float x);
        if (after < 0 || !float.IsFinite(x))
        {
            return null;
        }

        *value = x;
        return begin + after;
    }

    /// <summary>1 to 9 digits and a colon in [p, end): the position after the colon, or null.</summary>
    private static byte* NumberAndColon(byte* p, byte* end, out uint number)
    {
        number = 0;
        byte* digits = p;
        uint d;
        while (p < end && (d = (uint)(*p - '0')) <= 9)
        {
            number = (number * 10) + d;
            p++;
        }

        long count = p - digits;
        return count is < 1 or > 9 || p >= end || *p != (byte)':' ? null : p + 1;
    }
}
