using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using FmCodegen.Kernels;

namespace FmCodegen;

/// <summary>
/// A trained field-aware Factorization Machine (FFM): every feature j has one k-vector per field, v[j, f], and
/// y(x) = w0 + sum_a w_{j_a} x_a + sum_{a&lt;b} &lt;v[j_a, f_b], v[j_b, f_a]&gt; x_a x_b, with the values x scaled
/// as <see cref="Normalization"/> says. Immutable and validated on construction. Scoring lives in <see cref="Ffm"/>.
/// </summary>
/// <remarks>
/// Internally feature j's row holds its NumFields blocks of <see cref="FfmLayout.FieldStride"/> floats (k factors,
/// zero padded), 64-byte aligned, so a pair reads one aligned block from each of its two rows; the row past the
/// last feature is all zeros.
/// </remarks>
public sealed record FfmModel
{
    private readonly FfmTable _table;
    private readonly float[] _weights;

    private FfmModel(float bias, float[] weights, FfmTable table)
    {
        Bias = bias;
        _weights = weights;
        _table = table;
    }

    /// <summary>The global bias w0 (0 for models from libffm and ML.NET, which have none).</summary>
    public float Bias { get; }

    /// <summary>How the values of an example are scaled before scoring (see <see cref="FfmNormalization"/>).</summary>
    public FfmNormalization Normalization { get; init; }

    /// <summary>The number of features. Features at or beyond it contribute nothing.</summary>
    public int NumFeatures => _table.NumFeatures;

    /// <summary>The number of fields. Nonzeros of a field at or beyond it contribute nothing.</summary>
    public int NumFields => _table.NumFields;

    /// <summary>The embedding size k (factors per feature and field).</summary>
    public int EmbeddingSize => _table.EmbeddingSize;

    /// <summary>A copy of the linear weights w, one per feature.</summary>
    public float[] GetWeights() => _weights.AsSpan(0, NumFeatures).ToArray();

    /// <summary>A copy of the factors, row-major: feature, then field, then factor (NumFeatures x NumFields x k).</summary>
    public float[] GetFactors()
    {
        int k = EmbeddingSize;
        var factors = new float[(long)NumFeatures * NumFields * k];
        for (int j = 0; j < NumFeatures; j++)
        {
            for (int f = 0; f < NumFields; f++)
            {
                _table.Block(j, f).CopyTo(factors.AsSpan((j * NumFields + f) * k, k));
            }
        }

        return factors;
    }

    /// <summary>The linear weight of one feature (0 for a feature the model does not know).</summary>
    public float Weight(int feature) => (uint)feature < (uint)NumFeatures ? _weights[feature] : 0f;

    /// <summary>v[feature, field]: k factors (zeros when the model knows neither the feature nor the field).</summary>
    public ReadOnlySpan<float> FactorBlock(int feature, int field) =>
        (uint)feature < (uint)NumFeatures && (uint)field < (uint)NumFields ? _table.Block(feature, field) : _table.Block(NumFeatures, 0);

    /// <summary>The kernels' view of the factors: rows of NumFields x <see cref="FieldStride"/> floats, then a zero row.</summary>
    public ReadOnlySpan<float> RowTable => _table.Span;

    /// <summary>Floats between two field blocks of a row: k rounded up to 4, 8 or a multiple of 16.</summary>
    public int FieldStride => _table.FieldStride;

    /// <summary>Floats between two rows of <see cref="RowTable"/>.</summary>
    public int RowStride => _table.RowStride;

    internal FfmTable Table => _table;

    /// <summary>The linear weights with a final zero for unseen features (length NumFeatures + 1).</summary>
    internal ReadOnlySpan<float> WeightsWithZero => _weights;

    /// <summary>A reference to the first of <see cref="WeightsWithZero"/> (the per-row scoring loop reads by
    /// reference: no span per row).</summary>
    internal ref float WeightOrigin => ref MemoryMarshal.GetArrayDataReference(_weights);

    /// <summary>
    /// Builds a model from its parameters: one linear weight per feature, and <paramref name="factors"/> row-major
    /// by feature, then field, then factor (weights.Length x numFields x embeddingSize values).
    /// </summary>
    /// <exception cref="ArgumentException">Shapes disagree or a value is NaN or infinite; the message says which.</exception>
    public static FfmModel Create(float bias, ReadOnlySpan<float> weights, ReadOnlySpan<float> factors, int numFields, int embeddingSize)
    {
        if (embeddingSize < 1 || embeddingSize > FfmLayout.MaxEmbeddingSize)
        {
            throw new ArgumentOutOfRangeException(nameof(embeddingSize), embeddingSize,
                $"The embedding size must be between 1 and {FfmLayout.MaxEmbeddingSize}; got {embeddingSize}.");
        }

        if (numFields < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(numFields), numFields, $"A field-aware model needs at least one field; got {numFields}.");
        }

        int n = weights.Length;
        long expected = (long)n * numFields * embeddingSize;
        if (expected != factors.Length)
        {
            throw new ArgumentException(
                $"The factors must hold {embeddingSize} values per feature and field: {n:N0} weights x {numFields} fields x {embeddingSize} = {expected:N0} values, but {factors.Length:N0} were given.",
                nameof(factors));
        }

        if (!float.IsFinite(bias))
        {
            throw new ArgumentException($"The bias must be finite; got {Describe(bias)}.", nameof(bias));
        }

        var w = new float[n + 1];
        for (int j = 0; j < n; j++)
        {
            if (!float.IsFinite(weights[j]))
            {
                throw new ArgumentException($"weights[{j}] must be finite; got {Describe(weights[j])}.", nameof(weights));
            }

            w[j] = weights[j];
        }

        var table = new FfmTable(n, numFields, embeddingSize);
        for (int j = 0; j < n; j++)
        {
            for (int f = 0; f < numFields; f++)
            {
                long at = ((long)j * numFields + f) * embeddingSize;
                ReadOnlySpan<float> source = factors.Slice((int)at, embeddingSize);
                for (int c = 0; c < source.Length; c++)
                {
                    if (!float.IsFinite(source[c]))
                    {
                        throw new ArgumentException(
                            $"factors[{at + c}] (feature {j}, field {f}, factor {c}) must be finite; got {Describe(source[c])}.", nameof(factors));
                    }
                }

                source.CopyTo(table.Block(j, f));
            }
        }

        return new FfmModel(bias, w, table);
    }

    /// <summary>Wraps parameters a loader or trainer filled in place, after checking every value.</summary>
    internal static FfmModel FromParts(float bias, float[] weightsWithZero, FfmTable table, FfmNormalization normalization, string source)
    {
        if (!float.IsFinite(bias))
        {
            throw new InvalidDataException($"{source}: the bias is {Describe(bias)}; a model must hold finite values.");
        }

        if (weightsWithZero.Length != table.NumFeatures + 1)
        {
            throw new InvalidOperationException("weights must have NumFeatures + 1 entries.");
        }

        // the factors through a reference, not a span per block (a model load runs this over every block)
        ref float origin = ref table.Origin;
        int k = table.EmbeddingSize;
        for (int j = 0; j < table.NumFeatures; j++)
        {
            if (!float.IsFinite(weightsWithZero[j]))
            {
                throw new InvalidDataException($"{source}: the linear weight of feature {j} is {Describe(weightsWithZero[j])}; a model must hold finite values.");
            }

            ref float row = ref Unsafe.Add(ref origin, (nint)j * table.RowStride);
            for (int f = 0; f < table.NumFields; f++)
            {
                ref float block = ref Unsafe.Add(ref row, (nint)f * table.BlockStride);
                for (int c = 0; c < k; c++)
                {
                    float value = Unsafe.Add(ref block, c);
                    if (!float.IsFinite(value))
                    {
                        throw new InvalidDataException($"{source}: factor {c} of feature {j}, field {f} is {Describe(value)}; a model must hold finite values.");
                    }
                }
            }
        }

        weightsWithZero[^1] = 0;
        table.ClearPadding();
        return new FfmModel(bias, weightsWithZero, table) { Normalization = normalization };
    }

    private static string Describe(float value) => value.ToString(CultureInfo.InvariantCulture);

    /// <summary>Models are equal when bias, normalisation, shape, weights and factors are equal, value for value.</summary>
    public bool Equals(FfmModel? other)
    {
        if (other is null)
        {
            return false;
        }

        if (ReferenceEquals(this, other))
        {
            return true;
        }

        return Bias.Equals(other.Bias) && Normalization == other.Normalization && NumFeatures == other.NumFeatures
            && NumFields == other.NumFields && EmbeddingSize == other.EmbeddingSize
            && _weights.AsSpan().SequenceEqual(other._weights) && RowTable.SequenceEqual(other.RowTable);
    }

    public override int GetHashCode() => HashCode.Combine(Bias, Normalization, NumFeatures, NumFields, EmbeddingSize);

    [ExcludeFromCodeCoverage]
    private bool PrintMembers(System.Text.StringBuilder builder)
    {
        builder.Append(CultureInfo.InvariantCulture,
            $"Bias = {Bias}, NumFeatures = {NumFeatures}, NumFields = {NumFields}, EmbeddingSize = {EmbeddingSize}, Normalization = {Normalization}");
        return true;
    }
}
