namespace FmCodegen;

// Compiled into the library and linked into the generator (netstandard2.0), so the limit the generator's
// FMCG0001 checks and names is the constant the registry, the trainer and FmModel check.
internal static class FmLimits
{
    /// <summary>The largest embedding size k: of a model, a generated kernel and a training run.</summary>
    public const int MaxEmbeddingSize = 1024;
}
