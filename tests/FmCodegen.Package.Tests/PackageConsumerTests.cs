using System.Diagnostics;
using System.IO.Compression;
using Xunit;

namespace FmCodegen.Package.Tests;

/// <summary>
/// Packs the library, then builds and runs console projects that reference it with one PackageReference, the .nupkg
/// taken from a local folder added to the machine's own package sources (its dependencies come from those), with a
/// package cache of their own and a version of their own, so nothing stale can stand in for this build.
/// </summary>
public sealed class PackageConsumerTests : IClassFixture<PackageConsumerTests.PackedLibrary>
{
    private readonly PackedLibrary _package;

    public PackageConsumerTests(PackedLibrary package) => _package = package;

    [Fact]
    public void The_package_holds_the_library_and_the_generator_as_an_analyzer()
    {
        using ZipArchive zip = ZipFile.OpenRead(_package.NupkgPath);
        var entries = zip.Entries.Select(e => e.FullName).ToList();
        Assert.Contains("lib/net10.0/FmCodegen.dll", entries);
        Assert.Contains("analyzers/dotnet/cs/FmCodegen.Generators.dll", entries);
        Assert.DoesNotContain(entries, e => e.StartsWith("lib/netstandard2.0", StringComparison.Ordinal));
    }

    [Fact]
    public void A_consumer_declares_kernels_and_they_score_like_the_definition()
    {
        string project = _package.CreateConsumer("GoodConsumer", """
            using FmCodegen;
            using FmCodegen.Kernels;

            [FmKernel(16)] public static partial class K16;
            [FmKernel(5)] public static partial class K5;
            [FmKernel(100)] public static partial class K100;

            public static class Program
            {
                public static int Main()
                {
                    var rng = new Random(42);
                    int failures = 0, checks = 0;
                    foreach (int k in new[] { 16, 5, 100 })
                    {
                        for (int trial = 0; trial < 200; trial++)
                        {
                            int nf = rng.Next(1, 60);
                            float[] w = Enumerable.Range(0, nf).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
                            float[] v = Enumerable.Range(0, nf * k).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
                            var model = FmModel.Create(0.25f, w, v, k);
                            int n = rng.Next(0, 40);
                            int[] idx = Enumerable.Range(0, n).Select(_ => rng.Next(0, nf + 3)).ToArray();
                            float[] x = Enumerable.Range(0, n).Select(_ => rng.Next(3) == 0 ? 0f : (float)rng.NextDouble()).ToArray();
                            double reference = 0.25;
                            for (int i = 0; i < n; i++)
                            {
                                if (idx[i] < nf) reference += w[idx[i]] * (double)x[i];
                                for (int j = i + 1; j < n; j++)
                                {
                                    if (idx[i] >= nf || idx[j] >= nf) continue;
                                    double dot = 0;
                                    for (int f = 0; f < k; f++) dot += (double)v[idx[i] * k + f] * v[idx[j] * k + f];
                                    reference += dot * x[i] * x[j];
                                }
                            }

                            float generated = k switch { 16 => K16.Score(model, idx, x), 5 => K5.Score(model, idx, x), _ => K100.Score(model, idx, x) };
                            foreach (double score in new[] { generated, Fm.Score(model, idx, x), Fm.ScoreNaive(model, idx, x) })
                            {
                                checks++;
                                if (Math.Abs(score - reference) > 1e-4 * (1 + Math.Abs(reference))) { failures++; Console.WriteLine($"k={k}: {score} vs {reference}"); }
                            }
                        }
                    }

                    bool registered = ReferenceEquals(FmKernels.For(5), FmKernel<K5.Kernel>.Instance) && ReferenceEquals(FmKernels.For(100), FmKernel<K100.Kernel>.Instance);
                    Console.WriteLine($"checks={checks} failures={failures} registered={registered} path={K16.ActivePath}");
                    return failures == 0 && registered ? 0 : 1;
                }
            }
            """);
        (int exit, string output) = PackedLibrary.Dotnet(project, "run", "-c", "Release");
        Assert.True(exit == 0, output);
        Assert.Contains("checks=1800 failures=0 registered=True", output, StringComparison.Ordinal);
    }

    [Fact]
    public void A_consumer_declares_field_aware_kernels_and_they_score_like_an_independent_oracle()
    {
        string project = _package.CreateConsumer("FfmConsumer", """
            using FmCodegen;
            using FmCodegen.Kernels;

            [FfmKernel(4)] public static partial class F4;
            [FfmKernel(7)] public static partial class F7;
            [FfmKernel(16)] public static partial class F16;

            public static class Program
            {
                public static int Main()
                {
                    var rng = new Random(7);
                    int failures = 0, checks = 0;
                    foreach (int k in new[] { 4, 7, 16 })
                    {
                        for (int trial = 0; trial < 300; trial++)
                        {
                            int nf = rng.Next(1, 40), m = rng.Next(1, 8);
                            float[] w = Enumerable.Range(0, nf).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
                            float[] v = Enumerable.Range(0, nf * m * k).Select(_ => (float)(rng.NextDouble() - 0.5)).ToArray();
                            var model = FfmModel.Create(0.25f, w, v, m, k);
                            int n = rng.Next(0, 25);
                            int[] fld = Enumerable.Range(0, n).Select(_ => rng.Next(0, m + 1)).ToArray();
                            int[] idx = Enumerable.Range(0, n).Select(_ => rng.Next(0, nf + 3)).ToArray();
                            float[] x = Enumerable.Range(0, n).Select(_ => rng.Next(4) == 0 ? 0f : (float)rng.NextDouble()).ToArray();

                            // the oracle: every pair a < b, <v[j_a, f_b], v[j_b, f_a]> x_a x_b in double; unknown features and fields skipped
                            double reference = 0.25, abs = 0.25;
                            for (int a = 0; a < n; a++)
                            {
                                if (idx[a] >= nf || fld[a] >= m) continue;
                                reference += w[idx[a]] * (double)x[a];
                                abs += Math.Abs(w[idx[a]] * (double)x[a]);
                                for (int b = a + 1; b < n; b++)
                                {
                                    if (idx[b] >= nf || fld[b] >= m) continue;
                                    for (int c = 0; c < k; c++)
                                    {
                                        double term = (double)v[(idx[a] * m + fld[b]) * k + c] * v[(idx[b] * m + fld[a]) * k + c] * x[a] * x[b];
                                        reference += term;
                                        abs += Math.Abs(term);
                                    }
                                }
                            }

                            float generated = k switch { 4 => F4.Score(model, fld, idx, x), 7 => F7.Score(model, fld, idx, x), _ => F16.Score(model, fld, idx, x) };
                            float viaRegistry = Ffm.Score(model, fld, idx, x);
                            checks++;
                            if (Math.Abs(generated - reference) > 1e-5 * abs || BitConverter.SingleToInt32Bits(generated) != BitConverter.SingleToInt32Bits(viaRegistry))
                            {
                                failures++;
                                Console.WriteLine($"k={k}: {generated} (registry {viaRegistry}) vs {reference}");
                            }
                        }
                    }

                    bool registered = FfmKernels.For(7).Name.Contains("F7") && FfmKernels.For(16).Name.Contains("F16");
                    Console.WriteLine($"ffm checks={checks} failures={failures} registered={registered} path={F16.ActivePath}");
                    return failures == 0 && registered ? 0 : 1;
                }
            }
            """);
        (int exit, string output) = PackedLibrary.Dotnet(project, "run", "-c", "Release");
        Assert.True(exit == 0, output);
        Assert.Contains("ffm checks=900 failures=0 registered=True", output, StringComparison.Ordinal);
    }

    [Fact]
    public void A_consumer_with_a_bad_kernel_declaration_fails_to_build_with_FMCG_errors()
    {
        string project = _package.CreateConsumer("BadConsumer", """
            [FmCodegen.FmKernel(0)] public static partial class Zero;
            [FmCodegen.FmKernel(16)] public partial class NotStatic;
            [FmCodegen.FfmKernel(2000)] public static partial class FfmTooLarge;
            [FmCodegen.FfmKernel(4)] public partial class FfmNotStatic;
            public static class Program { public static void Main() { } }
            """);
        (int exit, string output) = PackedLibrary.Dotnet(project, "build", "-c", "Release");
        Assert.NotEqual(0, exit);
        Assert.Contains("error FMCG0001", output, StringComparison.Ordinal);
        Assert.Contains("error FMCG0002", output, StringComparison.Ordinal);
        Assert.Contains("error FMCG0101", output, StringComparison.Ordinal);
        Assert.Contains("error FMCG0102", output, StringComparison.Ordinal);
    }

    /// <summary>Packs once per test run into a fresh folder, with a version of its own so no cache can serve an old build.</summary>
    public sealed class PackedLibrary : IDisposable
    {
        public PackedLibrary()
        {
            Root = Path.Combine(Path.GetTempPath(), "fmcodegen-package-" + Guid.NewGuid().ToString("N")[..12]);
            Feed = Path.Combine(Root, "feed");
            Directory.CreateDirectory(Feed);
            Version = "0.1.0-test." + DateTime.UtcNow.ToString("yyyyMMddHHmmss", System.Globalization.CultureInfo.InvariantCulture);
            string repo = FindRepositoryRoot();
            (int exit, string output) = Dotnet(repo, "pack", Path.Combine(repo, "src", "FmCodegen", "FmCodegen.csproj"), "-c", Configuration, "-o", Feed, "-p:PackageVersion=" + Version);
            if (exit != 0)
            {
                throw new InvalidOperationException("dotnet pack failed:\n" + output);
            }

            NupkgPath = Path.Combine(Feed, $"FmCodegen.{Version}.nupkg");
        }

        public string Root { get; }
        public string Feed { get; }
        public string Version { get; }
        public string NupkgPath { get; }

#if DEBUG
        private const string Configuration = "Debug";
#else
        private const string Configuration = "Release";
#endif

        public string CreateConsumer(string name, string program)
        {
            string dir = Path.Combine(Root, name);
            Directory.CreateDirectory(dir);
            File.WriteAllText(Path.Combine(dir, name + ".csproj"), $"""
                <Project Sdk="Microsoft.NET.Sdk">
                  <PropertyGroup>
                    <OutputType>Exe</OutputType>
                    <TargetFramework>net10.0</TargetFramework>
                    <ImplicitUsings>enable</ImplicitUsings>
                    <Nullable>enable</Nullable>
                    <TreatWarningsAsErrors>true</TreatWarningsAsErrors>
                    <RestorePackagesPath>{Path.Combine(Root, "packages")}</RestorePackagesPath>
                  </PropertyGroup>
                  <ItemGroup>
                    <PackageReference Include="FmCodegen" Version="{Version}" />
                  </ItemGroup>
                </Project>
                """);
            File.WriteAllText(Path.Combine(dir, "nuget.config"), $"""
                <?xml version="1.0" encoding="utf-8"?>
                <configuration>
                  <packageSources>
                    <add key="fmcodegen-local" value="{Feed}" />
                  </packageSources>
                </configuration>
                """);
            File.WriteAllText(Path.Combine(dir, "Program.cs"), program);
            return dir;
        }

        public static (int Exit, string Output) Dotnet(string workingDirectory, params string[] arguments)
        {
            var start = new ProcessStartInfo("dotnet")
            {
                WorkingDirectory = workingDirectory,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            foreach (string argument in arguments)
            {
                start.ArgumentList.Add(argument);
            }

            // The test host's own MSBuild settings must not leak into the child build.
            start.Environment.Remove("MSBuildExtensionsPath");
            start.Environment.Remove("MSBUILD_EXE_PATH");
            start.Environment.Remove("MSBuildSDKsPath");
            start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
            start.Environment["DOTNET_NOLOGO"] = "1";
            using Process process = Process.Start(start)!;
            Task<string> stdout = process.StandardOutput.ReadToEndAsync();
            Task<string> stderr = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(TimeSpan.FromMinutes(5)))
            {
                process.Kill(entireProcessTree: true);
                throw new TimeoutException($"dotnet {string.Join(' ', arguments)} took over 5 minutes");
            }

            return (process.ExitCode, stdout.Result + stderr.Result);
        }

        private static string FindRepositoryRoot()
        {
            for (string? dir = AppContext.BaseDirectory; dir is not null; dir = Path.GetDirectoryName(dir))
            {
                if (File.Exists(Path.Combine(dir, "FmCodegen.sln")))
                {
                    return dir;
                }
            }

            throw new InvalidOperationException("FmCodegen.sln not found above " + AppContext.BaseDirectory);
        }

        public void Dispose()
        {
            try
            {
                Directory.Delete(Root, recursive: true);
            }
            catch (IOException)
            {
                // a leftover temp folder is harmless
            }
        }
    }
}
