namespace FmCodegen;

/// <summary>
/// Asks the FmCodegen source generator to emit fully unrolled SIMD scoring kernels for one embedding size
/// into the <c>static partial class</c> it decorates: <c>EmbeddingSize</c>, <c>Score</c>, <c>ScoreBatch</c>,
/// <c>CrossTerm</c>, <c>CrossTermBatch</c> and the low-level <c>Interaction</c> (with <see cref="MaxOrder"/> = 3 also
/// the order-3 paths). The kernel registers itself
/// at module load, so <see cref="Fm.Score"/> uses it for every model of that size.
/// </summary>
/// <param name="embeddingSize">The number of factors k, from 1 to 1024.</param>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false, Inherited = false)]
public sealed class FmKernelAttribute(int embeddingSize) : Attribute
{
    /// <summary>The number of factors k the generated kernels are specialised for.</summary>
    public int EmbeddingSize { get; } = embeddingSize;

    /// <summary>The highest order of interaction the kernels serve: 2 (the default: pairs) or 3, which also emits
    /// order-3 paths (<c>Order3Interaction</c>, <c>Order3InteractionWithSums</c> and a nested <c>Order3Kernel</c>
    /// struct registered for <see cref="Fm.Score"/>) for models of <see cref="FmModel.Order"/> 3.</summary>
    public int MaxOrder { get; set; } = 2;
}
