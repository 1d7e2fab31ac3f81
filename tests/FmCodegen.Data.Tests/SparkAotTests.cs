using System.Diagnostics;
using System.Globalization;
using FmCodegen.Cli;
using FmCodegen.Spark;
using static FmCodegen.Data.Tests.SparkModelTests;

namespace FmCodegen.Data.Tests;

/// <summary>
/// The Native AOT build of <c>fm</c> reads Spark model directories as the JIT build does. Parquet.Net reports trim and
/// AOT analysis warnings (IL2104, IL3053) when the tool is published with Native AOT; this test is what those warnings
/// are weighed against: every encoding of Spark's schema (dense row- and column-major factors, sparse CSC factors,
/// dense and sparse and empty linear vectors, classifier and regressor) and a damaged file, run through the AOT binary,
/// give the same converted model bytes, predictions, descriptions and errors as the library in this process.
/// It runs when FMCODEGEN_AOT_FM names a published AOT binary (benchmarks/aot/check-spark.sh publishes one and runs it).
/// </summary>
public sealed class SparkAotTests
{
    [AotBinaryFact]
    public void The_native_aot_fm_reads_every_spark_encoding_as_the_library_does()
    {
        string aot = Environment.GetEnvironmentVariable("FMCODEGEN_AOT_FM")!;
        using var folder = new TempFolder();
        var random = new Random(3);
        const int n = 40, k = 6;
        double[,] v = new double[n, k];
        for (int i = 0; i < n; i++)
        {
            for (int f = 0; f < k; f++)
            {
                v[i, f] = random.NextDouble() < 0.3 ? 0 : (random.NextDouble() - 0.5) * 0.4;
            }
        }

        double[] w = [.. Enumerable.Range(0, n).Select(_ => random.NextDouble() - 0.5)];
        int[] sparseIds = [0, 7, 13, 39];
        double[] sparseValues = [0.5, -1.25, 2.0, -0.375];
        var models = new (string Name, string Class, string Params, double Intercept, SparkVector Linear, SparkMatrix Factors)[]
        {
            ("classifier-row-major", SparkModelDirectory.ClassificationClass, "{\"factorSize\":6}", 0.25, SparkVector.OfDense(w), SparkMatrix.RowMajor(v)),
            ("regressor-column-major-sparse-linear", SparkModelDirectory.RegressionClass, "{\"factorSize\":6}", -1.5, SparkVector.OfSparse(n, sparseIds, sparseValues), SparkMatrix.ColumnMajor(v)),
            ("regressor-sparse-factors", SparkModelDirectory.RegressionClass, "{\"factorSize\":6}", 3.0, SparkVector.OfDense(w), SparkMatrix.SparseColumns(v)),
            ("classifier-no-linear-no-intercept", SparkModelDirectory.ClassificationClass, "{\"factorSize\":6,\"fitLinear\":false,\"fitIntercept\":false}", 0.0, SparkVector.OfSparse(n, [], []), SparkMatrix.RowMajor(v)),
        };
        var data = new System.Text.StringBuilder();
        for (int row = 0; row < 200; row++)
        {
            data.Append(row % 2).Append(' ');
            data.AppendJoin(' ', Enumerable.Range(0, n).Where(_ => random.Next(8) == 0).Select(i => string.Create(CultureInfo.InvariantCulture, $"{i}:{random.Next(1, 9) / 4.0}")));
            data.Append('\n');
        }

        string input = folder.Write("rows.libfm", data.ToString());
        foreach (var m in models)
        {
            string dir = folder.File(m.Name);
            WriteSparkModel(dir, m.Class, m.Params, m.Intercept, m.Linear, m.Factors);
            foreach (string[] args in new[]
            {
                new[] { "convert", "--model", dir, "--to", "native", "--output", "{out}.fmb" },
                ["predict", "--model", dir, "--input", input, "--output", "{out}.txt"],
                ["predict", "--model", dir, "--model-format", "spark", "--input", input, "--output", "{out}.txt", "--probability"],
                ["info", "--model", dir],
            })
            {
                string jitOut = folder.File($"{m.Name}-jit"), aotOut = folder.File($"{m.Name}-aot");
                (int jitCode, string jitStdout, string jitStderr) = InProcess([.. args.Select(a => a.Replace("{out}", jitOut, StringComparison.Ordinal))]);
                (int aotCode, string aotStdout, string aotStderr) = Binary(aot, [.. args.Select(a => a.Replace("{out}", aotOut, StringComparison.Ordinal))]);
                string what = $"{m.Name}: fm {string.Join(' ', args)}";
                Assert.True(jitCode == 0, $"{what}: {jitStderr}");
                Assert.True(aotCode == 0, $"{what} (AOT): {aotStderr}");
                if (args[0] == "info")
                {
                    Assert.Equal(jitStdout, aotStdout);
                }
                else
                {
                    string suffix = args[0] == "convert" ? ".fmb" : ".txt";
                    Assert.Equal(File.ReadAllBytes(jitOut + suffix), File.ReadAllBytes(aotOut + suffix));
                }
            }
        }

        // a damaged data file: the same error, exit 1, no stack trace
        string damaged = folder.File(models[0].Name);
        string parquet = Directory.GetFiles(Path.Combine(damaged, "data"), "*.parquet").Single();
        byte[] bytes = File.ReadAllBytes(parquet);
        File.WriteAllBytes(parquet, bytes[..(bytes.Length / 2)]);
        (int code, _, string error) = InProcess("info", "--model", damaged);
        (int aotCodeDamaged, _, string aotError) = Binary(aot, "info", "--model", damaged);
        Assert.Equal(1, code);
        Assert.Equal(1, aotCodeDamaged);
        Assert.StartsWith("fm info: error: ", aotError, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", aotError, StringComparison.Ordinal);
        Assert.Equal(error, aotError);
    }

    private static (int Code, string Output, string Error) InProcess(params string[] args)
    {
        using var output = new StringWriter(CultureInfo.InvariantCulture);
        using var error = new StringWriter(CultureInfo.InvariantCulture);
        int code = Program.Run(args, output, error);
        return (code, output.ToString(), error.ToString());
    }

    private static (int Code, string Output, string Error) Binary(string path, params string[] args)
    {
        var start = new ProcessStartInfo(path) { RedirectStandardOutput = true, RedirectStandardError = true };
        start.Environment["FM_PLAIN"] = "1";
        foreach (string a in args)
        {
            start.ArgumentList.Add(a);
        }

        using Process process = Process.Start(start)!;
        Task<string> error = process.StandardError.ReadToEndAsync();
        string output = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, output, error.Result);
    }
}

/// <summary>A fact that runs only when FMCODEGEN_AOT_FM names a Native AOT build of fm; otherwise skipped with the reason.</summary>
public sealed class AotBinaryFactAttribute : FactAttribute
{
    public AotBinaryFactAttribute()
    {
        if (Environment.GetEnvironmentVariable("FMCODEGEN_AOT_FM") is not { Length: > 0 } path || !File.Exists(path))
        {
            Skip = "FMCODEGEN_AOT_FM does not name a Native AOT build of fm: benchmarks/aot/check-spark.sh publishes one and runs this test against it.";
        }
    }
}
