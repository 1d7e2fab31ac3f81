namespace FmCodegen;

/// <summary>
/// Asks the FmCodegen source generator to emit fully unrolled SIMD field-aware FM kernels for one embedding size into
/// the <c>static partial class</c> it decorates: <c>EmbeddingSize</c>, <c>Score</c>, <c>ScoreBatch</c>,
/// <c>ActivePath</c> and a nested <c>Kernel</c> struct implementing <see cref="Kernels.IFfmKernel"/> (the pair sum
/// and the pair updates training uses). The kernel registers itself at module load, so <see cref="Ffm.Score"/> and
/// the FFM trainer use it for every model of that size.
/// </summary>
/// <param name="embeddingSize">The number of factors k, from 1 to 1024.</param>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = false, Inherited = false)]
public sealed class FfmKernelAttribute(int embeddingSize) : Attribute
{
    /// <summary>The number of factors k the generated kernels are specialised for.</summary>
    public int EmbeddingSize { get; } = embeddingSize;
}
