using System.Text;
using FmCodegen.Data;
using FmCodegen.IO;

namespace FmCodegen.Data.Tests;

public class ModelFileTests
{
    internal static FmModel RandomModel(int features, int k, int seed = 7, float bias = 0.25f)
    {
        var random = new Random(seed);
        float[] w = new float[features];
        float[] v = new float[features * k];
        for (int i = 0; i < w.Length; i++)
        {
            w[i] = (float)((random.NextDouble() - 0.5) * 2);
        }

        for (int i = 0; i < v.Length; i++)
        {
            v[i] = (float)((random.NextDouble() - 0.5) * 0.4);
        }

        return FmModel.Create(bias, w, v, k);
    }

    private static byte[] NativeBytes(ModelFile file)
    {
        using var stream = new MemoryStream();
        NativeModelFile.Write(file, stream);
        return stream.ToArray();
    }

    private static ModelFile ReadNative(byte[] bytes) => NativeModelFile.Read(new MemoryStream(bytes), "m.fmb", bytes.Length);

    [Theory]
    [InlineData(1, 1)]
    [InlineData(17, 8)]
    [InlineData(5, 16)]
    [InlineData(3, 33)]
    [InlineData(0, 4)]
    public void NativeRoundTripIsExact(int features, int k)
    {
        var file = new ModelFile(RandomModel(features, k).WithInstanceNormalization(true), FmTask.BinaryClassification, HasBias: true, HasLinear: false);
        ModelFile back = ReadNative(NativeBytes(file));
        Assert.Equal(file.Model, back.Model);
        Assert.Equal(FmTask.BinaryClassification, back.Task);
        Assert.False(back.HasLinear);
        Assert.True(back.InstanceNormalization);
        Assert.True(back.ChecksumVerified);
    }

    [Fact]
    public void NativeLayoutIsAsDocumented()
    {
        byte[] bytes = NativeBytes(new ModelFile(RandomModel(3, 4), FmTask.Regression));
        Assert.Equal(64 + (3 * 5 * 4) + 8, bytes.Length);
        Assert.Equal("FMCG\r\n\u001a\n", Encoding.ASCII.GetString(bytes, 0, 8));
        Assert.Equal(1, BitConverter.ToInt32(bytes, 8));
        Assert.Equal(1, BitConverter.ToInt32(bytes, 16));
        Assert.Equal(4, BitConverter.ToInt32(bytes, 20));
        Assert.Equal(3L, BitConverter.ToInt64(bytes, 24));
        Assert.Equal(0.25f, BitConverter.ToSingle(bytes, 36));
        FmModel model = RandomModel(3, 4);
        Assert.Equal(model.FactorRow(1)[2], BitConverter.ToSingle(bytes, 64 + (1 * 20) + (2 * 4)));
        Assert.Equal(model.Weight(2), BitConverter.ToSingle(bytes, 64 + (2 * 20) + 16));
        Assert.Equal("FMCE", Encoding.ASCII.GetString(bytes, bytes.Length - 4, 4));
    }

    [Fact]
    public void EveryTruncationOfANativeFileIsRefused()
    {
        byte[] bytes = NativeBytes(new ModelFile(RandomModel(4, 4)));
        for (int length = 0; length < bytes.Length; length++)
        {
            byte[] cut = bytes[..length];
            ModelFileException e = Assert.Throws<ModelFileException>(() => ReadNative(cut));
            Assert.StartsWith("m.fmb: ", e.Message, StringComparison.Ordinal);
            // without a known length the stream reader finds it too
            Assert.Throws<ModelFileException>(() => NativeModelFile.Read(new MemoryStream(cut), "m.fmb"));
        }
    }

    [Fact]
    public void EveryFlippedBitOfANativeFileIsRefused()
    {
        byte[] bytes = NativeBytes(new ModelFile(RandomModel(3, 4)));
        for (int i = 0; i < bytes.Length; i++)
        {
            for (int bit = 0; bit < 8; bit += 3)
            {
                byte[] damaged = (byte[])bytes.Clone();
                damaged[i] ^= (byte)(1 << bit);
                Assert.Throws<ModelFileException>(() => ReadNative(damaged));
            }
        }
    }

    /// <summary>A model of <paramref name="features"/> features where only the listed ones have parameters, as a
    /// hashed model is.</summary>
    internal static FmModel SparseModel(int features, int k, int[] present, int seed = 3)
    {
        var random = new Random(seed);
        float[] w = new float[features];
        float[] v = new float[(long)features * k];
        foreach (int i in present)
        {
            w[i] = (float)(random.NextDouble() - 0.5);
            for (int f = 0; f < k; f++)
            {
                v[((long)i * k) + f] = (float)((random.NextDouble() - 0.5) * 0.4);
            }
        }

        return FmModel.Create(-0.5f, w, v, k);
    }

    [Fact]
    public void AHashedModelIsStoredAsItsFeaturesWithIdsAndRoundTripsExactly()
    {
        int[] present = [3, 17, 4_000, 65_535, 99_999];
        FmModel model = SparseModel(100_000, 8, present);
        var file = new ModelFile(model, FmTask.BinaryClassification);
        byte[] bytes = NativeBytes(file);
        Assert.Equal(64 + (present.Length * (4 + (9 * 4))) + 8, bytes.Length);
        Assert.Equal(2, BitConverter.ToInt32(bytes, 8));
        Assert.Equal(8u, BitConverter.ToUInt32(bytes, 32) & 8u);
        Assert.Equal(17, BitConverter.ToInt32(bytes, 64 + 40));
        ModelFile back = ReadNative(bytes);
        Assert.Equal(model, back.Model);
        Assert.Equal(100_000, back.Model.NumFeatures);
        Assert.Equal(model.Weight(65_535), back.Model.Weight(65_535));
        Assert.Equal(0f, back.Model.Weight(65_534));

        // a -0.0 is a stored value: its bits come back
        float[] w = new float[10];
        w[4] = -0f;
        FmModel negativeZero = FmModel.Create(0f, w, new float[10 * 2], 2);
        byte[] negativeBytes = NativeBytes(new ModelFile(negativeZero));
        Assert.True(float.IsNegative(ReadNative(negativeBytes).Model.Weight(4)));
    }

    [Fact]
    public void ADenseModelIsStillWrittenAsVersionOne()
    {
        byte[] bytes = NativeBytes(new ModelFile(RandomModel(20, 4)));
        Assert.Equal(1, BitConverter.ToInt32(bytes, 8));
        Assert.Equal(0u, BitConverter.ToUInt32(bytes, 32) & 8u);
    }

    [Fact]
    public void EveryTruncationAndFlippedBitOfASparseFileIsRefused()
    {
        byte[] bytes = NativeBytes(new ModelFile(SparseModel(1_000, 2, [5, 600])));
        for (int length = 0; length < bytes.Length; length++)
        {
            Assert.Throws<ModelFileException>(() => ReadNative(bytes[..length]));
        }

        for (int i = 0; i < bytes.Length; i++)
        {
            byte[] damaged = (byte[])bytes.Clone();
            damaged[i] ^= 0x04;
            Assert.Throws<ModelFileException>(() => ReadNative(damaged));
        }
    }

    [Theory]
    [InlineData(600, 5, "the ids must rise strictly (the previous is 600)")]
    [InlineData(5, 1_000, "feature id 1000; the ids must rise strictly (the previous is 5) and stay below 1,000")]
    public void SparseRowsWithFallingOrOutOfRangeIdsAreRefused(int first, int second, string expected)
    {
        byte[] bytes = NativeBytes(new ModelFile(SparseModel(1_000, 2, [5, 600])));
        BitConverter.TryWriteBytes(bytes.AsSpan(64), first);
        BitConverter.TryWriteBytes(bytes.AsSpan(64 + 16), second);
        uint crc = System.IO.Hashing.Crc32.HashToUInt32(bytes.AsSpan(0, bytes.Length - 8));
        BitConverter.TryWriteBytes(bytes.AsSpan(bytes.Length - 8), crc);
        ModelFileException e = Assert.Throws<ModelFileException>(() => ReadNative(bytes));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ADamagedDataByteIsNamedAsAChecksumFailure()
    {
        byte[] bytes = NativeBytes(new ModelFile(RandomModel(3, 4)));
        bytes[70] ^= 0x10;
        ModelFileException e = Assert.Throws<ModelFileException>(() => ReadNative(bytes));
        Assert.Contains("CRC-32", e.Message, StringComparison.Ordinal);
        bytes[70] ^= 0x10;
        bytes[^1] = 0;
        Assert.Contains("end marker", Assert.Throws<ModelFileException>(() => ReadNative(bytes)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void NativeSaveIsAtomicAndLeavesNoTemporaryFile()
    {
        using var folder = new TempFolder();
        string path = folder.File("m.fmb");
        var file = new ModelFile(RandomModel(10, 8));
        NativeModelFile.Save(file, path);
        NativeModelFile.Save(file with { Model = RandomModel(10, 8, seed: 8) }, path);
        Assert.Equal(RandomModel(10, 8, seed: 8), NativeModelFile.Load(path).Model);
        Assert.Single(Directory.GetFiles(folder.Path));
    }

    [Fact]
    public void AGzipCompressedNativeFileLoads()
    {
        using var folder = new TempFolder();
        var file = new ModelFile(RandomModel(10, 8));
        string path = folder.File("m.fmb.gz");
        using (var output = File.Create(path))
        using (var gzip = new System.IO.Compression.GZipStream(output, System.IO.Compression.CompressionLevel.Fastest))
        {
            NativeModelFile.Write(file, gzip);
        }

        Assert.Equal(ModelFormat.Native, ModelFiles.Detect(path));
        Assert.Equal(file.Model, ModelFiles.Load(path).Model);
    }

    [Fact]
    public void AFailedAtomicWriteKeepsTheOldFile()
    {
        using var folder = new TempFolder();
        string path = folder.Write("out.txt", "old");
        Assert.Throws<InvalidOperationException>(() => AtomicFile.Write(path, stream =>
        {
            stream.Write("partial"u8);
            throw new InvalidOperationException("boom");
        }));
        Assert.Equal("old", File.ReadAllText(path));
        Assert.Single(Directory.GetFiles(folder.Path));
    }

    [Theory]
    [InlineData(true, true, 8)]
    [InlineData(false, true, 8)]
    [InlineData(true, false, 4)]
    [InlineData(false, false, 1)]
    [InlineData(true, true, 1)]
    public void LibFmTextRoundTripIsExactWithOrWithoutSections(bool bias, bool linear, int k)
    {
        FmModel model = RandomModel(9, k, bias: bias ? 0.5f : 0f);
        if (!linear)
        {
            model = FmModel.Create(model.Bias, new float[9], model.Factors.Span, k);
        }

        var file = new ModelFile(model, HasBias: bias, HasLinear: linear);
        using var stream = new MemoryStream();
        LibFmModelFile.Write(file, stream);
        string text = Encoding.UTF8.GetString(stream.ToArray());
        Assert.Equal(bias, text.Contains("#global bias W0\n", StringComparison.Ordinal));
        Assert.Equal(linear, text.Contains("#unary interactions Wj\n", StringComparison.Ordinal));
        stream.Position = 0;
        ModelFile back = LibFmModelFile.Read(stream, "m.libfm");
        Assert.Equal(model, back.Model);
        Assert.Equal(bias, back.HasBias);
        Assert.Equal(linear, back.HasLinear);
    }

    private static ModelFile ReadLibFm(string text) => LibFmModelFile.Read(new MemoryStream(Encoding.UTF8.GetBytes(text)), "m.libfm");

    [Fact]
    public void ReadsLibFmTextAsLibFmWritesIt()
    {
        ModelFile file = ReadLibFm("#global bias W0\n-0.5\n#unary interactions Wj\n0.1\n-2e-05\n#pairwise interactions Vj,f\n1 2 3\n-0.25 0.5 1e-06\n");
        Assert.Equal(-0.5f, file.Model.Bias);
        Assert.Equal([0.1f, -2e-05f], file.Model.Weights.ToArray());
        Assert.Equal([1f, 2f, 3f, -0.25f, 0.5f, 1e-06f], file.Model.Factors.ToArray());
        Assert.Equal(3, file.Model.EmbeddingSize);
    }

    [Fact]
    public void ReadsLibFmWithoutBiasOrUnaryAndWithKOne()
    {
        ModelFile noBias = ReadLibFm("#unary interactions Wj\n0.1\n0.2\n#pairwise interactions Vj,f\n0.5\n-0.5\n");
        Assert.False(noBias.HasBias);
        Assert.Equal(0f, noBias.Model.Bias);
        Assert.Equal(1, noBias.Model.EmbeddingSize);
        Assert.Equal([0.5f, -0.5f], noBias.Model.Factors.ToArray());

        ModelFile onlyPairs = ReadLibFm("#pairwise interactions Vj,f\n0.5 1\n-0.5 2\n");
        Assert.False(onlyPairs.HasBias);
        Assert.False(onlyPairs.HasLinear);
        Assert.Equal([0f, 0f], onlyPairs.Model.Weights.ToArray());

        ModelFile noFactors = ReadLibFm("#global bias W0\n1\n#unary interactions Wj\n0.1\n0.2\n#pairwise interactions Vj,f\n\n\n");
        Assert.Equal(2, noFactors.Model.NumFeatures);
        Assert.Equal([0f, 0f], noFactors.Model.Factors.ToArray());
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("#global bias W0\n0.5\n#unary interactions Wj\n0.1\n0.2\n", "section is missing")]
    [InlineData("#global bias W0\n0.5\n#unary interactions Wj\n0.1\n0.2\n#pairwise interactions Vj,f\n1 2\n", "unary section has 2 features but the pairwise section has 1")]
    [InlineData("#global bias W0\n0.5\n#unary interactions Wj\n0.1\n0.2\n#pairwise interactions Vj,f\n1 2\n3 4", "ends inside a line")]
    [InlineData("#global bias W0\n0.5\n#unary interactions Wj\n0.1\n0.2\n#pairwise interactions Vj,f\n1 2\n3\n", "has 1 factors")]
    [InlineData("#global bias W0\n0.5\n#unary interactions Wj\n0.1\nx\n#pairwise interactions Vj,f\n1 2\n3 4\n", "m.libfm:5:1: 'x' is not a number")]
    [InlineData("#global bias W0\nnan\n#pairwise interactions Vj,f\n1\n", "not finite")]
    [InlineData("#global bias W0\n#pairwise interactions Vj,f\n1\n", "has no value")]
    [InlineData("0.5\n#pairwise interactions Vj,f\n1\n", "must start with a section header")]
    [InlineData("#something else\n", "unknown section header")]
    [InlineData("#pairwise interactions Vj,f\n1\n#global bias W0\n1\n", "out of order")]
    public void RefusesBrokenLibFmText(string text, string reason)
    {
        ModelFileException e = Assert.Throws<ModelFileException>(() => ReadLibFm(text));
        Assert.Contains(reason, e.Message, StringComparison.Ordinal);
        Assert.StartsWith("m.libfm", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void EveryTruncationOfALibFmFixtureIsRefused()
    {
        byte[] bytes = File.ReadAllBytes(TestFiles.Fixture("a9a_sgd.libfm.model"));
        LibFmModelFile.Read(new MemoryStream(bytes), "full");
        int refused = 0;
        // the file has a unary section, so even a cut between two factor lines shows (the counts disagree)
        for (int length = 0; length < bytes.Length; length += 7)
        {
            Assert.Throws<ModelFileException>(() => LibFmModelFile.Read(new MemoryStream(bytes[..length]), "cut"));
            refused++;
        }

        Assert.True(refused > 1500);
    }

    private static ModelFile ReadXLearn(string text) => XLearnModelFile.Read(new MemoryStream(Encoding.UTF8.GetBytes(text)), "m.xlearn");

    [Theory]
    [InlineData(4, 8)]
    [InlineData(1, 1)]
    [InlineData(6, 3)]
    public void XLearnTextRoundTripIsExact(int features, int k)
    {
        var file = new ModelFile(RandomModel(features, k));
        using var stream = new MemoryStream();
        XLearnModelFile.Write(file, stream);
        string text = Encoding.UTF8.GetString(stream.ToArray());
        Assert.StartsWith("bias: 0.25\ni_0: ", text, StringComparison.Ordinal);
        stream.Position = 0;
        Assert.Equal(file.Model, XLearnModelFile.Read(stream, "x").Model);
    }

    [Theory]
    [InlineData("bias: 1\ni_0: 1\ni_1: 2\nv_0: 1 2\n", "2 'i_' lines but 1 'v_' lines")]
    [InlineData("bias: 1\ni_0: 1\ni_1: 1\nv_0: 1 2\nv_1: 3 4", "ends inside a line")]
    [InlineData("bias: 1\ni_0: 1\ni_2: 1\n", "expected i_1, found i_2")]
    [InlineData("bias: 1\ni_0: 1\nv_0_0: 1 2\n", "FFM")]
    [InlineData("i_0: 1\nv_0: 1\n", "must come first")]
    [InlineData("bias: 1\ni_0: 1\nv_0: 1 2\ni_1: 1\n", "after the 'v_' lines")]
    [InlineData("bias: 1\nw_0: 1\n", "not an xLearn FM model line")]
    [InlineData("bias: 1\ni_0: 1\nv_0: 1 zz\n", "m.xlearn:3:")]
    public void RefusesBrokenXLearnText(string text, string reason)
    {
        ModelFileException e = Assert.Throws<ModelFileException>(() => ReadXLearn(text));
        Assert.Contains(reason, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void RefusesAnXLearnModelWithoutFactors()
    {
        // a linear model, or an FM model cut before its v_ lines: the two cannot be told apart, and reading the
        // second as a k = 1 model with zero factors would silently drop the pairwise term (issue 7)
        var e = Assert.Throws<ModelFileException>(() => ReadXLearn("bias: 1\ni_0: 0.5\ni_1: -0.5\n"));
        Assert.Contains("no 'v_' lines", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void DetectsTheFormatFromTheContent()
    {
        Assert.Equal(ModelFormat.Native, ModelFiles.Detect(NativeModelFile.Magic, "x"));
        Assert.Equal(ModelFormat.LibFm, ModelFiles.Detect("#global bias W0\n1\n"u8, "x"));
        Assert.Equal(ModelFormat.LibFm, ModelFiles.Detect("#pairwise interactions Vj,f\n"u8, "x"));
        Assert.Equal(ModelFormat.XLearn, ModelFiles.Detect("bias: 0.1\n"u8, "x"));
        Assert.Contains("cannot tell", Assert.Throws<ModelFileException>(() => ModelFiles.Detect("1 2:3\n"u8, "x")).Message, StringComparison.Ordinal);
        Assert.Equal(ModelFormat.LibFm, ModelFiles.Detect(TestFiles.Fixture("a9a_sgd.libfm.model")));
        Assert.Equal(ModelFormat.XLearn, ModelFiles.Detect(TestFiles.Fixture("a9a_fm_norm.xlearn.txt")));
    }

    [Fact]
    public void ConvertingBetweenAllFormatsKeepsTheModel()
    {
        using var folder = new TempFolder();
        ModelFile start = ModelFiles.Load(TestFiles.Fixture("a9a_sgd.libfm.model"));
        ModelFile current = start;
        foreach (ModelFormat format in new[] { ModelFormat.Native, ModelFormat.XLearn, ModelFormat.LibFm, ModelFormat.Native })
        {
            string path = folder.File("m." + format);
            ModelFiles.Save(current, path, format);
            current = ModelFiles.Load(path);
            Assert.Equal(format, current.Format);
            Assert.Equal(start.Model, current.Model);
        }
    }
}
