namespace FmCodegen.Data;

/// <summary>
/// Sparse examples in CSR form: labels, row offsets, feature indices, values and (for libffm data) fields.
/// Immutable once built; scoring and training read its spans directly. Row r is
/// Indices/Values/Fields[Offsets[r] .. Offsets[r + 1]).
/// </summary>
/// <remarks>
/// Memory: 4 bytes per nonzero for its index, 4 more for its value unless every value is 1 (binary features, as in
/// most CTR data: then no value array is stored, <see cref="UnitValues"/> is true and <see cref="RowValues"/> returns
/// a shared run of ones), 4 more for its field (libffm), and 8 bytes per row (label and offset).
/// </remarks>
public sealed class SparseDataset
{
    private readonly float[] _labels;
    private readonly int[] _offsets;
    private readonly int[] _indices;
    private readonly int[]? _fields;
    private readonly int _count;
    private readonly int _nonZeros;

    // null when every value is 1; the ones are then made only if a caller asks for the whole Values span
    private float[]? _values;
    private static float[] s_ones = new float[256];

    static SparseDataset() => s_ones.AsSpan().Fill(1f);

    // the arrays may be longer than the data (a reader's arrays, sized from an estimate, are not copied to trim
    // them): every span below is cut to the rows and nonzeros held
    private SparseDataset(float[] labels, int[] offsets, int[] indices, float[]? values, int[]? fields, int numFeatures, int numFields,
        int count, int nonZeros)
    {
        _count = count;
        _nonZeros = nonZeros;
        _labels = labels;
        _offsets = offsets;
        _indices = indices;
        _values = values;
        UnitValues = values is null;
        _fields = fields;
        NumFeatures = numFeatures;
        NumFields = numFields;
    }

    /// <summary>The number of examples.</summary>
    public int Count => _count;

    /// <summary>The largest feature index + 1 (0 when there are no nonzeros).</summary>
    public int NumFeatures { get; }

    /// <summary>The largest field + 1 for libffm data; 0 when the data has no fields.</summary>
    public int NumFields { get; }

    /// <summary>True when the data came with fields (libffm).</summary>
    public bool HasFields => _fields is not null;

    public ReadOnlySpan<float> Labels => _labels.AsSpan(0, _count);
    public ReadOnlySpan<int> Offsets => _offsets.AsSpan(0, _count + 1);
    public ReadOnlySpan<int> Indices => _indices.AsSpan(0, _nonZeros);

    /// <summary>The value of every nonzero. When <see cref="UnitValues"/> is true the dataset stores no values and the
    /// first call makes (and keeps) an array of ones; <see cref="RowValues"/> never does.</summary>
    public ReadOnlySpan<float> Values
    {
        get
        {
            if (_values is null)
            {
                var ones = new float[_nonZeros];
                ones.AsSpan().Fill(1f);
                Interlocked.CompareExchange(ref _values, ones, null);
            }

            return _values.AsSpan(0, _nonZeros);
        }
    }

    /// <summary>True when every value is 1 and the dataset holds no value array (4 bytes per nonzero saved).</summary>
    public bool UnitValues { get; }

    /// <summary>The field of every nonzero; empty when <see cref="HasFields"/> is false.</summary>
    public ReadOnlySpan<int> Fields => _fields is null ? default : _fields.AsSpan(0, _nonZeros);

    /// <summary>The total number of nonzeros.</summary>
    public int NonZeros => _nonZeros;

    public ReadOnlySpan<int> RowIndices(int row)
    {
        ReadOnlySpan<int> offsets = Offsets;
        return _indices.AsSpan(offsets[row], offsets[row + 1] - offsets[row]);
    }

    public ReadOnlySpan<float> RowValues(int row)
    {
        ReadOnlySpan<int> offsets = Offsets;
        return UnitValues ? Ones(offsets[row + 1] - offsets[row]) : _values.AsSpan(offsets[row], offsets[row + 1] - offsets[row]);
    }

    /// <summary>A read-only run of <paramref name="count"/> ones (shared).</summary>
    internal static ReadOnlySpan<float> Ones(int count)
    {
        float[] ones = s_ones;
        if (ones.Length < count)
        {
            ones = new float[Math.Max(count, ones.Length * 2)];
            ones.AsSpan().Fill(1f);
            s_ones = ones;
        }

        return ones.AsSpan(0, count);
    }

    /// <summary>True when every value is exactly 1 (the bits of 1.0f).</summary>
    internal static bool AllOnes(ReadOnlySpan<float> values) =>
        System.Runtime.InteropServices.MemoryMarshal.Cast<float, int>(values).IndexOfAnyExcept(0x3F800000) < 0;

    public ReadOnlySpan<int> RowFields(int row) =>
        _fields is null ? default : _fields.AsSpan(Offsets[row], Offsets[row + 1] - Offsets[row]);

    /// <summary>Builds a dataset from CSR arrays, copying them and checking their shape.</summary>
    public static SparseDataset Create(ReadOnlySpan<float> labels, ReadOnlySpan<int> offsets, ReadOnlySpan<int> indices, ReadOnlySpan<float> values, ReadOnlySpan<int> fields = default)
    {
        if (offsets.Length != labels.Length + 1)
        {
            throw new ArgumentException($"{labels.Length} labels need {labels.Length + 1} offsets; got {offsets.Length}.", nameof(offsets));
        }

        if (indices.Length != values.Length || (!fields.IsEmpty && fields.Length != indices.Length))
        {
            throw new ArgumentException($"indices ({indices.Length}), values ({values.Length}) and fields ({fields.Length}, or none) must have the same length.");
        }

        if (offsets[0] != 0 || offsets[^1] != indices.Length)
        {
            throw new ArgumentException($"offsets must start at 0 and end at the number of nonzeros ({indices.Length}).", nameof(offsets));
        }

        for (int r = 0; r < labels.Length; r++)
        {
            if (offsets[r + 1] < offsets[r])
            {
                throw new ArgumentException($"offsets[{r + 1}] = {offsets[r + 1]} is below offsets[{r}] = {offsets[r]}.", nameof(offsets));
            }
        }

        int maxIndex = -1;
        for (int j = 0; j < indices.Length; j++)
        {
            if (indices[j] < 0)
            {
                throw new ArgumentException($"indices[{j}] = {indices[j]} is negative.", nameof(indices));
            }

            maxIndex = Math.Max(maxIndex, indices[j]);
        }

        int maxField = -1;
        for (int j = 0; j < fields.Length; j++)
        {
            if (fields[j] < 0)
            {
                throw new ArgumentException($"fields[{j}] = {fields[j]} is negative.", nameof(fields));
            }

            maxField = Math.Max(maxField, fields[j]);
        }

        return new SparseDataset(labels.ToArray(), offsets.ToArray(), indices.ToArray(), AllOnes(values) ? null : values.ToArray(),
            fields.IsEmpty ? null : fields.ToArray(), maxIndex + 1, maxField + 1, labels.Length, indices.Length);
    }

    /// <summary>Reads a libFM/libSVM or libffm text file (gzip detected from its content). Errors name file, line and column.</summary>
    /// <exception cref="DataFormatException">The file holds something that is not data.</exception>
    public static SparseDataset Load(string path, SparseFormat format = SparseFormat.LibFm) => SparseTextReader.ReadFile(path, format);

    /// <summary>Writes the dataset as text, atomically; a name ending in .gz is compressed.</summary>
    public void Save(string path, SparseFormat format = SparseFormat.LibFm) => SparseTextWriter.WriteFile(this, path, format);

    /// <summary>True when both hold the same rows: labels, offsets, indices, values and fields, bit for bit
    /// (without nonzeros, having fields or not makes no difference).</summary>
    public bool ContentEquals(SparseDataset other)
    {
        ArgumentNullException.ThrowIfNull(other);
        return (HasFields == other.HasFields || NonZeros == 0) && NumFeatures == other.NumFeatures && NumFields == other.NumFields
            && Bits(Labels).SequenceEqual(Bits(other.Labels)) && Offsets.SequenceEqual(other.Offsets)
            && Indices.SequenceEqual(other.Indices) && ((UnitValues && other.UnitValues) || Bits(Values).SequenceEqual(Bits(other.Values)))
            && Fields.SequenceEqual(other.Fields);

        static ReadOnlySpan<int> Bits(ReadOnlySpan<float> values) => System.Runtime.InteropServices.MemoryMarshal.Cast<float, int>(values);
    }

    /// <summary>The same rows with other feature indices (every one below <paramref name="numFeatures"/>): labels,
    /// offsets, values and fields are shared, not copied.</summary>
    internal SparseDataset WithIndices(int[] indices, int numFeatures) =>
        new(_labels, _offsets, indices, UnitValues ? null : _values, _fields, numFeatures, NumFields, _count, _nonZeros);

    /// <summary>Takes ownership of arrays a reader filled (no copy; null values: every value is 1). The caller
    /// guarantees the CSR shape.</summary>
    internal static SparseDataset FromTrustedArrays(float[] labels, int[] offsets, int[] indices, float[]? values, int[]? fields, int numFeatures, int numFields) =>
        new(labels, offsets, indices, values, fields, numFeatures, numFields, labels.Length, indices.Length);

    /// <summary>As <see cref="FromTrustedArrays(float[], int[], int[], float[], int[], int, int)"/> for arrays that
    /// may be longer than the data: <paramref name="count"/> rows (labels, and offsets up to row count) and the
    /// nonzeros up to offsets[count]; elements past those are never read.</summary>
    internal static SparseDataset FromTrustedArrays(float[] labels, int[] offsets, int[] indices, float[]? values, int[]? fields, int numFeatures, int numFields, int count) =>
        new(labels, offsets, indices, values, fields, numFeatures, numFields, count, offsets[count]);
}
