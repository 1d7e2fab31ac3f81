using System.Numerics;
using System.Runtime.CompilerServices;

namespace FmCodegen.Kernels;

/// <summary>
/// The row layout every kernel reads: one row per feature holding its k factors followed by its linear weight,
/// then zero padding. Rows start on 64-byte boundaries where k allows, so a feature costs the fewest cache lines
/// (k = 8: one line; k = 16: two lines of one 128-byte pair) and every vector load is aligned. Row
/// <c>NumFeatures</c> is all zeros: kernels map an unseen feature to it without a branch.
/// </summary>
public static class FmLayout
{
    /// <summary>Floats of zero padding after the last row, so a full-width load never leaves the table.</summary>
    public const int TablePadding = 16;

    /// <summary>
    /// The distance in floats between two rows for embedding size <paramref name="embeddingSize"/>:
    /// k + 1 rounded up to a power of two up to 16 floats, and to a multiple of 16 floats (one cache line) beyond.
    /// The generator computes the same function at generation time.
    /// </summary>
    public static int RowStride(int embeddingSize)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(embeddingSize);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(embeddingSize, FmLimits.MaxEmbeddingSize);
        int width = embeddingSize + 1;
        return Round(width);
    }

    /// <summary>
    /// The distance in floats between two rows of a model of <paramref name="order"/> 2 or 3. Order 2 is
    /// <see cref="RowStride(int)"/>. An order-3 row holds the order-2 row (k factors, the weight, its padding) and
    /// then, from <see cref="Order3Offset"/>, the k order-3 factors: RowStride(k) + k floats, rounded as above.
    /// </summary>
    public static int RowStride(int embeddingSize, int order)
    {
        CheckOrder(order);
        return order == 2 ? RowStride(embeddingSize) : Round(RowStride(embeddingSize) + embeddingSize);
    }

    /// <summary>Where a feature's order-3 factors start within its row: right after the order-2 row, so the
    /// order-2 part of an order-3 row is laid out exactly as an order-2 row, and the order-3 factors start aligned
    /// as the row does (32 bytes for k below 8, 64 from 8 on).</summary>
    public static int Order3Offset(int embeddingSize) => RowStride(embeddingSize);

    internal static void CheckOrder(int order)
    {
        if (order is not (2 or 3))
        {
            throw new ArgumentOutOfRangeException(nameof(order), order, $"The order of a Factorization Machine must be 2 (pairs) or 3 (pairs and triples); got {order}.");
        }
    }

    private static int Round(int width) => width <= 16 ? (int)BitOperations.RoundUpToPowerOf2((uint)width) : (width + 15) & ~15;
}

/// <summary>A 64-byte aligned, pinned float buffer laid out as <see cref="FmLayout"/> says.</summary>
internal sealed class AlignedTable
{
    private readonly float[] _buffer;
    private readonly int _offset;

    public AlignedTable(int numFeatures, int embeddingSize, int order = 2)
    {
        NumFeatures = numFeatures;
        EmbeddingSize = embeddingSize;
        Order = order;
        Stride = FmLayout.RowStride(embeddingSize, order);
        long length = ((long)numFeatures + 1) * Stride + FmLayout.TablePadding;
        if (length + 16 > Array.MaxLength)
        {
            throw new ArgumentException(
                $"A model of {numFeatures:N0} features with k = {embeddingSize}{(order == 3 ? " and order 3" : string.Empty)} needs {length:N0} floats, more than one .NET array holds ({Array.MaxLength:N0}).");
        }

        // Pinned so the alignment holds for the table's life; the Pinned Object Heap never moves it.
        _buffer = GC.AllocateArray<float>((int)length + 16, pinned: true);
        unsafe
        {
            nuint address = (nuint)Unsafe.AsPointer(ref _buffer[0]);
            _offset = (int)(((64 - (address & 63)) & 63) / sizeof(float));
        }

        Length = (int)length;
    }

    public int NumFeatures { get; }
    public int EmbeddingSize { get; }

    /// <summary>2, or 3 when each row also holds order-3 factors from <see cref="FmLayout.Order3Offset"/>.</summary>
    public int Order { get; }
    public int Stride { get; }
    public int Length { get; }

    /// <summary>The whole table, the zero row and the end padding included.</summary>
    public Span<float> Span => _buffer.AsSpan(_offset, Length);

    public Span<float> Row(int feature) => _buffer.AsSpan(_offset + feature * Stride, Stride);

    public ref float Weight(int feature) => ref _buffer[_offset + feature * Stride + EmbeddingSize];

    public Span<float> Factors(int feature) => _buffer.AsSpan(_offset + feature * Stride, EmbeddingSize);

    /// <summary>The order-3 factors of a feature (order-3 tables only).</summary>
    public Span<float> Factors3(int feature) => _buffer.AsSpan(_offset + feature * Stride + FmLayout.Order3Offset(EmbeddingSize), EmbeddingSize);

    /// <summary>The prefix of a row that holds its parameters: k + 1 floats for order 2; for order 3 up to the end
    /// of the order-3 factors (the order-2 row's padding before <see cref="FmLayout.Order3Offset"/> included, zero).
    /// Every float after it is zero padding.</summary>
    public int ParameterFloats => Order == 2 ? EmbeddingSize + 1 : FmLayout.Order3Offset(EmbeddingSize) + EmbeddingSize;

    public AlignedTable Clone()
    {
        var copy = new AlignedTable(NumFeatures, EmbeddingSize, Order);
        Span.CopyTo(copy.Span);
        return copy;
    }
}
