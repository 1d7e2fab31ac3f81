using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace FmCodegen.Generators;

/// <summary>
/// Emits fixed-k field-aware FM kernels into every static partial class that carries [FfmKernel(k)]: a nested
/// <c>Kernel</c> struct implementing IFfmKernel (the pair sum and the pair updates, unrolled for k on every vector
/// width), the class's Score/ScoreBatch over it, and a module initializer that registers it.
/// Pipeline: attribute trigger -> <see cref="FfmKernelParser"/> -> diagnostics reported, valid specs emitted by
/// <see cref="FfmKernelEmitter"/>.
/// </summary>
[Generator(LanguageNames.CSharp)]
public sealed class FfmKernelGenerator : IIncrementalGenerator
{
    public const string AttributeName = "FmCodegen.FfmKernelAttribute";

    /// <summary>Tracking names, so tests can assert which steps stayed cached.</summary>
    public static class TrackingNames
    {
        public const string Parse = "FfmParse";
        public const string Diagnostics = "FfmDiagnostics";
        public const string Specs = "FfmSpecs";
    }

    public void Initialize(IncrementalGeneratorInitializationContext context)
    {
        IncrementalValuesProvider<FfmKernelParseResult> parsed = context.SyntaxProvider
            .ForAttributeWithMetadataName(
                AttributeName,
                predicate: static (node, _) => node is ClassDeclarationSyntax,
                transform: static (ctx, ct) => FfmKernelParser.Parse(ctx, ct))
            .WithTrackingName(TrackingNames.Parse);

        IncrementalValuesProvider<DiagnosticInfo> diagnostics = parsed
            .SelectMany(static (result, _) => result.Diagnostics)
            .WithTrackingName(TrackingNames.Diagnostics);

        context.RegisterSourceOutput(diagnostics, static (spc, diagnostic) => spc.ReportDiagnostic(diagnostic.ToDiagnostic()));

        IncrementalValuesProvider<FfmKernelSpec> specs = parsed
            .Where(static result => result.Spec is not null)
            .Select(static (result, _) => result.Spec!)
            .WithTrackingName(TrackingNames.Specs);

        context.RegisterSourceOutput(specs, static (spc, spec) => spc.AddSource(spec.HintName, FfmKernelEmitter.Emit(spec)));
    }
}

/// <summary>What the emitter needs of one [FfmKernel(k)] class.</summary>
internal sealed record FfmKernelSpec(
    string? Namespace,
    EquatableArray<ContainingType> Containers,
    string ClassName,
    int EmbeddingSize,
    bool Registers = true)
{
    public string DisplayName => KernelTarget.DisplayName(Namespace, Containers, ClassName);

    public string HintName => DisplayName + ".FfmKernel.g.cs";
}

/// <summary>What parsing one [FfmKernel] class gives: a spec to emit (null when it cannot be) and its diagnostics.</summary>
internal sealed record FfmKernelParseResult(FfmKernelSpec? Spec, EquatableArray<DiagnosticInfo> Diagnostics);
