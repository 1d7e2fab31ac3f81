using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using FmCodegen.Kernels;

namespace FmCodegen;

/// <summary>
/// A trained Factorization Machine: y(x) = w0 + sum_i w_i x_i + sum_{i&lt;j} &lt;v_i, v_j&gt; x_i x_j, and for
/// <see cref="Order"/> 3 also + sum_{i&lt;j&lt;l} sum_f u_if u_jf u_lf x_i x_j x_l with a second factor table u
/// (Blondel et al., NIPS 2016). Immutable and validated on construction (finite values, consistent shapes). Scoring
/// lives in <see cref="Fm"/>.
/// </summary>
/// <remarks>
/// Internally each feature's linear weight is stored beside its factor row, in 64-byte aligned rows
/// (see <see cref="FmLayout"/>): one score then touches one row per nonzero instead of two places.
/// </remarks>
public sealed record FmModel
{
    private readonly AlignedTable _table;
    // copies made on first use, never handed out as arrays: a caller gets read-only spans over them
    private float[]? _weights;
    private float[]? _factors;

    /// <summary>The largest embedding size k of a model, of a generated kernel (<see cref="FmKernelAttribute"/>) and of
    /// training: one limit everywhere.</summary>
    public const int MaxEmbeddingSize = FmLimits.MaxEmbeddingSize;

    private FmModel(float bias, AlignedTable table, bool instanceNormalization = false, int[]? presentRows = null)
    {
        Bias = bias;
        _table = table;
        InstanceNormalization = instanceNormalization;
        PresentRows = presentRows;
    }

    /// <summary>The global bias w0.</summary>
    public float Bias { get; }

    /// <summary>The number of features (rows of V). Indices at or beyond it score as zero.</summary>
    public int NumFeatures => _table.NumFeatures;

    /// <summary>The embedding size k (factors per feature, in each factor table).</summary>
    public int EmbeddingSize => _table.EmbeddingSize;

    /// <summary>The highest order of interaction: 2 (pairs) or 3 (pairs and triples, with a second factor table).</summary>
    public int Order => _table.Order;

    /// <summary>The linear weights w, one per feature, as given to <see cref="Create(float, ReadOnlySpan{float}, ReadOnlySpan{float}, int)"/> (read-only: the model is
    /// immutable; <c>.ToArray()</c> gives a copy to change).</summary>
    public ReadOnlySpan<float> Weights => _weights ??= ExtractWeights();

    /// <summary>The factors, as given to <see cref="Create(float, ReadOnlySpan{float}, ReadOnlySpan{float}, int, int)"/>
    /// (read-only): the order-2 table V, row-major NumFeatures x EmbeddingSize, then for order 3 the order-3 table
    /// of the same shape.</summary>
    public ReadOnlySpan<float> Factors => _factors ??= ExtractFactors();

    /// <summary>The kernels' view: rows of k factors then the linear weight (then, for order 3, the order-3 factors
    /// from <see cref="FmLayout.Order3Offset"/>), <see cref="RowStride"/> apart, with a final all-zero row at index
    /// <see cref="NumFeatures"/>.</summary>
    public ReadOnlySpan<float> RowTable => _table.Span;

    /// <summary>The distance in floats between rows of <see cref="RowTable"/>.</summary>
    public int RowStride => _table.Stride;

    internal AlignedTable Table => _table;

    /// <summary>When not null, the rising ids of the only rows that may be nonzero (a hashed model trained on the
    /// features that occur, or loaded from sparse rows): every other row is zero and is never touched, so the
    /// table's untouched pages stay uncommitted and writers visit these rows alone.</summary>
    internal int[]? PresentRows { get; }

    /// <summary>
    /// True when the model scores as xLearn does with instance normalisation on (its default): with
    /// norm = 1 / sum_j x_j^2 over the example, y = w0 + sqrt(norm) sum_j w_j x_j + norm^2 (pairwise term).
    /// Every scoring function (<see cref="Fm.Score"/>, <see cref="Fm.ScoreBatch"/>, <see cref="Fm.ScoreNaive"/>, the
    /// generated kernels) honours it, so a loaded model scores the same through every API.
    /// </summary>
    public bool InstanceNormalization { get; }

    /// <summary>The same parameters, scored with or without xLearn's instance normalisation.</summary>
    /// <exception cref="NotSupportedException">Instance normalisation is asked of an order-3 model (xLearn's rule is
    /// defined for pairs only).</exception>
    public FmModel WithInstanceNormalization(bool instanceNormalization)
    {
        if (instanceNormalization && Order != 2)
        {
            throw new NotSupportedException("xLearn's instance normalisation is defined for order-2 models only; this model has order 3.");
        }

        return instanceNormalization == InstanceNormalization ? this : new FmModel(Bias, _table, instanceNormalization, PresentRows);
    }

    /// <summary>The linear weight of one feature (zero for a feature the model does not know).</summary>
    public float Weight(int feature) => (uint)feature < (uint)NumFeatures ? _table.Weight(feature) : 0f;

    /// <summary>The k factors of one feature (zeros for a feature the model does not know).</summary>
    public ReadOnlySpan<float> FactorRow(int feature) =>
        _table.Factors((uint)feature < (uint)NumFeatures ? feature : NumFeatures);

    /// <summary>The k factors of one feature in the table of <paramref name="order"/> 2 (pairs) or 3 (triples; order-3
    /// models only); zeros for a feature the model does not know.</summary>
    public ReadOnlySpan<float> FactorRow(int feature, int order)
    {
        FmLayout.CheckOrder(order);
        if (order > Order)
        {
            throw new ArgumentOutOfRangeException(nameof(order), order, $"This model has order {Order}; it has no order-{order} factors.");
        }

        int row = (uint)feature < (uint)NumFeatures ? feature : NumFeatures;
        return order == 2 ? _table.Factors(row) : _table.Factors3(row);
    }

    /// <summary>
    /// Builds a model from its parameters. <paramref name="factors"/> is row-major, one row of
    /// <paramref name="embeddingSize"/> values per feature, so its length is weights.Length x embeddingSize.
    /// </summary>
    /// <exception cref="ArgumentException">Shapes disagree or a value is NaN or infinite; the message says which.</exception>
    public static FmModel Create(float bias, ReadOnlySpan<float> weights, ReadOnlySpan<float> factors, int embeddingSize) =>
        Create(bias, weights, factors, embeddingSize, order: 2);

    /// <summary>
    /// Builds a model of <paramref name="order"/> 2 or 3. <paramref name="factors"/> holds one row-major table of
    /// <paramref name="embeddingSize"/> values per feature for each order from 2 up: the order-2 table (pairs), then
    /// for order 3 the order-3 table (triples), so its length is (order - 1) x weights.Length x embeddingSize.
    /// </summary>
    /// <exception cref="ArgumentException">Shapes disagree or a value is NaN or infinite; the message says which.</exception>
    public static FmModel Create(float bias, ReadOnlySpan<float> weights, ReadOnlySpan<float> factors, int embeddingSize, int order)
    {
        FmLayout.CheckOrder(order);
        if (embeddingSize < 1 || embeddingSize > MaxEmbeddingSize)
        {
            throw new ArgumentOutOfRangeException(nameof(embeddingSize), embeddingSize,
                $"The embedding size must be between 1 and {MaxEmbeddingSize}; got {embeddingSize}.");
        }

        int numFeatures = weights.Length;
        long perTable = (long)numFeatures * embeddingSize;
        if (perTable * (order - 1) != factors.Length)
        {
            string rows = factors.Length % embeddingSize == 0
                ? $"{factors.Length / embeddingSize:N0} rows"
                : $"not a whole number of rows of {embeddingSize}";
            string tables = order == 2 ? string.Empty : " in each of the order-2 and the order-3 table";
            throw new ArgumentException(
                $"The factors must hold one row of {embeddingSize} values per feature{tables}: {order - 1} x {numFeatures:N0} weights x {embeddingSize} = {perTable * (order - 1):N0} values, but {factors.Length:N0} were given ({rows}).",
                nameof(factors));
        }

        if (!float.IsFinite(bias))
        {
            throw new ArgumentException($"The bias must be finite; got {Describe(bias)}.", nameof(bias));
        }

        var table = new AlignedTable(numFeatures, embeddingSize, order);
        for (int i = 0; i < numFeatures; i++)
        {
            float w = weights[i];
            if (!float.IsFinite(w))
            {
                throw new ArgumentException($"weights[{i}] must be finite; got {Describe(w)}.", nameof(weights));
            }

            ReadOnlySpan<float> source = factors.Slice(i * embeddingSize, embeddingSize);
            int bad = IndexOfNonFinite(source);
            if (bad >= 0)
            {
                throw new ArgumentException(
                    $"factors[{(long)i * embeddingSize + bad}] (feature {i}, factor {bad}) must be finite; got {Describe(source[bad])}.",
                    nameof(factors));
            }

            source.CopyTo(table.Factors(i));
            table.Weight(i) = w;
            if (order == 3)
            {
                long at = perTable + ((long)i * embeddingSize);
                ReadOnlySpan<float> third = factors.Slice((int)at, embeddingSize);
                bad = IndexOfNonFinite(third);
                if (bad >= 0)
                {
                    throw new ArgumentException(
                        $"factors[{at + bad}] (order-3 table, feature {i}, factor {bad}) must be finite; got {Describe(third[bad])}.",
                        nameof(factors));
                }

                third.CopyTo(table.Factors3(i));
            }
        }

        return new FmModel(bias, table);
    }

    /// <summary>Wraps a table that a loader or trainer filled in place, after checking every value.</summary>
    /// <remarks>With <paramref name="presentRows"/> (rising ids), only those rows are checked: the caller guarantees
    /// every other row is still zero as allocated.</remarks>
    internal static FmModel FromTable(float bias, AlignedTable table, string source, int[]? presentRows = null)
    {
        if (!float.IsFinite(bias))
        {
            throw new InvalidDataException($"{source}: the bias is {Describe(bias)}; a model must hold finite values.");
        }

        int k = table.EmbeddingSize;
        int count = presentRows?.Length ?? table.NumFeatures;
        for (int j = 0; j < count; j++)
        {
            int i = presentRows is null ? j : presentRows[j];
            Span<float> row = table.Row(i);
            int bad = IndexOfNonFinite(row[..(k + 1)]);
            if (bad >= 0)
            {
                string what = bad == k ? $"the linear weight of feature {i}" : $"factor {bad} of feature {i}";
                throw new InvalidDataException($"{source}: {what} is {Describe(row[bad])}; a model must hold finite values.");
            }

            if (table.Order == 3)
            {
                int third = FmLayout.Order3Offset(k);
                bad = IndexOfNonFinite(row.Slice(third, k));
                if (bad >= 0)
                {
                    throw new InvalidDataException($"{source}: order-3 factor {bad} of feature {i} is {Describe(row[third + bad])}; a model must hold finite values.");
                }

                row[(k + 1)..third].Clear();
                row[(third + k)..].Clear();
            }
            else
            {
                row[(k + 1)..].Clear();
            }
        }

        table.Row(table.NumFeatures).Clear();
        table.Span[((table.NumFeatures + 1) * table.Stride)..].Clear();
        return new FmModel(bias, table, presentRows: presentRows);
    }

    private static int IndexOfNonFinite(ReadOnlySpan<float> values)
    {
        for (int j = 0; j < values.Length; j++)
        {
            if (!float.IsFinite(values[j]))
            {
                return j;
            }
        }

        return -1;
    }

    private static string Describe(float value) => value.ToString(CultureInfo.InvariantCulture);

    private float[] ExtractWeights()
    {
        var weights = new float[NumFeatures];
        for (int i = 0; i < weights.Length; i++)
        {
            weights[i] = _table.Weight(i);
        }

        return weights;
    }

    private float[] ExtractFactors()
    {
        int k = EmbeddingSize;
        long perTable = (long)NumFeatures * k;
        var factors = new float[perTable * (Order - 1)];
        for (int i = 0; i < NumFeatures; i++)
        {
            _table.Factors(i).CopyTo(factors.AsSpan(i * k, k));
            if (Order == 3)
            {
                _table.Factors3(i).CopyTo(factors.AsSpan((int)(perTable + ((long)i * k)), k));
            }
        }

        return factors;
    }

    /// <summary>Models are equal when their bias, shape, weights and factors are equal, value for value.</summary>
    public bool Equals(FmModel? other)
    {
        if (other is null)
        {
            return false;
        }

        if (ReferenceEquals(this, other))
        {
            return true;
        }

        if (Bias.Equals(other.Bias) is false || NumFeatures != other.NumFeatures || EmbeddingSize != other.EmbeddingSize
            || Order != other.Order || InstanceNormalization != other.InstanceNormalization)
        {
            return false;
        }

        int used = NumFeatures * RowStride;
        return RowTable[..used].SequenceEqual(other.RowTable[..used]);
    }

    public override int GetHashCode() => HashCode.Combine(Bias, NumFeatures, EmbeddingSize, Order);

    [ExcludeFromCodeCoverage]
    private bool PrintMembers(System.Text.StringBuilder builder)
    {
        builder.Append(CultureInfo.InvariantCulture, $"Bias = {Bias}, NumFeatures = {NumFeatures}, EmbeddingSize = {EmbeddingSize}, Order = {Order}, InstanceNormalization = {InstanceNormalization}");
        return true;
    }
}
