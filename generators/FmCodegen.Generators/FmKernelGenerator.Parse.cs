using System.Collections.Generic;
using System.Threading;
using Microsoft.CodeAnalysis;

namespace FmCodegen.Generators;

/// <summary>Turns an [FmKernel(k)] class into a <see cref="KernelParseResult"/>: the checks every kernel class goes
/// through (<see cref="KernelTarget"/>), and the MaxOrder named argument (2 or 3).</summary>
internal static class KernelParser
{
    private static readonly KernelTargetRules Rules = new(
        Diagnostics.EmbeddingSizeOutOfRange,
        Diagnostics.NotStaticPartialClass,
        Diagnostics.GenericTarget,
        Diagnostics.ContainingTypeNotPartial,
        Diagnostics.LanguageVersionTooLow,
        Diagnostics.CannotRegister);

    public static KernelParseResult Parse(GeneratorAttributeSyntaxContext context, CancellationToken cancellationToken)
    {
        if (KernelTarget.Read(context, Rules, cancellationToken) is not { } target)
        {
            return new KernelParseResult(null, EquatableArray<DiagnosticInfo>.Empty);
        }

        int maxOrder = 2;
        foreach (KeyValuePair<string, TypedConstant> named in target.Attribute.NamedArguments)
        {
            if (named.Key == "MaxOrder" && named.Value.Value is int order)
            {
                maxOrder = order;
            }
        }

        if (maxOrder is not (2 or 3))
        {
            target.Report(Diagnostics.MaxOrderOutOfRange, target.ArgumentLocation("MaxOrder", cancellationToken), maxOrder.ToString(System.Globalization.CultureInfo.InvariantCulture), target.Symbol.Name);
        }

        EquatableArray<ContainingType> containers = target.CheckShape(cancellationToken);
        bool errors = target.Diagnostics.Count > 0;
        bool registers = target.CheckRegisters();
        KernelSpec? spec = !errors
            ? new KernelSpec(target.Namespace, containers, target.Symbol.Name, target.EmbeddingSize, registers, maxOrder)
            : null;
        return new KernelParseResult(spec, EquatableArray.From(target.Diagnostics));
    }
}
