using System.Collections.Immutable;
using System.Reflection;
using System.Runtime.Loader;
using System.Text.RegularExpressions;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Xunit;

namespace FmCodegen.Generators.Tests;

/// <summary>
/// Docs that cannot rot: every ```csharp block of README.md is a complete program; each is compiled with the
/// generator against the library (as a console project with the SDK's implicit usings would be) and run, in a
/// folder holding the small files the blocks read (train.libfm, train.ffm, a9a.libfm.model).
/// </summary>
[Collection(nameof(ReadmeTests))] // runs the blocks with the current directory set to a temporary folder
public sealed partial class ReadmeTests
{
    private const string ImplicitUsings = """
        global using System;
        global using System.Collections.Generic;
        global using System.IO;
        global using System.Linq;
        global using System.Net.Http;
        global using System.Threading;
        global using System.Threading.Tasks;
        """;

    private static readonly object s_directoryLock = new();

    public static TheoryData<int> Blocks()
    {
        var data = new TheoryData<int>();
        for (int i = 0; i < CSharpBlocks().Count; i++)
        {
            data.Add(i);
        }

        return data;
    }

    internal static List<string> CSharpBlocks()
    {
        string readme = File.ReadAllText(Path.Combine(RepositoryRoot(), "README.md"));
        return FencedCSharp().Matches(readme.Replace("\r\n", "\n", StringComparison.Ordinal)).Select(m => m.Groups[1].Value).ToList();
    }

    [Fact]
    public void The_readme_has_the_blocks_a_user_needs()
    {
        List<string> blocks = CSharpBlocks();
        Assert.True(blocks.Count >= 4, $"README.md has {blocks.Count} C# blocks");
        Assert.Contains(blocks, b => b.Contains("[FmKernel(", StringComparison.Ordinal));
        Assert.Contains(blocks, b => b.Contains("FmTrainer.Train", StringComparison.Ordinal) && b.Contains(".Save(", StringComparison.Ordinal));
    }

    [Theory]
    [MemberData(nameof(Blocks))]
    public void Every_csharp_block_of_the_readme_compiles_and_runs(int index)
    {
        string block = CSharpBlocks()[index];
        string where = $"README.md C# block {index + 1}:\n{block}";
        CSharpCompilation compilation = CSharpCompilation.Create(
            $"ReadmeBlock{index + 1}",
            [
                CSharpSyntaxTree.ParseText(ImplicitUsings, new CSharpParseOptions(LanguageVersion.Latest), path: "ImplicitUsings.cs"),
                CSharpSyntaxTree.ParseText(block, new CSharpParseOptions(LanguageVersion.Latest), path: $"README.block{index + 1}.cs"),
            ],
            References(),
            new CSharpCompilationOptions(OutputKind.ConsoleApplication, nullableContextOptions: NullableContextOptions.Enable));
        GeneratorHarness.CreateDriver().RunGeneratorsAndUpdateCompilation(compilation, out Compilation output, out ImmutableArray<Diagnostic> generatorDiagnostics);
        Assert.True(generatorDiagnostics.IsEmpty, where + "\n" + string.Join("\n", generatorDiagnostics));

        using var image = new MemoryStream();
        var emitted = output.Emit(image);
        Assert.True(emitted.Success, where + "\n" + string.Join("\n", emitted.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error)));

        // not collectible: a block's generated kernel registers in the library's registry and stays referenced
        var context = new AssemblyLoadContext($"README block {index + 1}");
        {
            image.Position = 0;
            Assembly assembly = context.LoadFromStream(image);
            string folder = Path.Combine(Path.GetTempPath(), "fm-readme-" + Guid.NewGuid().ToString("N"));
            Directory.CreateDirectory(folder);
            try
            {
                WriteInputs(folder);
                var stdout = new StringWriter();
                lock (s_directoryLock)
                {
                    string previous = Environment.CurrentDirectory;
                    TextWriter console = Console.Out;
                    Environment.CurrentDirectory = folder;
                    Console.SetOut(stdout);
                    try
                    {
                        MethodInfo main = assembly.EntryPoint!;
                        main.Invoke(null, main.GetParameters().Length == 0 ? null : [Array.Empty<string>()]);
                    }
                    finally
                    {
                        Console.SetOut(console);
                        Environment.CurrentDirectory = previous;
                    }
                }

                Assert.False(string.IsNullOrWhiteSpace(stdout.ToString()), where + "\nprinted nothing");
            }
            finally
            {
                Directory.Delete(folder, recursive: true);
            }
        }
    }

    /// <summary>The inputs the blocks name: a libFM slice of a9a, a small libffm file, libFM's a9a model.</summary>
    private static void WriteInputs(string folder)
    {
        string fixtures = Path.Combine(RepositoryRoot(), "tests", "FmCodegen.Data.Tests", "Fixtures");
        File.Copy(Path.Combine(fixtures, "a9a.t.head300"), Path.Combine(folder, "train.libfm"));
        File.Copy(Path.Combine(fixtures, "a9a_sgd.libfm.model"), Path.Combine(folder, "a9a.libfm.model"));
        File.WriteAllText(Path.Combine(folder, "train.ffm"), "1 0:3:1 1:5:0.5\n0 0:2:1 2:7:1\n");
    }

    private static ImmutableArray<MetadataReference> References()
    {
        string tpa = (string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!;
        return [.. tpa.Split(Path.PathSeparator)
            .Where(path => Path.GetFileName(path).StartsWith("System.", StringComparison.Ordinal) || Path.GetFileName(path) is "netstandard.dll" or "mscorlib.dll")
            .Select(path => (MetadataReference)MetadataReference.CreateFromFile(path))
            .Append(MetadataReference.CreateFromFile(typeof(FmModel).Assembly.Location))];
    }

    private static string RepositoryRoot([System.Runtime.CompilerServices.CallerFilePath] string here = "") =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(here)!, "..", ".."));

    [GeneratedRegex(@"^```csharp\n(.*?)^```", RegexOptions.Multiline | RegexOptions.Singleline)]
    private static partial Regex FencedCSharp();
}
