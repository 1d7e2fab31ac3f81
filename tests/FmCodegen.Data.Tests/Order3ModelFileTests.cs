using System.Text;
using FmCodegen.IO;

namespace FmCodegen.Data.Tests;

/// <summary>The native format stores an order-3 model as version 3 (flag bit 4, rows of 2k + 1 floats); order-2
/// files keep versions 1 and 2; the text formats refuse order 3.</summary>
public class Order3ModelFileTests
{
    internal static FmModel RandomOrder3(int features, int k, int seed = 3)
    {
        var random = new Random(seed);
        float[] w = Enumerable.Range(0, features).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray();
        float[] v = Enumerable.Range(0, 2 * features * k).Select(_ => (float)((random.NextDouble() - 0.5) * 0.4)).ToArray();
        return FmModel.Create(0.5f, w, v, k, order: 3);
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
    public void An_order_3_model_round_trips_exactly(int features, int k)
    {
        var file = new ModelFile(RandomOrder3(features, k), FmTask.Regression);
        ModelFile back = ReadNative(NativeBytes(file));
        Assert.Equal(3, back.Model.Order);
        Assert.Equal(file.Model, back.Model);
        Assert.Equal(file.Model.Factors.ToArray(), back.Model.Factors.ToArray());
    }

    [Fact]
    public void The_layout_is_as_documented()
    {
        FmModel model = RandomOrder3(3, 4);
        byte[] bytes = NativeBytes(new ModelFile(model, FmTask.Regression));
        Assert.Equal(64 + (3 * 9 * 4) + 8, bytes.Length);
        Assert.Equal(3, BitConverter.ToInt32(bytes, 8));
        Assert.Equal(16u, BitConverter.ToUInt32(bytes, 32) & 16u);
        Assert.Equal(9, BitConverter.ToInt32(bytes, 40));
        Assert.Equal(model.FactorRow(1)[2], BitConverter.ToSingle(bytes, 64 + (1 * 36) + (2 * 4)));
        Assert.Equal(model.Weight(1), BitConverter.ToSingle(bytes, 64 + (1 * 36) + 16));
        Assert.Equal(model.FactorRow(1, 3)[3], BitConverter.ToSingle(bytes, 64 + (1 * 36) + 20 + 12));
        Assert.Equal("FMCE", Encoding.ASCII.GetString(bytes, bytes.Length - 4, 4));
    }

    [Fact]
    public void A_sparse_order_3_model_round_trips_and_only_its_nonzero_rows_are_stored()
    {
        int k = 4;
        float[] w = new float[1000];
        float[] v = new float[2 * 1000 * k];
        w[10] = 1f;
        v[(1000 * k) + (500 * k) + 3] = -2f; // only the order-3 factors of feature 500
        FmModel model = FmModel.Create(0f, w, v, k, order: 3);
        byte[] bytes = NativeBytes(new ModelFile(model));
        Assert.Equal(3, BitConverter.ToInt32(bytes, 8));
        Assert.Equal(64 + (2 * (4 + (9 * 4))) + 8, bytes.Length);
        ModelFile back = ReadNative(bytes);
        Assert.Equal(model, back.Model);
        Assert.Equal(-2f, back.Model.FactorRow(500, 3)[3]);
    }

    [Fact]
    public void An_order_2_file_is_unchanged_and_a_header_that_mixes_versions_and_orders_is_refused()
    {
        byte[] order2 = NativeBytes(new ModelFile(ModelFileTests.RandomModel(3, 4)));
        Assert.Equal(1, BitConverter.ToInt32(order2, 8));
        Assert.Equal(0u, BitConverter.ToUInt32(order2, 32) & 16u);

        // version 3 without the order-3 flag (header CRC fixed up so the consistency check is what refuses it)
        byte[] forged = (byte[])order2.Clone();
        BitConverter.GetBytes(3).CopyTo(forged, 8);
        BitConverter.GetBytes(System.IO.Hashing.Crc32.HashToUInt32(forged.AsSpan(0, 60))).CopyTo(forged, 60);
        ModelFileException e = Assert.Throws<ModelFileException>(() => ReadNative(forged));
        Assert.Contains("header is inconsistent", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Text_formats_refuse_an_order_3_model_and_leave_no_file()
    {
        string dir = Directory.CreateTempSubdirectory("fm-order3-").FullName;
        try
        {
            FmModel model = RandomOrder3(3, 4);
            foreach (string name in new[] { "m.libfm", "m.xlearn" })
            {
                string path = Path.Combine(dir, name);
                ModelFileException e = Assert.Throws<ModelFileException>(() => ModelFiles.Save(model, path));
                Assert.Contains("order-3 model can only be saved in the native format", e.Message, StringComparison.Ordinal);
                Assert.False(File.Exists(path));
            }

            string native = Path.Combine(dir, "m.fmb");
            ModelFiles.Save(model, native, FmTask.BinaryClassification);
            ModelFile back = ModelFiles.Load(native);
            Assert.Equal(model, back.Model);
            Assert.Throws<ArgumentException>(() => FmSampleSet.Create([model], FmSampleLink.Identity));
            ModelFileException norm = Assert.Throws<ModelFileException>(() => ModelFiles.Load(native, instanceNormalization: true));
            Assert.Contains("order-3 model cannot be scored with xLearn's instance normalisation", norm.Message, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
