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
        return width <= 16 ? (int)BitOperations.RoundUpToPowerOf2((uint)width) : (width + 15) & ~15;
    }
}

/// <summary>A 64-byte aligned, pinned float buffer laid out as <see cref="FmLayout"/> says.</summary>
internal sealed class AlignedTable
{
    private readonly float[] _buffer;
    private readonly int _offset;

    public AlignedTable(int numFeatures, int embeddingSize)
    {
        NumFeatures = numFeatures;
        EmbeddingSize = embeddingSize;
        Stride = FmLayout.RowStride(embeddingSize);
        long length = ((long)numFeatures + 1) * Stride + FmLayout.TablePadding;
        if (length + 16 > Array.MaxLength)
        {
            throw new ArgumentException(
                $"A model of {numFeatures:N0} features with k = {embeddingSize} needs {length:N0} floats, more than one .NET array holds ({Array.MaxLength:N0}).");
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
    public int Stride { get; }
    public int Length { get; }

    /// <summary>The whole table, the zero row and the end padding included.</summary>
    public Span<float> Span => _buffer.AsSpan(_offset, Length);

    public Span<float> Row(int feature) => _buffer.AsSpan(_offset + feature * Stride, Stride);

    public ref float Weight(int feature) => ref _buffer[_offset + feature * Stride + EmbeddingSize];

    public Span<float> Factors(int feature) => _buffer.AsSpan(_offset + feature * Stride, EmbeddingSize);

    public AlignedTable Clone()
    {
        var copy = new AlignedTable(NumFeatures, EmbeddingSize);
        Span.CopyTo(copy.Span);
        return copy;
    }
}
