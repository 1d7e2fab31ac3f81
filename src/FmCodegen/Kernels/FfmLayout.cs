using System.Runtime.CompilerServices;

namespace FmCodegen.Kernels;

/// <summary>
/// The layout field-aware kernels read: feature j's row holds one block per field, each of
/// <see cref="FieldStride"/> floats (k factors, then zeros), so a pair (a, b) reads block f_b of row j_a and block
/// f_a of row j_b, each an aligned run of whole vectors. The row after the last feature is all zeros.
/// </summary>
public static class FfmLayout
{
    /// <summary>The largest embedding size a field-aware model may have.</summary>
    public const int MaxEmbeddingSize = FmLimits.MaxEmbeddingSize;

    /// <summary>Floats of zero padding after the last row.</summary>
    public const int TablePadding = 16;

    /// <summary>
    /// Floats per field block for embedding size k: 4 up to k = 4, 8 up to k = 8, else k rounded up to 16 (one
    /// cache line). Each block is then whole Vector128/256/512 loads with no tail; the generator computes the same.
    /// </summary>
    public static int FieldStride(int embeddingSize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(embeddingSize, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(embeddingSize, MaxEmbeddingSize);
        return embeddingSize <= 4 ? 4 : embeddingSize <= 8 ? 8 : (embeddingSize + 15) & ~15;
    }
}

/// <summary>A 64-byte aligned, pinned float table of FFM rows (optionally with AdaGrad sums after each block); from
/// 512 KB on Linux 2 MB aligned and advised for huge pages (<see cref="Data.LargeArrays.HugePageAligned"/>).</summary>
internal sealed class FfmTable
{
    private readonly float[] _buffer;
    private readonly int _offset;

    // blockFloats: floats per field block; 0 means FieldStride (a model), 2 x FieldStride when training keeps each
    // block's AdaGrad sums right after its weights.
    public FfmTable(int numFeatures, int numFields, int embeddingSize, int blockFloats = 0)
    {
        NumFeatures = numFeatures;
        NumFields = numFields;
        EmbeddingSize = embeddingSize;
        FieldStride = FfmLayout.FieldStride(embeddingSize);
        BlockStride = blockFloats == 0 ? FieldStride : blockFloats;
        long rowStride = (long)numFields * BlockStride;
        long length = ((long)numFeatures + 1) * rowStride + FfmLayout.TablePadding;
        if (rowStride > int.MaxValue || length + 16 > Array.MaxLength)
        {
            throw new ArgumentException(
                $"A field-aware model of {numFeatures:N0} features x {numFields:N0} fields x k = {embeddingSize} needs {length:N0} floats, more than one .NET array holds ({Array.MaxLength:N0}); hash the features into fewer buckets.");
        }

        RowStride = (int)rowStride;
        if (Data.LargeArrays.HugePageAligned(length + 16, out int hugeOffset) is { } huge)
        {
            // a table of 512 KB or more: on a 2 MB boundary, advised for huge pages, zeroed here (its memory is new)
            _buffer = huge;
            _offset = hugeOffset;
            _buffer.AsSpan(_offset, (int)length + 16).Clear();
        }
        else
        {
            _buffer = GC.AllocateArray<float>((int)length + 16, pinned: true);
            unsafe
            {
                nuint address = (nuint)Unsafe.AsPointer(ref _buffer[0]);
                _offset = (int)(((64 - (address & 63)) & 63) / sizeof(float));
            }
        }

        Length = (int)length;
    }

    public int NumFeatures { get; }
    public int NumFields { get; }
    public int EmbeddingSize { get; }
    public int FieldStride { get; }
    public int BlockStride { get; }
    public int RowStride { get; }
    public int Length { get; }

    public Span<float> Span => _buffer.AsSpan(_offset, Length);

    public ref float Origin => ref _buffer[_offset];

    /// <summary>The k factors of (feature, field).</summary>
    public Span<float> Block(int feature, int field) =>
        _buffer.AsSpan(_offset + feature * RowStride + field * BlockStride, EmbeddingSize);

    /// <summary>The whole block of (feature, field), padding (and any AdaGrad sums) included.</summary>
    public Span<float> WholeBlock(int feature, int field) =>
        _buffer.AsSpan(_offset + feature * RowStride + field * BlockStride, BlockStride);

    /// <summary>Zeros every padding lane, the zero row and the end padding.</summary>
    public void ClearPadding()
    {
        int k = EmbeddingSize;
        if (k < FieldStride)
        {
            for (int j = 0; j < NumFeatures; j++)
            {
                for (int f = 0; f < NumFields; f++)
                {
                    WholeBlock(j, f)[k..FieldStride].Clear();
                }
            }
        }

        Span[(NumFeatures * RowStride)..].Clear();
    }
}
