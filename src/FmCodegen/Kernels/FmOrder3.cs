using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace FmCodegen.Kernels;

/// <summary>
/// An order-3 FM kernel as a type (the counterpart of <see cref="IFmKernel"/> for models of
/// <see cref="FmModel.Order"/> 3): static members only, so loops written once over it are compiled per kernel with
/// direct calls. <c>[FmKernel(k, MaxOrder = 3)]</c> emits one (the class's nested <c>Order3Kernel</c> struct); the
/// library has two runtime-k ones. Its rows are order-3 rows (<see cref="FmRows.Order"/> 3).
/// </summary>
/// <remarks>
/// The order of the sums, the same on every path (so every kernel and instruction set returns the same bits): the
/// order-2 part exactly as <see cref="IFmKernel"/> (linear and pair terms, FmSumOrder), then per order-3 factor f, over
/// the nonzeros j in order with t = u_jf * x_j, tt = t * t, ttt = tt * t: partial sums p1 += t, p2 += tt, p3 += ttt
/// over the even and the odd positions, joined as even + odd; d_f = ((p1 * p1) - (3 * p2)) * p1 + (2 * p3) (no fused
/// multiply-add), added into lane f mod 16; the 16 lanes reduced by the same tree as the pairs; the result is
/// order2 + triple / 6. A model whose order-3 table is zero therefore scores exactly as its order-2 part.
/// </remarks>
public interface IFmOrder3Kernel
{
    /// <summary>The embedding size the kernel is specialised for, or 0 for a runtime-k kernel.</summary>
    static abstract int EmbeddingSize { get; }

    /// <summary>A short name for reports and benchmarks.</summary>
    static abstract string Name { get; }

    /// <summary>The instruction set the kernel uses on this machine now.</summary>
    static abstract string ActivePath { get; }

    /// <summary>The linear, pair and triple terms (no bias) of one example over an order-3 row table.</summary>
    static abstract float Interaction(FmRows rows, ReadOnlySpan<int> indices, ReadOnlySpan<float> values);

    /// <summary>As <see cref="Interaction"/> (the same bits), and writes 3k sums: s_f = sum_j v_jf x_j of the order-2
    /// table at [0, k), then of the order-3 table p1_f = sum_j u_jf x_j at [k, 2k) and p2_f = sum_j (u_jf x_j)^2 at
    /// [2k, 3k): a trainer's gradients are x_a (s_f - v_af x_a) and x_a ((p1_f^2 - p2_f) / 2 - u p1_f + u^2), u = u_af x_a.</summary>
    static abstract float InteractionWithSums(FmRows rows, ReadOnlySpan<int> indices, ReadOnlySpan<float> values, Span<float> sums);
}

/// <summary>A computation generic over the order-3 kernel: <see cref="FmOrder3Kernel.Accept{TResult}"/> calls
/// <see cref="Visit{TKernel}"/> with the entry's kernel struct (how the trainer runs order 3).</summary>
public interface IFmOrder3KernelVisitor<out TResult>
{
    TResult Visit<TKernel>()
        where TKernel : struct, IFmOrder3Kernel;
}

/// <summary>The registry's entry for one <see cref="IFmOrder3Kernel"/> struct (<see cref="FmOrder3Kernel{TKernel}"/>
/// is the only implementation); stateless and thread-safe.</summary>
public abstract class FmOrder3Kernel
{
    private protected FmOrder3Kernel()
    {
    }

    /// <summary>The embedding size this kernel is specialised for, or 0 for a runtime-k kernel.</summary>
    public abstract int EmbeddingSize { get; }

    /// <summary>A short name for reports and benchmarks.</summary>
    public abstract string Name { get; }

    /// <summary>The instruction set the kernel uses on this machine now.</summary>
    public abstract string Path { get; }

    /// <summary>The linear, pair and triple terms (no bias) of one example over order-3 rows.</summary>
    public abstract float Interaction(FmRows rows, ReadOnlySpan<int> indices, ReadOnlySpan<float> values);

    /// <summary>As <see cref="Interaction"/>, and writes the 3k sums of <see cref="IFmOrder3Kernel.InteractionWithSums"/>.</summary>
    public abstract float InteractionWithSums(FmRows rows, ReadOnlySpan<int> indices, ReadOnlySpan<float> values, Span<float> sums);

    /// <summary>The raw score of one example under a model (an order-2 model is scored by its order-2 kernel).</summary>
    public abstract float Score(FmModel model, ReadOnlySpan<int> indices, ReadOnlySpan<float> values);

    /// <summary>Scores a CSR batch (see <see cref="FmKernel.ScoreBatch"/>).</summary>
    public abstract void ScoreBatch(FmModel model, ReadOnlySpan<int> offsets, ReadOnlySpan<int> indices, ReadOnlySpan<float> values, Span<float> output, int maxThreads = 1);

    /// <summary>Calls <paramref name="visitor"/> with this entry's kernel struct.</summary>
    public abstract TResult Accept<TResult>(IFmOrder3KernelVisitor<TResult> visitor);

    public override string ToString() => $"{Name} ({Path})";
}

/// <summary>The registry entry of order-3 kernel struct <typeparamref name="TKernel"/>.</summary>
public sealed class FmOrder3Kernel<TKernel> : FmOrder3Kernel
    where TKernel : struct, IFmOrder3Kernel
{
    private FmOrder3Kernel()
    {
    }

    /// <summary>The one entry of this kernel.</summary>
    public static FmOrder3Kernel<TKernel> Instance { get; } = new();

    public override int EmbeddingSize => TKernel.EmbeddingSize;

    public override string Name => TKernel.Name;

    public override string Path => TKernel.ActivePath;

    public override float Interaction(FmRows rows, ReadOnlySpan<int> indices, ReadOnlySpan<float> values) =>
        TKernel.Interaction(rows, indices, values);

    public override float InteractionWithSums(FmRows rows, ReadOnlySpan<int> indices, ReadOnlySpan<float> values, Span<float> sums) =>
        TKernel.InteractionWithSums(rows, indices, values, sums);

    public override float Score(FmModel model, ReadOnlySpan<int> indices, ReadOnlySpan<float> values)
    {
        ArgumentNullException.ThrowIfNull(model);
        return model.Order == 2
            ? FmKernels.For(model.EmbeddingSize).Score(model, indices, values)
            : FmBatch.ScoreOne<Order3Adapter<TKernel>>(model, indices, values);
    }

    public override void ScoreBatch(FmModel model, ReadOnlySpan<int> offsets, ReadOnlySpan<int> indices, ReadOnlySpan<float> values, Span<float> output, int maxThreads = 1)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (model.Order == 2)
        {
            FmKernels.For(model.EmbeddingSize).ScoreBatch(model, offsets, indices, values, output, maxThreads);
            return;
        }

        FmBatch.Score<Order3Adapter<TKernel>>(model, offsets, indices, values, output, maxThreads);
    }

    public override TResult Accept<TResult>(IFmOrder3KernelVisitor<TResult> visitor)
    {
        ArgumentNullException.ThrowIfNull(visitor);
        return visitor.Visit<TKernel>();
    }
}

/// <summary>The order-3 kernels this process has: generated ones (<c>[FmKernel(k, MaxOrder = 3)]</c>, the library's
/// own for k = 4, 8, 16, 32 and any a consumer declares; each registers itself at module load) and the runtime-k ones.</summary>
public static class FmOrder3Kernels
{
    private static readonly FmOrder3Kernel?[] s_generated = new FmOrder3Kernel?[FmModel.MaxEmbeddingSize + 1];

    /// <summary>The runtime-k SIMD order-3 kernel.</summary>
    public static FmOrder3Kernel RuntimeSimd => FmOrder3Kernel<RuntimeOrder3SimdKernel>.Instance;

    /// <summary>The runtime-k scalar order-3 kernel (the definition of the sum order in plain loops).</summary>
    public static FmOrder3Kernel RuntimeScalar => FmOrder3Kernel<RuntimeOrder3ScalarKernel>.Instance;

    /// <summary>Registers a fixed-k order-3 kernel struct (generated code calls this at module load); a later
    /// registration for the same k replaces an earlier one.</summary>
    public static void Register<TKernel>()
        where TKernel : struct, IFmOrder3Kernel
    {
        _ = FmSimd.MaxBits;
        int k = TKernel.EmbeddingSize;
        if (k < 1 || k >= s_generated.Length)
        {
            throw new ArgumentOutOfRangeException(nameof(TKernel), k, $"Generated kernels have an embedding size from 1 to {FmModel.MaxEmbeddingSize}.");
        }

        Volatile.Write(ref s_generated[k], FmOrder3Kernel<TKernel>.Instance);
    }

    /// <summary>The generated order-3 kernel for k, or null when none is registered.</summary>
    public static FmOrder3Kernel? Generated(int embeddingSize) =>
        (uint)embeddingSize < (uint)s_generated.Length ? Volatile.Read(ref s_generated[embeddingSize]) : null;

    /// <summary>The best order-3 kernel for k: the generated one when registered, else <see cref="RuntimeSimd"/>.</summary>
    public static FmOrder3Kernel For(int embeddingSize) => Generated(embeddingSize) ?? RuntimeSimd;

    /// <summary>Every registered generated order-3 kernel, by k.</summary>
    public static IReadOnlyList<FmOrder3Kernel> All => s_generated.OfType<FmOrder3Kernel>().ToList();
}

/// <summary>An order-3 kernel seen as an <see cref="IFmKernel"/> over order-3 rows, so the loops written once over
/// IFmKernel (batch scoring, the trainer's epochs and validation) run order 3 unchanged: Interaction is the full
/// order-3 interaction, InteractionWithSums writes the 3k sums.</summary>
internal readonly struct Order3Adapter<TKernel> : IFmKernel
    where TKernel : struct, IFmOrder3Kernel
{
    public static int EmbeddingSize => TKernel.EmbeddingSize;

    public static string Name => TKernel.Name;

    public static string ActivePath => TKernel.ActivePath;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Interaction(FmRows rows, ReadOnlySpan<int> indices, ReadOnlySpan<float> values) =>
        TKernel.Interaction(rows, indices, values);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float InteractionWithSums(FmRows rows, ReadOnlySpan<int> indices, ReadOnlySpan<float> values, Span<float> sums) =>
        TKernel.InteractionWithSums(rows, indices, values, sums);

    /// <summary>DeepFM's FM layer is a pair term only.</summary>
    public static float CrossTerm(ReadOnlySpan<float> embeddings, int embeddingSize) =>
        FmKernels.For(embeddingSize).CrossTerm(embeddings, embeddingSize);
}

/// <summary>The order-3 sum order of <see cref="IFmOrder3Kernel"/> as plain scalar code: the definition the
/// generated and runtime kernels reproduce bit for bit.</summary>
internal static class FmSumOrder3
{
    /// <summary>The order-2 part, then the triple term; writes 3k sums unless <paramref name="sums"/> is empty.</summary>
    public static float Sparse(FmRows rows, ReadOnlySpan<int> indices, ReadOnlySpan<float> values, Span<float> sums)
    {
        CheckRows(rows);
        int k = rows.EmbeddingSize;
        float order2 = FmSumOrder.Sparse(rows, indices, values, sums.IsEmpty ? default : sums[..k]);
        return order2 + (Triples(rows, indices, values, sums) / 6f);
    }

    /// <summary>sum_f (p1^3 - 3 p1 p2 + 2 p3) over the order-3 table (6 times the triple term); writes p1 and p2 at
    /// [k, 2k) and [2k, 3k) of <paramref name="sums"/> unless it is empty.</summary>
    public static float Triples(FmRows rows, ReadOnlySpan<int> indices, ReadOnlySpan<float> values, Span<float> sums)
    {
        int k = rows.EmbeddingSize;
        int stride = rows.Stride;
        int third = FmLayout.Order3Offset(k);
        ReadOnlySpan<float> table = rows.Table;
        int n = indices.Length;
        Span<float> lanes = stackalloc float[FmSumOrder.Lanes];
        lanes.Clear();
        for (int f = 0; f < k; f++)
        {
            float p1Even = 0f, p2Even = 0f, p3Even = 0f, p1Odd = 0f, p2Odd = 0f, p3Odd = 0f;
            for (int j = 0; j < n; j++)
            {
                float t = table[(Math.Min(indices[j], rows.NumFeatures) * stride) + third + f] * values[j];
                float tt = t * t;
                float ttt = tt * t;
                if ((j & 1) == 0)
                {
                    p1Even += t;
                    p2Even += tt;
                    p3Even += ttt;
                }
                else
                {
                    p1Odd += t;
                    p2Odd += tt;
                    p3Odd += ttt;
                }
            }

            float p1 = p1Even + p1Odd, p2 = p2Even + p2Odd, p3 = p3Even + p3Odd;
            if (!sums.IsEmpty)
            {
                sums[k + f] = p1;
                sums[(2 * k) + f] = p2;
            }

            lanes[f % FmSumOrder.Lanes] += (((p1 * p1) - (3f * p2)) * p1) + (2f * p3);
        }

        return FmSumOrder.Reduce(lanes);
    }

    public static void CheckRows(FmRows rows)
    {
        if (rows.Order != 3)
        {
            throw new ArgumentException($"An order-3 kernel reads order-3 rows; these rows have order {rows.Order}.", nameof(rows));
        }
    }

    public static void CheckSums(FmRows rows, Span<float> sums)
    {
        if (sums.Length < 3 * rows.EmbeddingSize)
        {
            throw new ArgumentException($"sums must hold at least 3k = {3 * rows.EmbeddingSize} values (s, p1, p2); it holds {sums.Length}.", nameof(sums));
        }
    }
}

/// <summary>The order-3 sum order in plain scalar loops.</summary>
internal readonly struct RuntimeOrder3ScalarKernel : IFmOrder3Kernel
{
    public static int EmbeddingSize => 0;

    public static string Name => "runtime-k scalar order 3";

    public static string ActivePath => "Scalar";

    public static float Interaction(FmRows rows, ReadOnlySpan<int> indices, ReadOnlySpan<float> values) =>
        FmSumOrder3.Sparse(rows, indices, values, default);

    public static float InteractionWithSums(FmRows rows, ReadOnlySpan<int> indices, ReadOnlySpan<float> values, Span<float> sums)
    {
        FmSumOrder3.CheckSums(rows, sums);
        return FmSumOrder3.Sparse(rows, indices, values, sums);
    }
}

/// <summary>
/// The runtime-k SIMD order-3 kernel: the order-2 part through <see cref="RuntimeSimdKernel"/> (which reads an
/// order-3 row's order-2 part as it reads an order-2 row), then the triple term one vector of factors at a time
/// (p1, p2, p3 for the even and the odd nonzeros in registers), the lanes past k masked off. Serves every k without a
/// generated order-3 kernel, with the bits of <see cref="FmSumOrder3"/>.
/// </summary>
internal readonly struct RuntimeOrder3SimdKernel : IFmOrder3Kernel
{
    public static int EmbeddingSize => 0;

    public static string Name => "runtime-k SIMD order 3";

    public static string ActivePath => RuntimeSimdKernel.ActivePath;

    public static float Interaction(FmRows rows, ReadOnlySpan<int> indices, ReadOnlySpan<float> values)
    {
        FmSumOrder3.CheckRows(rows);
        float order2 = RuntimeSimdKernel.Compute(rows, indices, values, default);
        return order2 + (Triples(rows, indices, values, default) / 6f);
    }

    public static float InteractionWithSums(FmRows rows, ReadOnlySpan<int> indices, ReadOnlySpan<float> values, Span<float> sums)
    {
        FmSumOrder3.CheckRows(rows);
        FmSumOrder3.CheckSums(rows, sums);
        float order2 = RuntimeSimdKernel.Compute(rows, indices, values, sums[..rows.EmbeddingSize]);
        return order2 + (Triples(rows, indices, values, sums) / 6f);
    }

    // the order-2 pass has checked the example (lengths, negative indices) before this runs
    private static float Triples(FmRows rows, ReadOnlySpan<int> indices, ReadOnlySpan<float> values, Span<float> sums)
    {
        if (Vector256.IsHardwareAccelerated && FmSimd.MaxBits >= 256)
        {
            return Triples256(rows, indices, values, sums);
        }

        if (Vector128.IsHardwareAccelerated && FmSimd.MaxBits >= 128)
        {
            return Triples128(rows, indices, values, sums);
        }

        return FmSumOrder3.Triples(rows, indices, values, sums);
    }

    [SkipLocalsInit]
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Triples256(FmRows rows, ReadOnlySpan<int> indices, ReadOnlySpan<float> values, Span<float> sums)
    {
        int k = rows.EmbeddingSize;
        nuint stride = (uint)rows.Stride;
        uint unseen = (uint)rows.NumFeatures;
        ref float table = ref Unsafe.Add(ref MemoryMarshal.GetReference(rows.Table), FmLayout.Order3Offset(k));
        ref int ip = ref MemoryMarshal.GetReference(indices);
        ref float vp = ref MemoryMarshal.GetReference(values);
        int n = indices.Length;
        Vector256<float> lanesLow = default, lanesHigh = default;
        Vector256<float> three = Vector256.Create(3f), two = Vector256.Create(2f);

        // an 8-float load from an order-3 factor start stays inside the table: the order-3 factors end at most
        // 16 floats before the next row's, and the table ends with 16 floats of padding; lanes past k are masked
        for (int f = 0; f < k; f += 8)
        {
            Vector256<float> a = default, b = default, c = default, ab = default, bb = default, cb = default;
            int j = 0;
            for (; j + 1 < n; j += 2)
            {
                Vector256<float> t = Vector256.LoadUnsafe(ref Unsafe.Add(ref table, (Math.Min((uint)Unsafe.Add(ref ip, j), unseen) * stride) + (nuint)f)) * Vector256.Create(Unsafe.Add(ref vp, j));
                Vector256<float> tb = Vector256.LoadUnsafe(ref Unsafe.Add(ref table, (Math.Min((uint)Unsafe.Add(ref ip, j + 1), unseen) * stride) + (nuint)f)) * Vector256.Create(Unsafe.Add(ref vp, j + 1));
                Vector256<float> tt = t * t, ttb = tb * tb;
                a += t;
                b += tt;
                c += tt * t;
                ab += tb;
                bb += ttb;
                cb += ttb * tb;
            }

            if (j < n)
            {
                Vector256<float> t = Vector256.LoadUnsafe(ref Unsafe.Add(ref table, (Math.Min((uint)Unsafe.Add(ref ip, j), unseen) * stride) + (nuint)f)) * Vector256.Create(Unsafe.Add(ref vp, j));
                Vector256<float> tt = t * t;
                a += t;
                b += tt;
                c += tt * t;
            }

            Vector256<float> p1 = a + ab, p2 = b + bb, p3 = c + cb;
            Vector256<float> d = (((p1 * p1) - (p2 * three)) * p1) + (p3 * two);
            int live = k - f;
            if (live < 8)
            {
                d &= Vector256.LessThan(Vector256<int>.Indices, Vector256.Create(live)).AsSingle();
            }

            if ((f & 8) == 0)
            {
                lanesLow += d;
            }
            else
            {
                lanesHigh += d;
            }

            if (!sums.IsEmpty)
            {
                for (int lane = 0; lane < Math.Min(live, 8); lane++)
                {
                    sums[k + f + lane] = p1.GetElement(lane);
                    sums[(2 * k) + f + lane] = p2.GetElement(lane);
                }
            }
        }

        return FmSumOrder.Reduce(lanesLow, lanesHigh);
    }

    [SkipLocalsInit]
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Triples128(FmRows rows, ReadOnlySpan<int> indices, ReadOnlySpan<float> values, Span<float> sums)
    {
        int k = rows.EmbeddingSize;
        nuint stride = (uint)rows.Stride;
        uint unseen = (uint)rows.NumFeatures;
        ref float table = ref Unsafe.Add(ref MemoryMarshal.GetReference(rows.Table), FmLayout.Order3Offset(k));
        ref int ip = ref MemoryMarshal.GetReference(indices);
        ref float vp = ref MemoryMarshal.GetReference(values);
        int n = indices.Length;
        Span<Vector128<float>> lanes = stackalloc Vector128<float>[4];
        lanes.Clear();
        Vector128<float> three = Vector128.Create(3f), two = Vector128.Create(2f);
        for (int f = 0; f < k; f += 4)
        {
            Vector128<float> a = default, b = default, c = default, ab = default, bb = default, cb = default;
            int j = 0;
            for (; j + 1 < n; j += 2)
            {
                Vector128<float> t = Vector128.LoadUnsafe(ref Unsafe.Add(ref table, (Math.Min((uint)Unsafe.Add(ref ip, j), unseen) * stride) + (nuint)f)) * Vector128.Create(Unsafe.Add(ref vp, j));
                Vector128<float> tb = Vector128.LoadUnsafe(ref Unsafe.Add(ref table, (Math.Min((uint)Unsafe.Add(ref ip, j + 1), unseen) * stride) + (nuint)f)) * Vector128.Create(Unsafe.Add(ref vp, j + 1));
                Vector128<float> tt = t * t, ttb = tb * tb;
                a += t;
                b += tt;
                c += tt * t;
                ab += tb;
                bb += ttb;
                cb += ttb * tb;
            }

            if (j < n)
            {
                Vector128<float> t = Vector128.LoadUnsafe(ref Unsafe.Add(ref table, (Math.Min((uint)Unsafe.Add(ref ip, j), unseen) * stride) + (nuint)f)) * Vector128.Create(Unsafe.Add(ref vp, j));
                Vector128<float> tt = t * t;
                a += t;
                b += tt;
                c += tt * t;
            }

            Vector128<float> p1 = a + ab, p2 = b + bb, p3 = c + cb;
            Vector128<float> d = (((p1 * p1) - (p2 * three)) * p1) + (p3 * two);
            int live = k - f;
            if (live < 4)
            {
                d &= Vector128.LessThan(Vector128<int>.Indices, Vector128.Create(live)).AsSingle();
            }

            lanes[(f / 4) & 3] += d;
            if (!sums.IsEmpty)
            {
                for (int lane = 0; lane < Math.Min(live, 4); lane++)
                {
                    sums[k + f + lane] = p1.GetElement(lane);
                    sums[(2 * k) + f + lane] = p2.GetElement(lane);
                }
            }
        }

        return FmSumOrder.Reduce(lanes[0], lanes[1], lanes[2], lanes[3]);
    }
}
