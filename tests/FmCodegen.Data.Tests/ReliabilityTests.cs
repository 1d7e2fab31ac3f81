using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using System.IO.Hashing;
using System.Text;
using FmCodegen.Cli;
using FmCodegen.IO;

namespace FmCodegen.Data.Tests;

/// <summary>
/// The cases of the reliability probe (issue 7), each reproduced as found: every one must now be a clean refusal
/// (exit 1, "fm VERB: error: ..." naming the file and place, no stack trace) or correct behaviour.
/// </summary>
public class ReliabilityTests
{
    private static (int Code, string Output, string Error) Fm(params string[] args)
    {
        using var output = new StringWriter(CultureInfo.InvariantCulture);
        using var error = new StringWriter(CultureInfo.InvariantCulture);
        int code = Program.Run(args, output, error);
        return (code, output.ToString(), error.ToString());
    }

    private static void AssertRefused((int Code, string Output, string Error) result, params string[] expected)
    {
        Assert.Equal(1, result.Code);
        Assert.StartsWith("fm ", result.Error, StringComparison.Ordinal);
        Assert.Contains(": error: ", result.Error, StringComparison.Ordinal);
        foreach (string part in expected)
        {
            Assert.Contains(part, result.Error, StringComparison.Ordinal);
        }

        Assert.DoesNotContain("   at ", result.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", result.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("(Parameter '", result.Error, StringComparison.Ordinal);
    }

    private static string SmallModel(TempFolder folder, string name = "m.fmb", int features = 10, int k = 4)
    {
        var random = new Random(3);
        float[] w = Enumerable.Range(0, features).Select(_ => (float)random.NextDouble()).ToArray();
        float[] v = Enumerable.Range(0, features * k).Select(_ => (float)random.NextDouble()).ToArray();
        string path = folder.File(name);
        NativeModelFile.Save(new ModelFile(FmModel.Create(0.5f, w, v, k), FmTask.BinaryClassification), path);
        return path;
    }

    // ---- 1. the libffm fast path read past the end of a line cut inside a token

    [Fact]
    public void LibFfmLineCutAfterAFieldIsALocatedError()
    {
        string text = string.Concat(Enumerable.Repeat("1 0:5:1 1:7:1 2:9:1\n", 60000)) + "1 0:";
        using var folder = new TempFolder();
        string data = folder.Write("t.ffm", text);
        string model = SmallModel(folder);
        var result = Fm("predict", "--model", model, "--input", data, "--input-format", "libffm", "-o", folder.File("p.txt"));
        AssertRefused(result, "t.ffm:60001:5: expected a non-negative integer index");
        Assert.False(File.Exists(folder.File("p.txt")));
    }

    [Theory]
    [InlineData(SparseFormat.LibFfm, "1 0:5:1 1:7:0.25 2:19:1e-3 # c\n0 3:11:1\t4:2:3\n")]
    [InlineData(SparseFormat.LibFm, "1 5:1 7:0.25 19:1e-3 # c\n0 11:1\t2:3\n")]
    public void EveryCutOfALineParsesOrFailsTheSameOnBothParsers(SparseFormat format, string text)
    {
        // the buffer after the cut holds the rest of the text (stale bytes): no parser may read them
        byte[] all = Encoding.ASCII.GetBytes(text + text);
        for (int cut = 0; cut <= all.Length; cut++)
        {
            string fast = Outcome(all, cut, format, checkedOnly: false);
            string slow = Outcome(all, cut, format, checkedOnly: true);
            Assert.Equal(slow, fast);
        }
    }

    private static string Outcome(byte[] bytes, int length, SparseFormat format, bool checkedOnly)
    {
        using var stream = new MemoryStream(bytes, 0, length);
        using var reader = new SparseTextReader(stream, format, "cut") { CheckedParserOnly = checkedOnly };
        try
        {
            SparseDataset data = reader.ReadToEnd();
            return $"{data.Count} {string.Join(',', data.Indices.ToArray())} {string.Join(',', data.Values.ToArray())} {string.Join(',', data.Fields.ToArray())}";
        }
        catch (DataFormatException e)
        {
            return e.Message;
        }
    }

    [SkippableSharedDataFact]
    public void CutsOfFrappeLibFfmNeverCrash()
    {
        byte[] all = File.ReadAllBytes(Path.Combine(TestFiles.SharedData()!, "frappe", "frappe_tr.ffm"));
        var random = new Random(7);
        for (int i = 0; i < 60; i++)
        {
            int cut = i < 20 ? (int)((long)all.Length * (i + 1) / 21) : random.Next(all.Length);
            string fast = Outcome(all, cut, SparseFormat.LibFfm, checkedOnly: false);
            string slow = Outcome(all, cut, SparseFormat.LibFfm, checkedOnly: true);
            Assert.Equal(slow, fast);
        }
    }

    // ---- 2. sizes declared by model files

    [Fact]
    public void TextModelsWithKAbove65536AreRefused()
    {
        using var folder = new TempFolder();
        string factors = string.Join(' ', Enumerable.Repeat("0.5", 65537));
        string libfm = folder.Write("big.libfm.model", $"#global bias W0\n0.1\n#unary interactions Wj\n0.2\n#pairwise interactions Vj,f\n{factors}\n");
        string xlearn = folder.Write("big.xlearn.txt", $"bias: 0.1\ni_0: 0.2\nv_0: {factors}\n");
        Assert.Contains("k = 65,537", Assert.Throws<ModelFileException>(() => ModelFiles.Load(libfm)).Message, StringComparison.Ordinal);
        Assert.Contains("k = 65,537", Assert.Throws<ModelFileException>(() => ModelFiles.Load(xlearn)).Message, StringComparison.Ordinal);
        AssertRefused(Fm("info", "--model", libfm), "big.libfm.model", "out of range");
    }

    /// <summary>A native header (valid CRC) declaring <paramref name="features"/> x k, with no data after it.</summary>
    internal static byte[] NativeHeader(long features, int k)
    {
        byte[] header = new byte[64];
        NativeModelFile.Magic.CopyTo(header);
        BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(8), 1);
        BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(12), 64);
        BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(16), 2);
        BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(20), k);
        BinaryPrimitives.WriteInt64LittleEndian(header.AsSpan(24), features);
        BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(32), 3);
        BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(40), k + 1);
        BinaryPrimitives.WriteInt64LittleEndian(header.AsSpan(48), features * (k + 1) * 4);
        BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(60), Crc32.HashToUInt32(header.AsSpan(0, 60)));
        return header;
    }

    internal static byte[] Gzip(byte[] content)
    {
        using var buffer = new MemoryStream();
        using (var gzip = new GZipStream(buffer, CompressionLevel.Optimal, leaveOpen: true))
        {
            gzip.Write(content);
        }

        return buffer.ToArray();
    }

    [Theory]
    [InlineData(2_000_000_000L, 1)]
    [InlineData(26_000_000L, 64)]
    public void GzipNativeHeaderBombsAreRefusedBeforeAllocating(long features, int k)
    {
        using var folder = new TempFolder();
        string path = folder.File("bomb.fmb.gz");
        File.WriteAllBytes(path, Gzip(NativeHeader(features, k)));
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<ModelFileException>(() => ModelFiles.Load(path));
        Assert.Contains("can hold at most", e.Message, StringComparison.Ordinal);
        Assert.InRange(GC.GetAllocatedBytesForCurrentThread() - before, 0, 64L << 20);
        AssertRefused(Fm("info", "--model", path), "bomb.fmb.gz", "header declares");
    }

    [Fact]
    public void AModelTooLargeForTheMemoryIsRefusedWithTheSizeNeeded()
    {
        using var folder = new TempFolder();
        string path = SmallModel(folder, features: 100_000, k: 8);
        using (MemoryBudget.WithLimit(1 << 20))
        {
            var e = Assert.Throws<InsufficientMemoryException>(() => ModelFiles.Load(path));
            Assert.Contains("m.fmb: the model (100,000 features, k = 8) needs 6 MB of memory, but this process may use 1 MB", e.Message, StringComparison.Ordinal);
            AssertRefused(Fm("info", "--model", path), "m.fmb", "needs", "more memory");
        }

        Assert.Equal(100_000, ModelFiles.Load(path).Model.NumFeatures);
    }

    // ---- 3. outputs that are inputs

    [Fact]
    public void OutputsThatAreInputsAreRefusedAndTheInputsKept()
    {
        using var folder = new TempFolder();
        string data = folder.Write("d.libfm", "1 1:1 2:1\n0 3:1\n1 2:1 4:1\n0 1:1\n");
        string model = SmallModel(folder);
        File.CreateSymbolicLink(folder.File("link.libfm"), data);
        string hard = folder.File("hard.libfm");
        Assert.True(HardLink(data, hard));
        byte[] dataBytes = File.ReadAllBytes(data);
        byte[] modelBytes = File.ReadAllBytes(model);

        AssertRefused(Fm("predict", "-m", model, "-i", data, "-o", data), "--output", "is the same file as --input");
        AssertRefused(Fm("predict", "-m", model, "-i", data, "-o", model), "is the same file as --model");
        AssertRefused(Fm("predict", "-m", model, "-i", data, "-o", Path.Combine(folder.Path, ".", "d.libfm")), "same file");
        AssertRefused(Fm("predict", "-m", model, "-i", data, "-o", folder.File("link.libfm")), "same file");
        AssertRefused(Fm("predict", "-m", model, "-i", data, "-o", hard), "same file");
        AssertRefused(Fm("train", "--train", data, "--task", "c", "--model", data), "--model", "same file as --train");
        AssertRefused(Fm("train", "--train", data, "--task", "c", "--history", data), "--history", "same file as --train");
        AssertRefused(Fm("train", "--train", data, "--task", "c", "--test", hard, "--model", folder.File("x.fmb"), "--history", folder.File("x.fmb")), "same file");
        AssertRefused(Fm("convert", "--model", model, "--to", "libfm", "--output", model), "same file as --model");
        AssertRefused(Fm("libfm", "-task", "c", "-train", data, "-test", data, "-out", hard), "-out", "same file as -train");
        AssertRefused(Fm("libfm", "-task", "c", "-train", data, "-rlog", data), "-rlog");
        Assert.Equal(dataBytes, File.ReadAllBytes(data));
        Assert.Equal(modelBytes, File.ReadAllBytes(model));
        string[] left = Directory.GetFileSystemEntries(folder.Path).Select(p => Path.GetFileName(p)!).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(new[] { "d.libfm", "hard.libfm", "link.libfm", "m.fmb" }, left);
    }

    private static bool HardLink(string existing, string link)
    {
        var start = new ProcessStartInfo("ln", [existing, link]) { RedirectStandardError = true };
        using Process? process = Process.Start(start);
        process!.WaitForExit();
        return process.ExitCode == 0;
    }

    // ---- 4. damage accepted silently

    [Fact]
    public void AGzipStreamCutAtAFlushPointIsRefused()
    {
        using var folder = new TempFolder();
        string line = "1 3:1 17:0.5 42:1\n";
        using var buffer = new MemoryStream();
        long cut;
        using (var gzip = new GZipStream(buffer, CompressionLevel.Optimal, leaveOpen: true))
        {
            for (int i = 0; i < 10000; i++)
            {
                gzip.Write(Encoding.ASCII.GetBytes(line));
            }

            gzip.Flush();
            cut = buffer.Length;
            for (int i = 0; i < 18860; i++)
            {
                gzip.Write(Encoding.ASCII.GetBytes(line));
            }
        }

        byte[] whole = buffer.ToArray();
        string full = folder.File("full.libfm.gz");
        File.WriteAllBytes(full, whole);
        Assert.Equal(28860, SparseDataset.Load(full).Count);

        string truncated = folder.File("cut.libfm.gz");
        File.WriteAllBytes(truncated, whole[..(int)cut]);
        var e = Assert.Throws<DataFormatException>(() => SparseDataset.Load(truncated));
        Assert.Contains("ends early", e.Message, StringComparison.Ordinal);
        Assert.StartsWith("cut.libfm.gz", Path.GetFileName(e.SourceName), StringComparison.Ordinal);

        string header = folder.File("header.libfm.gz");
        File.WriteAllBytes(header, whole[..10]);
        Assert.Contains("truncated", Assert.Throws<DataFormatException>(() => SparseDataset.Load(header)).Message, StringComparison.Ordinal);
        AssertRefused(Fm("predict", "-m", SmallModel(folder), "-i", header, "-o", folder.File("p.txt")), "header.libfm.gz", "truncated");

        byte[] damaged = (byte[])whole.Clone();
        damaged[^6] ^= 0x10; // the stored CRC-32
        File.WriteAllBytes(truncated, damaged);
        Assert.Throws<DataFormatException>(() => SparseDataset.Load(truncated));

        // several members (cat a.gz b.gz) are one valid file
        string two = folder.File("two.libfm.gz");
        File.WriteAllBytes(two, [.. whole, .. Gzip(Encoding.ASCII.GetBytes("0 5:1\n"))]);
        Assert.Equal(28861, SparseDataset.Load(two).Count);
    }

    [Fact]
    public void AnXLearnModelCutBeforeItsFactorsIsRefused()
    {
        using var folder = new TempFolder();
        string path = folder.Write("cut.xlearn.txt", "bias: 0.1\ni_0: 0.2\ni_1: 0.3\n");
        var e = Assert.Throws<ModelFileException>(() => ModelFiles.Load(path));
        Assert.Contains("no 'v_' lines", e.Message, StringComparison.Ordinal);
        string partial = folder.Write("partial.xlearn.txt", "bias: 0.1\ni_0: 0.2\ni_1: 0.3\nv_0: 0.1 0.2\n");
        Assert.Contains("1 'v_' lines", Assert.Throws<ModelFileException>(() => ModelFiles.Load(partial)).Message, StringComparison.Ordinal);
    }

    // ---- 5. memory bombs from tiny data

    [Fact]
    public void TrainingTablesTooLargeForTheMemoryAreRefused()
    {
        using var folder = new TempFolder();

        // the probe's bomb: one huge index among few. Training runs on the features that occur (issue 10), so it
        // now trains within a 4 GB budget instead of asking for 6.4 GB per table.
        string sparse = folder.Write("bomb.libfm", "1 100000000:1\n0 5:1\n");
        using (MemoryBudget.WithLimit(4L << 30))
        {
            (int code, _, string error) = Fm("train", "--train", sparse, "--task", "c", "--epochs", "1", "--validation-fraction", "0");
            Assert.True(code == 0, error);
        }

        // an index space that is used densely and does not fit: refused with the size needed before training
        string dense = folder.Write("dense.libfm", "1 " + string.Join(' ', Enumerable.Range(0, 20_000).Select(i => $"{i}:1")) + "\n0 5:1\n");
        using (MemoryBudget.WithLimit(2L << 20))
        {
            AssertRefused(Fm("train", "--train", dense, "--task", "c", "--k", "64", "--epochs", "1"), "needs", "of memory", "may use 2 MB");
        }
    }

    [Fact]
    public void ARowBombIsRefusedWithTheSizeNeeded()
    {
        // a gzip of a few KB holding 2 million empty rows
        using var folder = new TempFolder();
        string path = folder.File("rows.libfm.gz");
        File.WriteAllBytes(path, Gzip(Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("1\n", 2_000_000)))));
        Assert.InRange(new FileInfo(path).Length, 1, 64 << 10);
        using (MemoryBudget.WithLimit(8 << 20))
        {
            var e = Assert.Throws<InsufficientMemoryException>(() => SparseDataset.Load(path));
            Assert.Contains("rows.libfm.gz: reading", e.Message, StringComparison.Ordinal);
            Assert.Contains("stream the file in blocks", e.Message, StringComparison.Ordinal);
        }

        Assert.Equal(2_000_000, SparseDataset.Load(path).Count);
    }

    // ---- 6. NaN written with success

    [Fact]
    public void ANonFiniteScoreIsAnErrorNamingTheRow()
    {
        using var folder = new TempFolder();
        string model = SmallModel(folder);
        string data = folder.Write("big.libfm", "# values near the float limit\n1 1:1\n1 1:3e38 2:3e38\n");
        AssertRefused(Fm("predict", "-m", model, "-i", data, "-o", folder.File("p.txt")), "big.libfm:3:", "NaN");
        AssertRefused(Fm("eval", "-m", model, "-i", data), "big.libfm:3:");
        Assert.False(File.Exists(folder.File("p.txt")));
    }

    // ---- 7. --epochs 0

    [Fact]
    public void ZeroEpochsIsRefused()
    {
        using var folder = new TempFolder();
        string data = folder.Write("d.libfm", "1 1:1\n0 2:1\n");
        AssertRefused(Fm("train", "--train", data, "--task", "c", "--epochs", "0", "--model", folder.File("m.fmb")), "--epochs must be 1 or more");
        AssertRefused(Fm("libfm", "-task", "c", "-train", data, "-iter", "0", "-save_model", folder.File("m.txt")), "-iter must be 1 or more, or 0 with -load_model");
        Assert.Empty(Directory.GetFiles(folder.Path, "m.*"));
    }

    // ---- 8. temporaries of killed processes

    [Fact]
    public void TemporaryNamesCarryTheGuidsNForm()
    {
        // the name's hex digits are written by AtomicFile itself: they must stay Guid's "N" form (32 lowercase hex
        // digits in display order), which RemoveStaleTemporaries parses back
        var random = new Random(9);
        byte[] bytes = new byte[16];
        for (int i = 0; i < 200; i++)
        {
            random.NextBytes(bytes);
            var id = new Guid(bytes);
            Assert.Equal($".out.txt.{i}.{id:N}.tmp", AtomicFile.TemporaryName("out.txt", i, id));
        }

        Assert.Equal(".m.1.00000000000000000000000000000000.tmp", AtomicFile.TemporaryName("m", 1, Guid.Empty));
        Assert.Equal(".m.1.ffffffffffffffffffffffffffffffff.tmp", AtomicFile.TemporaryName("m", 1, Guid.AllBitsSet));
    }

    [Fact]
    public void TemporariesOfAKilledProcessAreRemovedByTheNextWrite()
    {
        using var folder = new TempFolder();
        string target = folder.File("out.txt");
        using Process child = Process.Start(new ProcessStartInfo("sleep", "60"))!;
        string orphan = Path.Combine(folder.Path, AtomicFile.TemporaryName("out.txt", child.Id, Guid.NewGuid()));
        string other = Path.Combine(folder.Path, AtomicFile.TemporaryName("other.txt", 999_999_999, Guid.NewGuid()));
        File.WriteAllText(orphan, "partial");
        File.WriteAllText(other, "partial");

        AtomicFile.Write(target, s => s.WriteByte(1));
        Assert.True(File.Exists(orphan)); // its process still runs: it may still commit

        child.Kill();
        child.WaitForExit();
        AtomicFile.Write(target, s => s.WriteByte(2));
        Assert.False(File.Exists(orphan));
        Assert.True(File.Exists(other)); // another target's temporaries are not ours to judge
        Assert.Equal([2], File.ReadAllBytes(target));
    }

    [Fact]
    public void AKilledPredictionLeavesNoTemporaryAfterTheNextRun()
    {
        using var folder = new TempFolder();
        string model = SmallModel(folder);
        string fifo = folder.File("input.libfm");
        using (Process mkfifo = Process.Start("mkfifo", fifo))
        {
            mkfifo.WaitForExit();
        }

        string output = folder.File("p.txt");
        var start = new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "fm.dll"), "predict", "-m", model, "-i", fifo, "-o", output])
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        };
        using Process child = Process.Start(start)!;
        using (var writer = new FileStream(fifo, FileMode.Open, FileAccess.Write))
        {
            writer.Write("1 1:1\n0 2:1\n"u8);
            writer.Flush();
            var clock = Stopwatch.StartNew();
            while (Directory.GetFiles(folder.Path, ".p.txt.*.tmp").Length == 0 && clock.Elapsed < TimeSpan.FromSeconds(60))
            {
                Thread.Sleep(50);
            }

            Assert.Single(Directory.GetFiles(folder.Path, ".p.txt.*.tmp"));
            child.Kill(); // SIGKILL while the output is open
            child.WaitForExit();
        }

        Assert.Single(Directory.GetFiles(folder.Path, ".p.txt.*.tmp"));
        File.Delete(fifo);
        string data = folder.Write("d.libfm", "1 1:1\n");
        Assert.Equal(0, Fm("predict", "-m", model, "-i", data, "-o", output).Code);
        Assert.Empty(Directory.GetFiles(folder.Path, ".p.txt.*.tmp"));
        Assert.Single(File.ReadAllLines(output));
    }

    // ---- 9. smaller ones

    [Fact]
    public void OptionErrorsNameTheFlag()
    {
        using var folder = new TempFolder();
        string data = folder.Write("d.libfm", "1 1:1\n0 2:1\n");
        AssertRefused(Fm("train", "--train", data, "--task", "c", "--lr", "0"), "--lr must be");
        AssertRefused(Fm("train", "--train", data, "--task", "c", "--k", "5000"), "--k must");
        AssertRefused(Fm("train", "--train", data, "--task", "c", "--validation-fraction", "1.5"), "--validation-fraction");
        AssertRefused(Fm("train", "--train", data, "--task", "c", "--threads", "0"), "--threads");
        AssertRefused(Fm("libfm", "-task", "c", "-train", data, "-learn_rate", "-1"), "-learn_rate");
    }

    [Fact]
    public void AnUnwritableFolderIsNamedAsTheTargetBeforeTraining()
    {
        using var folder = new TempFolder();
        string data = folder.Write("d.libfm", "1 1:1\n0 2:1\n");
        string target = "/sys/fm-test-model.fmb";
        var result = Fm("train", "--train", data, "--task", "c", "--model", target);
        AssertRefused(result, "'/sys/fm-test-model.fmb'");
        Assert.DoesNotContain(".tmp", result.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("epoch", result.Output, StringComparison.Ordinal); // refused before reading or training
    }

    [Fact]
    public void AByteOrderMarkIsAcceptedAndControlBytesAreRefusedVisibly()
    {
        Assert.Equal(2, TestFiles.Parse("\uFEFF1 1:1\n0 2:1\n").Count);
        using (var stream = new MemoryStream([0xEF, 0xBB, 0xBF, .. "bias: 0.5\ni_0: 1\nv_0: 0.5 0.25\n"u8]))
        {
            Assert.Equal(0.5f, XLearnModelFile.Read(stream, "bom.txt").Model.Bias);
        }

        DataFormatException nul = TestFiles.ParseError("1 1:1\0\n");
        Assert.Contains("'1\u2400'", nul.Message, StringComparison.Ordinal);
        Assert.Equal(5, nul.Column);
        Assert.Contains("bad label '1\u2400'", TestFiles.ParseError("1\0 1:1\n").Message, StringComparison.Ordinal);
        Assert.Contains("is not a number", TestFiles.ParseError("1 1:1\r 2:1\n").Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ALineLongerThanTheLimitIsALocatedError()
    {
        string text = "1 1:1\n0 " + string.Concat(Enumerable.Repeat("2:1 ", 100_000)) + "\n";
        using var stream = new MemoryStream(Encoding.ASCII.GetBytes(text));
        using var reader = new SparseTextReader(stream, SparseFormat.LibFm, "long.libfm") { MaxLineLength = 64 << 10 };
        var e = Assert.Throws<DataFormatException>(() => reader.ReadToEnd());
        Assert.Equal(2, e.LineNumber);
        Assert.Contains("longer than 65,536 bytes", e.Message, StringComparison.Ordinal);
    }
}
