using System.Runtime.CompilerServices;

namespace FmCodegen.Data;

/// <summary>
/// Streams libFM/libSVM or libffm text into CSR blocks. Parses spans over one large byte buffer: no allocation per
/// line, no line-length limit. Accepts CRLF, leading and trailing spaces or tabs, empty lines, '#' comment lines and
/// trailing '# ...' comments, unsorted or repeated indices, and any finite real label (0/1, -1/+1, ratings).
/// Anything else throws a <see cref="DataFormatException"/> naming the file, line and column.
/// </summary>
public sealed class SparseTextReader : IDisposable
{
    private readonly ByteLineReader _lines;
    private readonly bool _fields;

    /// <summary>Reads <paramref name="stream"/> (already decompressed) in the given format.</summary>
    public SparseTextReader(Stream stream, SparseFormat format, string sourceName, bool leaveOpen = false)
    {
        ArgumentNullException.ThrowIfNull(stream);
        _lines = new ByteLineReader(stream, leaveOpen);
        Format = format;
        _fields = format == SparseFormat.LibFfm;
        SourceName = sourceName ?? "(stream)";
    }

    /// <summary>Opens a file; gzip is detected from its first bytes and decompressed on the fly.</summary>
    public static SparseTextReader Open(string path, SparseFormat format = SparseFormat.LibFm) =>
        new(DataFile.OpenRead(path), format, path);

    public SparseFormat Format { get; }

    /// <summary>For tests: parse every line with the checked span parser only (no pointer fast path).</summary>
    internal bool CheckedParserOnly { get; init; }

    /// <summary>The name used in error messages.</summary>
    public string SourceName { get; }

    /// <summary>The largest feature index seen so far, -1 before any.</summary>
    public int MaxIndex { get; private set; } = -1;

    /// <summary>The largest field seen so far (libffm), -1 before any.</summary>
    public int MaxField { get; private set; } = -1;

    /// <summary>The number of example rows read so far.</summary>
    public long RowsRead { get; private set; }

    /// <summary>The number of the last line read.</summary>
    public long LineNumber => _lines.LineNumber;

    /// <summary>
    /// Fills <paramref name="block"/> with up to <paramref name="maxRows"/> next examples (its previous content is
    /// dropped). Returns false when the file has no more examples.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public bool ReadBlock(SparseBlock block, int maxRows = 65536)
    {
        ArgumentNullException.ThrowIfNull(block);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxRows, 1);
        block.Reset(_fields);
        block.FirstLine = 0;
        int maxIndex = MaxIndex;
        int maxField = MaxField;
        while (block.Count < maxRows && _lines.TryReadLine(out ReadOnlySpan<byte> line))
        {
            if (ParseLine(line, block, ref maxIndex, ref maxField) && block.FirstLine == 0)
            {
                block.FirstLine = _lines.LineNumber;
            }
        }

        MaxIndex = maxIndex;
        MaxField = maxField;
        RowsRead += block.Count;
        return block.Count > 0;
    }

    /// <summary>Reads the whole stream into a dataset.</summary>
    public SparseDataset ReadToEnd()
    {
        // parse into one cache-sized block at a time and keep exact-size copies; one final copy joins them (cheaper
        // than growing whole-file arrays by doubling, which copies and touches twice the memory)
        var block = new SparseBlock();
        var parts = new List<(float[] Labels, int[] Offsets, int[] Indices, float[] Values, int[]? Fields)>();
        long rows = 0, nonZeros = 0;
        while (ReadBlock(block, 32768))
        {
            parts.Add((block.Labels.ToArray(), block.Offsets.ToArray(), block.Indices.ToArray(), block.Values.ToArray(),
                _fields ? block.Fields.ToArray() : null));
            rows += block.Count;
            nonZeros += block.NonZeros;
        }

        if (rows >= int.MaxValue || nonZeros > Array.MaxLength)
        {
            throw new InvalidDataException($"{SourceName}: {rows:N0} rows with {nonZeros:N0} nonzeros do not fit one in-memory dataset; stream it in blocks instead.");
        }

        float[] labels = new float[rows];
        int[] offsets = new int[rows + 1];
        int[] indices = new int[nonZeros];
        float[] values = new float[nonZeros];
        int[]? fields = _fields ? new int[nonZeros] : null;
        int row = 0, at = 0;
        foreach (var part in parts)
        {
            part.Labels.CopyTo(labels, row);
            for (int r = 1; r < part.Offsets.Length; r++)
            {
                offsets[row + r] = at + part.Offsets[r];
            }

            part.Indices.CopyTo(indices, at);
            part.Values.CopyTo(values, at);
            part.Fields?.CopyTo(fields!, at);
            row += part.Labels.Length;
            at += part.Indices.Length;
        }

        return SparseDataset.FromTrustedArrays(labels, offsets, indices, values, fields, MaxIndex + 1, MaxField + 1);
    }

    /// <summary>Reads a whole file (gzip detected) into a dataset.</summary>
    public static SparseDataset ReadFile(string path, SparseFormat format = SparseFormat.LibFm)
    {
        using SparseTextReader reader = Open(path, format);
        return reader.ReadToEnd();
    }

    /// <summary>Parses one line; returns false for a line without an example (empty or comment).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private bool ParseLine(ReadOnlySpan<byte> line, SparseBlock block, ref int maxIndex, ref int maxField)
    {
        int p = 0;
        while ((uint)p < (uint)line.Length && line[p] is (byte)' ' or (byte)'\t')
        {
            p++;
        }

        if (p == line.Length || line[p] == (byte)'#')
        {
            return false;
        }

        int labelStart = p;
        p = NumberText.ParseFloat(line, p, colonEnds: false, out float label);
        if (p < 0 || !float.IsFinite(label))
        {
            throw BadLabel(line, labelStart);
        }

        block.EnsureRoom((line.Length >> 2) + 1);
        int row = block.Count;
        int nnz = block.OffsetBuffer[row];
        int[] indices = block.IndexBuffer;
        float[] values = block.ValueBuffer;
        int[] fields = block.FieldBuffer;

        // the common shape of lines (short fields and indices, plain values) on a pointer path without bounds
        // checks; anything else (long indices, errors) is parsed, or refused with its exact message, below
        int fastEnd = CheckedParserOnly ? -1 : ParseFeaturesFast(line, p, _fields ? fields : null, indices, values, nnz, ref maxIndex, ref maxField);
        if (fastEnd >= 0)
        {
            nnz = fastEnd;
            p = line.Length;
        }

        while (p < line.Length)
        {
            while ((uint)p < (uint)line.Length && line[p] is (byte)' ' or (byte)'\t')
            {
                p++;
            }

            if ((uint)p >= (uint)line.Length || line[p] == (byte)'#')
            {
                break;
            }

            int tokenStart = p;
            if (_fields)
            {
                p = ParseNonNegative(line, p, "field", out int field);
                p = ExpectColon(line, p, tokenStart, "field");
                fields[nnz] = field;
                if (field > maxField)
                {
                    maxField = field;
                }
            }

            int indexStart = p;
            p = ParseNonNegative(line, p, "index", out int index);
            p = ExpectColon(line, p, indexStart, "index");
            int valueStart = p;
            float value;
            uint digit = (uint)p < (uint)line.Length ? (uint)(line[p] - '0') : 10;
            if (digit <= 9 && NumberText.IsTokenEnd(line, p + 1))
            {
                // one-hot and small-count data: a single digit, exact as it is
                value = digit;
                p++;
            }
            else
            {
                p = NumberText.ParseFloat(line, p, colonEnds: false, out value);
                if (p < 0)
                {
                    throw BadValue(line, valueStart);
                }
            }

            if (!float.IsFinite(value))
            {
                throw NotFinite(line, valueStart);
            }

            if (index > maxIndex)
            {
                maxIndex = index;
            }

            indices[nnz] = index;
            values[nnz] = value;
            nnz++;
        }

        block.LabelBuffer[row] = label;
        block.OffsetBuffer[row + 1] = nnz;
        block.Count = row + 1;
        return true;
    }

    /// <summary>
    /// Parses the [field:]index:value tokens of a line from <paramref name="start"/> when every field and index has
    /// at most 9 digits and every value is a finite number; returns the new nonzero count, or -1 (nothing
    /// committed) for a line the checked parser must handle. The caller has made room for every token the line can
    /// hold. <paramref name="fields"/> is null for libFM data.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe int ParseFeaturesFast(ReadOnlySpan<byte> line, int start, int[]? fields, int[] indices, float[] values, int nnz, ref int maxIndex, ref int maxField)
    {
        int maxI = maxIndex;
        int maxF = maxField;
        bool withFields = fields is not null;
        fixed (byte* begin = line)
        fixed (int* fieldBase = fields)
        fixed (int* indexBase = indices)
        fixed (float* valueBase = values)
        {
            byte* p = begin + start;
            byte* end = begin + line.Length;
            int* field = fieldBase + nnz;
            int* index = indexBase + nnz;
            float* value = valueBase + nnz;
            while (true)
            {
                while (p < end && (*p == (byte)' ' || *p == (byte)'\t'))
                {
                    p++;
                }

                if (p == end || *p == (byte)'#')
                {
                    break;
                }

                if (withFields)
                {
                    p = ParseShortNumberAndColon(p, end, out uint f);
                    if (p == null)
                    {
                        return -1;
                    }

                    *field++ = (int)f;
                    maxF = Math.Max(maxF, (int)f);
                }

                p = ParseShortNumberAndColon(p, end, out uint number);
                if (p == null)
                {
                    return -1;
                }

                float x;
                uint d;
                if (p < end && (d = (uint)(*p - '0')) <= 9 && (p + 1 == end || p[1] == (byte)' ' || p[1] == (byte)'\t' || p[1] == (byte)'#'))
                {
                    x = d;
                    p++;
                }
                else
                {
                    int after = NumberText.ParseFloat(line, (int)(p - begin), colonEnds: false, out x);
                    if (after < 0 || !float.IsFinite(x))
                    {
                        return -1;
                    }

                    p = begin + after;
                }

                *index++ = (int)number;
                *value++ = x;
                maxI = Math.Max(maxI, (int)number);
            }

            maxIndex = maxI;
            maxField = maxF;
            return (int)(index - indexBase);
        }
    }

    /// <summary>1 to 9 digits and a colon: returns the position after the colon, or null.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe byte* ParseShortNumberAndColon(byte* p, byte* end, out uint number)
    {
        number = (uint)(*p - '0');
        if (number > 9)
        {
            return null;
        }

        byte* digits = p++;
        uint d;
        while (p < end && (d = (uint)(*p - '0')) <= 9)
        {
            number = (number * 10) + d;
            p++;
        }

        return p - digits > 9 || p == end || *p != (byte)':' ? null : p + 1;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int ParseNonNegative(ReadOnlySpan<byte> line, int p, string what, out int value)
    {
        int end = NumberText.ParseIndex(line, p, out value);
        if (end < 0)
        {
            throw BadIndex(line, p, what, end);
        }

        return end;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private int ExpectColon(ReadOnlySpan<byte> line, int p, int tokenStart, string what)
    {
        if ((uint)p < (uint)line.Length && line[p] == (byte)':')
        {
            return p + 1;
        }

        throw MissingColon(line, p, tokenStart, what);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private DataFormatException BadLabel(ReadOnlySpan<byte> line, int start)
    {
        string token = DataFormatException.TokenAt(line, start);
        string why = token.Contains(':', StringComparison.Ordinal)
            ? $"bad label '{token}': a line must start with its target (a number), then index:value pairs"
            : $"bad label '{token}': the target must be a finite number (0/1, -1/+1 or a real value)";
        return Error(line, start, why);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private DataFormatException NotFinite(ReadOnlySpan<byte> line, int start)
    {
        string token = DataFormatException.TokenAt(line, start);
        string trimmed = token.TrimStart('+', '-', '.');
        return trimmed.Length > 0 && char.IsAsciiDigit(trimmed[0])
            ? Error(line, start, $"the value '{token}' is not finite: it overflows a float (largest 3.4028235e38); values must be finite numbers")
            : Error(line, start, $"the value '{token}' is not finite; values must be finite numbers");
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private DataFormatException BadValue(ReadOnlySpan<byte> line, int start) =>
        Error(line, start, $"the value '{DataFormatException.TokenAt(line, start)}' is not a number");

    [MethodImpl(MethodImplOptions.NoInlining)]
    private DataFormatException BadIndex(ReadOnlySpan<byte> line, int start, string what, int code)
    {
        string token = DataFormatException.TokenAt(line, start);
        if (code == -2)
        {
            return Error(line, start, $"the {what} in '{token}' overflows (the largest allowed is {int.MaxValue - 1})");
        }

        if ((uint)start < (uint)line.Length && line[start] == (byte)'-')
        {
            return Error(line, start, $"negative {what} in '{token}': {(what == "index" ? "indices" : what + "s")} must be non-negative integers");
        }

        string expected = _fields ? "field:index:value" : "index:value";
        return Error(line, start, $"expected a non-negative integer {what} in '{token}' ({expected})");
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private DataFormatException MissingColon(ReadOnlySpan<byte> line, int p, int tokenStart, string what)
    {
        string token = DataFormatException.TokenAt(line, tokenStart);
        string expected = _fields ? "field:index:value" : "index:value";
        string found = (uint)p < (uint)line.Length && line[p] is not ((byte)' ' or (byte)'\t' or (byte)'#')
            ? $"'{(char)line[p]}'"
            : "nothing";
        return Error(line, p, $"missing colon after the {what} in '{token}' (expected {expected}, found {found})");
    }

    private DataFormatException Error(ReadOnlySpan<byte> line, int position, string reason) =>
        DataFormatException.At(SourceName, _lines.LineNumber, line, position, reason);

    public void Dispose() => _lines.Dispose();
}
