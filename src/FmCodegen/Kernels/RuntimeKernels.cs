using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace FmCodegen.Kernels;

/// <summary>The O(kn) identity with plain loops: the baseline the SIMD kernels are measured against.</summary>
internal readonly struct RuntimeScalarKernel : IFmKernel
{
    public static int EmbeddingSize => 0;
    public static string Name => "runtime-k scalar";
    public static string ActivePath => "Scalar";

    public static float Interaction(FmRows rows, ReadOnlySpan<int> indices, ReadOnlySpan<float> values) =>
        Compute(rows, indices, values, default);

    public static float InteractionWithSums(FmRows rows, ReadOnlySpan<int> indices, ReadOnlySpan<float> values, Span<float> sums)
    {
        if (sums.Length < rows.EmbeddingSize)
        {
            FmErrors.ThrowWrongSumsLength(rows.EmbeddingSize, sums.Length);
        }

        return Compute(rows, indices, values, sums);
    }

    public static float CrossTerm(ReadOnlySpan<float> embeddings, int embeddingSize) =>
        RuntimeSimdKernel.CrossTermScalar(embeddings, embeddingSize);

    internal static float Compute(FmRows rows, ReadOnlySpan<int> indices, ReadOnlySpan<float> values, Span<float> sums)
    {
        if (indices.Length != values.Length)
        {
            FmErrors.ThrowLengthMismatch(indices.Length, values.Length);
        }

        int k = rows.EmbeddingSize;
        int stride = rows.Stride;
        ReadOnlySpan<float> table = rows.Table;
        float linear = 0f;
        float pair = 0f;
        for (int j = 0; j < indices.Length; j++)
        {
            if (indices[j] < 0)
            {
                FmErrors.ThrowNegativeIndex(indices);
            }

            int row = Math.Min(indices[j], rows.NumFeatures) * stride;
            linear += table[row + k] * values[j];
        }

        for (int f = 0; f < k; f++)
        {
            float s = 0f;
            float q = 0f;
            for (int j = 0; j < indices.Length; j++)
            {
                float t = table[(Math.Min(indices[j], rows.NumFeatures) * stride) + f] * values[j];
                s += t;
                q += t * t;
            }

            if (!sums.IsEmpty)
            {
                sums[f] = s;
            }

            pair += (s * s) - q;
        }

        return linear + (0.5f * pair);
    }
}

/// <summary>
/// The runtime-k SIMD kernel: factors in blocks of four vectors whose accumulators stay in registers, the
/// nonzeros re-read for each block (they are in L1 after the first). Serves every k without a generated kernel.
/// </summary>
internal readonly struct RuntimeSimdKernel : IFmKernel
{
    public static int EmbeddingSize => 0;
    public static string Name => "runtime-k SIMD";
    public static string ActivePath => Vector256.IsHardwareAccelerated && FmSimd.MaxBits >= 256 ? "Vector256"
        : Vector128.IsHardwareAccelerated && FmSimd.MaxBits >= 128 ? "Vector128" : "Scalar";

    public static float Interaction(FmRows rows, ReadOnlySpan<int> indices, ReadOnlySpan<float> values) =>
        Compute(rows, indices, values, default);

    public static float InteractionWithSums(FmRows rows, ReadOnlySpan<int> indices, ReadOnlySpan<float> values, Span<float> sums)
    {
        if (sums.Length < rows.EmbeddingSize)
        {
            FmErrors.ThrowWrongSumsLength(rows.EmbeddingSize, sums.Length);
        }

        return Compute(rows, indices, values, sums);
    }

    public static float CrossTerm(ReadOnlySpan<float> embeddings, int embeddingSize)
    {
        if (embeddingSize < 1 || embeddings.Length % embeddingSize != 0)
        {
            FmErrors.ThrowEmbeddingsShape(embeddings.Length, embeddingSize);
        }

        if (Vector256.IsHardwareAccelerated && FmSimd.MaxBits >= 256)
        {
            return CrossTerm256(embeddings, embeddingSize);
        }

        return CrossTermScalar(embeddings, embeddingSize);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Compute(FmRows rows, ReadOnlySpan<int> indices, ReadOnlySpan<float> values, Span<float> sums)
    {
        if (indices.Length != values.Length)
        {
            FmErrors.ThrowLengthMismatch(indices.Length, values.Length);
        }

        if (Vector256.IsHardwareAccelerated && FmSimd.MaxBits >= 256)
        {
            return Compute256(rows, indices, values, sums);
        }

        if (Vector128.IsHardwareAccelerated && FmSimd.MaxBits >= 128)
        {
            return Compute128(rows, indices, values, sums);
        }

        return RuntimeScalarKernel.Compute(rows, indices, values, sums);
    }

    [SkipLocalsInit]
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Compute256(FmRows rows, ReadOnlySpan<int> indices, ReadOnlySpan<float> values, Span<float> sums)
    {
        int k = rows.EmbeddingSize;
        nuint stride = (uint)rows.Stride;
        uint unseen = (uint)rows.NumFeatures;
        ref float table = ref MemoryMarshal.GetReference(rows.Table);
        ref int ip = ref MemoryMarshal.GetReference(indices);
        ref float vp = ref MemoryMarshal.GetReference(values);
        int n = indices.Length;
        bool keepSums = !sums.IsEmpty;

        // Linear term and the sign check first: one pass over the weights.
        int negative = 0;
        float linear = 0f;
        for (int j = 0; j < n; j++)
        {
            int index = Unsafe.Add(ref ip, j);
            negative |= index;
            linear += Unsafe.Add(ref table, (Math.Min((uint)index, unseen) * stride) + (nuint)k) * Unsafe.Add(ref vp, j);
        }

        if (negative < 0)
        {
            FmErrors.ThrowNegativeIndex(indices);
        }

        Vector256<float> pair = Vector256<float>.Zero;
        int f = 0;
        for (; f + 32 <= k; f += 32)
        {
            Vector256<float> s0 = default, s1 = default, s2 = default, s3 = default;
            Vector256<float> q0 = default, q1 = default, q2 = default, q3 = default;
            for (int j = 0; j < n; j++)
            {
                ref float row = ref Unsafe.Add(ref table, (Math.Min((uint)Unsafe.Add(ref ip, j), unseen) * stride) + (nuint)f);
                Vector256<float> x = Vector256.Create(Unsafe.Add(ref vp, j));
                Vector256<float> t0 = Vector256.LoadUnsafe(ref row) * x;
                Vector256<float> t1 = Vector256.LoadUnsafe(ref row, 8) * x;
                Vector256<float> t2 = Vector256.LoadUnsafe(ref row, 16) * x;
                Vector256<float> t3 = Vector256.LoadUnsafe(ref row, 24) * x;
                s0 += t0; q0 = Vector256.MultiplyAddEstimate(t0, t0, q0);
                s1 += t1; q1 = Vector256.MultiplyAddEstimate(t1, t1, q1);
                s2 += t2; q2 = Vector256.MultiplyAddEstimate(t2, t2, q2);
                s3 += t3; q3 = Vector256.MultiplyAddEstimate(t3, t3, q3);
            }

            pair += ((s0 * s0) - q0) + ((s1 * s1) - q1) + ((s2 * s2) - q2) + ((s3 * s3) - q3);
            if (keepSums)
            {
                s0.CopyTo(sums[f..]);
                s1.CopyTo(sums[(f + 8)..]);
                s2.CopyTo(sums[(f + 16)..]);
                s3.CopyTo(sums[(f + 24)..]);
            }
        }

        for (; f + 8 <= k; f += 8)
        {
            Vector256<float> s = default, q = default;
            for (int j = 0; j < n; j++)
            {
                ref float row = ref Unsafe.Add(ref table, (Math.Min((uint)Unsafe.Add(ref ip, j), unseen) * stride) + (nuint)f);
                Vector256<float> t = Vector256.LoadUnsafe(ref row) * Vector256.Create(Unsafe.Add(ref vp, j));
                s += t;
                q = Vector256.MultiplyAddEstimate(t, t, q);
            }

            pair += (s * s) - q;
            if (keepSums)
            {
                s.CopyTo(sums[f..]);
            }
        }

        float total = Vector256.Sum(pair);
        if (f < k)
        {
            // The last k mod 8 factors: a masked vector keeps the lanes past k (the weight, the padding) out.
            Vector256<float> s = default, q = default;
            for (int j = 0; j < n; j++)
            {
                ref float row = ref Unsafe.Add(ref table, (Math.Min((uint)Unsafe.Add(ref ip, j), unseen) * stride) + (nuint)f);
                Vector256<float> t = Vector256.LoadUnsafe(ref row) * Vector256.Create(Unsafe.Add(ref vp, j));
                s += t;
                q = Vector256.MultiplyAddEstimate(t, t, q);
            }

            Vector256<float> mask = Vector256.LessThan(Vector256<int>.Indices, Vector256.Create(k - f)).AsSingle();
            total += Vector256.Sum(((s * s) - q) & mask);
            if (keepSums)
            {
                for (int lane = 0; lane < k - f; lane++)
                {
                    sums[f + lane] = s.GetElement(lane);
                }
            }
        }

        return linear + (0.5f * total);
    }

    [SkipLocalsInit]
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Compute128(FmRows rows, ReadOnlySpan<int> indices, ReadOnlySpan<float> values, Span<float> sums)
    {
        int k = rows.EmbeddingSize;
        nuint stride = (uint)rows.Stride;
        uint unseen = (uint)rows.NumFeatures;
        ref float table = ref MemoryMarshal.GetReference(rows.Table);
        ref int ip = ref MemoryMarshal.GetReference(indices);
        ref float vp = ref MemoryMarshal.GetReference(values);
        int n = indices.Length;
        bool keepSums = !sums.IsEmpty;

        int negative = 0;
        float linear = 0f;
        for (int j = 0; j < n; j++)
        {
            int index = Unsafe.Add(ref ip, j);
            negative |= index;
            linear += Unsafe.Add(ref table, (Math.Min((uint)index, unseen) * stride) + (nuint)k) * Unsafe.Add(ref vp, j);
        }

        if (negative < 0)
        {
            FmErrors.ThrowNegativeIndex(indices);
        }

        Vector128<float> pair = Vector128<float>.Zero;
        int f = 0;
        for (; f + 16 <= k; f += 16)
        {
            Vector128<float> s0 = default, s1 = default, s2 = default, s3 = default;
            Vector128<float> q0 = default, q1 = default, q2 = default, q3 = default;
            for (int j = 0; j < n; j++)
            {
                ref float row = ref Unsafe.Add(ref table, (Math.Min((uint)Unsafe.Add(ref ip, j), unseen) * stride) + (nuint)f);
                Vector128<float> x = Vector128.Create(Unsafe.Add(ref vp, j));
                Vector128<float> t0 = Vector128.LoadUnsafe(ref row) * x;
                Vector128<float> t1 = Vector128.LoadUnsafe(ref row, 4) * x;
                Vector128<float> t2 = Vector128.LoadUnsafe(ref row, 8) * x;
                Vector128<float> t3 = Vector128.LoadUnsafe(ref row, 12) * x;
                s0 += t0; q0 = Vector128.MultiplyAddEstimate(t0, t0, q0);
                s1 += t1; q1 = Vector128.MultiplyAddEstimate(t1, t1, q1);
                s2 += t2; q2 = Vector128.MultiplyAddEstimate(t2, t2, q2);
                s3 += t3; q3 = Vector128.MultiplyAddEstimate(t3, t3, q3);
            }

            pair += ((s0 * s0) - q0) + ((s1 * s1) - q1) + ((s2 * s2) - q2) + ((s3 * s3) - q3);
            if (keepSums)
            {
                s0.CopyTo(sums[f..]);
                s1.CopyTo(sums[(f + 4)..]);
                s2.CopyTo(sums[(f + 8)..]);
                s3.CopyTo(sums[(f + 12)..]);
            }
        }

        for (; f < k; f += 4)
        {
            Vector128<float> s = default, q = default;
            for (int j = 0; j < n; j++)
            {
                ref float row = ref Unsafe.Add(ref table, (Math.Min((uint)Unsafe.Add(ref ip, j), unseen) * stride) + (nuint)f);
                Vector128<float> t = Vector128.LoadUnsafe(ref row) * Vector128.Create(Unsafe.Add(ref vp, j));
                s += t;
                q = Vector128.MultiplyAddEstimate(t, t, q);
            }

            int live = Math.Min(4, k - f);
            Vector128<float> mask = Vector128.LessThan(Vector128<int>.Indices, Vector128.Create(live)).AsSingle();
            pair += ((s * s) - q) & mask;
            if (keepSums)
            {
                for (int lane = 0; lane < live; lane++)
                {
                    sums[f + lane] = s.GetElement(lane);
                }
            }
        }

        return linear + (0.5f * Vector128.Sum(pair));
    }

    internal static float CrossTermScalar(ReadOnlySpan<float> embeddings, int embeddingSize)
    {
        if (embeddingSize < 1 || embeddings.Length % embeddingSize != 0)
        {
            FmErrors.ThrowEmbeddingsShape(embeddings.Length, embeddingSize);
        }

        int fields = embeddings.Length / embeddingSize;
        float pair = 0f;
        for (int f = 0; f < embeddingSize; f++)
        {
            float s = 0f, q = 0f;
            for (int i = 0; i < fields; i++)
            {
                float e = embeddings[(i * embeddingSize) + f];
                s += e;
                q += e * e;
            }

            pair += (s * s) - q;
        }

        return 0.5f * pair;
    }

    [SkipLocalsInit]
    private static float CrossTerm256(ReadOnlySpan<float> embeddings, int k)
    {
        int fields = embeddings.Length / k;
        ref float e = ref MemoryMarshal.GetReference(embeddings);
        Vector256<float> pair = default;
        int f = 0;
        for (; f + 8 <= k; f += 8)
        {
            Vector256<float> s = default, q = default;
            for (int i = 0; i < fields; i++)
            {
                Vector256<float> t = Vector256.LoadUnsafe(ref e, (nuint)((i * k) + f));
                s += t;
                q = Vector256.MultiplyAddEstimate(t, t, q);
            }

            pair += (s * s) - q;
        }

        float total = Vector256.Sum(pair);
        for (; f < k; f++)
        {
            float s = 0f, q = 0f;
            for (int i = 0; i < fields; i++)
            {
                float t = Unsafe.Add(ref e, (i * k) + f);
                s += t;
                q += t * t;
            }

            total += (s * s) - q;
        }

        return 0.5f * total;
    }
}
