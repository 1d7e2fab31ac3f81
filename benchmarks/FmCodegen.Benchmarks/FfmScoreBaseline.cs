using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using FmCodegen.Kernels;

namespace FmCodegen.Benchmarks;

/// <summary>
/// The one-example score path as the library had it at commit c751e32, kept here so that one benchmark run measures
/// before and after on the same machine load: three stackalloc'd spans per call (each with its stack probe and the
/// frame's security cookie), a scalar compaction pass that copies row offsets, block offsets and values, the pair
/// sum (for k = 4 the 256-bit two-row kernel <see cref="FfmPairs.PairSumTwoRows4"/>, which the generated kernels
/// used then; other k through the kernel struct, whose pair sum is unchanged), then the scales. It returns the same
/// bits as <see cref="Ffm.Score"/> (checked in the benchmark's setup); it is not used by the library.
/// </summary>
internal static class FfmScoreBaseline
{
    [SkipLocalsInit]
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static float Score<TKernel>(FfmModel model, float[] weightsWithZero, ReadOnlySpan<int> fields, ReadOnlySpan<int> indices, ReadOnlySpan<float> values)
        where TKernel : struct, IFfmKernel
    {
        ArgumentNullException.ThrowIfNull(model);
        if (model.EmbeddingSize != TKernel.EmbeddingSize)
        {
            throw new ArgumentException("k", nameof(model));
        }

        int n = indices.Length;
        if (values.Length != n || fields.Length != n || n > 128)
        {
            throw new ArgumentException("lengths");
        }

        Span<int> rows = stackalloc int[n];
        Span<int> blocks = stackalloc int[n];
        Span<float> x = stackalloc float[n];
        int count = Compact(model, weightsWithZero, fields, indices, values, rows, blocks, x, out float linear, out float sumOfSquares, out int signs);
        if (signs < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(indices));
        }

        ref float table = ref MemoryMarshal.GetReference(model.RowTable);
        float pairs = count < 2 ? 0f
            : TKernel.EmbeddingSize == 4 ? FfmPairs.PairSumTwoRows4(ref table, ref MemoryMarshal.GetReference(rows), ref MemoryMarshal.GetReference(blocks), ref MemoryMarshal.GetReference(x), count, 4)
            : TKernel.PairSum(ref table, ref MemoryMarshal.GetReference(rows), ref MemoryMarshal.GetReference(blocks), ref MemoryMarshal.GetReference(x), count, model.EmbeddingSize, model.FieldStride);
        (float linearScale, float pairScale) = FfmScaling.Scales(model.Normalization, sumOfSquares);
        return (model.Bias + (linearScale * linear)) + (pairScale * pairs);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Compact(FfmModel model, ReadOnlySpan<float> weights, ReadOnlySpan<int> fields, ReadOnlySpan<int> indices, ReadOnlySpan<float> values,
        Span<int> rows, Span<int> blocks, Span<float> x, out float linear, out float sumOfSquares, out int signs)
    {
        int numFeatures = model.NumFeatures, numFields = model.NumFields, rowStride = model.RowStride, blockStride = model.FieldStride;
        int n = indices.Length;
        if (fields.Length < n || values.Length < n || rows.Length < n || blocks.Length < n || x.Length < n || weights.Length < numFeatures)
        {
            throw new ArgumentException("lengths");
        }

        ref int fieldAt = ref MemoryMarshal.GetReference(fields);
        ref int indexAt = ref MemoryMarshal.GetReference(indices);
        ref float valueAt = ref MemoryMarshal.GetReference(values);
        ref float weightAt = ref MemoryMarshal.GetReference(weights);
        ref int rowAt = ref MemoryMarshal.GetReference(rows);
        ref int blockAt = ref MemoryMarshal.GetReference(blocks);
        ref float xAt = ref MemoryMarshal.GetReference(x);
        float lin = 0f, squares = 0f;
        int count = 0, any = 0;
        for (int a = 0; a < n; a++)
        {
            float v = Unsafe.Add(ref valueAt, a);
            squares += v * v;
            int j = Unsafe.Add(ref indexAt, a), f = Unsafe.Add(ref fieldAt, a);
            any |= j | f;
            if ((uint)j < (uint)numFeatures && (uint)f < (uint)numFields)
            {
                lin += Unsafe.Add(ref weightAt, j) * v;
                Unsafe.Add(ref rowAt, count) = j * rowStride;
                Unsafe.Add(ref blockAt, count) = f * blockStride;
                Unsafe.Add(ref xAt, count) = v;
                count++;
            }
        }

        linear = lin;
        sumOfSquares = squares;
        signs = any;
        return count;
    }
}
