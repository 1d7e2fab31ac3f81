using System.Runtime.CompilerServices;

namespace FmCodegen.Kernels;

/// <summary>Field-aware batch scoring across cores: contiguous chunks of rows, each scored by one kernel call.</summary>
public static class FfmBatch
{
    private const int MinRowsPerChunk = 256;

    /// <summary>Scores a CSR batch with <paramref name="kernel"/> on up to <paramref name="maxThreads"/> cores (0 or
    /// less: all). Rows are independent, so the result does not depend on the thread count.</summary>
    public static void Score(FfmKernelEntry kernel, FfmModel model, ReadOnlySpan<int> offsets, ReadOnlySpan<int> fields, ReadOnlySpan<int> indices, ReadOnlySpan<float> values, Span<float> output, int maxThreads)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        ArgumentNullException.ThrowIfNull(model);
        FfmErrors.CheckBatch(offsets, fields, indices, values, output);
        int threads = maxThreads <= 0 ? Environment.ProcessorCount : Math.Min(maxThreads, Environment.ProcessorCount);
        int rows = output.Length;
        if (threads <= 1 || rows < 2 * MinRowsPerChunk)
        {
            kernel.ScoreBatch(model, offsets, fields, indices, values, output);
            return;
        }

        ScoreInParallel(kernel, model, offsets, fields, indices, values, output, threads);
    }

    /// <summary>The chunks of a batch on <paramref name="threads"/> cores: a method of its own, so that a run on one
    /// thread never loads the parallel library (its precompiled code would load it at the first call).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static unsafe void ScoreInParallel(FfmKernelEntry kernel, FfmModel model, ReadOnlySpan<int> offsets, ReadOnlySpan<int> fields, ReadOnlySpan<int> indices, ReadOnlySpan<float> values, Span<float> output, int threads)
    {
        int rows = output.Length;
        int chunks = Math.Min(threads * 4, rows / MinRowsPerChunk);
        int perChunk = (rows + chunks - 1) / chunks;
        fixed (int* po = offsets)
        fixed (int* pf = fields)
        fixed (int* pi = indices)
        fixed (float* pv = values)
        fixed (float* pout = output)
        {
            nint o = (nint)po, fi = (nint)pf, i = (nint)pi, v = (nint)pv, outp = (nint)pout;
            Parallel.For(0, chunks, new ParallelOptions { MaxDegreeOfParallelism = threads }, c =>
            {
                int start = c * perChunk;
                int end = Math.Min(rows, start + perChunk);
                if (start >= end)
                {
                    return;
                }

                // a chunk's offsets are absolute: the kernel slices the whole arrays
                var chunkOffsets = new ReadOnlySpan<int>((int*)o + start, end - start + 1);
                int first = chunkOffsets[0];
                int last = chunkOffsets[^1];
                Span<int> rebased = new int[chunkOffsets.Length];
                for (int r = 0; r < rebased.Length; r++)
                {
                    rebased[r] = chunkOffsets[r] - first;
                }

                kernel.ScoreBatch(model, rebased,
                    new ReadOnlySpan<int>((int*)fi + first, last - first), new ReadOnlySpan<int>((int*)i + first, last - first),
                    new ReadOnlySpan<float>((float*)v + first, last - first), new Span<float>((float*)outp + start, end - start));
            });
        }
    }
}
