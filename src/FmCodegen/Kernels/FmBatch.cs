using System.Runtime.CompilerServices;

namespace FmCodegen.Kernels;

/// <summary>
/// Scoring written once, generic over the kernel struct: one example, a CSR batch on the calling thread, and a
/// batch split across cores (contiguous chunks of rows, each scored by the same loop). Every public way to score
/// (Fm.Score/ScoreBatch, a generated class's Score/ScoreBatch, an <see cref="FmKernel"/> entry, the dataset scorer)
/// ends here, so they all compute the same bits.
/// </summary>
internal static class FmBatch
{
    /// <summary>Rows per chunk below which a batch stays on the calling thread (the thread hand-off costs more).</summary>
    private const int MinRowsPerChunk = 256;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float ScoreOne<TKernel>(FmModel model, ReadOnlySpan<int> indices, ReadOnlySpan<float> values)
        where TKernel : struct, IFmKernel
    {
        ArgumentNullException.ThrowIfNull(model);
        CheckEmbeddingSize<TKernel>(model);
        if (model.InstanceNormalization)
        {
            return ScoreOneNormalized<TKernel>(model, indices, values);
        }

        return model.Bias + TKernel.Interaction(FmRows.Of(model), indices, values);
    }

    /// <summary>The score of one example with xLearn's instance normalisation (the model says so).</summary>
    private static float ScoreOneNormalized<TKernel>(FmModel model, ReadOnlySpan<int> indices, ReadOnlySpan<float> values)
        where TKernel : struct, IFmKernel
    {
        if (indices.Length != values.Length)
        {
            FmErrors.ThrowLengthMismatch(indices.Length, values.Length);
        }

        return Normalized<TKernel>(FmRows.Of(model), model.Bias, indices, values);
    }

    /// <summary>Scores a CSR batch on up to <paramref name="maxThreads"/> cores (0 or less: all), with the model's
    /// scoring rule (xLearn's instance normalisation when <see cref="FmModel.InstanceNormalization"/>). Rows are
    /// independent, so the result does not depend on the thread count.</summary>
    public static unsafe void Score<TKernel>(FmModel model, ReadOnlySpan<int> offsets, ReadOnlySpan<int> indices, ReadOnlySpan<float> values, Span<float> output, int maxThreads)
        where TKernel : struct, IFmKernel
    {
        ArgumentNullException.ThrowIfNull(model);
        CheckEmbeddingSize<TKernel>(model);
        FmErrors.CheckBatch(offsets, indices, values, output);
        int threads = maxThreads <= 0 ? Environment.ProcessorCount : Math.Min(maxThreads, Environment.ProcessorCount);
        int rows = output.Length;
        if (threads <= 1 || rows < 2 * MinRowsPerChunk)
        {
            ScoreRows<TKernel>(model, offsets, indices, values, output);
            return;
        }

        // A few chunks per thread even out rows of uneven length; spans cannot enter a lambda, so pin them.
        int chunks = Math.Min(threads * 4, rows / MinRowsPerChunk);
        int perChunk = (rows + chunks - 1) / chunks;
        fixed (int* po = offsets)
        fixed (int* pi = indices)
        fixed (float* pv = values)
        fixed (float* pout = output)
        {
            nint o = (nint)po, i = (nint)pi, v = (nint)pv, outp = (nint)pout;
            int nnz = indices.Length;
            Parallel.For(0, chunks, new ParallelOptions { MaxDegreeOfParallelism = threads }, c =>
            {
                int start = c * perChunk;
                int end = Math.Min(rows, start + perChunk);
                if (start < end)
                {
                    ScoreRows<TKernel>(model, new ReadOnlySpan<int>((int*)o + start, end - start + 1),
                        new ReadOnlySpan<int>((int*)i, nnz), new ReadOnlySpan<float>((float*)v, nnz),
                        new Span<float>((float*)outp + start, end - start));
                }
            });
        }
    }

    /// <summary>The rows [0, output.Length) of a checked CSR batch on the calling thread.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void ScoreRows<TKernel>(FmModel model, ReadOnlySpan<int> offsets, ReadOnlySpan<int> indices, ReadOnlySpan<float> values, Span<float> output)
        where TKernel : struct, IFmKernel
    {
        FmRows rows = FmRows.Of(model);
        float bias = model.Bias;
        if (model.InstanceNormalization)
        {
            for (int r = 0; r < output.Length; r++)
            {
                int start = offsets[r];
                int count = offsets[r + 1] - start;
                output[r] = Normalized<TKernel>(rows, bias, indices.Slice(start, count), values.Slice(start, count));
            }

            return;
        }

        for (int r = 0; r < output.Length; r++)
        {
            int start = offsets[r];
            int count = offsets[r + 1] - start;
            output[r] = bias + TKernel.Interaction(rows, indices.Slice(start, count), values.Slice(start, count));
        }
    }

    /// <summary>xLearn's instance normalisation, the one place its arithmetic lives: with norm = 1 / sum_j x_j^2,
    /// y = w0 + sqrt(norm) sum_j w_j x_j + norm^2 (pairwise term); linear terms use x sqrt(norm), both sides of every
    /// factor product use x norm. An example whose values are all zero scores as the bias. The trainer's validation
    /// scores a model in training through it too.</summary>
    internal static float Normalized<TKernel>(FmRows rows, float bias, ReadOnlySpan<int> indices, ReadOnlySpan<float> values)
        where TKernel : struct, IFmKernel
    {
        float both = TKernel.Interaction(rows, indices, values);
        float squares = 0f;
        float linear = 0f;
        for (int j = 0; j < indices.Length; j++)
        {
            float x = values[j];
            squares += x * x;
            int feature = indices[j];
            linear += ((uint)feature < (uint)rows.NumFeatures ? rows.Table[(feature * rows.Stride) + rows.EmbeddingSize] : 0f) * x;
        }

        if (squares == 0f)
        {
            return bias;
        }

        float norm = 1f / squares;
        return bias + (MathF.Sqrt(norm) * linear) + (norm * norm * (both - linear));
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void CheckEmbeddingSize<TKernel>(FmModel model)
        where TKernel : struct, IFmKernel
    {
        if (TKernel.EmbeddingSize != 0 && model.EmbeddingSize != TKernel.EmbeddingSize)
        {
            FmErrors.ThrowWrongEmbeddingSize(TKernel.EmbeddingSize, model.EmbeddingSize);
        }
    }
}
