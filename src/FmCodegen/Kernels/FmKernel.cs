using System.ComponentModel;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;

namespace FmCodegen.Kernels;

/// <summary>
/// The row table a kernel reads: <see cref="FmLayout"/> rows of k factors and the linear weight (and, for
/// <see cref="Order"/> 3, the k order-3 factors from <see cref="FmLayout.Order3Offset"/>), <see cref="Stride"/>
/// floats apart, row <see cref="NumFeatures"/> all zeros, then padding.
/// A trained <see cref="FmModel"/> gives one (<see cref="Of(FmModel)"/>); a trainer passes its own mutable table.
/// </summary>
public readonly ref struct FmRows
{
    private readonly bool _order3;

    /// <summary>Wraps an order-2 table. Its length must cover NumFeatures + 1 rows and the end padding.</summary>
    public FmRows(ReadOnlySpan<float> table, int stride, int numFeatures, int embeddingSize)
        : this(table, stride, numFeatures, embeddingSize, order: 2)
    {
    }

    /// <summary>Wraps a table of order 2 or 3 (<see cref="FmLayout.RowStride(int, int)"/>). Its length must cover
    /// NumFeatures + 1 rows and the end padding.</summary>
    public FmRows(ReadOnlySpan<float> table, int stride, int numFeatures, int embeddingSize, int order)
    {
        FmLayout.CheckOrder(order);
        if (stride != FmLayout.RowStride(embeddingSize, order))
        {
            throw new ArgumentException($"A table of order {order} for k = {embeddingSize} has rows {FmLayout.RowStride(embeddingSize, order)} floats apart, not {stride}.", nameof(stride));
        }

        ArgumentOutOfRangeException.ThrowIfNegative(numFeatures);
        if (table.Length < ((long)numFeatures + 1) * stride + FmLayout.TablePadding)
        {
            throw new ArgumentException($"The table holds {table.Length} floats, fewer than {numFeatures} + 1 rows of {stride} and the padding.", nameof(table));
        }

        Table = table;
        Stride = stride;
        NumFeatures = numFeatures;
        EmbeddingSize = embeddingSize;
        _order3 = order == 3;
    }

    public ReadOnlySpan<float> Table { get; }
    public int Stride { get; }
    public int NumFeatures { get; }
    public int EmbeddingSize { get; }

    /// <summary>2 (factors for pairs), or 3 (each row also holds the order-3 factors, for triples).</summary>
    public int Order => _order3 ? 3 : 2;

    /// <summary>The rows of a model.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static FmRows Of(FmModel model) => new(model.RowTable, model.RowStride, model.NumFeatures, model.EmbeddingSize, model.Order == 3, trusted: true);

    /// <summary>The rows of a table the library built itself (a trainer's), trusted to be laid out as its order says.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static FmRows Of(AlignedTable table) => new(table.Span, table.Stride, table.NumFeatures, table.EmbeddingSize, table.Order == 3, trusted: true);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private FmRows(ReadOnlySpan<float> table, int stride, int numFeatures, int embeddingSize, bool order3, bool trusted)
    {
        _ = trusted;
        Table = table;
        Stride = stride;
        NumFeatures = numFeatures;
        EmbeddingSize = embeddingSize;
        _order3 = order3;
    }
}

/// <summary>
/// A kernel as an object: the registry's entry for one <see cref="IFmKernel"/> struct (<see cref="FmKernel{TKernel}"/>
/// is the only implementation). Its methods call loops compiled for that struct, so scoring or training through an
/// entry is as fast as naming the struct; <see cref="Accept{TResult}"/> hands the struct to any generic computation.
/// Stateless and thread-safe. <see cref="FmKernels"/> keeps the registered ones.
/// </summary>
public abstract class FmKernel
{
    private protected FmKernel()
    {
    }

    /// <summary>The embedding size this kernel is specialised for, or 0 for a runtime-k kernel that takes any.</summary>
    public abstract int EmbeddingSize { get; }

    /// <summary>A short name for reports and benchmarks, e.g. "generated k=16".</summary>
    public abstract string Name { get; }

    /// <summary>The instruction set the kernel uses on this machine now ("Vector512", "Vector256", "Vector128", "Scalar").</summary>
    public abstract string Path { get; }

    /// <summary>The linear and pairwise terms (no bias) of one example.</summary>
    public abstract float Interaction(FmRows rows, ReadOnlySpan<int> indices, ReadOnlySpan<float> values);

    /// <summary>As <see cref="Interaction"/>, and writes s_f = sum_i v_if x_i (k values) into <paramref name="sums"/>:
    /// the pair-term gradient of feature i is x_i (s_f - v_if x_i), so a trainer reuses them.</summary>
    public abstract float InteractionWithSums(FmRows rows, ReadOnlySpan<int> indices, ReadOnlySpan<float> values, Span<float> sums);

    /// <summary>DeepFM's FM layer over one example's dense [fields x k] embeddings.</summary>
    public abstract float CrossTerm(ReadOnlySpan<float> embeddings, int embeddingSize);

    /// <summary>The raw score of one example under a model (with xLearn's instance normalisation when the model
    /// says so).</summary>
    public abstract float Score(FmModel model, ReadOnlySpan<int> indices, ReadOnlySpan<float> values);

    /// <summary>Scores a CSR batch: row r is indices/values[offsets[r] .. offsets[r + 1]), its raw score goes to
    /// output[r]. <paramref name="maxThreads"/> = 1 scores on the calling thread; more splits the rows across that
    /// many cores (0 or less: all). Every row's score is the same bits whatever the thread count.</summary>
    public abstract void ScoreBatch(FmModel model, ReadOnlySpan<int> offsets, ReadOnlySpan<int> indices, ReadOnlySpan<float> values, Span<float> output, int maxThreads = 1);

    /// <summary>Calls <paramref name="visitor"/>'s <see cref="IFmKernelVisitor{TResult}.Visit{TKernel}"/> with this
    /// entry's kernel struct.</summary>
    public abstract TResult Accept<TResult>(IFmKernelVisitor<TResult> visitor);

    public override string ToString() => $"{Name} ({Path})";
}

/// <summary>The registry entry of kernel struct <typeparamref name="TKernel"/>: every method calls TKernel's
/// static members or a loop compiled for TKernel.</summary>
public sealed class FmKernel<TKernel> : FmKernel
    where TKernel : struct, IFmKernel
{
    private FmKernel()
    {
    }

    /// <summary>The one entry of this kernel.</summary>
    public static FmKernel<TKernel> Instance { get; } = new();

    public override int EmbeddingSize => TKernel.EmbeddingSize;

    public override string Name => TKernel.Name;

    public override string Path => TKernel.ActivePath;

    public override float Interaction(FmRows rows, ReadOnlySpan<int> indices, ReadOnlySpan<float> values) =>
        TKernel.Interaction(rows, indices, values);

    public override float InteractionWithSums(FmRows rows, ReadOnlySpan<int> indices, ReadOnlySpan<float> values, Span<float> sums) =>
        TKernel.InteractionWithSums(rows, indices, values, sums);

    public override float CrossTerm(ReadOnlySpan<float> embeddings, int embeddingSize) =>
        TKernel.CrossTerm(embeddings, embeddingSize);

    public override float Score(FmModel model, ReadOnlySpan<int> indices, ReadOnlySpan<float> values)
    {
        ArgumentNullException.ThrowIfNull(model);

        // an order-3 model is scored by the order-3 kernel of its k, whichever entry is asked
        return model.Order == 2
            ? FmBatch.ScoreOne<TKernel>(model, indices, values)
            : FmOrder3Kernels.For(model.EmbeddingSize).Score(model, indices, values);
    }

    public override TResult Accept<TResult>(IFmKernelVisitor<TResult> visitor)
    {
        ArgumentNullException.ThrowIfNull(visitor);
        return visitor.Visit<TKernel>();
    }

    public override void ScoreBatch(FmModel model, ReadOnlySpan<int> offsets, ReadOnlySpan<int> indices, ReadOnlySpan<float> values, Span<float> output, int maxThreads = 1)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (model.Order != 2)
        {
            FmOrder3Kernels.For(model.EmbeddingSize).ScoreBatch(model, offsets, indices, values, output, maxThreads);
            return;
        }

        FmBatch.Score<TKernel>(model, offsets, indices, values, output, maxThreads);
    }
}

/// <summary>Errors raised by kernels, generated ones included; not for direct use.</summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class FmErrors
{
    [DoesNotReturn]
    public static void ThrowLengthMismatch(int indices, int values) =>
        throw new ArgumentException($"indices and values must have the same length; got {indices} indices and {values} values.");

    /// <summary>Names the first negative index. Kernels call it after the loop that found one.</summary>
    [DoesNotReturn]
    public static void ThrowNegativeIndex(ReadOnlySpan<int> indices)
    {
        int at = 0;
        while (at < indices.Length && indices[at] >= 0)
        {
            at++;
        }

        throw new ArgumentOutOfRangeException(nameof(indices),
            $"Feature indices must be non-negative; indices[{at}] is {(at < indices.Length ? indices[at] : -1)}.");
    }

    [DoesNotReturn]
    public static void ThrowWrongEmbeddingSize(int kernel, int model) =>
        throw new ArgumentException($"This kernel is generated for k = {kernel}, but the model has k = {model}. Use Fm.Score, which picks the kernel for the model's k, or declare [FmKernel({model})].");

    [DoesNotReturn]
    public static void ThrowWrongSumsLength(int k, int length) =>
        throw new ArgumentException($"sums must hold at least k = {k} values; it holds {length}.");

    [DoesNotReturn]
    public static void ThrowEmbeddingsShape(int length, int embeddingSize) =>
        throw new ArgumentException($"Dense embeddings must be whole rows of k = {embeddingSize}; {length} values are not.");

    [DoesNotReturn]
    public static void ThrowEmbeddingsBatchShape(int length, int batch, int embeddingSize) =>
        throw new ArgumentException($"Batched dense embeddings must hold output.Length = {batch} examples of whole rows of k = {embeddingSize}; {length} values do not.");

    /// <summary>Checks a CSR batch: offsets has output.Length + 1 entries, starts at 0, never decreases, ends within indices.</summary>
    public static void CheckBatch(ReadOnlySpan<int> offsets, ReadOnlySpan<int> indices, ReadOnlySpan<float> values, Span<float> output)
    {
        if (indices.Length != values.Length)
        {
            ThrowLengthMismatch(indices.Length, values.Length);
        }

        if (offsets.Length != output.Length + 1)
        {
            throw new ArgumentException($"A batch of {output.Length} rows needs {output.Length + 1} offsets; got {offsets.Length}.", nameof(offsets));
        }

        int previous = 0;
        for (int r = 0; r < offsets.Length; r++)
        {
            int o = offsets[r];
            if (o < previous || o > indices.Length)
            {
                throw new ArgumentException($"offsets[{r}] = {o} is out of order or outside [0, {indices.Length}] (offsets never decrease).", nameof(offsets));
            }

            previous = o;
        }
    }
}
