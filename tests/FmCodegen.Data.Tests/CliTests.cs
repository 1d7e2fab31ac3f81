using System.Globalization;
using FmCodegen.Cli;
using FmCodegen.IO;

namespace FmCodegen.Data.Tests;

/// <summary>The fm tool run in-process through Program.Run with captured output.</summary>
public class CliTests
{
    private static (int Code, string Output, string Error) Fm(params string[] args)
    {
        using var output = new StringWriter(CultureInfo.InvariantCulture);
        using var error = new StringWriter(CultureInfo.InvariantCulture);
        int code = Program.Run(args, output, error);
        return (code, output.ToString(), error.ToString());
    }

    private static void AssertUserError((int Code, string Output, string Error) result, string expected)
    {
        Assert.NotEqual(0, result.Code);
        Assert.Contains(expected, result.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", result.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", result.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("predict")]
    [InlineData("convert")]
    [InlineData("info")]
    public void EveryVerbHasHelp(string verb)
    {
        var (code, output, _) = Fm(verb, "--help");
        Assert.Equal(0, code);
        Assert.Contains("--model", output, StringComparison.Ordinal);
    }

    [Fact]
    public void PredictReproducesLibFmAndReportsTheRun()
    {
        using var folder = new TempFolder();
        string output = folder.File("pred.txt");
        var (code, _, error) = Fm("predict", "--model", TestFiles.Fixture("a9a_sgd.libfm.model"), "--input", TestFiles.Fixture("a9a.t.head300"), "--output", output, "--probability");
        Assert.Equal(0, code);
        Assert.Contains("300 rows scored", error, StringComparison.Ordinal);
        Assert.Contains("every feature is known", error, StringComparison.Ordinal);
        string[] lines = File.ReadAllLines(output);
        string[] expected = File.ReadAllLines(TestFiles.Fixture("a9a_sgd.libfm.loaded.pred.head300"));
        Assert.Equal(300, lines.Length);
        for (int i = 0; i < lines.Length; i++)
        {
            Assert.InRange(double.Parse(lines[i], CultureInfo.InvariantCulture) - double.Parse(expected[i], CultureInfo.InvariantCulture), -1e-4, 1e-4);
        }
    }

    [Fact]
    public void PredictWithXLearnNormAndAutoDetection()
    {
        using var folder = new TempFolder();
        string output = folder.File("pred.txt");
        var (code, _, error) = Fm("predict", "-m", TestFiles.Fixture("a9a_fm_norm.xlearn.txt"), "-i", TestFiles.Fixture("a9a.t.head300"), "-o", output, "-p", "--xlearn-norm", "--threads", "2");
        Assert.Equal(0, code);
        Assert.Contains("xlearn model", error, StringComparison.Ordinal);
        string[] expected = File.ReadAllLines(TestFiles.Fixture("a9a_fm_norm.xlearn.pred.head300"));
        string[] lines = File.ReadAllLines(output);
        for (int i = 0; i < lines.Length; i++)
        {
            Assert.InRange(double.Parse(lines[i], CultureInfo.InvariantCulture) - double.Parse(expected[i], CultureInfo.InvariantCulture), -1e-4, 1e-4);
        }
    }

    [Fact]
    public void PredictClipsRawScoresAndCountsUnknownFeatures()
    {
        using var folder = new TempFolder();
        string model = folder.File("m.libfm");
        File.WriteAllText(model, "#global bias W0\n3\n#unary interactions Wj\n1\n-10\n#pairwise interactions Vj,f\n0\n0\n");
        string data = folder.Write("d.libfm", "1 0:1\n1 1:1\n1 0:0.5 7:1 8:1\n1 9:2\n");
        string output = folder.File("p.txt");
        var (code, _, error) = Fm("predict", "--model", model, "--input", data, "--output", output, "--clip", "1,3.75");
        Assert.Equal(0, code);
        Assert.Equal(["3.75", "1", "3.5", "3"], File.ReadAllLines(output));
        Assert.Contains("3 nonzeros in 2 rows have features the model does not know", error, StringComparison.Ordinal);
    }

    [Fact]
    public void PredictReadsLibffmData()
    {
        using var folder = new TempFolder();
        string model = folder.File("m.libfm");
        File.WriteAllText(model, "#global bias W0\n0\n#unary interactions Wj\n1\n2\n#pairwise interactions Vj,f\n1\n1\n");
        string data = folder.Write("d.ffm", "1 0:0:1 1:1:1\n");
        string output = folder.File("p.txt");
        Assert.Equal(0, Fm("predict", "--model", model, "--input", data, "--input-format", "libffm", "--output", output).Code);
        Assert.Equal(["4"], File.ReadAllLines(output));
    }

    [Fact]
    public void FfmPredict_OfManyBlocks_WritesEveryRowAsTheLibraryScoresIt_ToAFileAndToStdout()
    {
        // 7,500 rows: several blocks of rows, and more text than one write of the output file takes
        using var folder = new TempFolder();
        string model = TestFiles.Fixture("ffm/frappe_k4.libffm.model");
        string[] head = File.ReadAllLines(TestFiles.Fixture("ffm/frappe_te.ffm.head300"));
        string data = folder.File("d.ffm");
        File.WriteAllLines(data, Enumerable.Repeat(head, 25).SelectMany(lines => lines));
        float[] expected = FfmCompatibilityTests.Predict(FfmModelFiles.Load(model), SparseDataset.Load(data, SparseFormat.LibFfm), probability: true);
        Assert.Equal(7500, expected.Length);
        string[] expectedLines = Array.ConvertAll(expected, p =>
        {
            byte[] text = new byte[NumberText.MaxFloatBytes];
            return System.Text.Encoding.ASCII.GetString(text, 0, NumberText.FormatFloat(p, text));
        });

        string output = folder.File("p.txt");
        Assert.Equal(0, Fm("predict", "--model", model, "--model-format", "libffm", "--input", data, "--input-format", "libffm", "--output", output).Code);
        Assert.Equal(expectedLines, File.ReadAllLines(output));
        var (code, stdout, _) = Fm("predict", "--model", model, "--model-format", "libffm", "--input", data, "--input-format", "libffm", "--output", "-");
        Assert.Equal(0, code);
        Assert.Equal(File.ReadAllText(output), stdout);
        string twoThreads = folder.File("p2.txt");
        Assert.Equal(0, Fm("predict", "--model", model, "--model-format", "libffm", "--input", data, "--input-format", "libffm", "--output", twoThreads, "--threads", "2").Code);
        Assert.Equal(expectedLines, File.ReadAllLines(twoThreads));
    }

    [Fact]
    public void EveryBadInputFailsCleanlyWithoutAnOutputFile()
    {
        using var folder = new TempFolder();
        string folderOfBad = TestFiles.Fixture("bad");
        int count = 0;
        foreach (string entry in File.ReadAllLines(Path.Combine(folderOfBad, "expected.txt")).Where(l => !l.StartsWith('#')))
        {
            string[] parts = entry.Split(' ', 4);
            string output = folder.File(parts[0] + ".pred");
            string format = parts[0].EndsWith(".ffm", StringComparison.Ordinal) ? "libffm" : "libfm";
            var result = Fm("predict", "--model", TestFiles.Fixture("a9a_sgd.libfm.model"), "--input", Path.Combine(folderOfBad, parts[0]), "--input-format", format, "--output", output);
            AssertUserError(result, $"{parts[0]}:{parts[1]}:{parts[2]}: ");
            Assert.Contains(parts[3], result.Error, StringComparison.Ordinal);
            Assert.False(File.Exists(output));
            count++;
        }

        Assert.Equal(12, count);
        Assert.Empty(Directory.GetFiles(folder.Path));
    }

    [Fact]
    public void AFailedPredictKeepsAnExistingOutputFile()
    {
        using var folder = new TempFolder();
        string output = folder.Write("p.txt", "previous");
        var result = Fm("predict", "--model", TestFiles.Fixture("a9a_sgd.libfm.model"), "--input", TestFiles.Fixture(Path.Combine("bad", "nan_value.libfm")), "--output", output);
        AssertUserError(result, "not finite");
        Assert.Equal("previous", File.ReadAllText(output));
        Assert.Single(Directory.GetFiles(folder.Path));
    }

    [Theory]
    [InlineData("--clip", "5,1", "MIN <= MAX")]
    [InlineData("--clip", "x", "--clip takes MIN,MAX")]
    [InlineData("--model-format", "svm", "--model-format must be")]
    [InlineData("--input-format", "csv", "--input-format must be")]
    [InlineData("--threads", "-2", "--threads must be")]
    public void PredictRefusesBadOptions(string option, string value, string expected)
    {
        using var folder = new TempFolder();
        var result = Fm("predict", "--model", TestFiles.Fixture("a9a_sgd.libfm.model"), "--input", TestFiles.Fixture("a9a.t.head300"), "--output", folder.File("p"), option, value);
        AssertUserError(result, expected);
        Assert.Empty(Directory.GetFiles(folder.Path));
    }

    [Fact]
    public void MissingFilesAndMissingOptionsAreUserErrors()
    {
        using var folder = new TempFolder();
        AssertUserError(Fm("predict", "--model", folder.File("none"), "--input", TestFiles.Fixture("a9a.t.head300"), "--output", folder.File("p")), "does not exist");
        AssertUserError(Fm("predict", "--model", TestFiles.Fixture("a9a_sgd.libfm.model"), "--input", folder.File("none"), "--output", folder.File("p")), "does not exist");
        AssertUserError(Fm("predict", "--model", TestFiles.Fixture("a9a_sgd.libfm.model"), "--input", TestFiles.Fixture("a9a.t.head300"), "--output", Path.Combine(folder.Path, "no", "p")), "does not exist");
        Assert.NotEqual(0, Fm("predict", "--model", TestFiles.Fixture("a9a_sgd.libfm.model")).Code);
        Assert.Empty(Directory.GetFiles(folder.Path));
    }

    [Fact]
    public void ATruncatedLibFmModelIsRefused()
    {
        using var folder = new TempFolder();
        byte[] bytes = File.ReadAllBytes(TestFiles.Fixture("a9a_sgd.libfm.model"));
        string model = folder.File("cut.libfm");
        File.WriteAllBytes(model, bytes[..(bytes.Length - 40)]);
        string output = folder.File("p.txt");
        AssertUserError(Fm("predict", "--model", model, "--input", TestFiles.Fixture("a9a.t.head300"), "--output", output), "cut.libfm");
        Assert.False(File.Exists(output));
        AssertUserError(Fm("info", "--model", model), "truncated");
    }

    [Fact]
    public void ConvertThenInfoThenAFlippedByteIsRefusedByInfo()
    {
        using var folder = new TempFolder();
        string native = folder.File("m.fmb");
        var (code, _, _) = Fm("convert", "--model", TestFiles.Fixture("a9a_sgd.libfm.model"), "--to", "native", "--output", native, "--task", "classification");
        Assert.Equal(0, code);

        var info = Fm("info", "--model", native);
        Assert.Equal(0, info.Code);
        Assert.Contains("format     native", info.Output, StringComparison.Ordinal);
        Assert.Contains("task       classification", info.Output, StringComparison.Ordinal);
        Assert.Contains("k          8", info.Output, StringComparison.Ordinal);
        Assert.Contains("features   123", info.Output, StringComparison.Ordinal);
        Assert.Contains("checksum   verified", info.Output, StringComparison.Ordinal);
        Assert.Contains("bias       -0.681605", info.Output, StringComparison.Ordinal);

        byte[] bytes = File.ReadAllBytes(native);
        bytes[bytes.Length / 2] ^= 0x01;
        string damaged = folder.File("damaged.fmb");
        File.WriteAllBytes(damaged, bytes);
        AssertUserError(Fm("info", "--model", damaged), "damaged");
    }

    [Fact]
    public void ConvertRoundTripsThroughEveryFormatAndPredictionsStayTheSame()
    {
        using var folder = new TempFolder();
        string source = TestFiles.Fixture("a9a_fm_nonorm.xlearn.txt");
        string previous = source;
        string reference = folder.File("ref.txt");
        Assert.Equal(0, Fm("predict", "-m", source, "-i", TestFiles.Fixture("a9a.t.head300"), "-o", reference).Code);
        foreach (string format in new[] { "libfm", "native", "xlearn" })
        {
            string next = folder.File("m." + format);
            Assert.Equal(0, Fm("convert", "--model", previous, "--to", format, "--output", next).Code);
            string output = folder.File("p." + format);
            Assert.Equal(0, Fm("predict", "-m", next, "-i", TestFiles.Fixture("a9a.t.head300"), "-o", output).Code);
            Assert.Equal(File.ReadAllLines(reference), File.ReadAllLines(output));
            previous = next;
        }

        AssertUserError(Fm("convert", "--model", previous, "--to", "json", "--output", folder.File("x")), "--to must be");
        AssertUserError(Fm("convert", "--model", previous, "--to", "libfm", "--output", previous), "is the same file as --model");
    }

    [Fact]
    public void InfoRefusesAFileThatIsNoModel()
    {
        AssertUserError(Fm("info", "--model", TestFiles.Fixture("a9a.t.head300")), "cannot tell the model format");
        AssertUserError(Fm("info", "--model", TestFiles.Fixture("a9a.t.head300"), "--model-format", "native"), "not an FmCodegen native model");
    }

    [Fact]
    public void PredictWritesToStdout()
    {
        var (code, output, _) = Fm("predict", "-m", TestFiles.Fixture("a9a_sgd.libfm.model"), "-i", TestFiles.Fixture("a9a.t.head300"), "-o", "-");
        Assert.Equal(0, code);
        Assert.Equal(300, output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
    }

    /// <summary>A parse mistake: exit 1, nothing on stdout (no help dump), every stderr line but the last the
    /// tool's "fm VERB: error: " prefix, no System.CommandLine wording.</summary>
    private static string AssertParseError((int Code, string Output, string Error) result, string prefix, string expected)
    {
        Assert.Equal(1, result.Code);
        Assert.Equal(string.Empty, result.Output);
        string[] lines = result.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.True(lines.Length >= 2, result.Error);
        Assert.All(lines[..^1], line => Assert.StartsWith(prefix + ": error: ", line, StringComparison.Ordinal));
        Assert.StartsWith("Run 'fm", lines[^1], StringComparison.Ordinal);
        Assert.Contains(expected, result.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("Did you mean one of the following", result.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("Parameter '", result.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("System.", result.Error, StringComparison.Ordinal);
        return result.Error;
    }

    [Fact]
    public void AMissingRequiredOptionIsAnErrorNamingTheFlag()
    {
        string error = AssertParseError(Fm("predict", "--input", "x.libfm", "--output", "p.txt"), "fm predict", "--model FILE is required");
        Assert.Contains("Run 'fm predict --help'", error, StringComparison.Ordinal);
    }

    [Fact]
    public void AMisspeltOptionSuggestsTheNearestOne()
    {
        AssertParseError(Fm("predict", "--model", "m", "--input", "x", "--outptu", "p.txt"), "fm predict", "unknown option '--outptu'; did you mean --output?");
        AssertParseError(Fm("predict", "--model", "m", "--input", "x", "--output", "p", "--thread", "2"), "fm predict", "did you mean --threads?");
    }

    [Fact]
    public void AMisspeltVerbSuggestsTheVerb()
    {
        string error = AssertParseError(Fm("predcit", "--model", "m"), "fm", "'predcit' is not a verb (did you mean predict?); the verbs are predict, convert, info, train, eval, libfm.");
        Assert.Equal(2, error.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
        AssertParseError(Fm(), "fm", "give a verb: predict, convert, info, train, eval, libfm");
    }

    [Fact]
    public void AValueOfTheWrongTypeNamesTheFlag()
    {
        AssertParseError(Fm("predict", "--model", "m", "--input", "x", "--output", "p", "--threads", "many"), "fm predict", "--threads takes a whole number (N); got 'many'");
        AssertParseError(Fm("predict", "--model", "m", "--input", "x", "--output"), "fm predict", "--output needs a value (FILE)");
    }

    [Fact]
    public void LibFfmDataReadAsLibFmSuggestsTheInputFormat()
    {
        using var folder = new TempFolder();
        string model = folder.File("m.fmb");
        ModelFiles.Save(ModelFileTests.RandomModel(10, 4), model, FmTask.Regression);
        string data = folder.Write("d.ffm", "1 0:3:1 1:5:0.5\n0 0:2:1 2:7:1\n");
        var result = Fm("predict", "--model", model, "--input", data, "--output", folder.File("p.txt"));
        AssertUserError(result, "read it with --input-format libffm");
        Assert.StartsWith("fm predict: error: ", result.Error, StringComparison.Ordinal);
        Assert.False(File.Exists(folder.File("p.txt")));
        Assert.Equal(0, Fm("predict", "--model", model, "--input", data, "--input-format", "libffm", "--output", folder.File("p.txt")).Code);

        // a plain libFM mistake gets no such hint
        string bad = folder.Write("bad.libfm", "1 0:x\n");
        Assert.DoesNotContain("libffm", Fm("predict", "--model", model, "--input", bad, "--output", folder.File("q.txt")).Error, StringComparison.Ordinal);
    }

    [Fact]
    public void FieldAwarePredictReportsItsTimingsOnRequestAndWritesTheSamePredictions()
    {
        using var folder = new TempFolder();
        float[] factors = Enumerable.Range(0, 10 * 3 * 4).Select(i => MathF.Sin(i) / 4).ToArray();
        FfmModel ffm = FfmModel.Create(0.1f, Enumerable.Range(0, 10).Select(i => i / 20f).ToArray(), factors, numFields: 3, embeddingSize: 4);
        string model = folder.File("m.ffmb");
        FfmModelFiles.Save(new FfmModelFile(ffm, FfmModelFormat.Native, FmTask.BinaryClassification), model, FfmModelFormat.Native);
        string data = folder.Write("d.ffm", "1 0:3:1 1:5:0.5\n0 0:2:1 2:7:1\n1 1:9:2\n");
        var plain = Fm("predict", "--model", model, "--input", data, "--input-format", "libffm", "--output", folder.File("p.txt"));
        var timed = Fm("predict", "--model", model, "--input", data, "--input-format", "libffm", "--output", folder.File("q.txt"), "--timings");
        Assert.Equal(0, plain.Code);
        Assert.Equal(0, timed.Code);
        Assert.DoesNotContain("timings", plain.Error, StringComparison.Ordinal);
        Assert.Matches(@"fm predict: timings \(ms\): model load [0-9.]+, parse [0-9.]+, score [0-9.]+, format\+write [0-9.]+, commit [0-9.]+, since process start [0-9.]+", timed.Error);
        Assert.Equal(3, File.ReadAllLines(folder.File("p.txt")).Length);
        Assert.Equal(File.ReadAllText(folder.File("p.txt")), File.ReadAllText(folder.File("q.txt")));
    }

    [Fact]
    public void PredictWritesProbabilitiesForAClassificationModelUnlessAskedForRawScores()
    {
        using var folder = new TempFolder();
        FmModel m = ModelFileTests.RandomModel(10, 4);
        string classifier = folder.File("c.fmb");
        string regressor = folder.File("r.fmb");
        ModelFiles.Save(m, classifier, FmTask.BinaryClassification);
        ModelFiles.Save(m, regressor, FmTask.Regression);
        string data = folder.Write("d.libfm", "1 0:1 3:0.5\n0 2:1 7:2\n1 9:1\n");
        float[] raw = [global::FmCodegen.Fm.Score(m, [0, 3], [1f, 0.5f]), global::FmCodegen.Fm.Score(m, [2, 7], [1f, 2f]), global::FmCodegen.Fm.Score(m, [9], [1f])];

        float[] Predict(string model, params string[] extra)
        {
            string output = folder.File("p.txt");
            var result = Fm(["predict", "--model", model, "--input", data, "--output", output, .. extra]);
            Assert.True(result.Code == 0, result.Error);
            return Array.ConvertAll(File.ReadAllLines(output), line => float.Parse(line, CultureInfo.InvariantCulture));
        }

        Assert.Equal(raw.Select(global::FmCodegen.Fm.Sigmoid), Predict(classifier));
        Assert.Equal(raw.Select(global::FmCodegen.Fm.Sigmoid), Predict(classifier, "--probability"));
        Assert.Equal(raw, Predict(classifier, "--raw"));
        Assert.Equal(raw, Predict(regressor));
        Assert.Equal(raw.Select(global::FmCodegen.Fm.Sigmoid), Predict(regressor, "-p"));
        Assert.Contains("wrote probabilities (a classification model; --raw for raw scores)",
            Fm("predict", "--model", classifier, "--input", data, "--output", folder.File("x.txt")).Error, StringComparison.Ordinal);
        AssertUserError(Fm("predict", "--model", classifier, "--input", data, "--output", folder.File("y.txt"), "--raw", "--probability"), "contradict");

        // a libFM text model does not record its task: raw scores, and the summary says how to get probabilities
        var libfm = Fm("predict", "--model", TestFiles.Fixture("a9a_sgd.libfm.model"), "--input", TestFiles.Fixture("a9a.t.head300"), "--output", folder.File("l.txt"));
        Assert.Contains("does not record the task; --probability for probabilities", libfm.Error, StringComparison.Ordinal);
    }
}
