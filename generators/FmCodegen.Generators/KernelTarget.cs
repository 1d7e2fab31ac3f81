using System.Collections.Generic;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace FmCodegen.Generators;

/// <summary>The diagnostics one kernel attribute reports for the checks every kernel class goes through.</summary>
internal sealed record KernelTargetRules(
    DiagnosticDescriptor EmbeddingSizeOutOfRange,
    DiagnosticDescriptor NotStaticPartialClass,
    DiagnosticDescriptor GenericTarget,
    DiagnosticDescriptor ContainingTypeNotPartial,
    DiagnosticDescriptor LanguageVersionTooLow,
    DiagnosticDescriptor CannotRegister);

/// <summary>
/// One class carrying a kernel attribute ([FmKernel(k)] or [FfmKernel(k)]) and the checks both make of it, in the
/// order they report them: the embedding size, then (<see cref="CheckShape"/>) static partial, not generic,
/// partial containers, C# 11; last (<see cref="CheckRegisters"/>) whether it can register. Each parser adds its
/// own checks between these. The only place besides the parsers that touches symbols.
/// </summary>
internal sealed class KernelTarget
{
    public const int MinEmbeddingSize = 1;
    public const int MaxEmbeddingSize = FmLimits.MaxEmbeddingSize;

    private readonly KernelTargetRules _rules;

    private KernelTarget(GeneratorAttributeSyntaxContext context, KernelTargetRules rules, int k)
    {
        _rules = rules;
        Node = (ClassDeclarationSyntax)context.TargetNode;
        Symbol = (INamedTypeSymbol)context.TargetSymbol;
        Attribute = context.Attributes[0];
        ClassLocation = LocationInfo.From(Node.Identifier.GetLocation());
        EmbeddingSize = k;
    }

    public ClassDeclarationSyntax Node { get; }

    public INamedTypeSymbol Symbol { get; }

    public AttributeData Attribute { get; }

    public LocationInfo? ClassLocation { get; }

    public int EmbeddingSize { get; }

    public List<DiagnosticInfo> Diagnostics { get; } = new();

    /// <summary>The namespace of the class, null for the global one.</summary>
    public string? Namespace => Symbol.ContainingNamespace is { IsGlobalNamespace: false } ns ? ns.ToDisplayString() : null;

    /// <summary>The class and its k, with the k checked; null when the argument is malformed (the compiler's error to
    /// report, nothing to emit).</summary>
    public static KernelTarget? Read(GeneratorAttributeSyntaxContext context, KernelTargetRules rules, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        AttributeData attribute = context.Attributes[0];
        if (attribute.ConstructorArguments.Length != 1 || attribute.ConstructorArguments[0].Value is not int k)
        {
            return null;
        }

        var target = new KernelTarget(context, rules, k);
        if (k < MinEmbeddingSize || k > MaxEmbeddingSize)
        {
            target.Report(rules.EmbeddingSizeOutOfRange, target.ArgumentLocation(null, cancellationToken), k.ToString(System.Globalization.CultureInfo.InvariantCulture), target.Symbol.Name);
        }

        return target;
    }

    /// <summary>Where an argument of the attribute is written: the named one, or the first positional one when
    /// <paramref name="named"/> is null; else the attribute, else the class name.</summary>
    public LocationInfo? ArgumentLocation(string? named, CancellationToken cancellationToken)
    {
        SyntaxNode? where = Attribute.ApplicationSyntaxReference?.GetSyntax(cancellationToken);
        if (where is AttributeSyntax { ArgumentList: { } list })
        {
            where = named is null
                ? list.Arguments.Count > 0 ? list.Arguments[0] : where
                : list.Arguments.FirstOrDefault(a => a.NameEquals?.Name.Identifier.ValueText == named) ?? where;
        }

        return LocationInfo.From(where) ?? ClassLocation;
    }

    /// <summary>Static partial, not generic (nor nested in a generic type), every containing type partial, C# 11 or
    /// later. Returns the containing types, outermost first.</summary>
    public EquatableArray<ContainingType> CheckShape(CancellationToken cancellationToken)
    {
        if (!Symbol.IsStatic || !Node.Modifiers.Any(SyntaxKind.PartialKeyword))
        {
            Report(_rules.NotStaticPartialClass, ClassLocation, Symbol.Name);
        }

        bool generic = false;
        for (INamedTypeSymbol? t = Symbol; t is not null; t = t.ContainingType)
        {
            generic |= t.IsGenericType;
        }

        if (generic)
        {
            Report(_rules.GenericTarget, ClassLocation, Symbol.Name);
        }

        var containers = new List<ContainingType>();
        for (SyntaxNode? parent = Node.Parent; parent is TypeDeclarationSyntax type; parent = parent.Parent)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (!type.Modifiers.Any(SyntaxKind.PartialKeyword))
            {
                Report(_rules.ContainingTypeNotPartial, ClassLocation, Symbol.Name, type.Identifier.ValueText);
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

        // the generated Kernel struct has static abstract interface members: C# 11
        if (Node.SyntaxTree.Options is CSharpParseOptions { LanguageVersion: < LanguageVersion.CSharp11 })
        {
            Report(_rules.LanguageVersionTooLow, ClassLocation, Symbol.Name);
        }

        return EquatableArray.From(containers);
    }

    /// <summary>Whether the class (and every container) is visible at assembly level, so its module initializer can
    /// register the kernel; reports the warning when not.</summary>
    public bool CheckRegisters()
    {
        bool registers = true;
        for (INamedTypeSymbol? t = Symbol; t is not null; t = t.ContainingType)
        {
            registers &= t.DeclaredAccessibility is Accessibility.Public or Accessibility.Internal or Accessibility.ProtectedOrInternal;
        }

        if (!registers)
        {
            Report(_rules.CannotRegister, ClassLocation, Symbol.Name);
        }

        return registers;
    }

    public void Report(DiagnosticDescriptor descriptor, LocationInfo? location, params string[] arguments) =>
        Diagnostics.Add(new DiagnosticInfo(descriptor.Id, location, EquatableArray.From(arguments)));

    /// <summary>The dotted name of a kernel class: namespace, containing types, class.</summary>
    public static string DisplayName(string? ns, EquatableArray<ContainingType> containers, string className)
    {
        var parts = new List<string>();
        if (ns is not null)
        {
            parts.Add(ns);
        }

        foreach (ContainingType c in containers)
        {
            parts.Add(c.Name);
        }

        parts.Add(className);
        return string.Join(".", parts);
    }
}
