using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace FmCodegen.Generators;

/// <summary>
/// Emits fixed-k FM kernels into every static partial class that carries [FmKernel(k)].
/// Pipeline: attribute trigger -> <see cref="KernelParser"/> (symbol to a value-equal spec) -> two branches:
/// diagnostics reported, and valid specs (without their diagnostics) emitted by <see cref="KernelEmitter"/>.
/// </summary>
[Generator(LanguageNames.CSharp)]
public sealed class FmKernelGenerator : IIncrementalGenerator
{
    public const string AttributeName = "FmCodegen.FmKernelAttribute";

    /// <summary>Tracking names, so tests can assert which steps stayed cached.</summary>
    public static class TrackingNames
    {
        public const string Parse = nameof(Parse);
        public const string Diagnostics = nameof(Diagnostics);
        public const string Specs = nameof(Specs);
    }

    public void Initialize(IncrementalGeneratorInitializationContext context)
    {
        IncrementalValuesProvider<KernelParseResult> parsed = context.SyntaxProvider
            .ForAttributeWithMetadataName(
                AttributeName,
                predicate: static (node, _) => node is ClassDeclarationSyntax,
                transform: static (ctx, ct) => KernelParser.Parse(ctx, ct))
            .WithTrackingName(TrackingNames.Parse);

        IncrementalValuesProvider<DiagnosticInfo> diagnostics = parsed
            .SelectMany(static (result, _) => result.Diagnostics)
            .WithTrackingName(TrackingNames.Diagnostics);

        context.RegisterSourceOutput(diagnostics, static (spc, diagnostic) => spc.ReportDiagnostic(diagnostic.ToDiagnostic()));

        IncrementalValuesProvider<KernelSpec> specs = parsed
            .Where(static result => result.Spec is not null)
            .Select(static (result, _) => result.Spec!)
            .WithTrackingName(TrackingNames.Specs);

        context.RegisterSourceOutput(specs, static (spc, spec) => spc.AddSource(spec.HintName, KernelEmitter.Emit(spec)));
    }
}
