namespace FmCodegen;

/// <summary>
/// Asks the FmCodegen source generator to emit fully unrolled SIMD scoring kernels for one embedding size
/// into the <c>static partial class</c> it decorates: <c>EmbeddingSize</c>, <c>Score</c>, <c>ScoreBatch</c>,
/// <c>CrossTerm</c>, <c>CrossTermBatch</c> and the low-level <c>Interaction</c>. The kernel registers itself
/// at module load, so <see cref="Fm.Score"/> uses it for every model of that size.
/// </summary>
/// <param name="embeddingSize">The number of factors k, from 1 to 1024.</param>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false, Inherited = false)]
public sealed class FmKernelAttribute(int embeddingSize) : Attribute
{
    /// <summary>The number of factors k the generated kernels are specialised for.</summary>
    public int EmbeddingSize { get; } = embeddingSize;
}
