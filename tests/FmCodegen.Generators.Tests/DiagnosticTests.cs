using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Xunit;

namespace FmCodegen.Generators.Tests;

public class DiagnosticTests
{
    private static Diagnostic Single(string source, string id, LanguageVersion version = LanguageVersion.Latest)
    {
        (_, var diagnostics, var result) = GeneratorHarness.Run(source, version);
        Diagnostic diagnostic = Assert.Single(diagnostics);
        Assert.Equal(id, diagnostic.Id);
        Assert.Equal(DiagnosticSeverity.Error, diagnostic.Severity);
        Assert.Empty(result.GeneratedTrees);
        return diagnostic;
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-3)]
    [InlineData(1025)]
    public void An_embedding_size_outside_1_to_1024_is_FMCG0001_at_the_argument(int k)
    {
        string source = $"[FmCodegen.FmKernel({k})] public static partial class Bad {{ }}";
        Diagnostic d = Single(source, "FMCG0001");
        Assert.Equal(k.ToString(System.Globalization.CultureInfo.InvariantCulture), source.Substring(d.Location.SourceSpan.Start, d.Location.SourceSpan.Length));
        Assert.Contains("between 1 and 1024", d.GetMessage(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    [InlineData(-2)]
    public void A_max_order_other_than_2_or_3_is_FMCG0007_at_the_argument(int order)
    {
        string source = $"[FmCodegen.FmKernel(16, MaxOrder = {order})] public static partial class Bad {{ }}";
        Diagnostic d = Single(source, "FMCG0007");
        Assert.Equal($"MaxOrder = {order}", source.Substring(d.Location.SourceSpan.Start, d.Location.SourceSpan.Length));
        Assert.Contains("must be 2 (pairs) or 3", d.GetMessage(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("public partial class NotStatic { }")]
    [InlineData("public static class NotPartial { }")]
    [InlineData("public class Neither { }")]
    public void A_target_that_is_not_a_static_partial_class_is_FMCG0002(string declaration)
    {
        Diagnostic d = Single("[FmCodegen.FmKernel(16)] " + declaration, "FMCG0002");
        Assert.Contains("static partial class", d.GetMessage(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);
    }

    [Fact]
    public void A_generic_target_is_FMCG0003() =>
        Single("[FmCodegen.FmKernel(16)] public static partial class Generic<T> { }", "FMCG0003");

    [Fact]
    public void A_target_nested_in_a_type_that_is_not_partial_is_FMCG0004()
    {
        Diagnostic d = Single("public class Host { [FmCodegen.FmKernel(16)] public static partial class Inner { } }", "FMCG0004");
        Assert.Contains("mark 'Host' partial", d.GetMessage(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal);
    }

    [Fact]
    public void A_language_version_below_11_is_FMCG0005() =>
        Single("[FmCodegen.FmKernel(16)] public static partial class Old { }", "FMCG0005", LanguageVersion.CSharp10);

    [Fact]
    public void A_private_nested_target_still_gets_kernels_but_warns_FMCG0006_and_does_not_register()
    {
        (Compilation output, var diagnostics, var result) = GeneratorHarness.Run(
            "public partial class Host { [FmCodegen.FmKernel(16)] private static partial class Hidden { } public static float Use(FmCodegen.FmModel m) => Hidden.Score(m, [], []); }");
        Diagnostic d = Assert.Single(diagnostics);
        Assert.Equal("FMCG0006", d.Id);
        Assert.Equal(DiagnosticSeverity.Warning, d.Severity);
        Assert.DoesNotContain("FmKernels.Register", Assert.Single(result.GeneratedTrees).GetText().ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain(GeneratorHarness.Problems(output), p => p.Id != "FMCG0006");
    }

    [Fact]
    public void A_valid_declaration_has_no_diagnostics_and_the_whole_compilation_is_clean()
    {
        (Compilation output, var diagnostics, var result) = GeneratorHarness.Run("""
            namespace App;
            [FmCodegen.FmKernel(8)] public static partial class A { }
            [FmCodegen.FmKernel(24)] internal static partial class B { }
            public static class Use
            {
                public static float Go(FmCodegen.FmModel m) => A.Score(m, [1], [1f]) + B.CrossTerm(new float[48]) + A.EmbeddingSize;
            }
            """);
        Assert.Empty(diagnostics);
        Assert.Equal(2, result.GeneratedTrees.Length);
        Assert.Empty(GeneratorHarness.Problems(output));
    }

    [Fact]
    public void Bad_and_good_targets_in_one_project_report_and_emit_independently()
    {
        (_, var diagnostics, var result) = GeneratorHarness.Run("""
            [FmCodegen.FmKernel(0)] public static partial class Bad { }
            [FmCodegen.FmKernel(16)] public static partial class Good { }
            """);
        Assert.Equal("FMCG0001", Assert.Single(diagnostics).Id);
        Assert.Single(result.GeneratedTrees);
    }
}
