using Microsoft.CodeAnalysis;

namespace FmCodegen.Generators;

/// <summary>Every diagnostic the generator reports. IDs are tracked in AnalyzerReleases.*.md.</summary>
internal static class Diagnostics
{
    private const string Category = "FmCodegen";
    private const string HelpBase = "https://github.com/fmcodegen/fmcodegen/blob/main/README.md#diagnostics";

    public static readonly DiagnosticDescriptor EmbeddingSizeOutOfRange = new(
        id: "FMCG0001",
        title: "FmKernel embedding size out of range",
        messageFormat: "[FmKernel({0})] on '{1}': the embedding size must be between 1 and " + FmLimits.MaxEmbeddingSize + " (FmModel.MaxEmbeddingSize, the limit of every model); use a k in that range",
        category: Category,
        defaultSeverity: DiagnosticSeverity.Error,
        isEnabledByDefault: true,
        helpLinkUri: HelpBase + "-fmcg0001");

    public static readonly DiagnosticDescriptor NotStaticPartialClass = new(
        id: "FMCG0002",
        title: "FmKernel target must be a static partial class",
        messageFormat: "'{0}' carries [FmKernel] but is not a static partial class; declare it as 'static partial class {0}' so the generator can add the kernels to it",
        category: Category,
        defaultSeverity: DiagnosticSeverity.Error,
        isEnabledByDefault: true,
        helpLinkUri: HelpBase + "-fmcg0002");

    public static readonly DiagnosticDescriptor GenericTarget = new(
        id: "FMCG0003",
        title: "FmKernel target must not be generic",
        messageFormat: "'{0}' carries [FmKernel] but is generic or nested in a generic type; put the attribute on a non-generic static partial class",
        category: Category,
        defaultSeverity: DiagnosticSeverity.Error,
        isEnabledByDefault: true,
        helpLinkUri: HelpBase + "-fmcg0003");

    public static readonly DiagnosticDescriptor ContainingTypeNotPartial = new(
        id: "FMCG0004",
        title: "Types containing an FmKernel class must be partial",
        messageFormat: "'{0}' is nested in '{1}', which is not partial; mark '{1}' partial so the generator can add to the nested class",
        category: Category,
        defaultSeverity: DiagnosticSeverity.Error,
        isEnabledByDefault: true,
        helpLinkUri: HelpBase + "-fmcg0004");

    public static readonly DiagnosticDescriptor LanguageVersionTooLow = new(
        id: "FMCG0005",
        title: "FmKernel needs C# 11 or later",
        messageFormat: "[FmKernel] on '{0}' needs C# 11 or later (the generated Kernel struct implements static abstract interface members); set <LangVersion> to 11 or later",
        category: Category,
        defaultSeverity: DiagnosticSeverity.Error,
        isEnabledByDefault: true,
        helpLinkUri: HelpBase + "-fmcg0005");

    public static readonly DiagnosticDescriptor CannotRegister = new(
        id: "FMCG0006",
        title: "A private FmKernel class cannot register itself",
        messageFormat: "'{0}' is not accessible at assembly level (it or a containing type is private or protected), so its kernels cannot register for Fm.Score; its own Score and CrossTerm still work. Make it internal to register it.",
        category: Category,
        defaultSeverity: DiagnosticSeverity.Warning,
        isEnabledByDefault: true,
        helpLinkUri: HelpBase + "-fmcg0006");

    public static readonly DiagnosticDescriptor MaxOrderOutOfRange = new(
        id: "FMCG0007",
        title: "FmKernel MaxOrder must be 2 or 3",
        messageFormat: "[FmKernel(MaxOrder = {0})] on '{1}': the highest order of interaction must be 2 (pairs) or 3 (pairs and triples); use MaxOrder = 3 for order-3 models, or leave it out",
        category: Category,
        defaultSeverity: DiagnosticSeverity.Error,
        isEnabledByDefault: true,
        helpLinkUri: HelpBase + "-fmcg0007");

    public static readonly DiagnosticDescriptor FfmEmbeddingSizeOutOfRange = new(
        id: "FMCG0101",
        title: "FfmKernel embedding size out of range",
        messageFormat: "[FfmKernel({0})] on '{1}': the embedding size must be between 1 and 1024; use a k in that range (models of other sizes score through Ffm.Score's runtime kernel)",
        category: Category,
        defaultSeverity: DiagnosticSeverity.Error,
        isEnabledByDefault: true,
        helpLinkUri: HelpBase + "-fmcg0101");

    public static readonly DiagnosticDescriptor FfmNotStaticPartialClass = new(
        id: "FMCG0102",
        title: "FfmKernel target must be a static partial class",
        messageFormat: "'{0}' carries [FfmKernel] but is not a static partial class; declare it as 'static partial class {0}' so the generator can add the kernels to it",
        category: Category,
        defaultSeverity: DiagnosticSeverity.Error,
        isEnabledByDefault: true,
        helpLinkUri: HelpBase + "-fmcg0102");

    public static readonly DiagnosticDescriptor FfmGenericTarget = new(
        id: "FMCG0103",
        title: "FfmKernel target must not be generic",
        messageFormat: "'{0}' carries [FfmKernel] but is generic or nested in a generic type; put the attribute on a non-generic static partial class",
        category: Category,
        defaultSeverity: DiagnosticSeverity.Error,
        isEnabledByDefault: true,
        helpLinkUri: HelpBase + "-fmcg0103");

    public static readonly DiagnosticDescriptor FfmContainingTypeNotPartial = new(
        id: "FMCG0104",
        title: "Types containing an FfmKernel class must be partial",
        messageFormat: "'{0}' is nested in '{1}', which is not partial; mark '{1}' partial so the generator can add to the nested class",
        category: Category,
        defaultSeverity: DiagnosticSeverity.Error,
        isEnabledByDefault: true,
        helpLinkUri: HelpBase + "-fmcg0104");

    public static readonly DiagnosticDescriptor FfmLanguageVersionTooLow = new(
        id: "FMCG0105",
        title: "FfmKernel needs C# 11 or later",
        messageFormat: "[FfmKernel] on '{0}' needs C# 11 or later (its kernel is a struct implementing static abstract interface members); set <LangVersion> to 11 or later",
        category: Category,
        defaultSeverity: DiagnosticSeverity.Error,
        isEnabledByDefault: true,
        helpLinkUri: HelpBase + "-fmcg0105");

    public static readonly DiagnosticDescriptor FfmCannotRegister = new(
        id: "FMCG0106",
        title: "A private FfmKernel class cannot register itself",
        messageFormat: "'{0}' is not accessible at assembly level (it or a containing type is private or protected), so its field-aware kernel cannot register for Ffm.Score; its own Score still works. Make it internal to register it.",
        category: Category,
        defaultSeverity: DiagnosticSeverity.Warning,
        isEnabledByDefault: true,
        helpLinkUri: HelpBase + "-fmcg0106");

    public static readonly DiagnosticDescriptor FfmMemberClash = new(
        id: "FMCG0107",
        title: "An FfmKernel class must not declare a member named Kernel",
        messageFormat: "'{0}' carries [FfmKernel] and declares a member named 'Kernel', which the generator adds (the kernel struct); rename the member, or put [FfmKernel] on another class",
        category: Category,
        defaultSeverity: DiagnosticSeverity.Error,
        isEnabledByDefault: true,
        helpLinkUri: HelpBase + "-fmcg0107");

    public static DiagnosticDescriptor ById(string id) => id switch
    {
        "FMCG0101" => FfmEmbeddingSizeOutOfRange,
        "FMCG0102" => FfmNotStaticPartialClass,
        "FMCG0103" => FfmGenericTarget,
        "FMCG0104" => FfmContainingTypeNotPartial,
        "FMCG0105" => FfmLanguageVersionTooLow,
        "FMCG0106" => FfmCannotRegister,
        "FMCG0107" => FfmMemberClash,
        "FMCG0001" => EmbeddingSizeOutOfRange,
        "FMCG0002" => NotStaticPartialClass,
        "FMCG0003" => GenericTarget,
        "FMCG0004" => ContainingTypeNotPartial,
        "FMCG0005" => LanguageVersionTooLow,
        "FMCG0006" => CannotRegister,
        "FMCG0007" => MaxOrderOutOfRange,
        _ => throw new System.ArgumentOutOfRangeException(nameof(id), id, "unknown diagnostic"),
    };
}
