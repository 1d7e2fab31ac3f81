using System.Globalization;
using System.Text;
using FmCodegen.Cli;
using FmCodegen.IO;
using Xunit.Abstractions;

namespace FmCodegen.Fuzz.Tests;

/// <summary>
/// `fm info` and `fm predict` (in-process, through the same entry point as the tool) on mutated models and data:
/// exit 0 with the output written, or exit 1 with "fm VERB: error: ..." and no stack trace; never the internal
/// error exit (70); the inputs byte-identical afterwards; no temporary file left behind.
/// </summary>
[Trait("Category", "Fuzz")]
public class CliFuzzTests(ITestOutputHelper output)
{
    [Fact]
    public void InfoAndPredict_ExitCleanlyOnEveryInput()
    {
        using var folder = new FuzzFolder();
        byte[][] data =
        [
            "1 0:1 1:1 3:0.5\n0 2:1 5:1\n-1 1:2.5e-3\n"u8.ToArray(),
            "1 0:0:1 1:2:1 2:4:1\n0 0:1:1 1:3:0.5\n"u8.ToArray(),
            File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "Corpus", "a9a.t.head40")),
        ];
        Fuzz.Run("cli", 60, (random, index) =>
        {
            (byte[] seed, ModelFormat format) = ModelSeeds.Any(random);
            byte[] model = random.Next(3) == 0 ? seed : format == ModelFormat.Native && random.Next(2) == 0 ? ModelSeeds.DeclareSizes(random, seed) : Fuzz.Mutate(random, seed);
            byte[] rows = random.Next(3) == 0 ? data[random.Next(data.Length)] : Fuzz.Mutate(random, data[random.Next(data.Length)]);
            if (random.Next(5) == 0)
            {
                rows = Fuzz.DamageGzip(random, Fuzz.Gzip(rows, random), Fuzz.Gzip(rows, random));
            }

            string modelPath = folder.File("model.bin");
            string dataPath = folder.File("data.txt");
            string outPath = folder.File("out.txt");
            File.WriteAllBytes(modelPath, model);
            File.WriteAllBytes(dataPath, rows);
            File.Delete(outPath);

            Check(index, model, rows, "info", ["info", "--model", modelPath]);
            bool ffm = random.Next(2) == 0;
            int code = Check(index, model, rows, "predict",
                ["predict", "-m", modelPath, "-i", dataPath, "-o", outPath, "--input-format", ffm ? "libffm" : "libfm", .. random.Next(2) == 0 ? new[] { "-p" } : Array.Empty<string>()]);
            Assert.True((code == 0) == File.Exists(outPath), $"exit {code} but the output {(File.Exists(outPath) ? "exists" : "is missing")}");
            Assert.Equal(model, File.ReadAllBytes(modelPath));
            Assert.Equal(rows, File.ReadAllBytes(dataPath));
            Assert.Empty(Directory.GetFiles(folder.Path, "*.tmp"));
        }, output.WriteLine);
    }

    private static int Check(int index, byte[] model, byte[] rows, string verb, string[] args)
    {
        using var stdout = new StringWriter(CultureInfo.InvariantCulture);
        using var stderr = new StringWriter(CultureInfo.InvariantCulture);
        int code = Program.Run(args, stdout, stderr);
        string error = stderr.ToString();
        string what = $"fm {verb} exit {code}: {Cut(error)}\nmodel: {Fuzz.Describe("cli", index, model)}\ndata: {Fuzz.Escape(rows)}";
        Assert.True(code is 0 or 1, what);
        if (code == 1)
        {
            Assert.True(error.StartsWith($"fm {verb}: error: ", StringComparison.Ordinal), what);
            Assert.DoesNotContain("   at ", error, StringComparison.Ordinal);
        }

        return code;
    }

    private static string Cut(string text) => text.Length > 800 ? text[..800] + " ..." : text;
}
