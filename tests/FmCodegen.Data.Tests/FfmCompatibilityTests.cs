using System.Globalization;
using FmCodegen.IO;

namespace FmCodegen.Data.Tests;

/// <summary>FFM predictions of the real tools (libffm, xLearn 0.44, ML.NET 5.0.1) reproduced from their model files.</summary>
public class FfmCompatibilityTests
{
    private static float[] ReadNumbers(string path) =>
        Array.ConvertAll(File.ReadAllLines(path), line => float.Parse(line, CultureInfo.InvariantCulture));

    internal static float[] Predict(FfmModelFile file, SparseDataset data, bool probability)
    {
        SparseDataset mapped = FfmModelFiles.MapData(file, data);
        float[] scores = new float[mapped.Count];
        Ffm.ScoreBatch(file.Model, mapped.Offsets, mapped.Fields, mapped.Indices, mapped.Values, scores);
        if (probability)
        {
            for (int r = 0; r < scores.Length; r++)
            {
                scores[r] = Fm.Sigmoid(scores[r]);
            }
        }

        return scores;
    }

    private static double Worst(float[] expected, float[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        double worst = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            worst = Math.Max(worst, Math.Abs(expected[i] - actual[i]));
        }

        return worst;
    }

    private static string Shared(params string[] parts) => Path.Combine([TestFiles.SharedData()!, .. parts]);

    [Fact]
    public void LibFfm_ReproducesFfmPredict_OnASlice()
    {
        FfmModelFile file = FfmModelFiles.Load(TestFiles.Fixture("ffm/frappe_k4.libffm.model"));
        Assert.Equal(FfmModelFormat.LibFfm, file.Format);
        Assert.Equal(FfmNormalization.LibFfm, file.Model.Normalization);
        Assert.Equal((5382, 10, 4), (file.Model.NumFeatures, file.Model.NumFields, file.Model.EmbeddingSize));
        SparseDataset data = SparseDataset.Load(TestFiles.Fixture("ffm/frappe_te.ffm.head300"), SparseFormat.LibFfm);
        double worst = Worst(ReadNumbers(TestFiles.Fixture("ffm/frappe_k4.libffm.pred.head300")), Predict(file, data, probability: true));
        Assert.True(worst <= 1e-5, $"largest difference {worst:G3}");
    }

    [Fact]
    public void LibFfm_NormalisationFlag_Matters()
    {
        FfmModelFile file = FfmModelFiles.Load(TestFiles.Fixture("ffm/frappe_k4.libffm.model"));
        SparseDataset data = SparseDataset.Load(TestFiles.Fixture("ffm/frappe_te.ffm.head300"), SparseFormat.LibFfm);
        float[] expected = ReadNumbers(TestFiles.Fixture("ffm/frappe_k4.libffm.pred.head300"));
        var plain = file with { Model = file.Model with { Normalization = FfmNormalization.None } };
        Assert.True(Worst(expected, Predict(plain, data, probability: true)) > 0.05);
    }

    [SkippableSharedDataFact]
    public void LibFfm_ReproducesFfmPredict_OnTheWholeTestSet()
    {
        FfmModelFile file = FfmModelFiles.Load(Shared("fixtures", "libffm", "frappe_k4.libffm.model"));
        SparseDataset data = SparseDataset.Load(Shared("frappe", "frappe_te.ffm"), SparseFormat.LibFfm);
        double worst = Worst(ReadNumbers(Shared("fixtures", "libffm", "frappe_k4.libffm.pred")), Predict(file, data, probability: true));
        Assert.True(worst <= 1e-4, $"largest difference {worst:G3}");
    }

    [SkippableSharedDataFact]
    public void XLearn_ReproducesXLearnPredict_WithItsNormalisation()
    {
        string model = Shared("fixtures", "xlearn", "frappe_ffm4.xlearn.txt");
        Assert.Equal(FfmModelFormat.XLearn, FfmModelFiles.TryDetect(model));
        FfmModelFile file = FfmModelFiles.Load(model, xlearnNormalization: true);
        SparseDataset data = SparseDataset.Load(Shared("frappe", "frappe_te.ffm"), SparseFormat.LibFfm);
        float[] expected = ReadNumbers(Shared("fixtures", "xlearn", "frappe_ffm4.xlearn.pred"));
        double worst = Worst(expected, Predict(file, data, probability: true));
        Assert.True(worst <= 1e-4, $"largest difference {worst:G3}");
        Assert.True(Worst(expected, Predict(FfmModelFiles.Load(model), data, probability: true)) > 0.05);
    }

    [SkippableSharedDataFact]
    public void MlNet_ReproducesPredictionEngine_ScoresAndProbabilities()
    {
        string model = Shared("fixtures", "mlnet", "frappe_ffm4.mlnet.zip");
        Assert.Equal(FfmModelFormat.MlNet, FfmModelFiles.TryDetect(model));
        FfmModelFile file = FfmModelFiles.Load(model);
        Assert.Equal(10, file.Columns!.Count);
        Assert.All(file.Columns, c => Assert.Equal(5382, c.Width));
        Assert.Equal(FfmNormalization.MlNet, file.Model.Normalization);
        SparseDataset data = SparseDataset.Load(Shared("frappe", "frappe_te.ffm"), SparseFormat.LibFfm);
        double worstScore = Worst(ReadNumbers(Shared("fixtures", "mlnet", "frappe_ffm4.mlnet.score")), Predict(file, data, probability: false));
        double worstProbability = Worst(ReadNumbers(Shared("fixtures", "mlnet", "frappe_ffm4.mlnet.pred")), Predict(file, data, probability: true));
        Assert.True(worstScore <= 1e-4, $"largest score difference {worstScore:G3}");
        Assert.True(worstProbability <= 1e-4, $"largest probability difference {worstProbability:G3}");
    }

    [Fact]
    public void PeekEmbeddingSize_ReadsTheHeaderOfNativeAndLibFfmFilesOnly()
    {
        string libffm = TestFiles.Fixture("ffm/frappe_k4.libffm.model");
        FfmModelFile file = FfmModelFiles.Load(libffm);
        Assert.Equal(4, FfmModelFiles.PeekEmbeddingSize(libffm, FfmModelFormat.LibFfm));
        using var folder = new TempFolder();
        string native = folder.File("m.ffmb");
        FfmModelFiles.Save(file with { Model = FfmModel.Create(0f, new float[3], new float[3 * 2 * 7], 2, 7) }, native, FfmModelFormat.Native);
        Assert.Equal(7, FfmModelFiles.PeekEmbeddingSize(native, FfmModelFormat.Native));
        string text = folder.File("m.txt");
        FfmModelFiles.Save(file, text, FfmModelFormat.XLearn);
        Assert.Null(FfmModelFiles.PeekEmbeddingSize(text, FfmModelFormat.XLearn));

        // the wrong format for the file, a header cut short, a header that is not one: no k
        Assert.Null(FfmModelFiles.PeekEmbeddingSize(native, FfmModelFormat.LibFfm));
        Assert.Null(FfmModelFiles.PeekEmbeddingSize(libffm, FfmModelFormat.Native));
        string cut = folder.File("cut.model");
        File.WriteAllBytes(cut, File.ReadAllBytes(libffm)[..10]);
        Assert.Null(FfmModelFiles.PeekEmbeddingSize(cut, FfmModelFormat.LibFfm));
        string zeros = folder.File("zeros.model");
        File.WriteAllBytes(zeros, new byte[64]);
        Assert.Null(FfmModelFiles.PeekEmbeddingSize(zeros, FfmModelFormat.LibFfm));
    }

    [Fact]
    public void XLearnText_And_Native_RoundTrip_BitForBit()
    {
        FfmModelFile file = FfmModelFiles.Load(TestFiles.Fixture("ffm/frappe_k4.libffm.model"));
        string dir = Directory.CreateTempSubdirectory("ffm").FullName;
        try
        {
            string native = Path.Combine(dir, "m.ffmb");
            FfmModelFiles.Save(file, native, FfmModelFormat.Native);
            FfmModelFile back = FfmModelFiles.Load(native);
            Assert.Equal(FfmModelFormat.Native, back.Format);
            Assert.True(back.ChecksumVerified);
            Assert.Equal(file.Model, back.Model);
            Assert.False(back.HasBias);

            string text = Path.Combine(dir, "m.txt");
            FfmModelFiles.Save(file, text, FfmModelFormat.XLearn);
            FfmModelFile fromText = FfmModelFiles.Load(text);
            Assert.Equal(file.Model with { Normalization = FfmNormalization.None }, fromText.Model);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Native_DamagedOrTruncated_IsNamed()
    {
        FfmModel model = FfmModel.Create(0.5f, [1f, 2f], [1, 2, 3, 4, 5, 6, 7, 8], numFields: 2, embeddingSize: 2);
        string dir = Directory.CreateTempSubdirectory("ffm").FullName;
        try
        {
            string path = Path.Combine(dir, "m.ffmb");
            NativeFfmModelFile.Save(new FfmModelFile(model, FfmModelFormat.Native), path);
            byte[] bytes = File.ReadAllBytes(path);
            File.WriteAllBytes(path, bytes[..^3]);
            Assert.Contains("truncated", Assert.Throws<ModelFileException>(() => NativeFfmModelFile.Load(path)).Message, StringComparison.Ordinal);
            bytes[70] ^= 1;
            File.WriteAllBytes(path, bytes);
            Assert.Contains("checksum", Assert.Throws<ModelFileException>(() => NativeFfmModelFile.Load(path)).Message, StringComparison.Ordinal);
            bytes[70] ^= 1;

            // the frame's other checks, shared with the FM format (NativeFrame), each named
            string Refusal(byte[] damaged)
            {
                File.WriteAllBytes(path, damaged);
                string message = Assert.Throws<ModelFileException>(() => NativeFfmModelFile.Load(path)).Message;
                Assert.StartsWith(path + ": ", message, StringComparison.Ordinal);
                return message;
            }

            byte[] marker = (byte[])bytes.Clone();
            marker[^1] ^= 1;
            Assert.Contains("end marker", Refusal(marker), StringComparison.Ordinal);
            Assert.Contains("garbage after the model", Refusal([.. bytes, 0]), StringComparison.Ordinal);
            byte[] header = (byte[])bytes.Clone();
            header[20] ^= 1; // k, under the header checksum
            Assert.Contains("header is damaged", Refusal(header), StringComparison.Ordinal);
            byte[] version = (byte[])bytes.Clone();
            version[8] = 2;
            Assert.Contains("format version 2 is not supported", Refusal(version), StringComparison.Ordinal);
            Assert.Contains("truncated", Refusal(bytes[..40]), StringComparison.Ordinal);
            Assert.Contains("not an FmCodegen native FFM model", Refusal([.. "FMCG"u8]), StringComparison.Ordinal);
            File.WriteAllBytes(path, bytes);
            Assert.Equal(model, NativeFfmModelFile.Load(path).Model);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void LibFfm_WrongLength_IsRefusedBeforeAllocating()
    {
        // a header announcing 2^30 features x 1000 fields: refused from the file length alone
        byte[] bytes = new byte[13 + 64];
        BitConverter.TryWriteBytes(bytes.AsSpan(0), 1 << 30);
        BitConverter.TryWriteBytes(bytes.AsSpan(4), 1000);
        BitConverter.TryWriteBytes(bytes.AsSpan(8), 4);
        using var stream = new MemoryStream(bytes);
        var e = Assert.Throws<ModelFileException>(() => LibFfmModelFile.Read(stream, bytes.Length, "big.model"));
        Assert.Contains("big.model", e.Message, StringComparison.Ordinal);
        Assert.Contains("must be", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(4, false)]
    [InlineData(8, false)]
    [InlineData(3, true)]
    [InlineData(6, true)]
    public void LibFfm_WrongLength_NamesEachPossibleSizeOnce(int k, bool twoSizes)
    {
        // when k is a multiple of 4 both layouts have the same length: the message gives it once, not "X or X"
        byte[] bytes = new byte[13 + 20];
        BitConverter.TryWriteBytes(bytes.AsSpan(0), 3);
        BitConverter.TryWriteBytes(bytes.AsSpan(4), 2);
        BitConverter.TryWriteBytes(bytes.AsSpan(8), k);
        using var stream = new MemoryStream(bytes);
        string message = Assert.Throws<ModelFileException>(() => LibFfmModelFile.Read(stream, bytes.Length, "short.model")).Message;
        Assert.Contains("short.model", message, StringComparison.Ordinal);
        Assert.Contains("must be", message, StringComparison.Ordinal);
        Assert.Equal(twoSizes, message.Contains("(kALIGN 4) or ", StringComparison.Ordinal));
        Assert.Contains("it is 33 bytes", message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    public void LibFfm_BothAlignments_ReadTheSameWeights(int align)
    {
        // k = 4: both layouts have the same length; the AdaGrad sums (>= 1) tell them apart
        const int n = 3, m = 2, k = 4;
        var weights = new float[n * m * k];
        for (int i = 0; i < weights.Length; i++)
        {
            weights[i] = (i % 7) * 0.1f - 0.3f;
        }

        using var stream = new MemoryStream();
        var w = new BinaryWriter(stream);
        w.Write(n);
        w.Write(m);
        w.Write(k);
        w.Write((byte)1);
        for (int b = 0; b < n * m; b++)
        {
            for (int start = 0; start < k; start += align)
            {
                for (int c = 0; c < align; c++)
                {
                    w.Write(weights[(b * k) + start + c]);
                }

                for (int c = 0; c < align; c++)
                {
                    w.Write(1.5f + c);
                }
            }
        }

        w.Flush();
        stream.Position = 0;
        FfmModelFile file = LibFfmModelFile.Read(stream, stream.Length, "t.model");
        Assert.Equal(weights, file.Model.GetFactors());
    }

    [Theory]
    [InlineData("native")]
    [InlineData("xlearn")]
    [InlineData("libffm")]
    public void TheTableADeclaredSizeNeeds_IsCheckedAgainstTheMemoryBudget(string format)
    {
        // 4,000 features x 4 fields x k = 4: a table of 256 KB; under a 128 KB budget every reader refuses it
        // with the size it needs and the file's name, and reads it under a larger one
        const int n = 4000, m = 4, k = 4;
        var factors = new float[n * m * k];
        for (int i = 0; i < factors.Length; i++)
        {
            factors[i] = ((i % 11) * 0.05f) - 0.25f;
        }

        FfmModel model = FfmModel.Create(0.5f, new float[n], factors, numFields: m, embeddingSize: k);
        string dir = Directory.CreateTempSubdirectory("ffm").FullName;
        try
        {
            string path = Path.Combine(dir, "m." + format);
            switch (format)
            {
                case "native":
                    FfmModelFiles.Save(new FfmModelFile(model, FfmModelFormat.Native), path, FfmModelFormat.Native);
                    break;
                case "xlearn":
                    FfmModelFiles.Save(new FfmModelFile(model, FfmModelFormat.XLearn), path, FfmModelFormat.XLearn);
                    break;
                default:
                    using (var w = new BinaryWriter(File.Create(path)))
                    {
                        w.Write(n);
                        w.Write(m);
                        w.Write(k);
                        w.Write((byte)0);
                        for (int b = 0; b < n * m; b++)
                        {
                            for (int c = 0; c < k; c++)
                            {
                                w.Write(factors[(b * k) + c]);
                            }

                            for (int c = 0; c < k; c++)
                            {
                                w.Write(1f);
                            }
                        }
                    }

                    break;
            }

            using (MemoryBudget.WithLimit(128 << 10))
            {
                var e = Assert.Throws<InsufficientMemoryException>(() => FfmModelFiles.Load(path));
                Assert.Contains(path, e.Message, StringComparison.Ordinal);
                Assert.Contains("may use 128 KB", e.Message, StringComparison.Ordinal);
                if (format != "xlearn")
                {
                    // the text reader may stop earlier, while it collects the numbers
                    Assert.Contains("field-aware model (4,000 features, 4 fields, k = 4)", e.Message, StringComparison.Ordinal);
                }
            }

            using (MemoryBudget.WithLimit(16 << 20))
            {
                Assert.Equal(factors, FfmModelFiles.Load(path).Model.GetFactors());
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
