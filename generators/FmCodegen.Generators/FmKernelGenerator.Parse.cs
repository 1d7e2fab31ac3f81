using System.Collections.Generic;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace FmCodegen.Generators;

/// <summary>Turns an attributed class into a <see cref="KernelParseResult"/>: the only place that touches symbols.</summary>
internal static class KernelParser
{
    public const int MinEmbeddingSize = 1;
    public const int MaxEmbeddingSize = FmLimits.MaxEmbeddingSize;

    public static KernelParseResult Parse(GeneratorAttributeSyntaxContext context, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var node = (ClassDeclarationSyntax)context.TargetNode;
        var symbol = (INamedTypeSymbol)context.TargetSymbol;
        AttributeData attribute = context.Attributes[0];
        var diagnostics = new List<DiagnosticInfo>();
        LocationInfo? classLocation = LocationInfo.From(node.Identifier.GetLocation());

        // A malformed argument is the compiler's error to report; there is nothing to emit.
        if (attribute.ConstructorArguments.Length != 1 || attribute.ConstructorArguments[0].Value is not int k)
        {
            return new KernelParseResult(null, EquatableArray<DiagnosticInfo>.Empty);
        }

        if (k < MinEmbeddingSize || k > MaxEmbeddingSize)
        {
            SyntaxNode? where = attribute.ApplicationSyntaxReference?.GetSyntax(cancellationToken);
            if (where is AttributeSyntax { ArgumentList.Arguments.Count: > 0 } syntax)
            {
                where = syntax.ArgumentList.Arguments[0];
            }

            diagnostics.Add(Make(Diagnostics.EmbeddingSizeOutOfRange, LocationInfo.From(where) ?? classLocation, k.ToString(System.Globalization.CultureInfo.InvariantCulture), symbol.Name));
        }

        int maxOrder = 2;
        foreach (KeyValuePair<string, TypedConstant> named in attribute.NamedArguments)
        {
            if (named.Key == "MaxOrder" && named.Value.Value is int order)
            {
                maxOrder = order;
            }
        }

        if (maxOrder is not (2 or 3))
        {
            SyntaxNode? where = attribute.ApplicationSyntaxReference?.GetSyntax(cancellationToken);
            if (where is AttributeSyntax { ArgumentList: { } list })
            {
                where = list.Arguments.FirstOrDefault(a => a.NameEquals?.Name.Identifier.ValueText == "MaxOrder") ?? where;
            }

            diagnostics.Add(Make(Diagnostics.MaxOrderOutOfRange, LocationInfo.From(where) ?? classLocation, maxOrder.ToString(System.Globalization.CultureInfo.InvariantCulture), symbol.Name));
        }

        bool isPartial = node.Modifiers.Any(SyntaxKind.PartialKeyword);
        if (!symbol.IsStatic || !isPartial)
        {
            diagnostics.Add(Make(Diagnostics.NotStaticPartialClass, classLocation, symbol.Name));
        }

        bool generic = false;
        var containers = new List<ContainingType>();
        for (INamedTypeSymbol? t = symbol; t is not null; t = t.ContainingType)
        {
            generic |= t.IsGenericType;
        }

        if (generic)
        {
            diagnostics.Add(Make(Diagnostics.GenericTarget, classLocation, symbol.Name));
        }

        for (SyntaxNode? parent = node.Parent; parent is TypeDeclarationSyntax type; parent = parent.Parent)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (!type.Modifiers.Any(SyntaxKind.PartialKeyword))
            {
                diagnostics.Add(Make(Diagnostics.ContainingTypeNotPartial, classLocation, symbol.Name, type.Identifier.ValueText));
            }

            string keyword = type switch
            {
                RecordDeclarationSyntax r when r.ClassOrStructKeyword.IsKind(SyntaxKind.StructKeyword) => "record struct",
                RecordDeclarationSyntax => "record",
                StructDeclarationSyntax => "struct",
                InterfaceDeclarationSyntax => "interface",
                _ => "class",
            };
            containers.Insert(0, new ContainingType(keyword, type.Identifier.ValueText));
        }

        if (node.SyntaxTree.Options is CSharpParseOptions { LanguageVersion: < LanguageVersion.CSharp11 })
        {
            diagnostics.Add(Make(Diagnostics.LanguageVersionTooLow, classLocation, symbol.Name));
        }

        bool errors = diagnostics.Count > 0;
        bool registers = true;
        for (INamedTypeSymbol? t = symbol; t is not null; t = t.ContainingType)
        {
            registers &= t.DeclaredAccessibility is Accessibility.Public or Accessibility.Internal or Accessibility.ProtectedOrInternal;
        }

        if (!registers)
        {
            diagnostics.Add(Make(Diagnostics.CannotRegister, classLocation, symbol.Name));
        }

        KernelSpec? spec = !errors
            ? new KernelSpec(
                symbol.ContainingNamespace is { IsGlobalNamespace: false } ns ? ns.ToDisplayString() : null,
                EquatableArray.From(containers),
                symbol.Name,
                k,
                registers,
                maxOrder)
            : null;
        return new KernelParseResult(spec, EquatableArray.From(diagnostics));
    }

    private static DiagnosticInfo Make(DiagnosticDescriptor descriptor, LocationInfo? location, params string[] arguments) =>
        new(descriptor.Id, location, EquatableArray.From(arguments));
}
