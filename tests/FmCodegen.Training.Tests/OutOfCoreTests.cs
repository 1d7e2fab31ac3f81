using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using FmCodegen.Cli;
using FmCodegen.Data;
using FmCodegen.Training;

namespace FmCodegen.Training.Tests;

/// <summary>
/// Out-of-core training: the row cache refuses damage with a clear error, a user's file is never taken for (or
/// overwritten as) a cache, and the model from disk has the same bytes as the model from memory for the same data,
/// options, seed and thread count, across several segments.
/// </summary>
public sealed class OutOfCoreTests : IDisposable
{
    private readonly string _folder = Path.Combine(Path.GetTempPath(), "fm-ooc-tests-" + Guid.NewGuid().ToString("N"));

    public OutOfCoreTests() => Directory.CreateDirectory(_folder);

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private string At(string name) => Path.Combine(_folder, name);

    /// <summary>Rows of 6 one-hot fields (ids spread by <paramref name="spread"/>), plus a real value when asked.</summary>
    private string WriteData(string name, int rows, bool realValues, int spread = 1, FmTask task = FmTask.BinaryClassification)
    {
        var random = new Random(7);
        var text = new StringBuilder();
        for (int r = 0; r < rows; r++)
        {
            int signal = 0;
            var features = new List<string>();
            for (int field = 0; field < 6; field++)
            {
                int value = random.Next(30);
                signal += ((value * (field + 3)) % 7) - 3;
                features.Add($"{((field * 30) + value) * spread}:1");
            }

            if (realValues)
            {
                features.Add($"{180 * spread}:{random.Next(100) / 100.0:0.00}");
            }

            string label = task == FmTask.BinaryClassification ? (signal > 0 ? "1" : "0") : (signal / 4.0).ToString("0.00", CultureInfo.InvariantCulture);
            text.Append(label).Append(' ').AppendJoin(' ', features).Append('\n');
        }

        string path = At(name);
        File.WriteAllText(path, text.ToString());
        return path;
    }

    private static byte[] Bytes(FmModel model)
    {
        var bytes = new List<byte>(BitConverter.GetBytes(model.Bias));
        foreach (float value in model.RowTable)
        {
            bytes.AddRange(BitConverter.GetBytes(value));
        }

        return [.. bytes];
    }

    [Theory]
    [InlineData(FmSolver.AdaGrad, 1, false, 1, 0.1, false, 2)]
    [InlineData(FmSolver.AdaGrad, 2, true, 1, 0.1, false, 2)]
    [InlineData(FmSolver.Ftrl, 2, false, 1, 0.0, false, 2)]
    [InlineData(FmSolver.Sgd, 1, true, 1, 0.2, false, 2)]
    [InlineData(FmSolver.AdaGrad, 2, false, 5003, 0.1, false, 2)]
    [InlineData(FmSolver.AdaGrad, 2, false, 1, 0.1, true, 2)]
    [InlineData(FmSolver.Ftrl, 1, true, 1, 0.0, true, 2)]
    [InlineData(FmSolver.AdaGrad, 1, false, 1, 0.1, false, 3)]
    [InlineData(FmSolver.AdaGrad, 2, true, 5003, 0.1, false, 3)]
    [InlineData(FmSolver.Sgd, 2, false, 1, 0.0, false, 3)]
    [InlineData(FmSolver.Ftrl, 1, true, 1, 0.2, false, 3)]
    public void The_model_from_disk_has_the_bytes_of_the_model_from_memory(FmSolver solver, int threads, bool realValues, int spread, double heldOut, bool normalize, int order)
    {
        string path = WriteData($"d-{solver}-{threads}-{realValues}-{spread}-{normalize}-{order}.libfm", 6000, realValues, spread);
        var options = new FmTrainingOptions
        {
            Task = FmTask.BinaryClassification, Solver = solver, EmbeddingSize = 4, Order = order, Epochs = 3, Threads = threads, Seed = 5,
            ValidationFraction = heldOut, Refit = heldOut > 0,
            InstanceNormalization = normalize, UseLinear = !normalize || solver != FmSolver.Ftrl,
        };

        // segments of 5,000 nonzeros: about 9 of them, so the dealing, the segment order and windows within segments all count
        using (Segmenting.WithSegmentNonZeros(5000))
        {
            FmTrainingResult memory = FmTrainer.Train(SparseDataset.Load(path), options);
            var passes = new List<string>();
            FmTrainingResult disk = FmTrainer.TrainOutOfCore(path, SparseFormat.LibFm, options,
                new FmOutOfCoreOptions { TempDirectory = _folder, OnPass = (stage, _, _) => passes.Add(stage) });
            Assert.Equal(Bytes(memory.Model), Bytes(disk.Model));
            Assert.Equal(normalize, disk.Model.InstanceNormalization);
            Assert.Equal(order, disk.Model.Order);
            Assert.Equal(memory.Model.PresentRows, disk.Model.PresentRows);
            Assert.Equal(memory.History.Select(e => e.TrainLoss), disk.History.Select(e => e.TrainLoss));
            Assert.Equal(memory.TrainExamples, disk.TrainExamples);
            Assert.Equal(memory.ValidationExamples, disk.ValidationExamples);
            Assert.All(disk.History, e => Assert.True(e.BytesRead > 0));
            Assert.All(memory.History, e => Assert.Equal(0, e.BytesRead));
            Assert.Contains("caching", passes);
            Assert.Contains("segmenting", passes);
        }

        // the temporary cache and segments are gone
        Assert.Empty(Directory.GetFiles(_folder, ".fm-*"));
    }

    [Fact]
    public void Several_segments_shuffle_across_segments_and_small_data_keeps_its_old_bytes()
    {
        // one segment (the default size here) is exactly the old single shuffle: the committed hashes of
        // SameBitsTrainingTests hold; several segments give another, equally seeded order
        string path = WriteData("seg.libfm", 3000, realValues: false);
        var options = new FmTrainingOptions { Task = FmTask.BinaryClassification, EmbeddingSize = 4, Epochs = 2, Seed = 2, ValidationFraction = 0 };
        SparseDataset data = SparseDataset.Load(path);
        byte[] one = Bytes(FmTrainer.Train(data, options).Model);
        using (Segmenting.WithSegmentNonZeros(2000))
        {
            byte[] several = Bytes(FmTrainer.Train(data, options).Model);
            Assert.NotEqual(one, several);
            Assert.Equal(several, Bytes(FmTrainer.Train(data, options).Model));
        }
    }

    [Fact]
    public void A_damaged_or_truncated_cache_is_refused_with_what_is_wrong()
    {
        string text = WriteData("c.libfm", 2000, realValues: true);
        string cache = At("c.cache");
        OutOfCoreTraining.BuildCache(text, SparseFormat.LibFm, cache, null);
        byte[] good = File.ReadAllBytes(cache);
        using (RowCacheReader reader = RowCacheReader.Open(cache))
        {
            Assert.Equal(2000, reader.Rows);
            Assert.Equal(14000, reader.NonZeros);
            Assert.False(reader.UnitValues);
        }

        string Refusal(byte[] bytes, bool readChunks = false)
        {
            File.WriteAllBytes(cache, bytes);
            InvalidDataException e = Assert.Throws<InvalidDataException>(() =>
            {
                using RowCacheReader reader = RowCacheReader.Open(cache);
                var buffer = new EpochData(reader.MaxChunkRows, reader.MaxChunkNonZeros, reader.UnitValues);
                for (int c = 0; c < reader.Chunks; c++)
                {
                    reader.Read(c, buffer);
                }
            });
            Assert.StartsWith(cache + ": ", e.Message, StringComparison.Ordinal);
            return e.Message;
        }

        Assert.Contains("no complete footer", Refusal(good[..^5]), StringComparison.Ordinal);
        Assert.Contains("shorter than an empty cache", Refusal(good[..20]), StringComparison.Ordinal);
        byte[] payload = (byte[])good.Clone();
        payload[RowCache.PrologueSize + RowCache.ChunkHeaderSize + 100] ^= 0x10;
        Assert.Contains("does not match its checksum", Refusal(payload), StringComparison.Ordinal);
        byte[] footer = (byte[])good.Clone();
        footer[^(RowCache.TailSize + 8)] ^= 1;
        Assert.Contains("footer's checksum", Refusal(footer), StringComparison.Ordinal);
        byte[] version = (byte[])good.Clone();
        BinaryPrimitives.WriteInt32LittleEndian(version.AsSpan(8), 99);
        Assert.Contains("version 99", Refusal(version), StringComparison.Ordinal);
        byte[] magic = (byte[])good.Clone();
        magic[0] = (byte)'X';
        Assert.Contains("not an FmCodegen row cache", Refusal(magic), StringComparison.Ordinal);
        byte[] cut = [.. good[..(good.Length / 2)], .. good[^(good.Length / 4)..]];
        Refusal(cut);
    }

    private static (int Code, string Output, string Error) Fm(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = Program.Run(args, output, error);
        return (code, output.ToString(), error.ToString());
    }

    [Fact]
    public void Fm_train_out_of_core_matches_in_memory_shows_bytes_read_and_keeps_or_reuses_its_cache()
    {
        string text = WriteData("t.libfm", 3000, realValues: false);
        (int code, string output, string error) = Fm("train", "--train", text, "--task", "c", "--k", "4", "--epochs", "2", "--threads", "2", "--model", At("memory.fmb"));
        Assert.True(code == 0, error);
        Assert.DoesNotContain("stay on disk", output, StringComparison.Ordinal);

        (code, output, error) = Fm("train", "--train", text, "--task", "c", "--k", "4", "--epochs", "2", "--threads", "2", "--model", At("disk.fmb"), "--cache", At("t.cache"));
        Assert.True(code == 0, error);
        Assert.Contains("training rows stay on disk (--cache)", output, StringComparison.Ordinal);
        Assert.Matches(@"epoch 2/2 .* \| read \d+ KB", output);
        Assert.Equal(File.ReadAllBytes(At("memory.fmb")), File.ReadAllBytes(At("disk.fmb")));
        Assert.True(RowCache.LooksLikeCache(At("t.cache")));

        // the kept cache is reused while the text is unchanged (no caching pass), refused once it changed
        (code, output, error) = Fm("train", "--train", text, "--task", "c", "--k", "4", "--epochs", "2", "--threads", "2", "--model", At("again.fmb"), "--cache", At("t.cache"));
        Assert.True(code == 0, error);
        Assert.DoesNotContain("caching", output, StringComparison.Ordinal);
        Assert.Equal(File.ReadAllBytes(At("memory.fmb")), File.ReadAllBytes(At("again.fmb")));
        File.AppendAllText(text, "1 3:1\n");
        (code, _, error) = Fm("train", "--train", text, "--task", "c", "--epochs", "1", "--cache", At("t.cache"));
        Assert.Equal(1, code);
        Assert.Contains("a cache of another version of", error, StringComparison.Ordinal);

        // --memory-limit below what the file needs sends training to disk on its own
        (code, output, error) = Fm("train", "--train", text, "--task", "c", "--k", "4", "--epochs", "1", "--memory-limit", "64K");
        Assert.True(code == 0, error);
        Assert.Contains("training rows stay on disk (the training file needs about", output, StringComparison.Ordinal);
        Assert.Contains("--memory-limit allows 64 KB", output, StringComparison.Ordinal);
    }

    [Fact]
    public void The_automatic_choice_tunes_on_every_sth_row_then_trains_all_rows_on_disk()
    {
        string path = WriteData("auto.libfm", 6000, realValues: true);
        var options = new FmAutoOptions { Task = FmTask.BinaryClassification, EmbeddingSize = 4, Seed = 3, Threads = 2 };
        var log = new List<string>();
        // 8 bytes per row plus 8 per nonzero (real values), 7 nonzeros a row: 64 bytes a row; 64,000 bytes: 1,000 rows, every 6th
        FmAutoResult result = FmAutoTrainer.TrainOutOfCore(path, SparseFormat.LibFm, options, sampleBytes: 64_000,
            new FmOutOfCoreOptions { TempDirectory = _folder }, log.Add);
        Assert.Equal("sample: every 6th row of 6,000, 1,000 rows and 7,000 nonzeros in memory", log[0]);
        Assert.True(log.Count >= 4, string.Join('\n', log));
        Assert.All(log.Skip(1), line => Assert.Contains("validation logloss", line, StringComparison.Ordinal));
        Assert.Contains("chosen on every 6th row (1,000 of 6,000), then trained on all 6,000 rows out of core", result.Choice, StringComparison.Ordinal);
        Assert.DoesNotContain("columns scaled", string.Join('\n', log), StringComparison.Ordinal);
        Assert.DoesNotContain("MCMC 100", string.Join('\n', log), StringComparison.Ordinal);

        // the final run is out-of-core training with the chosen options: the bytes of in-memory training with them
        FmTrainingOptions chosen = result.Options!;
        Assert.Equal(0, chosen.ValidationFraction);
        Assert.Equal(Bytes(FmTrainer.Train(SparseDataset.Load(path), chosen).Model), Bytes(result.File.Model));

        // the sample and the search are deterministic: the same choice and bytes again; no temporary file is left
        FmAutoResult again = FmAutoTrainer.TrainOutOfCore(path, SparseFormat.LibFm, options, sampleBytes: 64_000, new FmOutOfCoreOptions { TempDirectory = _folder });
        Assert.Equal(result.Choice, again.Choice);
        Assert.Equal(Bytes(result.File.Model), Bytes(again.File.Model));
        Assert.Empty(Directory.GetFiles(_folder, ".fm-*"));
    }

    [Fact]
    public void Fm_train_with_only_the_task_goes_out_of_core_when_the_file_does_not_fit_and_mcmc_says_why_it_cannot()
    {
        string text = WriteData("a.libfm", 3000, realValues: false);
        (int code, string output, string error) = Fm("train", "--train", text, "--task", "c", "--k", "4", "--memory-limit", "64K", "--model", At("auto.fmb"));
        Assert.True(code == 0, error);
        Assert.Contains("training rows stay on disk (the training file needs about", output, StringComparison.Ordinal);
        Assert.Contains("choosing the solver and its settings on a sample of the rows in memory", output, StringComparison.Ordinal);
        Assert.Contains("sample: every row of 3,000, 3,000 rows", output, StringComparison.Ordinal); // the sample may take 1 MB at least
        Assert.Matches(@"epoch \d+/\d+ .* \| read \d+ KB", output);
        Assert.Contains("then trained on all 3,000 rows out of core.", output, StringComparison.Ordinal);
        Assert.True(File.Exists(At("auto.fmb")));

        (code, _, error) = Fm("train", "--train", text, "--task", "c", "--solver", "mcmc", "--out-of-core");
        Assert.Equal(1, code);
        Assert.Contains("MCMC and ALS need the rows by column as well as by row", error, StringComparison.Ordinal);
        Assert.Contains("Use --solver adagrad (or sgd, ftrl) to train out of core.", error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_users_file_at_the_cache_path_is_refused_and_left_as_it_was()
    {
        string text = WriteData("u.libfm", 500, realValues: false);
        string mine = At("notes.txt");
        File.WriteAllText(mine, "my notes");
        (int code, _, string error) = Fm("train", "--train", text, "--task", "c", "--epochs", "1", "--cache", mine);
        Assert.Equal(1, code);
        Assert.Contains("is not an FmCodegen row cache; it is not overwritten", error, StringComparison.Ordinal);
        Assert.StartsWith("fm train: error: ", error, StringComparison.Ordinal);
        Assert.Equal("my notes", File.ReadAllText(mine));

        (code, _, error) = Fm("train", "--train", text, "--task", "c", "--epochs", "1", "--cache", text);
        Assert.Equal(1, code);
        Assert.Contains("choose another cache path", error, StringComparison.Ordinal);

        // another name for the training file (a link), with only the task given: the automatic choice refuses it too
        string link = At("link-to-train.libfm");
        File.CreateSymbolicLink(link, text);
        byte[] before = File.ReadAllBytes(text);
        (code, _, error) = Fm("train", "--train", text, "--task", "c", "--cache", link);
        Assert.Equal(1, code);
        Assert.Contains("is also given as another input or output; choose another cache path", error, StringComparison.Ordinal);
        Assert.Equal(before, File.ReadAllBytes(text));

        (code, _, error) = Fm("train", "--train", text, "--task", "c", "--epochs", "1", "--memory-limit", "lots");
        Assert.Equal(1, code);
        Assert.Contains("--memory-limit must be a size such as 800M or 2G", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Binary_rows_cost_four_bytes_per_nonzero_in_a_segment()
    {
        SparseDataset data = SparseDataset.Create([1f, 0f, 1f], [0, 3, 4, 9], [1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 1, 1, 1, 1, 1, 1, 1, 1]);
        Assert.True(data.UnitValues);
        var segment = new EpochData(data, [2, 0, 1]);
        segment.Fill(data, [2, 0, 1]);
        Assert.Equal(5, segment.Values.Length); // one run of ones as long as the longest row, not one per nonzero
        Assert.Equal([5, 6, 7, 8, 9, 1, 2, 3, 4], segment.Indices);

        SparseDataset real = SparseDataset.Create([1f], [0, 2], [1, 2], [0.5f, 1f]);
        Assert.Equal(2, new EpochData(real, [0]).Values.Length);
    }
}
