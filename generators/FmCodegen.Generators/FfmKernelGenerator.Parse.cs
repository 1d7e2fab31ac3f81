using System.Collections.Generic;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace FmCodegen.Generators;

/// <summary>Turns an [FfmKernel(k)] class into a <see cref="FfmKernelParseResult"/>: the only place that touches symbols.</summary>
internal static class FfmKernelParser
{
    public const int MinEmbeddingSize = 1;
    public const int MaxEmbeddingSize = FmCodegen.FmLimits.MaxEmbeddingSize;

    public static FfmKernelParseResult Parse(GeneratorAttributeSyntaxContext context, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var node = (ClassDeclarationSyntax)context.TargetNode;
        var symbol = (INamedTypeSymbol)context.TargetSymbol;
        AttributeData attribute = context.Attributes[0];
        var diagnostics = new List<DiagnosticInfo>();
        LocationInfo? classLocation = LocationInfo.From(node.Identifier.GetLocation());

        if (attribute.ConstructorArguments.Length != 1 || attribute.ConstructorArguments[0].Value is not int k)
        {
            return new FfmKernelParseResult(null, EquatableArray<DiagnosticInfo>.Empty);
        }

        if (k < MinEmbeddingSize || k > MaxEmbeddingSize)
        {
            SyntaxNode? where = attribute.ApplicationSyntaxReference?.GetSyntax(cancellationToken);
            if (where is AttributeSyntax { ArgumentList.Arguments.Count: > 0 } syntax)
            {
                where = syntax.ArgumentList.Arguments[0];
            }

            diagnostics.Add(Make(Diagnostics.FfmEmbeddingSizeOutOfRange, LocationInfo.From(where) ?? classLocation, k.ToString(System.Globalization.CultureInfo.InvariantCulture), symbol.Name));
        }

        if (!symbol.IsStatic || !node.Modifiers.Any(SyntaxKind.PartialKeyword))
        {
            diagnostics.Add(Make(Diagnostics.FfmNotStaticPartialClass, classLocation, symbol.Name));
        }

        bool generic = false;
        for (INamedTypeSymbol? t = symbol; t is not null; t = t.ContainingType)
        {
            generic |= t.IsGenericType;
        }

        if (generic)
        {
            diagnostics.Add(Make(Diagnostics.FfmGenericTarget, classLocation, symbol.Name));
        }

        var containers = new List<ContainingType>();
        for (SyntaxNode? parent = node.Parent; parent is TypeDeclarationSyntax type; parent = parent.Parent)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (!type.Modifiers.Any(SyntaxKind.PartialKeyword))
            {
                diagnostics.Add(Make(Diagnostics.FfmContainingTypeNotPartial, classLocation, symbol.Name, type.Identifier.ValueText));
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

        // static abstract interface members (the kernel struct) need C# 11
        if (node.SyntaxTree.Options is CSharpParseOptions { LanguageVersion: < LanguageVersion.CSharp11 })
        {
            diagnostics.Add(Make(Diagnostics.FfmLanguageVersionTooLow, classLocation, symbol.Name));
        }

        if (symbol.GetMembers("Kernel").Length > 0)
        {
            diagnostics.Add(Make(Diagnostics.FfmMemberClash, classLocation, symbol.Name));
        }

        bool errors = diagnostics.Count > 0;
        bool registers = true;
        for (INamedTypeSymbol? t = symbol; t is not null; t = t.ContainingType)
        {
            registers &= t.DeclaredAccessibility is Accessibility.Public or Accessibility.Internal or Accessibility.ProtectedOrInternal;
        }

        if (!registers)
        {
            diagnostics.Add(Make(Diagnostics.FfmCannotRegister, classLocation, symbol.Name));
        }

        FfmKernelSpec? spec = !errors
            ? new FfmKernelSpec(
                symbol.ContainingNamespace is { IsGlobalNamespace: false } ns ? ns.ToDisplayString() : null,
                EquatableArray.From(containers),
                symbol.Name,
                k,
                registers)
            : null;
        return new FfmKernelParseResult(spec, EquatableArray.From(diagnostics));
    }

    private static DiagnosticInfo Make(DiagnosticDescriptor descriptor, LocationInfo? location, params string[] arguments) =>
        new(descriptor.Id, location, EquatableArray.From(arguments));
}
