using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace FmCodegen.Kernels;

/// <summary>
/// The one order in which every FmCodegen kernel adds, written as plain scalar code: the definition that the
/// generated kernels (every path), the runtime-k SIMD kernel and the trainer's forward pass reproduce bit for bit.
/// <list type="number">
/// <item>Per nonzero j and factor f: t = v_f * x_j (one rounding).</item>
/// <item>Per factor, two partial sums over the nonzeros in order, one over the even positions j and one over the odd:
/// s += t and q += t * t (a multiply, then an add: no fused multiply-add on any path); then s = s_even + s_odd,
/// q = q_even + q_odd.</item>
/// <item>d_f = s_f * s_f - q_f, added into lane f mod 16 in increasing f (each lane starts at +0).</item>
/// <item>The 16 lanes are reduced as a fixed tree: lane l + lane l+8, then l + l+4, then l + l+2, then lane 0 + lane 1.
/// A lane no factor reaches is +0, and adding +0 changes no lane (none ever holds -0), so paths may skip it.</item>
/// <item>The linear term as two partial sums of w * x over the even and the odd positions; the result is
/// (linear_even + linear_odd) + 0.5 * pair.</item>
/// </list>
/// Every step is an IEEE-754 single-precision add, subtract or multiply in a fixed order, so the result is the same on
/// every instruction set; a vector path only chooses how many lanes one instruction carries.
/// </summary>
internal static class FmSumOrder
{
    public const int Lanes = 16;

    /// <summary>Linear and pairwise terms of one sparse example; writes s_f into <paramref name="sums"/> unless empty.</summary>
    public static float Sparse(FmRows rows, ReadOnlySpan<int> indices, ReadOnlySpan<float> values, Span<float> sums)
    {
        CheckExample(indices, values);
        int k = rows.EmbeddingSize;
        int stride = rows.Stride;
        ReadOnlySpan<float> table = rows.Table;
        int n = indices.Length;
        float linearEven = 0f, linearOdd = 0f;
        for (int j = 0; j < n; j++)
        {
            float term = table[(Math.Min(indices[j], rows.NumFeatures) * stride) + k] * values[j];
            if ((j & 1) == 0)
            {
                linearEven += term;
            }
            else
            {
                linearOdd += term;
            }
        }

        Span<float> lanes = stackalloc float[Lanes];
        lanes.Clear();
        for (int f = 0; f < k; f++)
        {
            float sEven = 0f, qEven = 0f, sOdd = 0f, qOdd = 0f;
            for (int j = 0; j < n; j++)
            {
                float t = table[(Math.Min(indices[j], rows.NumFeatures) * stride) + f] * values[j];
                if ((j & 1) == 0)
                {
                    sEven += t;
                    qEven += t * t;
                }
                else
                {
                    sOdd += t;
                    qOdd += t * t;
                }
            }

            float s = sEven + sOdd;
            float q = qEven + qOdd;
            if (!sums.IsEmpty)
            {
                sums[f] = s;
            }

            lanes[f % Lanes] += (s * s) - q;
        }

        return (linearEven + linearOdd) + (0.5f * Reduce(lanes));
    }

    /// <summary>DeepFM's FM layer over dense [fields x k] embeddings, in the same order (fields play the nonzeros).</summary>
    public static float Dense(ReadOnlySpan<float> embeddings, int k)
    {
        if (k < 1 || embeddings.Length % k != 0)
        {
            FmErrors.ThrowEmbeddingsShape(embeddings.Length, k);
        }

        int fields = embeddings.Length / k;
        Span<float> lanes = stackalloc float[Lanes];
        lanes.Clear();
        for (int f = 0; f < k; f++)
        {
            float sEven = 0f, qEven = 0f, sOdd = 0f, qOdd = 0f;
            for (int i = 0; i < fields; i++)
            {
                float t = embeddings[(i * k) + f];
                if ((i & 1) == 0)
                {
                    sEven += t;
                    qEven += t * t;
                }
                else
                {
                    sOdd += t;
                    qOdd += t * t;
                }
            }

            float s = sEven + sOdd;
            float q = qEven + qOdd;
            lanes[f % Lanes] += (s * s) - q;
        }

        return 0.5f * Reduce(lanes);
    }

    /// <summary>The fixed tree over 16 lanes: l + (l+8), l + (l+4), l + (l+2), 0 + 1.</summary>
    public static float Reduce(Span<float> lanes)
    {
        for (int size = Lanes; size > 1; size /= 2)
        {
            for (int l = 0; l < size / 2; l++)
            {
                lanes[l] += lanes[l + (size / 2)];
            }
        }

        return lanes[0];
    }

    /// <summary>The same tree over lanes 0..7 and 8..15 in two vectors.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Reduce(Vector256<float> low, Vector256<float> high)
    {
        Vector256<float> half = low + high;
        return Reduce(half.GetLower() + half.GetUpper());
    }

    /// <summary>The same tree over lanes 0..3, 4..7, 8..11 and 12..15 in four vectors.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Reduce(Vector128<float> l0, Vector128<float> l1, Vector128<float> l2, Vector128<float> l3) =>
        Reduce((l0 + l2) + (l1 + l3));

    /// <summary>The last two levels, over lanes 0..3.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Reduce(Vector128<float> quarter) =>
        (quarter.GetElement(0) + quarter.GetElement(2)) + (quarter.GetElement(1) + quarter.GetElement(3));

    public static void CheckExample(ReadOnlySpan<int> indices, ReadOnlySpan<float> values)
    {
        if (indices.Length != values.Length)
        {
            FmErrors.ThrowLengthMismatch(indices.Length, values.Length);
        }

        foreach (int index in indices)
        {
            if (index < 0)
            {
                FmErrors.ThrowNegativeIndex(indices);
            }
        }
    }
}

/// <summary>The O(kn) identity in plain scalar loops (<see cref="FmSumOrder"/> itself): the baseline the SIMD kernels
/// are measured against, and the reference they reproduce.</summary>
internal readonly struct RuntimeScalarKernel : IFmKernel
{
    public static int EmbeddingSize => 0;

    public static string Name => "runtime-k scalar";

    public static string ActivePath => "Scalar";

    public static float Interaction(FmRows rows, ReadOnlySpan<int> indices, ReadOnlySpan<float> values) =>
        FmSumOrder.Sparse(rows, indices, values, default);

    public static float InteractionWithSums(FmRows rows, ReadOnlySpan<int> indices, ReadOnlySpan<float> values, Span<float> sums)
    {
        if (sums.Length < rows.EmbeddingSize)
        {
            FmErrors.ThrowWrongSumsLength(rows.EmbeddingSize, sums.Length);
        }

        return FmSumOrder.Sparse(rows, indices, values, sums);
    }

    public static float CrossTerm(ReadOnlySpan<float> embeddings, int embeddingSize) =>
        FmSumOrder.Dense(embeddings, embeddingSize);
}

/// <summary>
/// The runtime-k SIMD kernel: one group of 16 factors at a time (two Vector256 or four Vector128 per row, each with
/// its even and odd accumulators in registers), the nonzeros re-read for each group (they are in L1 after the
/// first); the last group's lanes past k are masked off. Serves every k without a generated kernel, with the bits of
/// <see cref="FmSumOrder"/>.
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

    /// <summary>Dense embeddings have no padding to load past k into, so the FM layer runs <see cref="FmSumOrder.Dense"/>.</summary>
    public static float CrossTerm(ReadOnlySpan<float> embeddings, int embeddingSize) =>
        FmSumOrder.Dense(embeddings, embeddingSize);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static float Compute(FmRows rows, ReadOnlySpan<int> indices, ReadOnlySpan<float> values, Span<float> sums)
    {
        if (Vector256.IsHardwareAccelerated && FmSimd.MaxBits >= 256)
        {
            return Compute256(rows, indices, values, sums);
        }

        if (Vector128.IsHardwareAccelerated && FmSimd.MaxBits >= 128)
        {
            return Compute128(rows, indices, values, sums);
        }

        return FmSumOrder.Sparse(rows, indices, values, sums);
    }

    /// <summary>Checks the example and returns the linear term as two partial sums, as <see cref="FmSumOrder"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Linear(FmRows rows, ReadOnlySpan<int> indices, ReadOnlySpan<float> values)
    {
        if (indices.Length != values.Length)
        {
            FmErrors.ThrowLengthMismatch(indices.Length, values.Length);
        }

        ref float table = ref MemoryMarshal.GetReference(rows.Table);
        nuint stride = (uint)rows.Stride;
        uint unseen = (uint)rows.NumFeatures;
        nuint k = (uint)rows.EmbeddingSize;
        int negative = 0;
        float even = 0f, odd = 0f;
        int j = 0;
        for (; j + 1 < indices.Length; j += 2)
        {
            int a = indices[j], b = indices[j + 1];
            negative |= a | b;
            even += Unsafe.Add(ref table, (Math.Min((uint)a, unseen) * stride) + k) * values[j];
            odd += Unsafe.Add(ref table, (Math.Min((uint)b, unseen) * stride) + k) * values[j + 1];
        }

        if (j < indices.Length)
        {
            negative |= indices[j];
            even += Unsafe.Add(ref table, (Math.Min((uint)indices[j], unseen) * stride) + k) * values[j];
        }

        if (negative < 0)
        {
            FmErrors.ThrowNegativeIndex(indices);
        }

        return even + odd;
    }

    [SkipLocalsInit]
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Compute256(FmRows rows, ReadOnlySpan<int> indices, ReadOnlySpan<float> values, Span<float> sums)
    {
        float linear = Linear(rows, indices, values);
        int k = rows.EmbeddingSize;
        nuint stride = (uint)rows.Stride;
        uint unseen = (uint)rows.NumFeatures;
        ref float table = ref MemoryMarshal.GetReference(rows.Table);
        ref int ip = ref MemoryMarshal.GetReference(indices);
        ref float vp = ref MemoryMarshal.GetReference(values);
        int n = indices.Length;
        Vector256<float> lanesLow = default, lanesHigh = default;

        // every 16-float load from a row start stays inside the table: rows of k >= 16 are 16-float multiples, and
        // the table ends with padding; the lanes past k (the weight, padding, the next row) are masked off below
        for (int f = 0; f < k; f += FmSumOrder.Lanes)
        {
            Vector256<float> s0 = default, q0 = default, s8 = default, q8 = default;
            Vector256<float> s0b = default, q0b = default, s8b = default, q8b = default;
            int j = 0;
            for (; j + 1 < n; j += 2)
            {
                ref float row = ref Unsafe.Add(ref table, (Math.Min((uint)Unsafe.Add(ref ip, j), unseen) * stride) + (nuint)f);
                ref float rowb = ref Unsafe.Add(ref table, (Math.Min((uint)Unsafe.Add(ref ip, j + 1), unseen) * stride) + (nuint)f);
                Vector256<float> x = Vector256.Create(Unsafe.Add(ref vp, j));
                Vector256<float> xb = Vector256.Create(Unsafe.Add(ref vp, j + 1));
                Vector256<float> t0 = Vector256.LoadUnsafe(ref row) * x;
                Vector256<float> t8 = Vector256.LoadUnsafe(ref row, 8) * x;
                Vector256<float> t0b = Vector256.LoadUnsafe(ref rowb) * xb;
                Vector256<float> t8b = Vector256.LoadUnsafe(ref rowb, 8) * xb;
                s0 += t0;
                q0 += t0 * t0;
                s8 += t8;
                q8 += t8 * t8;
                s0b += t0b;
                q0b += t0b * t0b;
                s8b += t8b;
                q8b += t8b * t8b;
            }

            if (j < n)
            {
                ref float row = ref Unsafe.Add(ref table, (Math.Min((uint)Unsafe.Add(ref ip, j), unseen) * stride) + (nuint)f);
                Vector256<float> x = Vector256.Create(Unsafe.Add(ref vp, j));
                Vector256<float> t0 = Vector256.LoadUnsafe(ref row) * x;
                Vector256<float> t8 = Vector256.LoadUnsafe(ref row, 8) * x;
                s0 += t0;
                q0 += t0 * t0;
                s8 += t8;
                q8 += t8 * t8;
            }

            s0 += s0b;
            q0 += q0b;
            s8 += s8b;
            q8 += q8b;
            int live = k - f;
            Vector256<float> d0 = (s0 * s0) - q0, d8 = (s8 * s8) - q8;
            if (live < FmSumOrder.Lanes)
            {
                d0 &= Vector256.LessThan(Vector256<int>.Indices, Vector256.Create(live)).AsSingle();
                d8 &= Vector256.LessThan(Vector256<int>.Indices, Vector256.Create(live - 8)).AsSingle();
            }

            lanesLow += d0;
            lanesHigh += d8;
            if (!sums.IsEmpty)
            {
                for (int lane = 0; lane < Math.Min(live, 8); lane++)
                {
                    sums[f + lane] = s0.GetElement(lane);
                }

                for (int lane = 8; lane < Math.Min(live, 16); lane++)
                {
                    sums[f + lane] = s8.GetElement(lane - 8);
                }
            }
        }

        return linear + (0.5f * FmSumOrder.Reduce(lanesLow, lanesHigh));
    }

    [SkipLocalsInit]
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Compute128(FmRows rows, ReadOnlySpan<int> indices, ReadOnlySpan<float> values, Span<float> sums)
    {
        float linear = Linear(rows, indices, values);
        int k = rows.EmbeddingSize;
        nuint stride = (uint)rows.Stride;
        uint unseen = (uint)rows.NumFeatures;
        ref float table = ref MemoryMarshal.GetReference(rows.Table);
        ref int ip = ref MemoryMarshal.GetReference(indices);
        ref float vp = ref MemoryMarshal.GetReference(values);
        int n = indices.Length;
        Span<Vector128<float>> lanes = stackalloc Vector128<float>[4];
        lanes.Clear();
        Span<Vector128<float>> s = stackalloc Vector128<float>[4];
        for (int f = 0; f < k; f += FmSumOrder.Lanes)
        {
            // the 16 factors as four quarters, each with its even and odd accumulators
            for (int part = 0; part < 4; part++)
            {
                Vector128<float> se = default, qe = default, so = default, qo = default;
                nuint at = (nuint)(f + (4 * part));
                int j = 0;
                for (; j + 1 < n; j += 2)
                {
                    Vector128<float> t = Vector128.LoadUnsafe(ref Unsafe.Add(ref table, (Math.Min((uint)Unsafe.Add(ref ip, j), unseen) * stride) + at)) * Vector128.Create(Unsafe.Add(ref vp, j));
                    Vector128<float> tb = Vector128.LoadUnsafe(ref Unsafe.Add(ref table, (Math.Min((uint)Unsafe.Add(ref ip, j + 1), unseen) * stride) + at)) * Vector128.Create(Unsafe.Add(ref vp, j + 1));
                    se += t;
                    qe += t * t;
                    so += tb;
                    qo += tb * tb;
                }

                if (j < n)
                {
                    Vector128<float> t = Vector128.LoadUnsafe(ref Unsafe.Add(ref table, (Math.Min((uint)Unsafe.Add(ref ip, j), unseen) * stride) + at)) * Vector128.Create(Unsafe.Add(ref vp, j));
                    se += t;
                    qe += t * t;
                }

                s[part] = se + so;
                Vector128<float> d = (s[part] * s[part]) - (qe + qo);
                int live = k - f - (4 * part);
                if (live < 4)
                {
                    d &= Vector128.LessThan(Vector128<int>.Indices, Vector128.Create(live)).AsSingle();
                }

                lanes[part] += d;
            }

            if (!sums.IsEmpty)
            {
                for (int lane = 0; lane < Math.Min(k - f, FmSumOrder.Lanes); lane++)
                {
                    sums[f + lane] = s[lane / 4].GetElement(lane % 4);
                }
            }
        }

        return linear + (0.5f * FmSumOrder.Reduce(lanes[0], lanes[1], lanes[2], lanes[3]));
    }
}
