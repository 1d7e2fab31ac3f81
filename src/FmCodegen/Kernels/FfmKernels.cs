using System.Buffers;
using System.ComponentModel;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace FmCodegen.Kernels;

/// <summary>
/// The field-aware kernels this process has: the generated fixed-k ones (the library's own for k = 4, 8, 16 and any
/// a consumer declares with <see cref="FfmKernelAttribute"/>; each registers at module load) and the runtime-k
/// kernel for every other k.
/// </summary>
public static class FfmKernels
{
    private static readonly FfmKernelEntry?[] s_generated = new FfmKernelEntry?[FfmLayout.MaxEmbeddingSize + 1];

    /// <summary>The runtime-k kernel (any k).</summary>
    public static FfmKernelEntry Runtime => Entry<RuntimeFfmKernel>();

    /// <summary>Registers a generated kernel struct; a later registration for the same k replaces an earlier one.</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public static void Register<TKernel>(string name) where TKernel : struct, IFfmKernel
    {
        _ = FmSimd.MaxBits;
        int k = TKernel.EmbeddingSize;
        if (k < 1 || k > FfmLayout.MaxEmbeddingSize)
        {
            throw new ArgumentOutOfRangeException(nameof(TKernel), k, $"Generated field-aware kernels have an embedding size from 1 to {FfmLayout.MaxEmbeddingSize}.");
        }

        Volatile.Write(ref s_generated[k], new FfmKernelEntry<TKernel>(name));
    }

    /// <summary>The entry (the library's loops specialised) for one kernel struct.</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public static FfmKernelEntry Entry<TKernel>() where TKernel : struct, IFfmKernel => EntryCache<TKernel>.Instance;

    private static class EntryCache<TKernel> where TKernel : struct, IFfmKernel
    {
        public static readonly FfmKernelEntry Instance = new FfmKernelEntry<TKernel>(
            TKernel.EmbeddingSize == 0 ? "runtime-k" : $"generated k={TKernel.EmbeddingSize}");
    }

    /// <summary>The generated kernel for k, or null when none is registered.</summary>
    public static FfmKernelEntry? Generated(int embeddingSize) =>
        (uint)embeddingSize < (uint)s_generated.Length ? Volatile.Read(ref s_generated[embeddingSize]) : null;

    /// <summary>The best kernel for k: the generated one when registered, else <see cref="Runtime"/>.</summary>
    public static FfmKernelEntry For(int embeddingSize) => Generated(embeddingSize) ?? Runtime;

    /// <summary>Every registered generated kernel, by k.</summary>
    public static IReadOnlyList<FfmKernelEntry> All => s_generated.Where(e => e is not null).Select(e => e!).ToList();
}

/// <summary>
/// A registry entry: the loops written once in <see cref="FfmCore"/>, specialised for one kernel struct.
/// Every entry returns the same bits for the same model and example.
/// </summary>
public abstract class FfmKernelEntry
{
    private protected FfmKernelEntry(string name) => Name = name;

    /// <summary>A short name, e.g. "generated k=4" or "runtime-k".</summary>
    public string Name { get; }

    /// <summary>The k of the kernel, 0 for the runtime-k kernel.</summary>
    public abstract int EmbeddingSize { get; }

    /// <summary>The instruction set the kernel uses on this machine.</summary>
    public abstract string ActivePath { get; }

    /// <summary>The raw score of one example.</summary>
    public abstract float Score(FfmModel model, ReadOnlySpan<int> fields, ReadOnlySpan<int> indices, ReadOnlySpan<float> values);

    /// <summary>Scores rows [0, output.Length) of a CSR batch on the calling thread.</summary>
    public abstract void ScoreBatch(FfmModel model, ReadOnlySpan<int> offsets, ReadOnlySpan<int> fields, ReadOnlySpan<int> indices, ReadOnlySpan<float> values, Span<float> output);

    /// <summary>Calls <paramref name="visitor"/> with this entry's kernel struct, so a loop compiled for that kernel
    /// runs (the trainer works this way: one visitor, any kernel; the shape of <see cref="IFmKernelVisitor{TResult}"/>).</summary>
    public abstract TResult Accept<TResult>(IFfmKernelVisitor<TResult> visitor);

    public override string ToString() => $"{Name} ({ActivePath})";
}

/// <summary>A computation generic over the field-aware kernel struct; see <see cref="FfmKernelEntry.Accept{TResult}"/>.</summary>
public interface IFfmKernelVisitor<out TResult>
{
    TResult Visit<TKernel>()
        where TKernel : struct, IFfmKernel;
}

internal sealed class FfmKernelEntry<TKernel>(string name) : FfmKernelEntry(name) where TKernel : struct, IFfmKernel
{
    public override int EmbeddingSize => TKernel.EmbeddingSize;

    public override string ActivePath => TKernel.ActivePath;

    public override float Score(FfmModel model, ReadOnlySpan<int> fields, ReadOnlySpan<int> indices, ReadOnlySpan<float> values) =>
        FfmCore.Score<TKernel>(model, fields, indices, values);

    public override void ScoreBatch(FfmModel model, ReadOnlySpan<int> offsets, ReadOnlySpan<int> fields, ReadOnlySpan<int> indices, ReadOnlySpan<float> values, Span<float> output) =>
        FfmCore.ScoreBatch<TKernel>(model, offsets, fields, indices, values, output);

    public override TResult Accept<TResult>(IFfmKernelVisitor<TResult> visitor)
    {
        ArgumentNullException.ThrowIfNull(visitor);
        return visitor.Visit<TKernel>();
    }
}

/// <summary>The loops around a kernel, written once, generic over the kernel struct.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class FfmCore
{
    /// <summary>Examples up to this many nonzeros compact on the stack.</summary>
    private const int StackNonZeros = 128;

    /// <summary>The raw score of one example through kernel <typeparamref name="TKernel"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    [SkipLocalsInit]
    public static float Score<TKernel>(FfmModel model, ReadOnlySpan<int> fields, ReadOnlySpan<int> indices, ReadOnlySpan<float> values)
        where TKernel : struct, IFfmKernel
    {
        ArgumentNullException.ThrowIfNull(model);
        CheckKernel<TKernel>(model);
        int n = indices.Length;
        if (values.Length != n || fields.Length != n)
        {
            FfmErrors.ThrowLengthMismatch(fields.Length, indices.Length, values.Length);
        }

        if (n > StackNonZeros)
        {
            CheckExample(fields, indices, values);
            return ScoreLarge<TKernel>(model, fields, indices, values);
        }

        return ScoreSmall<TKernel>(model, ref MemoryMarshal.GetReference(fields), ref MemoryMarshal.GetReference(indices), ref MemoryMarshal.GetReference(values), n);
    }

    /// <summary>
    /// The score of an example of at most <see cref="StackNonZeros"/> nonzeros given by references and a count (a
    /// negative field or feature fails <see cref="Check"/> and is refused on the compacting path): the core both <see cref="Score{TKernel}"/> and the batch loop run. References and integers only (no
    /// spans, tuples or other generic helpers of the runtime library): in precompiled (ReadyToRun) code such helpers
    /// are calls, not inlined, and this runs once per row.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    [SkipLocalsInit]
    private static float ScoreSmall<TKernel>(FfmModel model, ref int fieldAt, ref int indexAt, ref float valueAt, int n)
        where TKernel : struct, IFfmKernel
    {
        FfmTable table = model.Table;
        if (!Check(table, ref fieldAt, ref indexAt, ref valueAt, n, out int shape))
        {
            return ScoreCompactingOnStack<TKernel>(model, ref fieldAt, ref indexAt, ref valueAt, n);
        }

        // the common case, every nonzero known (and none negative): no compaction, the kernel reads the values (the
        // in-field-order loop also the feature indices) where they are; the sums in the order Compact adds them
        // (the pair sum first: its chain of dependent fused multiply-adds is the longest part; the sums fill in)
        // (the weights' reference is read after the pair sum's call: held across it, it would live in the frame and be
        // read back for every step of the linear sum)
        float pairs, linear, sumOfSquares;
        if ((shape & NotAllOnes) == 0)
        {
            // one-hot: w x = w and the n squares add up to n exactly (n <= StackNonZeros), the same bits as Sums.
            // A generated kernel of k <= 4 (field blocks of 4 floats) with 512-bit vectors sums the pairs of an
            // example whose fields are 0 .. n - 1 in order with FfmPairs' in-field-order loop, which its PairSum
            // would pick after checking the values and the blocks again: called here directly (the same bits)
            if (n < 2)
            {
                pairs = 0f;
            }
            else if (TKernel.EmbeddingSize is >= 1 and <= 4 && FfmPairs.InFieldOrderAvailable && (shape & NotInFieldOrder) == 0)
            {
                pairs = FfmPairs.PairSumInFieldOrderOnes<TKernel>(ref table.Origin, ref indexAt, table.RowStride, ref valueAt, n);
            }
            else
            {
                pairs = PairSumGeneral<TKernel>(table, ref fieldAt, ref indexAt, ref valueAt, n);
            }

            linear = LinearOfOnes(ref model.WeightOrigin, ref indexAt, n);
            sumOfSquares = n;
        }
        else
        {
            pairs = n < 2 ? 0f : PairSumGeneral<TKernel>(table, ref fieldAt, ref indexAt, ref valueAt, n);
            Sums(ref model.WeightOrigin, ref indexAt, ref valueAt, n, out linear, out sumOfSquares);
        }

        FfmScaling.Scales(model.Normalization, sumOfSquares, out float linearScale, out float pairScale);
        return Combine(model.Bias, linearScale, linear, pairScale, pairs);
    }

    /// <summary>An example of up to <see cref="StackNonZeros"/> nonzeros of which the model does not know every
    /// feature and field (or one is negative): checked and compacted on the stack, then scored.</summary>
    [SkipLocalsInit]
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static float ScoreCompactingOnStack<TKernel>(FfmModel model, ref int fieldAt, ref int indexAt, ref float valueAt, int n)
        where TKernel : struct, IFfmKernel
    {
        // one pass checks and compacts: a negative field or feature fails the unsigned bounds test, so it is never
        // kept, and the sign bits OR-ed on the way decide the error after the pass
        ReadOnlySpan<int> fields = MemoryMarshal.CreateReadOnlySpan(ref fieldAt, n);
        ReadOnlySpan<int> indices = MemoryMarshal.CreateReadOnlySpan(ref indexAt, n);
        ReadOnlySpan<float> values = MemoryMarshal.CreateReadOnlySpan(ref valueAt, n);
        Span<int> rows = stackalloc int[n];
        Span<int> blocks = stackalloc int[n];
        Span<float> x = stackalloc float[n];
        FfmTable table = model.Table;
        int count = Compact(table, model.WeightsWithZero, fields, indices, values, rows, blocks, x, out float linear, out float sumOfSquares, out int signs);
        if (signs < 0)
        {
            FfmErrors.ThrowNegative(fields, indices);
        }

        return Finish<TKernel>(model, table, rows, blocks, x, count, linear, sumOfSquares);
    }

    /// <summary>Room for the offsets of an example of up to <see cref="StackNonZeros"/> nonzeros: row offsets, then
    /// block offsets.</summary>
    [InlineArray(2 * StackNonZeros)]
    private struct StackOffsets
    {
        private int _element;
    }

    /// <summary><see cref="Check"/>'s shape bit: a field is not its position (fields 0 .. n - 1 in order).</summary>
    private const int NotInFieldOrder = 1;

    /// <summary><see cref="Check"/>'s shape bit: a value is not exactly 1.</summary>
    private const int NotAllOnes = 2;

    /// <summary>
    /// Says whether the model knows every feature and field of the example (none negative, none at or beyond the
    /// model's counts); when it does not, the caller compacts instead. <paramref name="shape"/> has
    /// <see cref="NotInFieldOrder"/> set unless every field is its position, <see cref="NotAllOnes"/> unless every
    /// value is exactly 1 (the bits of 1f: +1, not -1 or 1 + ulp). Eight nonzeros at a time where 256-bit vectors
    /// exist (the last eight overlap the rest). Writes nothing: the in-field-order pair sum reads the feature indices
    /// themselves, and the general path's offsets come from <see cref="PairSumGeneral{TKernel}"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool Check(FfmTable table, ref int fieldAt, ref int indexAt, ref float valueAt, int n, out int shape)
    {
        int lastFeature = table.NumFeatures - 1, lastField = table.NumFields - 1;
        const int one = 0x3F80_0000;

        // (last - v) | v is negative exactly when v is negative or beyond last
        if (Vector256.IsHardwareAccelerated && n >= Vector256<int>.Count)
        {
            Vector256<int> features = Vector256.Create(lastFeature), fieldCount = Vector256.Create(lastField);
            Vector256<int> outside = Vector256<int>.Zero, order = Vector256<int>.Zero, ones = Vector256<int>.Zero;

            // eight at 0, 8, 16, ... before the last eight, then the last eight (for 9 .. 16 nonzeros two steps, no loop)
            nuint last = (nuint)(n - Vector256<int>.Count);
            CheckEight(ref fieldAt, ref indexAt, ref valueAt, 0, features, fieldCount, ref outside, ref order, ref ones);
            for (nuint a = (nuint)Vector256<int>.Count; a < last; a += (nuint)Vector256<int>.Count)
            {
                CheckEight(ref fieldAt, ref indexAt, ref valueAt, a, features, fieldCount, ref outside, ref order, ref ones);
            }

            if (last != 0)
            {
                CheckEight(ref fieldAt, ref indexAt, ref valueAt, last, features, fieldCount, ref outside, ref order, ref ones);
            }

            shape = (order == Vector256<int>.Zero ? 0 : NotInFieldOrder) | (ones == Vector256<int>.Zero ? 0 : NotAllOnes);
            return outside.ExtractMostSignificantBits() == 0;
        }

        int any = 0, differ = 0, notOne = 0;
        for (int a = 0; a < n; a++)
        {
            int j = Unsafe.Add(ref indexAt, a), f = Unsafe.Add(ref fieldAt, a);
            any |= (lastFeature - j) | (lastField - f) | j | f;
            differ |= f ^ a;
            notOne |= BitConverter.SingleToInt32Bits(Unsafe.Add(ref valueAt, a)) ^ one;
        }

        shape = (differ == 0 ? 0 : NotInFieldOrder) | (notOne == 0 ? 0 : NotAllOnes);
        return any >= 0;
    }

    /// <summary>One step of <see cref="Check"/>: nonzeros a .. a + 7.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void CheckEight(ref int fieldAt, ref int indexAt, ref float valueAt, nuint a, Vector256<int> features, Vector256<int> fieldCount,
        ref Vector256<int> outside, ref Vector256<int> order, ref Vector256<int> ones)
    {
        Vector256<int> j = Vector256.LoadUnsafe(ref indexAt, a), f = Vector256.LoadUnsafe(ref fieldAt, a);
        outside |= (features - j) | (fieldCount - f) | j | f;
        order |= f ^ (Vector256.CreateSequence(0, 1) + Vector256.Create((int)a));
        ones |= Vector256.LoadUnsafe(ref Unsafe.As<float, int>(ref valueAt), a) ^ Vector256.Create(0x3F80_0000);
    }

    /// <summary>
    /// The pair sum of a checked example of at most <see cref="StackNonZeros"/> nonzeros through the kernel's
    /// general path: every nonzero's row offset (its feature times the row stride) and block offset (its field times
    /// the block stride) in a buffer of this frame, eight at a time where 256-bit vectors exist (the last eight
    /// overlap the rest), then <see cref="IFfmKernel.PairSum"/>. The buffer lives here, not in the one-example core,
    /// which a consumer's [FfmKernel] Score inlines: a frame without SkipLocalsInit would zero its kilobyte on every
    /// call.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    [SkipLocalsInit]
    private static float PairSumGeneral<TKernel>(FfmTable table, ref int fieldAt, ref int indexAt, ref float valueAt, int n)
        where TKernel : struct, IFfmKernel
    {
        // a fixed buffer in the frame (no stack probe, no per-call allocation): row offsets, then block offsets
        Unsafe.SkipInit(out StackOffsets buffer);
        ref int rows = ref Unsafe.As<StackOffsets, int>(ref buffer);
        ref int blocks = ref Unsafe.Add(ref rows, StackNonZeros);
        Offsets(table, ref fieldAt, ref indexAt, n, ref rows, ref blocks);
        return TKernel.PairSum(ref table.Origin, ref rows, ref blocks, ref valueAt, n, table.EmbeddingSize, table.FieldStride);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Offsets(FfmTable table, ref int fieldAt, ref int indexAt, int n, ref int rows, ref int blocks)
    {
        int rowStride = table.RowStride, blockStride = table.BlockStride;
        if (Vector256.IsHardwareAccelerated && n >= Vector256<int>.Count)
        {
            Vector256<int> rowStrides = Vector256.Create(rowStride), blockStrides = Vector256.Create(blockStride);
            nuint last = (nuint)(n - Vector256<int>.Count);
            for (nuint a = 0; ; a = a + (nuint)Vector256<int>.Count < last ? a + (nuint)Vector256<int>.Count : last)
            {
                (Vector256.LoadUnsafe(ref indexAt, a) * rowStrides).StoreUnsafe(ref rows, a);
                (Vector256.LoadUnsafe(ref fieldAt, a) * blockStrides).StoreUnsafe(ref blocks, a);
                if (a == last)
                {
                    return;
                }
            }
        }

        for (int a = 0; a < n; a++)
        {
            Unsafe.Add(ref rows, a) = Unsafe.Add(ref indexAt, a) * rowStride;
            Unsafe.Add(ref blocks, a) = Unsafe.Add(ref fieldAt, a) * blockStride;
        }
    }

    /// <summary>The linear sum of an example whose every value is 1 and every feature known: its weights added in order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float LinearOfOnes(ref float weightAt, ref int indexAt, int n)
    {
        // every index is below NumFeatures < weights.Length (checked by Check); four a step (the same additions in
        // the same order, fewer loop instructions)
        float lin = 0f;
        nuint a = 0;
        for (; a + 4 <= (nuint)n; a += 4)
        {
            lin += Unsafe.Add(ref weightAt, (nuint)(uint)Unsafe.Add(ref indexAt, a));
            lin += Unsafe.Add(ref weightAt, (nuint)(uint)Unsafe.Add(ref indexAt, a + 1));
            lin += Unsafe.Add(ref weightAt, (nuint)(uint)Unsafe.Add(ref indexAt, a + 2));
            lin += Unsafe.Add(ref weightAt, (nuint)(uint)Unsafe.Add(ref indexAt, a + 3));
        }

        // the last one to three: two, then one (no loop)
        if (a + 2 <= (nuint)n)
        {
            lin += Unsafe.Add(ref weightAt, (nuint)(uint)Unsafe.Add(ref indexAt, a));
            lin += Unsafe.Add(ref weightAt, (nuint)(uint)Unsafe.Add(ref indexAt, a + 1));
            a += 2;
        }

        if (a < (nuint)n)
        {
            lin += Unsafe.Add(ref weightAt, (nuint)(uint)Unsafe.Add(ref indexAt, a));
        }

        return lin;
    }

    /// <summary>The linear sum and the sum of squares of an example whose every feature the model knows, each added
    /// in the order of the nonzeros (as <see cref="Compact"/> adds them).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Sums(ref float weightAt, ref int indexAt, ref float valueAt, int n, out float linear, out float sumOfSquares)
    {
        float lin = 0f, squares = 0f;
        for (int a = 0; a < n; a++)
        {
            float v = Unsafe.Add(ref valueAt, a);
            squares += v * v;

            // every index is below NumFeatures < weights.Length (checked by Check)
            lin += Unsafe.Add(ref weightAt, (nuint)(uint)Unsafe.Add(ref indexAt, a)) * v;
        }

        linear = lin;
        sumOfSquares = squares;
    }

    private static float ScoreLarge<TKernel>(FfmModel model, ReadOnlySpan<int> fields, ReadOnlySpan<int> indices, ReadOnlySpan<float> values)
        where TKernel : struct, IFfmKernel
    {
        int n = indices.Length;
        int[] ints = ArrayPool<int>.Shared.Rent(2 * n);
        float[] floats = ArrayPool<float>.Shared.Rent(n);
        try
        {
            return ScoreCompacting<TKernel>(model, fields, indices, values, ints.AsSpan(0, n), ints.AsSpan(n, n), floats.AsSpan(0, n));
        }
        finally
        {
            ArrayPool<int>.Shared.Return(ints);
            ArrayPool<float>.Shared.Return(floats);
        }
    }

    /// <summary>Scores a CSR batch on the calling thread (rows checked as one).</summary>
    /// <remarks>Not AggressiveOptimization and no ArrayPool: the fm tool precompiles this loop (ReadyToRun) for the
    /// library's kernels, so a run does not spend its first milliseconds compiling it and the pool's generic
    /// methods.</remarks>
    [SkipLocalsInit]
    public static void ScoreBatch<TKernel>(FfmModel model, ReadOnlySpan<int> offsets, ReadOnlySpan<int> fields, ReadOnlySpan<int> indices, ReadOnlySpan<float> values, Span<float> output)
        where TKernel : struct, IFfmKernel
    {
        ArgumentNullException.ThrowIfNull(model);
        CheckKernel<TKernel>(model);
        FfmErrors.CheckBatch(offsets, fields, indices, values, output);
        int end = offsets[^1];
        if (AnyNegative(fields[..end], indices[..end]))
        {
            CheckExample(fields[..end], indices[..end], values[..end]);
        }

        int longest = 0;
        for (int r = 0; r < output.Length; r++)
        {
            longest = Math.Max(longest, offsets[r + 1] - offsets[r]);
        }

        if (longest <= StackNonZeros)
        {
            // every row through the one-example path: no per-row buffers (the general path's offsets in
            // PairSumGeneral's frame), the values read in place, no compaction unless a row has a feature or field
            // the model does not know (the same bits either way); by references (checked above: offsets within the
            // arrays, none decreasing, none negative)
            ref int offsetAt = ref MemoryMarshal.GetReference(offsets);
            ref int fieldAt = ref MemoryMarshal.GetReference(fields);
            ref int indexAt = ref MemoryMarshal.GetReference(indices);
            ref float valueAt = ref MemoryMarshal.GetReference(values);
            ref float outputAt = ref MemoryMarshal.GetReference(output);
            int start = 0;
            for (int r = 0; r < output.Length; r++)
            {
                int next = Unsafe.Add(ref offsetAt, r + 1);
                Unsafe.Add(ref outputAt, r) = ScoreSmall<TKernel>(model, ref Unsafe.Add(ref fieldAt, start), ref Unsafe.Add(ref indexAt, start), ref Unsafe.Add(ref valueAt, start), next - start);
                start = next;
            }
        }
        else
        {
            ScoreRows<TKernel>(model, offsets, fields, indices, values, output, new int[longest], new int[longest], new float[longest]);
        }
    }

    /// <summary>Whether a field or a feature of a batch (spans of one length) is negative: the OR of all, eight at a
    /// time where 256-bit vectors exist (the batch check; <see cref="CheckExample"/> then names the first).</summary>
    private static bool AnyNegative(ReadOnlySpan<int> fields, ReadOnlySpan<int> indices)
    {
        int n = indices.Length;
        ref int fieldAt = ref MemoryMarshal.GetReference(fields);
        ref int indexAt = ref MemoryMarshal.GetReference(indices);
        int a = 0, any = 0;
        if (Vector256.IsHardwareAccelerated)
        {
            Vector256<int> all = Vector256<int>.Zero;
            for (; a <= n - Vector256<int>.Count; a += Vector256<int>.Count)
            {
                all |= Vector256.LoadUnsafe(ref fieldAt, (nuint)a) | Vector256.LoadUnsafe(ref indexAt, (nuint)a);
            }

            any = all.ExtractMostSignificantBits() == 0 ? 0 : -1;
        }

        for (; a < n; a++)
        {
            any |= Unsafe.Add(ref fieldAt, a) | Unsafe.Add(ref indexAt, a);
        }

        return any < 0;
    }

    /// <summary>The rows of a checked batch, compacted one after the other into the same buffers.</summary>
    private static void ScoreRows<TKernel>(FfmModel model, ReadOnlySpan<int> offsets, ReadOnlySpan<int> fields, ReadOnlySpan<int> indices, ReadOnlySpan<float> values, Span<float> output,
        Span<int> rows, Span<int> blocks, Span<float> x)
        where TKernel : struct, IFfmKernel
    {
        for (int r = 0; r < output.Length; r++)
        {
            int start = offsets[r];
            int count = offsets[r + 1] - start;
            output[r] = ScoreCompacting<TKernel>(model, fields.Slice(start, count), indices.Slice(start, count), values.Slice(start, count), rows, blocks, x);
        }
    }

    /// <summary>
    /// The definition every path shares: drop the nonzeros whose feature or field the model does not know, sum the
    /// linear term (float, in order), the pair term through the kernel, scale both (<see cref="FfmScaling"/>), and
    /// return (bias + linearScale x linear) + pairScale x pairs. The example is already checked.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static float ScoreCompacting<TKernel>(FfmModel model, ReadOnlySpan<int> fields, ReadOnlySpan<int> indices, ReadOnlySpan<float> values, Span<int> rows, Span<int> blocks, Span<float> x)
        where TKernel : struct, IFfmKernel
    {
        FfmTable table = model.Table;
        int count = Compact(table, model.WeightsWithZero, fields, indices, values, rows, blocks, x, out float linear, out float sumOfSquares, out _);
        return Finish<TKernel>(model, table, rows, blocks, x, count, linear, sumOfSquares);
    }

    /// <summary>The pair term of a compacted example through the kernel, scaled and added to the rest.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Finish<TKernel>(FfmModel model, FfmTable table, Span<int> rows, Span<int> blocks, Span<float> x, int count, float linear, float sumOfSquares)
        where TKernel : struct, IFfmKernel
    {
        float pairs = count < 2 ? 0f : TKernel.PairSum(ref table.Origin, ref MemoryMarshal.GetReference(rows), ref MemoryMarshal.GetReference(blocks), ref MemoryMarshal.GetReference(x), count, table.EmbeddingSize, table.FieldStride);
        FfmScaling.Scales(model.Normalization, sumOfSquares, out float linearScale, out float pairScale);
        return Combine(model.Bias, linearScale, linear, pairScale, pairs);
    }

    /// <summary>The one way the parts of a score are added.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static float Combine(float bias, float linearScale, float linear, float pairScale, float pairs) =>
        (bias + (linearScale * linear)) + (pairScale * pairs);

    /// <summary>Keeps the nonzeros the model knows, as row offsets, block offsets and values; sums the linear term
    /// and the squares of every value (kept or not). Returns how many were kept; <paramref name="signs"/> is the OR of
    /// every field and feature (negative when one is). The spans have one length, rows/blocks/x at least as long.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static int Compact(FfmTable table, ReadOnlySpan<float> weights, ReadOnlySpan<int> fields, ReadOnlySpan<int> indices, ReadOnlySpan<float> values,
        Span<int> rows, Span<int> blocks, Span<float> x, out float linear, out float sumOfSquares, out int signs)
    {
        int numFeatures = table.NumFeatures, numFields = table.NumFields, rowStride = table.RowStride, blockStride = table.BlockStride;
        int n = indices.Length;
        if (fields.Length < n || values.Length < n || rows.Length < n || blocks.Length < n || x.Length < n || weights.Length < numFeatures)
        {
            FfmErrors.ThrowLengthMismatch(fields.Length, indices.Length, values.Length);
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
                // j < numFeatures <= weights.Length and count <= a < n <= the lengths of rows, blocks and x (checked above)
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

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void CheckKernel<TKernel>(FfmModel model) where TKernel : struct, IFfmKernel
    {
        if (TKernel.EmbeddingSize != 0 && TKernel.EmbeddingSize != model.EmbeddingSize)
        {
            FfmErrors.ThrowWrongEmbeddingSize(TKernel.EmbeddingSize, model.EmbeddingSize);
        }
    }

    /// <summary>Spans of one length, no negative field or feature.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void CheckExample(ReadOnlySpan<int> fields, ReadOnlySpan<int> indices, ReadOnlySpan<float> values)
    {
        if (indices.Length != values.Length || fields.Length != indices.Length)
        {
            FfmErrors.ThrowLengthMismatch(fields.Length, indices.Length, values.Length);
        }

        int any = 0;
        for (int a = 0; a < indices.Length; a++)
        {
            any |= indices[a] | fields[a];
        }

        if (any < 0)
        {
            FfmErrors.ThrowNegative(fields, indices);
        }
    }
}

/// <summary>Errors of the field-aware kernels; not for direct use.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class FfmErrors
{
    [DoesNotReturn]
    public static void ThrowLengthMismatch(int fields, int indices, int values) =>
        throw new ArgumentException($"fields, indices and values must have the same length; got {fields} fields, {indices} indices and {values} values.");

    [DoesNotReturn]
    public static void ThrowNegative(ReadOnlySpan<int> fields, ReadOnlySpan<int> indices)
    {
        for (int a = 0; a < indices.Length; a++)
        {
            if (indices[a] < 0)
            {
                throw new ArgumentOutOfRangeException(nameof(indices), $"Feature indices must be non-negative; indices[{a}] is {indices[a]}.");
            }

            if (fields[a] < 0)
            {
                throw new ArgumentOutOfRangeException(nameof(fields), $"Fields must be non-negative; fields[{a}] is {fields[a]}.");
            }
        }

        throw new ArgumentOutOfRangeException(nameof(indices));
    }

    [DoesNotReturn]
    public static void ThrowWrongEmbeddingSize(int kernel, int model) =>
        throw new ArgumentException($"This field-aware kernel is generated for k = {kernel}, but the model has k = {model}. Use Ffm.Score, which picks the kernel for the model's k, or declare [FfmKernel({model})].");

    /// <summary>Checks a CSR batch: offsets has output.Length + 1 entries, starts at 0, never decreases, ends within the arrays.</summary>
    public static void CheckBatch(ReadOnlySpan<int> offsets, ReadOnlySpan<int> fields, ReadOnlySpan<int> indices, ReadOnlySpan<float> values, Span<float> output)
    {
        if (indices.Length != values.Length || fields.Length != indices.Length)
        {
            ThrowLengthMismatch(fields.Length, indices.Length, values.Length);
        }

        if (offsets.Length != output.Length + 1)
        {
            throw new ArgumentException($"offsets must have output.Length + 1 = {output.Length + 1} entries; got {offsets.Length}.", nameof(offsets));
        }

        if (offsets[0] != 0)
        {
            throw new ArgumentException($"offsets[0] must be 0; got {offsets[0]}.", nameof(offsets));
        }

        for (int r = 0; r < output.Length; r++)
        {
            if (offsets[r + 1] < offsets[r] || offsets[r + 1] > indices.Length)
            {
                throw new ArgumentException($"offsets[{r + 1}] = {offsets[r + 1]} must lie between offsets[{r}] = {offsets[r]} and the number of nonzeros ({indices.Length}).", nameof(offsets));
            }
        }
    }
}
