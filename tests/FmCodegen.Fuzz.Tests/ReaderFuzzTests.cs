using System.Text;
using FmCodegen.Data;
using FmCodegen.IO;
using Xunit.Abstractions;

namespace FmCodegen.Fuzz.Tests;

/// <summary>
/// Every reader path under mutated input. The documented outcomes are the only ones allowed: data readers give a
/// dataset or throw <see cref="DataFormatException"/>; model readers give a model or throw
/// <see cref="ModelFileException"/>; both may throw <see cref="InsufficientMemoryException"/> for sizes the memory
/// budget refuses. The pointer fast path and the checked span parser must agree on every input, row for row and
/// error for error.
/// </summary>
[Trait("Category", "Fuzz")]
public class ReaderFuzzTests(ITestOutputHelper output)
{
    private static readonly byte[][] DataSeeds = LoadDataSeeds();

    private static byte[][] LoadDataSeeds()
    {
        byte[] a9a = File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "Corpus", "a9a.t.head40"));
        string[] lines = Encoding.ASCII.GetString(a9a).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        var seeds = new List<byte[]>();
        for (int i = 0; i + 4 <= lines.Length; i += 4)
        {
            seeds.Add(Encoding.ASCII.GetBytes(string.Join('\n', lines[i..(i + 4)]) + "\n"));
        }

        // libffm in frappe's shape (fields and indices of 1-4 digits, one-hot values), plus the probe's lines
        var random = new Random(5);
        for (int s = 0; s < 8; s++)
        {
            var text = new StringBuilder();
            for (int r = 0; r < 5; r++)
            {
                text.Append(random.Next(2) == 0 ? "-1" : "1");
                for (int f = 0; f < 10; f++)
                {
                    text.Append(' ').Append(f).Append(':').Append(random.Next(5400)).Append(':').Append(random.Next(4) == 0 ? "0.5" : "1");
                }

                text.Append(r % 2 == 0 ? "\n" : "\r\n");
            }

            seeds.Add(Encoding.ASCII.GetBytes(text.ToString()));
        }

        seeds.Add("1 0:5:1 1:7:1 2:9:1\n1 0:"u8.ToArray());
        seeds.Add("# comment\n\n  0 1:1e-3\t2:-2.5 # tail\n3.5 \n"u8.ToArray());
        return [.. seeds];
    }

    private static string Outcome(byte[] bytes, SparseFormat format, bool checkedOnly, int blockRows)
    {
        using var stream = new MemoryStream(bytes);
        using var reader = new SparseTextReader(stream, format, "fuzz") { CheckedParserOnly = checkedOnly };
        var text = new StringBuilder();
        try
        {
            var block = new SparseBlock();
            while (reader.ReadBlock(block, blockRows))
            {
                for (int r = 0; r < block.Count; r++)
                {
                    int from = block.Offsets[r], to = block.Offsets[r + 1];
                    text.Append(BitConverter.SingleToInt32Bits(block.Labels[r])).Append('@').Append(block.LineOf(r)).Append('|');
                    for (int j = from; j < to; j++)
                    {
                        text.Append(block.HasFields ? block.Fields[j] : -1).Append(':').Append(block.Indices[j]).Append(':')
                            .Append(BitConverter.SingleToInt32Bits(block.Values[j])).Append(' ');
                    }

                    text.Append('\n');
                }
            }

            return text.Append("max ").Append(reader.MaxIndex).Append(' ').Append(reader.MaxField).ToString();
        }
        catch (DataFormatException e)
        {
            return "error " + e.Message;
        }
    }

    [Fact]
    public void DataLines_FastAndCheckedParsersAgreeAndOnlyRefuseCleanly()
    {
        Fuzz.Run("data-lines", 200, (random, index) =>
        {
            byte[] seed = DataSeeds[random.Next(DataSeeds.Length)];
            byte[] input = Fuzz.Mutate(random, seed);
            SparseFormat format = random.Next(2) == 0 ? SparseFormat.LibFm : SparseFormat.LibFfm;
            try
            {
                using (MemoryBudget.WithLimit(256L << 20))
                {
                    string fast = Outcome(input, format, checkedOnly: false, blockRows: 1 + random.Next(8));
                    string slow = Outcome(input, format, checkedOnly: true, blockRows: 65536);
                    Assert.True(fast == slow, $"fast and checked parsers differ on {Fuzz.Describe("data-lines", index, input)}\nfast: {Cut(fast)}\nchecked: {Cut(slow)}");
                }
            }
            catch (Exception e) when (e is not Xunit.Sdk.XunitException and not InsufficientMemoryException)
            {
                Assert.Fail($"{e.GetType().Name} on {Fuzz.Describe("data-lines", index, input)}: {e}");
            }
        }, output.WriteLine);
    }

    private static string Cut(string text) => text.Length > 600 ? text[..600] + " ..." : text;

    [Fact]
    public void DataGzip_DamagedStreamsAreRefusedAndIntactOnesReadAsPlainText()
    {
        using var folder = new FuzzFolder();
        byte[] second = Fuzz.Gzip("0 5:1\n"u8.ToArray(), new Random(1));
        Fuzz.Run("data-gzip", 100, (random, index) =>
        {
            byte[] text = random.Next(3) == 0 ? Fuzz.Mutate(random, DataSeeds[random.Next(DataSeeds.Length)]) : DataSeeds[random.Next(DataSeeds.Length)];
            byte[] gzip = Fuzz.Gzip(text, random);
            byte[] damaged = Fuzz.DamageGzip(random, gzip, second);
            string path = folder.File($"case{index % 8}.gz");
            File.WriteAllBytes(path, damaged);
            SparseFormat format = random.Next(2) == 0 ? SparseFormat.LibFm : SparseFormat.LibFfm;
            string outcome;
            try
            {
                using (MemoryBudget.WithLimit(256L << 20))
                {
                    SparseDataset data = SparseDataset.Load(path, format);
                    outcome = $"rows {data.Count}";
                }
            }
            catch (DataFormatException e)
            {
                outcome = "error " + e.Message;
            }
            catch (Exception e) when (e is not Xunit.Sdk.XunitException and not InsufficientMemoryException)
            {
                Assert.Fail($"{e.GetType().Name} on gzip {Fuzz.Describe("data-gzip", index, damaged)}: {e}");
                return;
            }

            if (ReferenceEquals(damaged, gzip))
            {
                // intact: the same as the plain text
                string plain;
                try
                {
                    using var stream = new MemoryStream(text);
                    using var reader = new SparseTextReader(stream, format, path);
                    plain = $"rows {reader.ReadToEnd().Count}";
                }
                catch (DataFormatException e)
                {
                    plain = "error " + e.Message;
                }

                Assert.True(plain == outcome, $"intact gzip read differently: {outcome} vs {plain} on {Fuzz.Describe("data-gzip", index, text)}");
            }
            else if (damaged.Length > 0 && damaged.Length < gzip.Length && !outcome.StartsWith("error", StringComparison.Ordinal))
            {
                Assert.Fail($"a cut gzip stream ({damaged.Length} of {gzip.Length} bytes) was read as {outcome}: {Fuzz.Describe("data-gzip", index, text)}");
            }
        }, output.WriteLine);
    }

    [Fact]
    public void Models_EveryReaderRefusesDamageWithItsDocumentedError()
    {
        using var folder = new FuzzFolder();
        Fuzz.Run("models", 200, (random, index) =>
        {
            (byte[] seed, ModelFormat format) = ModelSeeds.Any(random);
            byte[] input = format == ModelFormat.Native && random.Next(2) == 0
                ? ModelSeeds.DeclareSizes(random, seed)
                : Fuzz.Mutate(random, seed);
            if (random.Next(4) == 0)
            {
                input = Fuzz.DamageGzip(random, Fuzz.Gzip(input, random), Fuzz.Gzip(seed, random));
            }

            string path = folder.File($"model{index % 8}");
            File.WriteAllBytes(path, input);
            ModelFormat? asked = random.Next(3) == 0 ? format : null;
            try
            {
                using (MemoryBudget.WithLimit(256L << 20))
                {
                    ModelFile file = ModelFiles.Load(path, asked);
                    Assert.True(file.Model.NumFeatures >= 0 && file.Model.EmbeddingSize >= 1);
                    Assert.True(float.IsFinite(file.Model.Bias));
                }
            }
            catch (ModelFileException e)
            {
                Assert.True(e.Message.StartsWith(path, StringComparison.Ordinal), $"the message does not name the file: {e.Message}");
            }
            catch (InsufficientMemoryException)
            {
            }
            catch (Exception e) when (e is not Xunit.Sdk.XunitException)
            {
                Assert.Fail($"{e.GetType().Name} loading {format} {Fuzz.Describe("models", index, input)}: {e}");
            }
        }, output.WriteLine);
    }
}

/// <summary>Small real models in the three formats, and the native header with sizes rewritten.</summary>
internal static class ModelSeeds
{
    private static readonly (byte[] Bytes, ModelFormat Format)[] Seeds = Make();

    public static (byte[] Bytes, ModelFormat Format) Any(Random random) => Seeds[random.Next(Seeds.Length)];

    private static (byte[], ModelFormat)[] Make()
    {
        var random = new Random(11);
        var seeds = new List<(byte[], ModelFormat)>();
        foreach ((int n, int k) in new[] { (0, 1), (1, 1), (5, 2), (12, 4), (7, 8), (3, 17) })
        {
            float[] w = Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray();
            float[] v = Enumerable.Range(0, n * k).Select(_ => (float)(random.NextDouble() - 0.5) * 0.1f).ToArray();
            var model = FmModel.Create((float)random.NextDouble(), w, v, k);
            foreach (ModelFormat format in new[] { ModelFormat.Native, ModelFormat.LibFm, ModelFormat.XLearn })
            {
                if (format != ModelFormat.Native && n == 0)
                {
                    continue;
                }

                var file = new ModelFile(model, FmTask.BinaryClassification, HasLinear: random.Next(4) != 0);
                using var stream = new MemoryStream();
                switch (format)
                {
                    case ModelFormat.Native:
                        NativeModelFile.Write(file, stream);
                        break;
                    case ModelFormat.LibFm:
                        LibFmModelFile.Write(file, stream);
                        break;
                    default:
                        XLearnModelFile.Write(file, stream);
                        break;
                }

                seeds.Add((stream.ToArray(), format));
            }
        }

        return [.. seeds];
    }

    /// <summary>A native file whose header declares other sizes (k, features, row floats, data bytes, header size,
    /// version, flags), with the header CRC made valid again so the size checks themselves are what is tested.</summary>
    public static byte[] DeclareSizes(Random random, byte[] native)
    {
        byte[] bytes = (byte[])native.Clone();
        if (bytes.Length < 64)
        {
            return bytes;
        }

        long[] values = [0, 1, 2, 8, 16, 17, 64, 65, 65536, 65537, int.MaxValue - 1, int.MaxValue, 2_000_000_000, 26_000_000, -1, long.MaxValue / 4, uint.MaxValue];
        (int Offset, int Size)[] fields = [(8, 4), (12, 4), (16, 4), (20, 4), (24, 8), (32, 4), (40, 4), (48, 8)];
        int changes = 1 + random.Next(3);
        for (int c = 0; c < changes; c++)
        {
            (int offset, int size) = fields[random.Next(fields.Length)];
            long value = random.Next(3) == 0 ? random.Next(-3, 100) : values[random.Next(values.Length)];
            if (size == 4)
            {
                System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(offset), unchecked((int)value));
            }
            else
            {
                System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(offset), value);
            }
        }

        if (random.Next(2) == 0)
        {
            // consistent declared sizes: data bytes and row floats follow k and n
            int k = System.Buffers.Binary.BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(20));
            long n = System.Buffers.Binary.BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(24));
            System.Buffers.Binary.BinaryPrimitives.WriteInt32LittleEndian(bytes.AsSpan(40), unchecked(k + 1));
            System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(bytes.AsSpan(48), unchecked(n * (k + 1) * 4));
        }

        System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(60), System.IO.Hashing.Crc32.HashToUInt32(bytes.AsSpan(0, 60)));
        return bytes;
    }
}
