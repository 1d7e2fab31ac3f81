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
    private readonly byte[] _scratch = FeatureParser.NewScratch();

    /// <summary>Lines to read line by line before <see cref="FeatureParser.ParseLines"/> is tried again.</summary>
    private int _lineByLine;

    /// <summary>Reads <paramref name="stream"/> (already decompressed) in the given format.</summary>
    public SparseTextReader(Stream stream, SparseFormat format, string sourceName, bool leaveOpen = false)
    {
        ArgumentNullException.ThrowIfNull(stream);
        SourceName = sourceName ?? "(stream)";
        _lines = new ByteLineReader(stream, leaveOpen, sourceName: SourceName);
        Format = format;
        _fields = format == SparseFormat.LibFfm;
    }

    /// <summary>Opens a file; gzip is detected from its first bytes and decompressed on the fly.</summary>
    /// <exception cref="DataFormatException">A gzip file too short to be complete.</exception>
    public static SparseTextReader Open(string path, SparseFormat format = SparseFormat.LibFm)
    {
        Stream stream;
        try
        {
            stream = DataFile.OpenRead(path);
        }
        catch (InvalidDataException e)
        {
            string reason = e.Message.StartsWith(path + ": ", StringComparison.Ordinal) ? e.Message[(path.Length + 2)..] : e.Message;
            throw new DataFormatException(path, 1, 0, string.Empty, reason, e);
        }

        return new(stream, format, path) { KnownLength = stream is FileStream { CanSeek: true } file ? file.Length : null };
    }

    public SparseFormat Format { get; }

    /// <summary>The length of the text when it is a plain file, else null (gzip, pipes): sizes the arrays of
    /// <see cref="ReadToEnd"/>.</summary>
    private long? KnownLength { get; init; }

    /// <summary>For tests: parse every line with the checked span parser only (no pointer fast path).</summary>
    internal bool CheckedParserOnly { get; init; }

    /// <summary>For tests: the longest line accepted (1 GiB by default).</summary>
    internal int MaxLineLength
    {
        get => _lines.MaxLineLength;
        init => _lines.MaxLineLength = value;
    }

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
    public bool ReadBlock(SparseBlock block, int maxRows = 65536)
    {
        ArgumentNullException.ThrowIfNull(block);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxRows, 1);
        block.Reset(_fields);
        block.FirstLine = 0;
        block.SourceName = SourceName;
        int maxIndex = MaxIndex;
        int maxField = MaxField;
        while (block.Count < maxRows)
        {
            // the whole lines in the buffer in one pass while they have the common shape (after the first line,
            // which may start with a byte order mark); the line it stops at, one line after a refill of the buffer,
            // and every line of other shapes, line by line
            if (!CheckedParserOnly && _lines.LineNumber > 0 && _lineByLine == 0)
            {
                long before = _lines.LineNumber;
                ReadOnlySpan<byte> buffered = _lines.BufferedLines();
                int used = FeatureParser.ParseLines(buffered, _fields, _lines.MaxLineLength, before, block, maxRows,
                    ref maxIndex, ref maxField, out int lines);
                if (lines > 0)
                {
                    _lines.SkipLines(used, lines);
                    if (block.FirstLine == 0)
                    {
                        block.FirstLine = before + 1;
                    }

                    continue;
                }

                if (!buffered.IsEmpty)
                {
                    // a whole line of another shape is next: that line and a few more line by line, so a file of
                    // such lines (comments, real labels, long numbers) does not try the pass at every line
                    _lineByLine = 16;
                }
            }

            if (!_lines.TryReadLine(out ReadOnlySpan<byte> line, out ReadOnlySpan<byte> terminated))
            {
                break;
            }

            if (_lineByLine > 0)
            {
                _lineByLine--;
            }

            if (ParseLine(line, terminated, block, ref maxIndex, ref maxField) && block.FirstLine == 0)
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
    /// <exception cref="DataFormatException">The text is not data, or its gzip stream is damaged or cut short.</exception>
    /// <exception cref="InsufficientMemoryException">The dataset would not fit in the memory the process may use.</exception>
    public SparseDataset ReadToEnd()
    {
        // parse one cache-sized block at a time and append it to the dataset's own arrays, which are sized once
        // from the first block and the length of the file (so a plain file is read without growing them) and grow
        // by half when the estimate falls short (gzip, pipes, rows that lengthen); they are not trimmed afterwards,
        // since the dataset reads them up to its counts and the pages past the end are never touched. Blocks of
        // ReadToEndBlockRows rows: the block's own arrays stay small (fresh memory is a page fault per 4 KB, dear
        // on a virtual machine), and the first block is still enough text to project the file's rows from
        var block = new SparseBlock();
        var all = new WholeFile(this);
        while (ReadBlock(block, ReadToEndBlockRows))
        {
            all.Append(block);
        }

        return all.ToDataset();
    }

    /// <summary>Rows per block in <see cref="ReadToEnd"/>: a block of rows of ten nonzeros is some hundred kilobytes
    /// (32,768-row blocks grew the block's arrays to over 9 MB of fresh memory, some 2,000 page faults per load).</summary>
    private const int ReadToEndBlockRows = 4096;

    /// <summary>The growing arrays of <see cref="ReadToEnd"/>: values are kept only once a block has a value other
    /// than 1 (the earlier ones then become ones), fields only for libffm data.</summary>
    private sealed class WholeFile(SparseTextReader reader)
    {
        private float[] _labels = [];
        private int[] _offsets = [0];
        private int[] _indices = [];
        private int[] _fieldIds = [];
        private float[]? _values;
        private int _rows;
        private int _nonZeros;

        public void Append(SparseBlock block)
        {
            int rows = block.Count, nonZeros = block.NonZeros;
            long needRows = (long)_rows + rows, needNonZeros = (long)_nonZeros + nonZeros;
            if (needRows >= int.MaxValue || needNonZeros > Array.MaxLength)
            {
                throw new InsufficientMemoryException($"{reader.SourceName}: {needRows:N0} rows with {needNonZeros:N0} nonzeros do not fit one in-memory dataset; stream it in blocks (SparseTextReader.ReadBlock) instead.");
            }

            bool unitBlock = SparseDataset.AllOnes(block.Values);
            if (needRows >= _labels.Length || needNonZeros > _indices.Length || (!unitBlock && (_values is null || _values.Length < _indices.Length)))
            {
                Grow(needRows, needNonZeros, unitBlock);
            }

            block.Labels.CopyTo(_labels.AsSpan(_rows));
            ReadOnlySpan<int> offsets = block.Offsets;
            Span<int> to = _offsets.AsSpan(_rows + 1, rows);
            for (int r = 0; r < rows; r++)
            {
                to[r] = _nonZeros + offsets[r + 1];
            }

            block.Indices.CopyTo(_indices.AsSpan(_nonZeros));
            if (_values is not null)
            {
                block.Values.CopyTo(_values.AsSpan(_nonZeros));
            }

            if (reader._fields)
            {
                block.Fields.CopyTo(_fieldIds.AsSpan(_nonZeros));
            }

            _rows += rows;
            _nonZeros += nonZeros;
        }

        /// <summary>New arrays for at least the rows and nonzeros needed: on the first block, the block scaled up
        /// to the whole file (when its length is known) with 5% to spare; later half as much again as now.</summary>
        private void Grow(long needRows, long needNonZeros, bool unitBlock)
        {
            long rows = needRows + 1, nonZeros = needNonZeros;
            bool projected = false;
            if (_rows == 0 && reader.KnownLength is long length && reader._lines.Position > 0 && reader._lines.Position < length)
            {
                projected = true;
                double scale = 1.05 * length / reader._lines.Position;
                rows = Math.Max(rows, (long)Math.Min(needRows * scale, length / 2.0) + 2);
                nonZeros = Math.Max(nonZeros, (long)Math.Min(needNonZeros * scale, length / 4.0) + 1);
            }
            else if (needRows >= _labels.Length || needNonZeros > _indices.Length)
            {
                rows = Math.Max(rows, _labels.Length + (_labels.Length >> 1));
                nonZeros = Math.Max(nonZeros, _indices.Length + (_indices.Length >> 1));
            }
            else
            {
                rows = _labels.Length;
                nonZeros = _indices.Length;
            }

            rows = Math.Min(rows, int.MaxValue - 1);
            nonZeros = Math.Min(nonZeros, Array.MaxLength);
            bool values = _values is not null || !unitBlock;
            long bytes = (rows * 8) + (nonZeros * ((reader._fields ? 8 : 4) + (values ? 4 : 0)));
            MemoryBudget.Ensure(bytes,
                projected
                    ? $"{reader.SourceName}: reading about {rows:N0} rows with {nonZeros:N0} nonzeros (the first {needRows:N0} rows, up to line {reader.LineNumber:N0}, scaled to the file's length) into memory"
                    : $"{reader.SourceName}: reading {needRows:N0} rows with {needNonZeros:N0} nonzeros (up to line {reader.LineNumber:N0}) into memory",
                "stream the file in blocks (SparseTextReader.ReadBlock) or use a machine with more memory");
            if (rows != _labels.Length)
            {
                _labels = Resized(_labels, (int)rows, _rows);
                _offsets = Resized(_offsets, (int)rows + 1, _rows + 1);
            }

            if (nonZeros != _indices.Length)
            {
                _indices = Resized(_indices, (int)nonZeros, _nonZeros);
                if (reader._fields)
                {
                    _fieldIds = Resized(_fieldIds, (int)nonZeros, _nonZeros);
                }
            }

            if (values && (_values is null || _values.Length != _indices.Length))
            {
                float[]? old = _values;
                _values = LargeArrays.Uninitialized<float>(_indices.Length);
                if (old is null)
                {
                    _values.AsSpan(0, _nonZeros).Fill(1f);
                }
                else
                {
                    old.AsSpan(0, _nonZeros).CopyTo(_values);
                }
            }
        }

        private static T[] Resized<T>(T[] array, int length, int used)
            where T : unmanaged
        {
            T[] grown = LargeArrays.Uninitialized<T>(length);
            array.AsSpan(0, used).CopyTo(grown);
            return grown;
        }

        public SparseDataset ToDataset()
        {
            if (_labels.Length == 0)
            {
                return SparseDataset.FromTrustedArrays([], [0], [], null, reader._fields ? [] : null, 0, 0);
            }

            return SparseDataset.FromTrustedArrays(_labels, _offsets, _indices, _values, reader._fields ? _fieldIds : null,
                reader.MaxIndex + 1, reader.MaxField + 1, _rows);
        }
    }

    /// <summary>Reads a whole file (gzip detected) into a dataset.</summary>
    public static SparseDataset ReadFile(string path, SparseFormat format = SparseFormat.LibFm)
    {
        using SparseTextReader reader = Open(path, format);
        return reader.ReadToEnd();
    }

    /// <summary>Parses one line; returns false for a line without an example (empty or comment).
    /// <paramref name="terminated"/> is the line followed by its '\r' or '\n' when it has one (else the line).</summary>
    private bool ParseLine(ReadOnlySpan<byte> line, ReadOnlySpan<byte> terminated, SparseBlock block, ref int maxIndex, ref int maxField)
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
        float label;
        int labelEnd = ShortLabelEnd(line, p, out label);
        if (labelEnd > 0)
        {
            // the common labels of classification data: 0, 1, -1, +1, exact as they are
            p = labelEnd;
        }
        else
        {
            p = NumberText.ParseFloat(line, p, colonEnds: false, out label);
            if (p < 0 || !float.IsFinite(label))
            {
                throw BadLabel(line, labelStart);
            }
        }

        block.EnsureRoom((line.Length >> 2) + 1);
        int row = block.Count;
        int nnz = block.OffsetBuffer[row];
        int[] indices = block.IndexBuffer;
        float[] values = block.ValueBuffer;
        int[] fields = block.FieldBuffer;

        // the common shape of lines (short fields and indices, plain values) on a pointer path without bounds
        // checks; anything else (long indices, errors) is parsed, or refused with its exact message, below
        int fastEnd = CheckedParserOnly ? -1 : FeatureParser.Parse(terminated, line.Length, p, _scratch, _fields ? fields : null, indices, values, nnz, ref maxIndex, ref maxField);
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
        block.LineBuffer[row] = _lines.LineNumber;
        block.OffsetBuffer[row + 1] = nnz;
        block.Count = row + 1;
        return true;
    }

    /// <summary>
    /// A label of one digit, optionally signed (0, 1, -1, +1, ...), that ends at a blank or the end of the line: returns
    /// the position after it with its value, or -1 for any other label (the general parser reads or refuses it).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int ShortLabelEnd(ReadOnlySpan<byte> line, int p, out float label)
    {
        label = 0;
        bool negative = false;
        if ((uint)p < (uint)line.Length && line[p] is (byte)'-' or (byte)'+')
        {
            negative = line[p] == (byte)'-';
            p++;
        }

        if ((uint)p >= (uint)line.Length)
        {
            return -1;
        }

        uint digit = (uint)(line[p] - '0');
        if (digit > 9)
        {
            return -1;
        }

        p++;
        if ((uint)p < (uint)line.Length && line[p] is not ((byte)' ' or (byte)'\t'))
        {
            return -1;
        }

        label = negative ? -(float)digit : digit;
        return p;
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
            ? $"'{DataFormatException.Visible(((char)line[p]).ToString())}'"
            : "nothing";
        return Error(line, p, $"missing colon after the {what} in '{token}' (expected {expected}, found {found})");
    }

    private DataFormatException Error(ReadOnlySpan<byte> line, int position, string reason) =>
        DataFormatException.At(SourceName, _lines.LineNumber, line, position, reason);

    public void Dispose() => _lines.Dispose();
}
