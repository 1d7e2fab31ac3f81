using FmCodegen.Data;
using FmCodegen.Kernels;

namespace FmCodegen.Training;

/// <summary>Where out-of-core training keeps its files and whom it tells about its passes over the data.</summary>
public sealed record FmOutOfCoreOptions
{
    /// <summary>Where to keep the binary row cache of the training file. When the file exists and is a cache of the
    /// same training file (same length and last-write time) it is reused; when it does not exist it is written (and
    /// kept); any other existing file is refused, never overwritten. Null: a temporary cache, deleted after training.</summary>
    public string? CachePath { get; init; }

    /// <summary>The folder for temporary files (the temporary cache and each phase's shuffled segments). Null: the
    /// folder of <see cref="CachePath"/>, else the system's temporary folder.</summary>
    public string? TempDirectory { get; init; }

    /// <summary>Hears about the passes before training: (what, bytes done, bytes in all or 0 when unknown).</summary>
    public Action<string, long, long>? OnPass { get; init; }
}

/// <summary>
/// Training whose rows stay on disk (<see cref="FmTrainer.TrainOutOfCore"/>): the text is parsed once into a
/// checked binary cache (<see cref="RowCache"/>); a pass over the cache finds the label statistics and the ids that
/// occur; the validation rows (a held-out fraction) are kept in memory; the training rows are dealt into segments of
/// about 8M nonzeros in a temporary cache, and every epoch reads those segments one at a time. The rows, the draws
/// and the order of updates are those of in-memory training, so for the same data, options, seed and thread count
/// the model has the same bytes as <see cref="FmTrainer.Train"/>'s.
/// </summary>
internal static class OutOfCoreTraining
{
    /// <summary>Text to a cache at <paramref name="path"/>, chunk by chunk (65,536 rows), written to a temporary file
    /// and renamed when complete.</summary>
    public static void BuildCache(string textPath, SparseFormat format, string path, Action<string, long, long>? onPass)
    {
        var info = new FileInfo(textPath);
        long total = info.Length;
        using AtomicFileStream file = AtomicFile.Create(path, durable: false);
        using (var counting = new CountingStream(DataFile.OpenRead(textPath)))
        using (var reader = new SparseTextReader(counting, format, textPath))
        using (var writer = new RowCacheWriter(file.Stream, ownsStream: false))
        {
            var block = new SparseBlock();
            while (reader.ReadBlock(block, 65536))
            {
                bool unit = SparseDataset.AllOnes(block.Values);
                writer.WriteChunk(block.Labels, block.Offsets, block.Indices, unit ? default : block.Values);
                onPass?.Invoke("caching", counting.BytesRead, total);
            }

            if (reader.RowsRead >= int.MaxValue)
            {
                throw new InsufficientMemoryException($"{textPath}: {reader.RowsRead:N0} rows; training takes at most {int.MaxValue - 1:N0}.");
            }

            writer.Finish(total, info.LastWriteTimeUtc.Ticks, reader.MaxIndex + 1);
        }

        file.Commit();
    }

    /// <summary>Opens the cache of <paramref name="textPath"/> at <paramref name="cachePath"/>, building it when absent.</summary>
    /// <exception cref="IOException">The path holds another file, or a cache of another version of the text.</exception>
    public static RowCacheReader OpenOrBuild(string textPath, SparseFormat format, string cachePath, Action<string, long, long>? onPass)
    {
        if (File.Exists(cachePath))
        {
            if (!RowCache.LooksLikeCache(cachePath))
            {
                throw new IOException($"{cachePath}: exists and is not an FmCodegen row cache; it is not overwritten (choose another cache path).");
            }

            RowCacheReader cache = RowCacheReader.Open(cachePath);
            var info = new FileInfo(textPath);
            if (cache.SourceLength != info.Length || cache.SourceTicks != info.LastWriteTimeUtc.Ticks)
            {
                cache.Dispose();
                throw new IOException($"{cachePath}: a cache of another version of {textPath} (of {cache.SourceLength:N0} bytes; the file now has {info.Length:N0} and another time); delete it to rebuild it, or choose another cache path.");
            }

            return cache;
        }

        BuildCache(textPath, format, cachePath, onPass);
        return RowCacheReader.Open(cachePath);
    }

    private sealed record Scan(float TargetMin, float TargetMax, double TargetSum, int Positives, ulong[] Ids, long HeldNonZeros, bool UnitValues);

    public static FmTrainingResult Run<TRule, TKernel>(RowCacheReader cache, string tempDirectory, FmTrainingOptions o, Action<FmEpoch>? onEpoch,
        Action<string, long, long>? onPass, CancellationToken cancellationToken)
        where TRule : struct, IUpdateRule
        where TKernel : struct, IFmKernel
    {
        var rng = new SplitMix64(StochasticTraining.RunSeed(o.Seed));
        FmTrainingOptions asked = o;
        int count = (int)cache.Rows;

        // the validation split: the seeded choice in-memory training makes, as a bit per row
        (ulong[] heldBits, int held) = o.Validation is null ? ValidationSplit.HeldOut(count, o.ValidationFraction!.Value, rng.NextULong()) : (new ulong[(count + 63) >> 6], 0);
        if (o.Validation is not null)
        {
            rng.NextULong(); // the draw in-memory training spends on the split
        }

        bool Held(int row) => (heldBits[row >> 6] & (1UL << row)) != 0;
        Scan scan = ScanCache(cache, Held, onPass);

        // hashed data: train on the ids that occur, as in memory
        FeatureCompaction? compaction = FeatureCompaction.ForMarked(scan.Ids, cache.NumFeatures, o.Validation, o.WarmStart);
        Func<int, int>? map = null;
        int trainFeatures = cache.NumFeatures;
        if (compaction is not null)
        {
            o = o with { Validation = compaction.Validation, WarmStart = compaction.WarmStart };
            map = compaction.Compact;
            trainFeatures = compaction.Ids.Length;
        }

        SparseDataset validationData;
        int[] validationRows;
        if (o.Validation is { } given)
        {
            validationData = given;
            validationRows = Enumerable.Range(0, given.Count).ToArray();
        }
        else
        {
            validationData = ExtractRows(cache, Held, held, scan.HeldNonZeros, map, trainFeatures, scan.UnitValues);
            validationRows = Enumerable.Range(0, held).ToArray();
        }

        double rate = Math.Clamp((double)scan.Positives / count, 1e-6, 1 - 1e-6);
        float initialBias = !o.UseBias ? 0f : o.Task == FmTask.Regression ? (float)(scan.TargetSum / count) : (float)Math.Log(rate / (1 - rate));
        var context = new RunContext
        {
            Options = o,
            Hyper = new Hyper(o.LearningRate!.Value),
            NumFeatures = Math.Max(trainFeatures, Math.Max(validationData.NumFeatures, o.WarmStart?.NumFeatures ?? 0)),
            TargetMin = scan.TargetMin,
            TargetMax = scan.TargetMax,
            InitialBias = initialBias,
            History = [],
            OnEpoch = onEpoch,
            CancellationToken = cancellationToken,
        };

        TrainingMemory.Check(context.NumFeatures, o.EmbeddingSize, o.Solver!.Value, o.Threads, o.Order);
        ulong phaseSeed = rng.NextULong();
        long cacheBytes = new FileInfo(cache.Path).Length;
        string segmentsPath = Path.Combine(tempDirectory, $".fm-segments-{Environment.ProcessId}-{Guid.NewGuid():N}.cache");
        Func<SplitMix64, TrainingTeam?, IEpochSource> RowsOf(Func<int, bool> include, int rows, long nonZeros) =>
            (shuffle, team) =>
            {
                long readBefore = cache.BytesRead;
                Action<long>? onBytes = onPass is null ? null : bytes => onPass("segmenting", bytes - readBefore, cacheBytes);
                return CacheEpochSource.Create(cache, include, rows, nonZeros, map, context.NumFeatures, o.Shuffle, shuffle, segmentsPath, onBytes, o.InstanceNormalization == true);
            };
        int trainRows = count - held;
        (AlignedTable table, float bias, int bestEpoch) = TrainingPhase.Run<TRule, TKernel>(context, trainRows,
            RowsOf(row => !Held(row), trainRows, cache.NonZeros - scan.HeldNonZeros), validationData, validationRows, o.Epochs!.Value, refit: false, phaseSeed);
        int trainExamples = trainRows;
        if (o.Refit == true && validationRows.Length > 0 && o.Validation is null && bestEpoch > 0)
        {
            (table, bias, _) = TrainingPhase.Run<TRule, TKernel>(context, count, RowsOf(_ => true, count, cache.NonZeros), validationData, [], bestEpoch, refit: true, phaseSeed);
            trainExamples = count;
        }

        FmModel model = StochasticTraining.ModelOf(table, bias, compaction, o);
        return new FmTrainingResult(model, o.Task, context.History, bestEpoch, scan.TargetMin, scan.TargetMax, asked, trainExamples, validationRows.Length);
    }

    /// <summary>One pass over the cache: label statistics over every row, the ids that occur, the held rows' nonzeros.</summary>
    private static Scan ScanCache(RowCacheReader cache, Func<int, bool> held, Action<string, long, long>? onPass)
    {
        var buffer = new EpochData(cache.MaxChunkRows, cache.MaxChunkNonZeros, cache.UnitValues);
        long before = cache.BytesRead, total = new FileInfo(cache.Path).Length;
        var ids = new ulong[(cache.NumFeatures + 63) >> 6];
        float min = float.PositiveInfinity, max = float.NegativeInfinity;
        double sum = 0;
        int positives = 0, row = 0;
        long heldNonZeros = 0;
        for (int c = 0; c < cache.Chunks; c++)
        {
            cache.Read(c, buffer);
            onPass?.Invoke("scanning", cache.BytesRead - before, total);
            FeatureCompaction.Mark(ids, buffer.Indices.AsSpan(0, buffer.Offsets[buffer.Count]));
            for (int r = 0; r < buffer.Count; r++, row++)
            {
                float label = buffer.Labels[r];
                min = Math.Min(min, label);
                max = Math.Max(max, label);
                sum += label;
                positives += label > 0 ? 1 : 0;
                if (held(row))
                {
                    heldNonZeros += buffer.Offsets[r + 1] - buffer.Offsets[r];
                }
            }
        }

        return new Scan(min, max, sum, positives, ids, heldNonZeros, cache.UnitValues);
    }

    /// <summary>Every <paramref name="stride"/>-th row of the cache (rows 0, stride, 2 x stride, ...), in memory, on the
    /// file's ids: one pass to count their nonzeros, one to copy them.</summary>
    public static SparseDataset SampleRows(RowCacheReader cache, int stride)
    {
        bool Taken(int row) => row % stride == 0;
        var buffer = new EpochData(cache.MaxChunkRows, cache.MaxChunkNonZeros, cache.UnitValues);
        long nonZeros = 0;
        int row = 0;
        for (int c = 0; c < cache.Chunks; c++)
        {
            cache.Read(c, buffer);
            for (int r = 0; r < buffer.Count; r++, row++)
            {
                nonZeros += Taken(row) ? buffer.Offsets[r + 1] - buffer.Offsets[r] : 0;
            }
        }

        int rows = (int)((cache.Rows + stride - 1) / stride);
        return ExtractRows(cache, Taken, rows, nonZeros, map: null, cache.NumFeatures, cache.UnitValues);
    }

    /// <summary>The held-out rows, in file order, as an in-memory dataset on training ids.</summary>
    private static SparseDataset ExtractRows(RowCacheReader cache, Func<int, bool> held, int rows, long nonZeros, Func<int, int>? map, int numFeatures, bool unit)
    {
        if (rows == 0)
        {
            return SparseDataset.FromTrustedArrays([], [0], [], null, null, 0, 0);
        }

        MemoryBudget.Ensure((rows * 8L) + (nonZeros * (unit ? 4 : 8)), $"{cache.Path}: the {rows:N0} validation rows ({nonZeros:N0} nonzeros)",
            "hold out a smaller fraction (--validation-fraction), give a smaller validation file, or use a machine with more memory");
        var labels = new float[rows];
        var offsets = new int[rows + 1];
        var indices = new int[nonZeros];
        float[]? values = unit ? null : new float[nonZeros];
        var buffer = new EpochData(cache.MaxChunkRows, cache.MaxChunkNonZeros, unitValues: unit);
        int row = 0, next = 0, at = 0;
        for (int c = 0; c < cache.Chunks; c++)
        {
            cache.Read(c, buffer);
            for (int r = 0; r < buffer.Count; r++, row++)
            {
                if (!held(row))
                {
                    continue;
                }

                int start = buffer.Offsets[r], length = buffer.Offsets[r + 1] - start;
                labels[next] = buffer.Labels[r];
                for (int j = 0; j < length; j++)
                {
                    int id = buffer.Indices[start + j];
                    indices[at + j] = map is null ? id : map(id);
                }

                if (values is not null)
                {
                    buffer.Values.AsSpan(start, length).CopyTo(values.AsSpan(at));
                }

                at += length;
                offsets[++next] = at;
            }
        }

        return SparseDataset.FromTrustedArrays(labels, offsets, indices, values, null, numFeatures, 0);
    }

    /// <summary>Counts the bytes read through it (the text parsed, for progress).</summary>
    private sealed class CountingStream(Stream inner) : ReadOnlyForwardStream(inner)
    {
        public long BytesRead { get; private set; }

        public override long Position
        {
            get => BytesRead;
            set => throw new NotSupportedException();
        }

        public override int Read(Span<byte> buffer)
        {
            int read = Inner.Read(buffer);
            BytesRead += read;
            return read;
        }
    }
}
