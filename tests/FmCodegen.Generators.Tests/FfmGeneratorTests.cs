using FmCodegen.Generators;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Xunit;

namespace FmCodegen.Generators.Tests;

/// <summary>
/// [FfmKernel(k)]: the emitted source is committed under Snapshots/ (Ffm_*.verified.cs; a change shows as a reviewed
/// diff, FMCODEGEN_ACCEPT_SNAPSHOTS=1 accepts it), and the pipeline stays cached when nothing it reads changes.
/// </summary>
public class FfmGeneratorTests
{
    public static TheoryData<string, string> Consumers => new()
    {
        { "Ffm_K4_in_a_namespace", "namespace Shop.Ranking { [FmCodegen.FfmKernel(4)] public static partial class Ctr4 { } }" },
        { "Ffm_K7_nested_without_namespace", "public static partial class Models { [FmCodegen.FfmKernel(7)] internal static partial class Seven { } }" },
        { "Ffm_K1_file_scoped_namespace", "namespace A.B; [FmCodegen.FfmKernel(1)] static partial class One { }" },
        { "Ffm_K20_two_cache_lines", "namespace Big; [FmCodegen.FfmKernel(20)] public static partial class Wide { }" },
    };

    [Theory]
    [MemberData(nameof(Consumers))]
    public void Emitted_source_matches_the_snapshot(string name, string source)
    {
        (Compilation output, var diagnostics, GeneratorDriverRunResult result) = GeneratorHarness.Run(source, generator: new FfmKernelGenerator());
        Assert.Empty(diagnostics);
        Assert.Empty(GeneratorHarness.Problems(output));
        string generated = Assert.Single(result.GeneratedTrees).GetText().ToString();
        SnapshotTests.Verify(name, generated);
    }

    [Theory]
    [InlineData(1, 4, new[] { 4, 1 })]
    [InlineData(4, 4, new[] { 4, 1 })]
    [InlineData(7, 8, new[] { 8, 4, 1 })]
    [InlineData(16, 16, new[] { 16, 8, 4, 1 })]
    [InlineData(20, 32, new[] { 16, 8, 4, 1 })]
    public void Field_blocks_and_vector_widths_are_decided_at_generation_time_as_the_library_lays_them_out(int k, int stride, int[] widths)
    {
        Assert.Equal(stride, FfmKernelEmitter.FieldStride(k));
        Assert.Equal(FmCodegen.Kernels.FfmLayout.FieldStride(k), FfmKernelEmitter.FieldStride(k));
        Assert.Equal(widths, FfmKernelEmitter.Widths(k));
    }

    private const string Source = """
        namespace App;
        [FmCodegen.FfmKernel(4)] public static partial class F4 { }
        [FmCodegen.FfmKernel(0)] public static partial class Broken { }
        """;

    private static GeneratorDriverRunResult RunTwice(Func<Compilation, Compilation> edit)
    {
        Compilation first = GeneratorHarness.Compile(Source);
        GeneratorDriver driver = GeneratorHarness.CreateDriver(generator: new FfmKernelGenerator()).RunGenerators(first);
        return driver.RunGenerators(edit(first)).GetRunResult();
    }

    private static IEnumerable<IncrementalGeneratorRunStep> TrackedSteps(GeneratorDriverRunResult result) =>
        result.Results[0].TrackedSteps
            .Where(step => step.Key is FfmKernelGenerator.TrackingNames.Parse or FfmKernelGenerator.TrackingNames.Specs or FfmKernelGenerator.TrackingNames.Diagnostics)
            .SelectMany(step => step.Value);

    private static Compilation Replace(Compilation c, string text) =>
        c.ReplaceSyntaxTree(c.SyntaxTrees.First(), CSharpSyntaxTree.ParseText(text, (CSharpParseOptions)c.SyntaxTrees.First().Options, "Consumer.cs"));

    [Fact]
    public void The_broken_declaration_is_reported_and_the_valid_one_emitted()
    {
        (_, var diagnostics, GeneratorDriverRunResult result) = GeneratorHarness.Run(Source, generator: new FfmKernelGenerator());
        Assert.Contains(diagnostics, d => d.Id == "FMCG0101");
        Assert.Contains("public const int EmbeddingSize = 4;", Assert.Single(result.GeneratedTrees).GetText().ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void AddedComment_DoesNotModifyOutput() =>
        IncrementalityTests.AssertAllCachedOrUnchanged(TrackedSteps(RunTwice(c => Replace(c, Source + "\n// a comment\n"))));

    [Fact]
    public void MovedDiagnostic_IsReportedAgain_ButSourceIsNotReemitted()
    {
        GeneratorDriverRunResult result = RunTwice(c => Replace(c, "// a comment\n" + Source));
        IncrementalityTests.AssertAllCachedOrUnchanged(result.Results[0].TrackedSteps[FfmKernelGenerator.TrackingNames.Specs]);
        Assert.Contains(result.Results[0].TrackedSteps[FfmKernelGenerator.TrackingNames.Diagnostics].SelectMany(s => s.Outputs), o => o.Reason == IncrementalStepRunReason.Modified);
    }

    [Fact]
    public void AddedUnrelatedFile_LeavesEveryStepCached() =>
        IncrementalityTests.AssertAllCachedOrUnchanged(TrackedSteps(RunTwice(c => c.AddSyntaxTrees(
            CSharpSyntaxTree.ParseText("namespace App; public class Unrelated { public int X => 1; }", (CSharpParseOptions)c.SyntaxTrees.First().Options, "Other.cs")))));

    [Fact]
    public void ChangedEmbeddingSize_RegeneratesThatKernel()
    {
        GeneratorDriverRunResult result = RunTwice(c => Replace(c, Source.Replace("FfmKernel(4)", "FfmKernel(8)", StringComparison.Ordinal)));
        Assert.Contains(result.Results[0].TrackedSteps[FfmKernelGenerator.TrackingNames.Specs].SelectMany(s => s.Outputs), o => o.Reason == IncrementalStepRunReason.Modified);
        Assert.Contains("EmbeddingSize = 8", result.GeneratedTrees.Single().GetText().ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void PipelineOutputs_HoldNoSymbolsSyntaxOrCompilation()
    {
        Compilation compilation = GeneratorHarness.Compile(Source);
        GeneratorDriverRunResult result = GeneratorHarness.CreateDriver(generator: new FfmKernelGenerator()).RunGenerators(compilation).GetRunResult();
        var steps = TrackedSteps(result).ToList();
        Assert.NotEmpty(steps);
        foreach (IncrementalGeneratorRunStep step in steps)
        {
            foreach ((object value, _) in step.Outputs)
            {
                IncrementalityTests.AssertNoRoslynObjects(value, step.Name ?? "?", depth: 0);
            }
        }
    }
}
