using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;

namespace FmCodegen.Generators;

/// <summary>What the emitter needs to know of one [FmKernel(k)] class: names and k, nothing from Roslyn's object graph.</summary>
internal sealed record KernelSpec(
    string? Namespace,
    EquatableArray<ContainingType> Containers,
    string ClassName,
    int EmbeddingSize,
    bool Registers = true,
    int MaxOrder = 2)
{
    /// <summary>The fully qualified name, for messages and the kernel's Name.</summary>
    public string DisplayName => KernelTarget.DisplayName(Namespace, Containers, ClassName);

    /// <summary>The global::-qualified name, for references from inside the generated nested types.</summary>
    public string QualifiedName => "global::" + DisplayName;

    public string HintName => DisplayName.Replace('<', '_').Replace('>', '_') + ".FmKernel.g.cs";
}

/// <summary>A type the kernel class is nested in: its keyword (class, struct, record, record struct, interface) and name.</summary>
internal sealed record ContainingType(string Keyword, string Name);

/// <summary>A source location as plain values; turned back into a <see cref="Location"/> only when reported.</summary>
internal sealed record LocationInfo(string FilePath, TextSpan Span, LinePositionSpan LineSpan)
{
    public Location ToLocation() => Location.Create(FilePath, Span, LineSpan);

    public static LocationInfo? From(SyntaxNode? node) => From(node?.GetLocation());

    public static LocationInfo? From(Location? location) =>
        location?.SourceTree is null ? null : new LocationInfo(location.SourceTree.FilePath, location.SourceSpan, location.GetLineSpan().Span);
}

/// <summary>A diagnostic to report: descriptor id, where, and its message arguments.</summary>
internal sealed record DiagnosticInfo(string Id, LocationInfo? Location, EquatableArray<string> Arguments)
{
    public Diagnostic ToDiagnostic() =>
        Diagnostic.Create(Diagnostics.ById(Id), Location?.ToLocation() ?? Microsoft.CodeAnalysis.Location.None, Arguments.ToArrayOfObjects());
}

/// <summary>What parsing one attributed class gives: a spec to emit (null when it cannot be) and its diagnostics.</summary>
internal sealed record KernelParseResult(KernelSpec? Spec, EquatableArray<DiagnosticInfo> Diagnostics);

internal static class EquatableArrayExtensions
{
    public static object[] ToArrayOfObjects(this EquatableArray<string> items)
    {
        var result = new object[items.Count];
        for (int i = 0; i < result.Length; i++)
        {
            result[i] = items[i];
        }

        return result;
    }
}
