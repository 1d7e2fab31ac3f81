namespace FmCodegen.Kernels;

/// <summary>
/// One FM kernel as a type: static members only, so a loop written once as <c>Method&lt;TKernel&gt;()</c> with
/// <c>where TKernel : struct, IFmKernel</c> is compiled by the JIT once per kernel, with direct (inlinable) calls
/// and no virtual dispatch. The generator emits one per <see cref="FmKernelAttribute"/> class (its nested
/// <c>Kernel</c> struct); the library has two runtime-k ones. Batch scoring, dataset scoring and training are
/// written once over this interface; <see cref="FmKernels"/> maps k to the <see cref="FmKernel"/> entry that calls
/// them with the right struct.
/// </summary>
public interface IFmKernel
{
    /// <summary>The embedding size the kernel is specialised for, or 0 for a runtime-k kernel that takes the k of
    /// the rows it is given.</summary>
    static abstract int EmbeddingSize { get; }

    /// <summary>A short name for reports and benchmarks, e.g. "generated k=16 (Shop.Ctr16)".</summary>
    static abstract string Name { get; }

    /// <summary>The instruction set the kernel uses on this machine now ("Vector512", "Vector256", "Vector128", "Scalar").</summary>
    static abstract string ActivePath { get; }

    /// <summary>The linear and pairwise terms (no bias) of one example over a row table.</summary>
    static abstract float Interaction(FmRows rows, ReadOnlySpan<int> indices, ReadOnlySpan<float> values);

    /// <summary>As <see cref="Interaction"/> (the same bits), and writes s_f = sum_i v_if x_i (k values) into
    /// <paramref name="sums"/>: the pair-term gradient of feature i is x_i (s_f - v_if x_i).</summary>
    static abstract float InteractionWithSums(FmRows rows, ReadOnlySpan<int> indices, ReadOnlySpan<float> values, Span<float> sums);

    /// <summary>DeepFM's FM layer over one example's dense [fields x k] embeddings.</summary>
    static abstract float CrossTerm(ReadOnlySpan<float> embeddings, int embeddingSize);
}

/// <summary>
/// A computation generic over the kernel: <see cref="FmKernel.Accept{TResult}"/> calls <see cref="Visit{TKernel}"/>
/// with the entry's kernel struct, so code that holds only an <see cref="FmKernel"/> (from <see cref="FmKernels.For"/>)
/// reaches a loop compiled for that kernel. This is how the trainer runs: one visitor, any kernel.
/// </summary>
public interface IFmKernelVisitor<out TResult>
{
    TResult Visit<TKernel>()
        where TKernel : struct, IFmKernel;
}
