using System.Globalization;
using System.IO.Hashing;
using FmCodegen.Cli;
using FmCodegen.IO;
using FmCodegen.Training;

namespace FmCodegen.Data.Tests;

/// <summary>The training targets' range in the native format (version 4, flag bit 5, 8 bytes after the rows): it
/// round-trips, files without it keep their old bytes and load as before, and <c>fm predict</c> clamps a regression
/// model's predictions to it unless <c>--no-clip</c> or <c>--clip</c> says otherwise.</summary>
public class TargetRangeModelFileTests
{
    private static byte[] NativeBytes(ModelFile file)
    {
        using var stream = new MemoryStream();
        NativeModelFile.Write(file, stream);
        return stream.ToArray();
    }

    private static ModelFile ReadNative(byte[] bytes) => NativeModelFile.Read(new MemoryStream(bytes), "m.fmb", bytes.Length);

    private static (int Code, string Output, string Error) Fm(params string[] args)
    {
        using var output = new StringWriter(CultureInfo.InvariantCulture);
        using var error = new StringWriter(CultureInfo.InvariantCulture);
        int code = Program.Run(args, output, error);
        return (code, output.ToString(), error.ToString());
    }

    /// <summary>Sets a header field and fixes the header CRC, so the consistency checks are what decide.</summary>
    private static byte[] Forge(byte[] bytes, int offset, int value)
    {
        byte[] forged = (byte[])bytes.Clone();
        BitConverter.GetBytes(value).CopyTo(forged, offset);
        BitConverter.GetBytes(Crc32.HashToUInt32(forged.AsSpan(0, 60))).CopyTo(forged, 60);
        return forged;
    }

    /// <summary>Replaces the 8 range bytes before the trailer and fixes the data CRC.</summary>
    private static byte[] WithRange(byte[] bytes, float min, float max)
    {
        byte[] forged = (byte[])bytes.Clone();
        int at = forged.Length - 16;
        BitConverter.GetBytes(min).CopyTo(forged, at);
        BitConverter.GetBytes(max).CopyTo(forged, at + 4);
        BitConverter.GetBytes(Crc32.HashToUInt32(forged.AsSpan(0, forged.Length - 8))).CopyTo(forged, forged.Length - 8);
        return forged;
    }

    [Theory]
    [InlineData(5, 4, false)]
    [InlineData(1, 1, false)]
    [InlineData(0, 8, false)]
    [InlineData(5, 4, true)]
    public void A_target_range_round_trips_as_version_4(int features, int k, bool order3)
    {
        FmModel model = order3 ? Order3ModelFileTests.RandomOrder3(features, k) : ModelFileTests.RandomModel(features, k);
        var file = new ModelFile(model, FmTask.Regression) { TargetRange = (-1.5f, 4.25f) };
        byte[] bytes = NativeBytes(file);
        byte[] without = NativeBytes(file with { TargetRange = null });
        Assert.Equal(4, BitConverter.ToInt32(bytes, 8));
        Assert.Equal(32u, BitConverter.ToUInt32(bytes, 32) & 32u);
        Assert.Equal(without.Length + 8, bytes.Length);
        Assert.Equal(BitConverter.ToInt64(without, 48) + 8, BitConverter.ToInt64(bytes, 48));
        Assert.Equal(-1.5f, BitConverter.ToSingle(bytes, bytes.Length - 16));
        Assert.Equal(4.25f, BitConverter.ToSingle(bytes, bytes.Length - 12));

        ModelFile back = ReadNative(bytes);
        Assert.Equal((-1.5f, 4.25f), back.TargetRange);
        Assert.Equal(model, back.Model);
        Assert.Equal(bytes, NativeBytes(back));
        Assert.Null(ReadNative(without).TargetRange);
    }

    [Fact]
    public void A_sparse_model_with_a_range_round_trips()
    {
        float[] w = new float[1000];
        float[] v = new float[1000 * 4];
        w[10] = 1f;
        v[(500 * 4) + 3] = -2f;
        var file = new ModelFile(FmModel.Create(0.5f, w, v, 4), FmTask.Regression) { TargetRange = (1f, 5f) };
        byte[] bytes = NativeBytes(file);
        Assert.Equal(4, BitConverter.ToInt32(bytes, 8));
        Assert.Equal(8u, BitConverter.ToUInt32(bytes, 32) & 8u);
        Assert.Equal(64 + (2 * (4 + (5 * 4))) + 8 + 8, bytes.Length);
        ModelFile back = ReadNative(bytes);
        Assert.Equal(file.Model, back.Model);
        Assert.Equal((1f, 5f), back.TargetRange);
    }

    [Fact]
    public void A_file_without_a_range_keeps_its_old_bytes_and_an_old_file_loads_with_the_same_predictions()
    {
        // written by the build before this format change (Fixtures/README.md); its bytes are what this build writes too
        string path = TestFiles.Fixture(Path.Combine("native", "old-v1-regression.fmb"));
        byte[] old = File.ReadAllBytes(path);
        Assert.Equal(1, BitConverter.ToInt32(old, 8));
        ModelFile file = ModelFiles.Load(path);
        Assert.Null(file.TargetRange);
        Assert.Equal(FmTask.Regression, file.Task);
        Assert.Equal(old, NativeBytes(file));

        // fm predict with no option: the old output, unclamped (the file records no range), byte for byte
        using var folder = new TempFolder();
        string input = TestFiles.Fixture(Path.Combine("native", "old-v1-regression.input.libfm"));
        (int code, _, string error) = Fm("predict", "--model", path, "--input", input, "--output", folder.File("p.txt"));
        Assert.True(code == 0, error);
        Assert.Equal(File.ReadAllText(TestFiles.Fixture(Path.Combine("native", "old-v1-regression.pred"))), File.ReadAllText(folder.File("p.txt")));
        Assert.DoesNotContain("clamped", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Predict_clamps_to_the_recorded_range_unless_told_otherwise()
    {
        using var folder = new TempFolder();
        string path = TestFiles.Fixture(Path.Combine("native", "old-v1-regression.fmb"));
        string input = TestFiles.Fixture(Path.Combine("native", "old-v1-regression.input.libfm"));
        ModelFile old = ModelFiles.Load(path);
        ModelFiles.Save(old with { TargetRange = (1.5f, 4f) }, folder.File("r.fmb"));
        float[] unclamped = File.ReadAllLines(TestFiles.Fixture(Path.Combine("native", "old-v1-regression.pred")))
            .Select(l => float.Parse(l, CultureInfo.InvariantCulture)).ToArray();
        Assert.Contains(unclamped, y => y is < 1.5f or > 4f);

        float[] Predict(params string[] extra)
        {
            (int code, _, string error) = Fm(["predict", "--model", folder.File("r.fmb"), "--input", input, "--output", folder.File("p.txt"), .. extra]);
            Assert.True(code == 0, error);
            return File.ReadAllLines(folder.File("p.txt")).Select(l => float.Parse(l, CultureInfo.InvariantCulture)).ToArray();
        }

        Assert.Equal(unclamped.Select(y => Math.Clamp(y, 1.5f, 4f)), Predict());
        Assert.Equal(unclamped, Predict("--no-clip"));
        Assert.Equal(unclamped.Select(y => Math.Clamp(y, 0f, 10f)), Predict("--clip", "0,10"));
        (int refused, _, string message) = Fm("predict", "--model", folder.File("r.fmb"), "--input", input, "--output", folder.File("q.txt"), "--clip", "0,1", "--no-clip");
        Assert.Equal(1, refused);
        Assert.Contains("--clip and --no-clip contradict each other", message, StringComparison.Ordinal);
        Assert.False(File.Exists(folder.File("q.txt")));

        // fm eval clamps the same way (the fixture's labels are all 0)
        static string Rmse(IEnumerable<float> p) => string.Create(CultureInfo.InvariantCulture, $"RMSE {Math.Sqrt(p.Average(y => (double)y * y)):F4}");
        Assert.Contains(Rmse(unclamped.Select(y => Math.Clamp(y, 1.5f, 4f))), Fm("eval", "--model", folder.File("r.fmb"), "--input", input).Output, StringComparison.Ordinal);
        Assert.Contains(Rmse(unclamped), Fm("eval", "--model", folder.File("r.fmb"), "--input", input, "--no-clip").Output, StringComparison.Ordinal);

        (int code, string info, string infoError) = Fm("info", "--model", folder.File("r.fmb"));
        Assert.True(code == 0, infoError);
        Assert.Contains("[1.5, 4]", info, StringComparison.Ordinal);
    }

    [Fact]
    public void Training_records_the_range_of_a_regression_model_only()
    {
        float[] labels = [1f, 3f, 2.5f, 5f, 4f, 2f];
        int[] offsets = [0, 1, 2, 3, 4, 5, 6];
        int[] indices = [0, 1, 2, 0, 1, 2];
        float[] values = [1f, 1f, 1f, 1f, 1f, 1f];
        var data = SparseDataset.Create(labels, offsets, indices, values);
        FmTrainingResult regression = FmTrainer.Train(data, new FmTrainingOptions { Task = FmTask.Regression, EmbeddingSize = 2, Epochs = 2 });
        Assert.Equal((1f, 5f), regression.File.TargetRange);
        Assert.Equal((1f, 5f), ReadNative(NativeBytes(regression.File)).TargetRange);
        float[] classes = [0f, 1f, 1f, 0f, 1f, 0f];
        FmTrainingResult classification = FmTrainer.Train(SparseDataset.Create(classes, offsets, indices, values),
            new FmTrainingOptions { Task = FmTask.BinaryClassification, EmbeddingSize = 2, Epochs = 2 });
        Assert.Null(classification.File.TargetRange);
        Assert.Equal(1, BitConverter.ToInt32(NativeBytes(classification.File), 8));
    }

    [Fact]
    public void Headers_and_ranges_that_disagree_are_refused_and_a_bad_range_is_not_written()
    {
        var file = new ModelFile(ModelFileTests.RandomModel(3, 4), FmTask.Regression) { TargetRange = (0f, 1f) };
        byte[] bytes = NativeBytes(file);
        byte[] plain = NativeBytes(file with { TargetRange = null });

        // version 4 without the flag, the flag without version 4
        Assert.Contains("header is inconsistent", Assert.Throws<ModelFileException>(() => ReadNative(Forge(bytes, 32, (int)(BitConverter.ToUInt32(bytes, 32) & ~32u)))).Message, StringComparison.Ordinal);
        Assert.Contains("header is inconsistent", Assert.Throws<ModelFileException>(() => ReadNative(Forge(plain, 32, (int)(BitConverter.ToUInt32(plain, 32) | 32u)))).Message, StringComparison.Ordinal);
        Assert.Contains("header is inconsistent", Assert.Throws<ModelFileException>(() => ReadNative(Forge(plain, 8, 4))).Message, StringComparison.Ordinal);

        // a range that is not finite or whose min exceeds its max (CRC fixed, so the range check refuses it)
        Assert.Contains("target range", Assert.Throws<ModelFileException>(() => ReadNative(WithRange(bytes, 2f, 1f))).Message, StringComparison.Ordinal);
        Assert.Contains("target range", Assert.Throws<ModelFileException>(() => ReadNative(WithRange(bytes, float.NaN, 1f))).Message, StringComparison.Ordinal);
        Assert.Contains("target range", Assert.Throws<ModelFileException>(() => ReadNative(WithRange(bytes, 0f, float.PositiveInfinity))).Message, StringComparison.Ordinal);

        // truncated inside the range: named as truncated
        Assert.Contains("truncated", Assert.Throws<ModelFileException>(() => ReadNative(bytes[..^12])).Message, StringComparison.Ordinal);

        Assert.Throws<ArgumentException>(() => NativeBytes(file with { TargetRange = (3f, 1f) }));
        Assert.Throws<ArgumentException>(() => NativeBytes(file with { TargetRange = (float.NaN, 1f) }));
    }
}
