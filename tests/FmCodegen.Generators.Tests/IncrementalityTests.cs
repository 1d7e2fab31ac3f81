using System.Collections;
using System.Reflection;
using FmCodegen.Generators;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Xunit;

namespace FmCodegen.Generators.Tests;

public class IncrementalityTests
{
    private const string Source = """
        namespace App;
        [FmCodegen.FmKernel(16)] public static partial class K16 { }
        [FmCodegen.FmKernel(0)] public static partial class Broken { }
        """;

    private static GeneratorDriverRunResult RunTwice(Func<Compilation, Compilation> edit)
    {
        Compilation first = GeneratorHarness.Compile(Source);
        GeneratorDriver driver = GeneratorHarness.CreateDriver().RunGenerators(first);
        return driver.RunGenerators(edit(first)).GetRunResult();
    }

    private static IEnumerable<IncrementalGeneratorRunStep> TrackedSteps(GeneratorDriverRunResult result) =>
        result.Results[0].TrackedSteps
            .Where(step => step.Key is FmKernelGenerator.TrackingNames.Parse or FmKernelGenerator.TrackingNames.Specs or FmKernelGenerator.TrackingNames.Diagnostics)
            .SelectMany(step => step.Value);

    [Fact]
    public void AddedComment_DoesNotModifyOutput()
    {
        GeneratorDriverRunResult result = RunTwice(c => c.ReplaceSyntaxTree(
            c.SyntaxTrees.First(),
            CSharpSyntaxTree.ParseText(Source + "\n// a comment\n", (CSharpParseOptions)c.SyntaxTrees.First().Options, "Consumer.cs")));
        AssertAllCachedOrUnchanged(TrackedSteps(result));
    }

    [Fact]
    public void MovedDiagnostic_IsReportedAgain_ButSourceIsNotReemitted()
    {
        // A comment above the classes shifts every location: the diagnostic moves, the specs (no locations) do not.
        GeneratorDriverRunResult result = RunTwice(c => c.ReplaceSyntaxTree(
            c.SyntaxTrees.First(),
            CSharpSyntaxTree.ParseText("// a comment\n" + Source, (CSharpParseOptions)c.SyntaxTrees.First().Options, "Consumer.cs")));
        AssertAllCachedOrUnchanged(result.Results[0].TrackedSteps[FmKernelGenerator.TrackingNames.Specs]);
        Assert.Contains(result.Results[0].TrackedSteps[FmKernelGenerator.TrackingNames.Diagnostics].SelectMany(s => s.Outputs), o => o.Reason == IncrementalStepRunReason.Modified);
    }

    [Fact]
    public void AddedUnrelatedFile_LeavesEveryStepCached()
    {
        GeneratorDriverRunResult result = RunTwice(c => c.AddSyntaxTrees(
            CSharpSyntaxTree.ParseText("namespace App; public class Unrelated { public int X => 1; }", (CSharpParseOptions)c.SyntaxTrees.First().Options, "Other.cs")));
        AssertAllCachedOrUnchanged(TrackedSteps(result));
    }

    [Fact]
    public void ChangedEmbeddingSize_RegeneratesThatKernel()
    {
        GeneratorDriverRunResult result = RunTwice(c => c.ReplaceSyntaxTree(
            c.SyntaxTrees.First(),
            CSharpSyntaxTree.ParseText(Source.Replace("FmKernel(16)", "FmKernel(32)", StringComparison.Ordinal), (CSharpParseOptions)c.SyntaxTrees.First().Options, "Consumer.cs")));
        Assert.Contains(result.Results[0].TrackedSteps[FmKernelGenerator.TrackingNames.Specs].SelectMany(s => s.Outputs), o => o.Reason == IncrementalStepRunReason.Modified);
        Assert.Contains("EmbeddingSize = 32", result.GeneratedTrees.Single().GetText().ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void PipelineOutputs_HoldNoSymbolsSyntaxOrCompilation()
    {
        Compilation compilation = GeneratorHarness.Compile(Source);
        GeneratorDriverRunResult result = GeneratorHarness.CreateDriver().RunGenerators(compilation).GetRunResult();
        var steps = TrackedSteps(result).ToList();
        Assert.NotEmpty(steps);
        foreach (IncrementalGeneratorRunStep step in steps)
        {
            foreach ((object value, _) in step.Outputs)
            {
                AssertNoRoslynObjects(value, step.Name ?? "?", depth: 0);
            }
        }
    }

    internal static void AssertAllCachedOrUnchanged(IEnumerable<IncrementalGeneratorRunStep> tracked)
    {
        var steps = tracked.ToList();
        Assert.NotEmpty(steps);
        foreach (IncrementalGeneratorRunStep step in steps)
        {
            foreach ((_, IncrementalStepRunReason reason) in step.Outputs)
            {
                Assert.True(reason is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged,
                    $"step {step.Name} output was {reason}; inputs: {string.Join(", ", step.Inputs.Select(i => i.Source.Name + "=" + i.Source.Outputs[i.OutputIndex].Reason + ":" + i.Source.Outputs[i.OutputIndex].Value))}");
            }
        }
    }

    internal static void AssertNoRoslynObjects(object? value, string step, int depth)
    {
        if (value is null || depth > 8)
        {
            return;
        }

        Type type = value.GetType();
        Assert.False(value is Compilation or ISymbol or SyntaxNode or SemanticModel or SyntaxTree or Location,
            $"step {step} holds a {type.Name}: it would defeat caching and keep compilations alive");
        if (type.IsPrimitive || value is string || type.IsEnum)
        {
            return;
        }

        if (value is IEnumerable sequence)
        {
            foreach (object? item in sequence)
            {
                AssertNoRoslynObjects(item, step, depth + 1);
            }
        }

        foreach (FieldInfo field in type.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic))
        {
            AssertNoRoslynObjects(field.GetValue(value), step, depth + 1);
        }
    }
}
