using System.Threading;
using Microsoft.CodeAnalysis;

namespace FmCodegen.Generators;

/// <summary>Turns an [FfmKernel(k)] class into a <see cref="FfmKernelParseResult"/>: the checks every kernel class
/// goes through (<see cref="KernelTarget"/>, with the FFM diagnostics), and that it declares no member named Kernel.</summary>
internal static class FfmKernelParser
{
    private static readonly KernelTargetRules Rules = new(
        Diagnostics.FfmEmbeddingSizeOutOfRange,
        Diagnostics.FfmNotStaticPartialClass,
        Diagnostics.FfmGenericTarget,
        Diagnostics.FfmContainingTypeNotPartial,
        Diagnostics.FfmLanguageVersionTooLow,
        Diagnostics.FfmCannotRegister);

    public static FfmKernelParseResult Parse(GeneratorAttributeSyntaxContext context, CancellationToken cancellationToken)
    {
        if (KernelTarget.Read(context, Rules, cancellationToken) is not { } target)
        {
            return new FfmKernelParseResult(null, EquatableArray<DiagnosticInfo>.Empty);
        }

        EquatableArray<ContainingType> containers = target.CheckShape(cancellationToken);
        if (target.Symbol.GetMembers("Kernel").Length > 0)
        {
            target.Report(Diagnostics.FfmMemberClash, target.ClassLocation, target.Symbol.Name);
        }

        bool errors = target.Diagnostics.Count > 0;
        bool registers = target.CheckRegisters();
        FfmKernelSpec? spec = !errors
            ? new FfmKernelSpec(target.Namespace, containers, target.Symbol.Name, target.EmbeddingSize, registers)
            : null;
        return new FfmKernelParseResult(spec, EquatableArray.From(target.Diagnostics));
    }
}
