namespace FmCodegen.Kernels;

/// <summary>Batch scoring across cores: rows are split into contiguous chunks, each scored by one kernel call.</summary>
public static class FmBatch
{
    /// <summary>Rows per chunk below which a batch stays on the calling thread (the thread hand-off costs more).</summary>
    private const int MinRowsPerChunk = 256;

    /// <summary>Scores a CSR batch with <paramref name="kernel"/> on up to <paramref name="maxThreads"/> cores
    /// (0 or less: all). Rows are independent, so the result does not depend on the thread count.</summary>
    public static unsafe void Score(FmKernel kernel, FmModel model, ReadOnlySpan<int> offsets, ReadOnlySpan<int> indices, ReadOnlySpan<float> values, Span<float> output, int maxThreads)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        ArgumentNullException.ThrowIfNull(model);
        FmErrors.CheckBatch(offsets, indices, values, output);
        int threads = maxThreads <= 0 ? Environment.ProcessorCount : Math.Min(maxThreads, Environment.ProcessorCount);
        int rows = output.Length;
        if (threads <= 1 || rows < 2 * MinRowsPerChunk)
        {
            kernel.ScoreBatch(model, offsets, indices, values, output);
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
                if (start >= end)
                {
                    return;
                }

                var chunkOffsets = new ReadOnlySpan<int>((int*)o + start, end - start + 1);
                kernel.ScoreBatch(model, chunkOffsets, new ReadOnlySpan<int>((int*)i, nnz), new ReadOnlySpan<float>((float*)v, nnz), new Span<float>((float*)outp + start, end - start));
            });
        }
    }
}
