using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics.X86;
using FmCodegen.Data;
using FmCodegen.Kernels;

namespace FmCodegen.Training;

/// <summary>
/// One field-aware training phase (a fit or a refit): one replica of the parameters per thread, the rows copied
/// once in a seeded order (<see cref="FfmEpochData"/>), then epoch after epoch, with early stopping on validation
/// data. The scheme is written on <see cref="FfmTrainer"/>.
/// </summary>
internal sealed class FfmRun
{
    private readonly FfmTrainingOptions _options;
    private readonly FfmReplica[] _replicas;

    // the model of the best epoch so far (validation), whose table is _spare; the next epoch's model is written into
    // _scratch: two model tables at most per run, instead of a new one per epoch and a copy of the training table
    // per better epoch (fresh memory: page faults)
    private FfmModel? _best;
    private FfmTable? _scratch, _spare;

    public FfmRun(FfmTrainingOptions options, int n, int m, int rows)
    {
        _options = options;
        int threads = Math.Min(options.Threads, Math.Max(1, rows / 64));
        int k = options.EmbeddingSize;
        int stride = FfmLayout.FieldStride(k);
        long tableBytes = (((long)n + 1) * m * 2 * stride * sizeof(float)) + (2L * (n + 1) * sizeof(float));
        MemoryBudget.Ensure((threads + 2) * tableBytes,
            $"Field-aware training of {n:N0} features x {m:N0} fields with k = {k} on {threads} thread(s) ({threads + 2} tables of {MemoryBudget.Size(tableBytes)})",
            "hash the features into fewer buckets, cap them with MaxFeatures (--max-features), or use fewer threads");
        var first = new FfmReplica(new FfmTable(n, m, k, 2 * stride), threads);
        Initialize(first, options);
        _replicas = new FfmReplica[threads];
        _replicas[0] = first;
        for (int t = 1; t < threads; t++)
        {
            _replicas[t] = first.Clone();
        }
    }

    /// <summary>Seeded factors (libffm's U(0, 1) / sqrt(k)), AdaGrad sums of 1, or the warm-start model's values.</summary>
    private static void Initialize(FfmReplica replica, FfmTrainingOptions options)
    {
        FfmTable table = replica.Table;
        int n = table.NumFeatures, m = table.NumFields, k = table.EmbeddingSize, stride = table.FieldStride;
        var rng = new SplitMix64(unchecked((ulong)options.Seed) * 0xD1B54A32D192ED03UL + 1);
        float scale = 1f / MathF.Sqrt(k);
        FfmModel? warm = options.WarmStart;
        for (int j = 0; j < n; j++)
        {
            for (int f = 0; f < m; f++)
            {
                Span<float> block = table.WholeBlock(j, f);
                for (int c = 0; c < k; c++)
                {
                    block[c] = (float)rng.NextDouble() * scale;
                }

                if (warm is not null && j < warm.NumFeatures && f < warm.NumFields)
                {
                    warm.FactorBlock(j, f).CopyTo(block);
                }

                block[stride..(stride + stride)].Fill(1f);
            }
        }

        if (warm is not null)
        {
            replica.Bias = warm.Bias;
            for (int j = 0; j < Math.Min(n, warm.NumFeatures); j++)
            {
                replica.Weights[j] = warm.Weight(j);
            }
        }
    }

    /// <summary>Trains up to <paramref name="epochs"/> epochs on the rows of <paramref name="fit"/>; returns the
    /// best epoch (the last without validation), whose model <see cref="ToModel"/> then gives.</summary>
    public int Fit(FfmKernelEntry kernel, FfmRowSet fit, FfmRowSet? validation, int epochs, int patience, List<FfmEpoch> history, Action<FfmEpoch>? progress, bool refit)
    {
        var rng = new SplitMix64(unchecked((ulong)_options.Seed) ^ 0xA5A5_5A5A_1234_5678UL);
        FfmTable table = _replicas[0].Table;
        var epochData = new FfmEpochData(fit.Data, fit.Rows, _options.Shuffle ? rng : null, table.NumFeatures, table.NumFields, _options.Normalization);
        int count = epochData.Count;
        int[] blocks = new int[epochData.BlockCount];
        for (int b = 0; b < blocks.Length; b++)
        {
            blocks[b] = b;
        }

        using TrainingTeam? team = _replicas.Length > 1 ? new TrainingTeam(_replicas.Length) : null;
        var epoch = new EpochVisitor(this, epochData, blocks, team);
        double bestLoss = double.PositiveInfinity;
        int bestEpoch = epochs, sinceBest = 0;
        _best = null;
        for (int e = 1; e <= epochs; e++)
        {
            if (_options.Shuffle)
            {
                rng.Shuffle(blocks);
            }

            long start = Stopwatch.GetTimestamp();
            double loss = kernel.Accept(epoch) / Math.Max(1, count);
            double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
            FfmModel? model = null;
            double? validationLoss = null;
            if (validation is not null)
            {
                model = BuildModel();
                validationLoss = Loss(model, validation.Value);
            }

            var record = new FfmEpoch(e, loss, validationLoss, seconds, count / Math.Max(seconds, 1e-9), refit);
            history.Add(record);
            progress?.Invoke(record);
            if (validationLoss is double v)
            {
                if (v < bestLoss)
                {
                    // the model just scored is the best so far: kept as it is (its table is not written again), the
                    // next epoch's model goes to the other table (the previous best's, if any)
                    bestLoss = v;
                    bestEpoch = e;
                    sinceBest = 0;
                    _best = model;
                    (_scratch, _spare) = (_spare, _scratch);
                }
                else if (patience > 0 && ++sinceBest >= patience)
                {
                    break;
                }
            }
        }

        return bestEpoch;
    }

    /// <summary>Mean loss over rows, scored with the model as it will be saved.</summary>
    private double Loss(FfmModel model, FfmRowSet rows)
    {
        SparseDataset data = rows.Data;
        double sum = 0;
        if (rows.Rows is { } list)
        {
            // held-out rows, scored where they are one by one (the same bits as a batch: every row of a batch goes
            // through the one-example path)
            FfmKernelEntry kernel = FfmKernels.For(model.EmbeddingSize);
            ReadOnlySpan<float> labels = data.Labels;
            foreach (int r in list.Span)
            {
                float score = kernel.Score(model, data.RowFields(r), data.RowIndices(r), data.RowValues(r));
                sum += FfmTrainer.ExampleLoss(_options.Task, score, labels[r]);
            }

            return sum / Math.Max(1, list.Length);
        }

        var scores = new float[data.Count];
        Ffm.ScoreBatch(model, data.Offsets, data.Fields, data.Indices, data.Values, scores, _replicas.Length);
        for (int r = 0; r < scores.Length; r++)
        {
            sum += FfmTrainer.ExampleLoss(_options.Task, scores[r], data.Labels[r]);
        }

        return sum / Math.Max(1, scores.Length);
    }

    /// <summary>The model of the best epoch of the last <see cref="Fit"/> with validation data, else the model
    /// replica 0 holds (after an epoch every replica holds the same values).</summary>
    public FfmModel ToModel() => _best ?? BuildModel();

    /// <summary>The model replica 0 holds, in <see cref="_scratch"/>'s table (which the next call writes again).</summary>
    private FfmModel BuildModel()
    {
        FfmReplica first = _replicas[0];
        FfmTable source = first.Table;
        FfmTable table = _scratch ??= new FfmTable(source.NumFeatures, source.NumFields, source.EmbeddingSize);
        for (int j = 0; j < source.NumFeatures; j++)
        {
            for (int f = 0; f < source.NumFields; f++)
            {
                source.Block(j, f).CopyTo(table.Block(j, f));
            }
        }

        float[] weights = _options.UseLinear ? (float[])first.Weights.Clone() : new float[first.Weights.Length];
        return FfmModel.FromParts(_options.UseLinear ? first.Bias : 0f, weights, table, _options.Normalization, "FFM training");
    }

    /// <summary>One epoch over every block, compiled per kernel struct: on one thread the blocks in order; on T
    /// threads window after window, each member training its slice, all meeting, each merging its share of the
    /// features (<see cref="ReplicaMerge"/>), all meeting again.</summary>
    private sealed class EpochVisitor(FfmRun run, FfmEpochData rows, int[] blocks, TrainingTeam? team) : IFfmKernelVisitor<double>
    {
        private readonly int[]? _mergeStamp = team is null ? null : NewStamp(run._replicas[0].Table.NumFeatures);
        private int _window;

        public double Visit<TKernel>() where TKernel : struct, IFfmKernel
        {
            FfmReplica[] replicas = run._replicas;
            FfmTrainingOptions options = run._options;
            foreach (FfmReplica replica in replicas)
            {
                replica.LossSum = 0;
            }

            if (team is null)
            {
                replicas[0].Train<TKernel>(rows, blocks, options, _window++);
                return replicas[0].LossSum;
            }

            int[] mergeStamp = _mergeStamp!;
            int windows = team.RunWindows(blocks.Length, _window,
                (t, w, first, count) =>
                {
                    replicas[t].Examples = 0;
                    replicas[t].ResetTouched();
                    replicas[t].Train<TKernel>(rows, blocks.AsSpan(first, count), options, w);
                },
                (t, w) => ReplicaMerge.Merge(replicas, mergeStamp, w, t));
            _window += windows;
            double loss = 0;
            foreach (FfmReplica replica in replicas)
            {
                loss += replica.LossSum;
            }

            return loss;
        }

        private static int[] NewStamp(int numFeatures)
        {
            var stamp = new int[numFeatures];
            Array.Fill(stamp, -1);
            return stamp;
        }
    }
}

/// <summary>
/// The rows of one fit, compacted and copied once in a given order: per kept nonzero (feature and field known to
/// the model) one int holding its feature and field (<see cref="Codes"/>) and its value; per row its label and its
/// normalisation scales (from the squares of all its values, kept or not, as scoring computes them). Cut into
/// blocks of <see cref="EpochData.RowsPerBlock"/> rows, which the epochs visit in shuffled orders.
/// </summary>
internal sealed class FfmEpochData
{
    /// <summary>Copies <paramref name="data"/>'s rows, or those listed in <paramref name="subset"/>, in a random
    /// order drawn from <paramref name="shuffle"/> (as Fisher-Yates over the list, 0 .. Count - 1 without one, with
    /// <see cref="SplitMix64.Shuffle"/>), or in the list's order when it is null.</summary>
    public FfmEpochData(SparseDataset data, ReadOnlyMemory<int>? subset, SplitMix64? shuffle, int numFeatures, int numFields, FfmNormalization normalization)
    {
        // every element up to each array's length is written by the copy below (the nonzeros past the kept ones
        // are zeroed there), so the arrays start uninitialised: with huge pages where the system offers them
        // (LargeArrays), which the writes below and each epoch's reads hit far less often than 4 KB pages. The
        // per-row values are one array of records, not four arrays of 2.3 MB each on frappe x20 (below the huge-page
        // threshold: some 2,250 page faults of 4 KB, dear on this virtual machine), and the order of the copy lives
        // in the records' starts until the copy overwrites each (no order array of its own either)
        // a subset (the rows left after holding some out) is read through its list, never copied into a dataset
        // of its own: the copy below reads rows in a shuffled order anyway
        ReadOnlySpan<int> offsets = data.Offsets;
        int nonZeros = offsets[data.Count];
        Count = data.Count;
        if (subset is { } list)
        {
            Count = list.Length;
            nonZeros = 0;
            foreach (int r in list.Span)
            {
                nonZeros += offsets[r + 1] - offsets[r];
            }
        }

        Rows = LargeArrays.Uninitialized<FfmRow>(Count + 1);
        Order(Rows, subset is { } rows ? rows.Span : default, shuffle);
        // one element more than the nonzeros: a row's arrays are taken by reference at its first nonzero, which for
        // empty rows after the last kept nonzero is one past them
        // a table of at most 65,536 blocks (frappe's 5,378 features x 10 fields) numbers every feature and field by
        // its block, feature x fields + field, in 16 bits: half the bytes of int codes to write (fresh memory) and
        // to read every epoch
        NumFields = numFields;
        if ((long)numFeatures * numFields <= ushort.MaxValue + 1)
        {
            ShortCodes = LargeArrays.Uninitialized<ushort>(nonZeros + 1);
            Codes = [];
        }
        else
        {
            Codes = LargeArrays.Uninitialized<int>(nonZeros + 1);
        }

        FieldBits = CodeFieldBits(numFields);

        // data whose values are all 1 (SparseDataset.UnitValues) keeps no copy of them: every row reads the same
        // run of ones (UnitValues), a copy as large as the features' less to write and to read every epoch
        UnitValues = data.UnitValues;
        float[]? values = UnitValues ? null : LargeArrays.Uninitialized<float>(nonZeros + 1);
        Longest = Copy(data, numFeatures, numFields, normalization, values);
        Values = values ?? EpochData.Ones(Longest + 1);
    }

    /// <summary>The source row of each copied row in <see cref="FfmRow.Start"/>: <paramref name="subset"/>'s rows
    /// (0 .. Count - 1 when it is empty) shuffled by <see cref="SplitMix64.Shuffle"/>'s steps (the same draws, the
    /// same permutation: row i of a subset is copied where row i of a dataset holding only the subset would be).</summary>
    private static void Order(FfmRow[] rows, ReadOnlySpan<int> subset, SplitMix64? shuffle)
    {
        int count = rows.Length - 1;
        if (subset.IsEmpty)
        {
            for (int i = 0; i < count; i++)
            {
                rows[i].Start = i;
            }
        }
        else
        {
            for (int i = 0; i < count; i++)
            {
                rows[i].Start = subset[i];
            }
        }

        if (shuffle is not null)
        {
            Shuffle(rows, count, shuffle);
        }
    }

    /// <summary>Steps of <see cref="Shuffle"/> whose draw is made, and its record prefetched, ahead of the swap.</summary>
    private const int ShuffleAhead = 16;

    /// <summary>
    /// Fisher-Yates over the first <paramref name="count"/> records' starts with <see cref="SplitMix64.Shuffle"/>'s
    /// draws, in its order (the same permutation, the generator left in the same state). The draws do not depend on
    /// the data, so each step's partner j is drawn <see cref="ShuffleAhead"/> steps early and its record prefetched:
    /// the records are 16 bytes over many megabytes, and each swap otherwise waited for j's cache line.
    /// </summary>
    internal static unsafe void Shuffle(FfmRow[] rows, int count, SplitMix64 shuffle)
    {
        Span<int> drawn = stackalloc int[ShuffleAhead];
        fixed (FfmRow* at = rows)
        {
            // step s swaps i = count - 1 - s with its draw, kept at drawn[s % ShuffleAhead]
            for (int s = 0; s < ShuffleAhead && count - 1 - s > 0; s++)
            {
                drawn[s] = shuffle.NextInt(count - s);
                if (Sse.IsSupported)
                {
                    Sse.Prefetch0(at + drawn[s]);
                }
            }

            for (int i = count - 1, s = 0; i > 0; i--, s++)
            {
                int slot = s % ShuffleAhead;
                int j = drawn[slot];
                if (i - ShuffleAhead > 0)
                {
                    int later = shuffle.NextInt(i - ShuffleAhead + 1);
                    drawn[slot] = later;
                    if (Sse.IsSupported)
                    {
                        Sse.Prefetch0(at + later);
                    }
                }

                (at[i].Start, at[j].Start) = (at[j].Start, at[i].Start);
            }
        }
    }

    /// <summary>The bits of a code that hold the field: enough for fields 0 to <paramref name="numFields"/> - 1.
    /// Feature j's code is (j &lt;&lt; bits) | field, below 2 x features x fields, which the table's int offsets
    /// (features x fields x a block of at least 2 floats) already keep below 2^31.</summary>
    internal static int CodeFieldBits(int numFields) => numFields <= 1 ? 0 : 32 - int.LeadingZeroCount(numFields - 1);

    /// <summary>The copy; rows are read in a random order, so each would be a cache miss: the row 16 ahead has its
    /// offset prefetched and the row 8 ahead its nonzeros (about 1.7x faster on frappe x20). Returns the longest row.</summary>
    private unsafe int Copy(SparseDataset data, int numFeatures, int numFields, FfmNormalization normalization, float[]? target)
    {
        ReadOnlySpan<int> offsets = data.Offsets, fields = data.Fields, indices = data.Indices;
        ReadOnlySpan<float> labels = data.Labels;

        // data whose values are all 1 has no value array (SparseDataset.UnitValues): asking for one would make and
        // touch an array of ones as large as the indices; each row's ones come from the shared run instead
        bool unit = data.UnitValues;
        ReadOnlySpan<float> values = unit ? SparseDataset.Ones(1) : data.Values;
        int nonZeros = offsets[data.Count];
        int at = 0, longest = 0, fieldBits = FieldBits, count = Count;
        int[] codes = Codes;
        ushort[]? shortCodes = ShortCodes;
        FfmRow[] rows = Rows;
        fixed (int* offsetsAt = offsets, fieldsAt = fields, indicesAt = indices)
        fixed (float* valuesAt = values, labelsAt = labels)
        fixed (ushort* shortCodesAt = shortCodes)
        {
            for (int i = 0; i < count; i++)
            {
                // the records past i still hold their source rows
                if (Sse.IsSupported)
                {
                    if (i + 16 < count)
                    {
                        Sse.Prefetch0(offsetsAt + rows[i + 16].Start);
                    }

                    if (i + 8 < count)
                    {
                        int ahead = rows[i + 8].Start, first = offsets[ahead];
                        Sse.Prefetch0(labelsAt + ahead);
                        if (first < nonZeros)
                        {
                            Sse.Prefetch0(indicesAt + first);
                            if (!unit)
                            {
                                Sse.Prefetch0(valuesAt + first);
                            }

                            Sse.Prefetch0(fieldsAt + first);
                        }
                    }
                }

                int r = rows[i].Start;
                int rowStart = at;
                float squares = 0f;
                int end = offsetsAt[r + 1];
                if (unit && shortCodesAt is not null && end - offsetsAt[r] <= 1 << 24)
                {
                    // one-hot data with 16-bit codes (frappe): by pointers, without the value and int-code branches,
                    // and the sum of the squares is the count of nonzeros (ones add up exactly to 2^24: the same
                    // float), not a chain of additions to wait for (some 15% less time for the copy on frappe x20)
                    int a = offsetsAt[r];
                    squares = end - a;
                    for (; a < end; a++)
                    {
                        int j = indicesAt[a], f = fieldsAt[a];
                        if ((uint)j < (uint)numFeatures && (uint)f < (uint)numFields)
                        {
                            shortCodesAt[at++] = (ushort)((j * numFields) + f);
                        }
                    }
                }
                else
                {
                    for (int a = offsets[r]; a < offsets[r + 1]; a++)
                    {
                        float v = unit ? 1f : values[a];
                        squares += v * v;
                        int j = indices[a], f = fields[a];
                        if ((uint)j < (uint)numFeatures && (uint)f < (uint)numFields)
                        {
                            if (shortCodes is not null)
                            {
                                shortCodes[at] = (ushort)((j * numFields) + f);
                            }
                            else
                            {
                                codes[at] = (j << fieldBits) | f;
                            }

                            if (target is not null)
                            {
                                target[at] = v;
                            }

                            at++;
                        }
                    }
                }

                longest = Math.Max(longest, at - rowStart);
                (float linearScale, float pairScale) = FfmScaling.Scales(normalization, squares);
                rows[i] = new FfmRow { Start = rowStart, Label = labels[r], LinearScale = linearScale, PairScale = pairScale };
            }
        }

        rows[count] = new FfmRow { Start = at };
        codes.AsSpan(Math.Min(at, codes.Length)).Clear();
        shortCodes.AsSpan(Math.Min(at, shortCodes?.Length ?? 0)).Clear();
        if (target is not null)
        {
            target.AsSpan(at).Clear();
        }

        return longest;
    }

    /// <summary>Asks for the cache lines of a block's row records: blocks are visited in a random order, so the
    /// first rows of each would otherwise wait for memory.</summary>
    public unsafe void PrefetchRows(int block)
    {
        if (Sse.IsSupported)
        {
            int from = block * EpochData.RowsPerBlock, to = Math.Min(Count, from + EpochData.RowsPerBlock);
            fixed (FfmRow* rows = Rows)
            {
                Prefetch(rows + from, rows + to + 1);
            }
        }
    }

    /// <summary>Asks for the cache lines of a block's nonzeros (codes, values unless <see cref="UnitValues"/>).</summary>
    public unsafe void PrefetchNonZeros(int block)
    {
        if (Sse.IsSupported)
        {
            int from = block * EpochData.RowsPerBlock, to = Math.Min(Count, from + EpochData.RowsPerBlock);
            int first = Rows[from].Start, end = Rows[to].Start;
            fixed (int* codes = Codes)
            fixed (ushort* shortCodes = ShortCodes)
            fixed (float* values = Values)
            {
                if (ShortCodes is not null)
                {
                    Prefetch(shortCodes + first, shortCodes + end);
                }
                else
                {
                    Prefetch(codes + first, codes + end);
                }

                if (!UnitValues)
                {
                    Prefetch(values + first, values + end);
                }
            }
        }
    }

    /// <summary>Prefetches the cache lines holding the bytes [start, end).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Prefetch(void* start, void* end)
    {
        for (nint line = start < end ? (nint)start & ~(nint)63 : (nint)end; line < (nint)end; line += 64)
        {
            Sse.Prefetch0((void*)line);
        }
    }

    /// <summary>Per copied row its first nonzero, label and normalisation scales, and one record more whose start
    /// ends the last row.</summary>
    public FfmRow[] Rows { get; }

    /// <summary>Per kept nonzero its feature j and field f as (j &lt;&lt; <see cref="FieldBits"/>) | f: one int where
    /// a feature array and a block-offset array took two (half the bytes to write once, with their first-touch page
    /// faults, and to read every epoch); the training loop unpacks a row's codes into its table rows and blocks.</summary>
    public int[] Codes { get; }

    /// <summary>Instead of <see cref="Codes"/> (then empty) when the table has at most 65,536 blocks: per kept
    /// nonzero its block's number, feature x <see cref="NumFields"/> + field.</summary>
    public ushort[]? ShortCodes { get; }

    /// <summary>The table's fields (the radix of <see cref="ShortCodes"/>).</summary>
    public int NumFields { get; }

    /// <summary>The low bits of a code that hold the field (<see cref="CodeFieldBits"/>).</summary>
    public int FieldBits { get; }

    /// <summary>The kept values, or when <see cref="UnitValues"/> one run of ones as long as the longest row,
    /// which every row reads from its start.</summary>
    public float[] Values { get; }

    /// <summary>Every value is 1.</summary>
    public bool UnitValues { get; }

    /// <summary>The most kept nonzeros of a row.</summary>
    public int Longest { get; }

    public int Count { get; }

    public int BlockCount => (Count + EpochData.RowsPerBlock - 1) / EpochData.RowsPerBlock;
}

/// <summary>A copied row (<see cref="FfmEpochData.Rows"/>): where its nonzeros start, its label and its scales; one
/// 16-byte record, so the rows of a block are one run of memory to read (and prefetch) each epoch.</summary>
internal struct FfmRow
{
    public int Start;
    public float Label;
    public float LinearScale;
    public float PairScale;
}

/// <summary>One thread's copy of a field-aware model being trained (factor blocks with their AdaGrad sums right
/// after the weights, linear weights and sums, bias) and the loop that trains it on blocks of rows.</summary>
internal class FfmReplica : MergedReplica
{
    private int[] _rows, _blocks, _features;

    public FfmReplica(FfmTable table, int team)
        : base(table.NumFeatures, team)
    {
        Table = table;
        int n = table.NumFeatures;

        // pinned, as the table is: the merge of multi-threaded training reads them by address
        Weights = GC.AllocateArray<float>(n + 1, pinned: true);
        WeightSums = GC.AllocateArray<float>(n + 1, pinned: true);
        Array.Fill(WeightSums, 1f);
        _rows = new int[16];
        _blocks = new int[16];
        _features = new int[16];
    }

    private FfmReplica(FfmReplica source)
        : this(new FfmTable(source.Table.NumFeatures, source.Table.NumFields, source.Table.EmbeddingSize, source.Table.BlockStride), source.Touched?.Length ?? 1)
    {
        source.Table.Span.CopyTo(Table.Span);
        source.Weights.CopyTo(Weights, 0);
        source.WeightSums.CopyTo(WeightSums, 0);
        Bias = source.Bias;
        BiasSum = source.BiasSum;
    }

    public FfmTable Table { get; }
    public float[] Weights { get; }
    public float[] WeightSums { get; }
    public float Bias;
    public float BiasSum = 1f;

    /// <summary>The training loss summed over this epoch's rows.</summary>
    public double LossSum;

    public FfmReplica Clone() => new(this);

    /// <inheritdoc/>
    public override int MergeTables => 3;

    /// <inheritdoc/>
    public override unsafe (nint Base, int Stride) MergeTable(int table) => table switch
    {
        0 => ((nint)Unsafe.AsPointer(ref Table.Origin), Table.RowStride),
        1 => ((nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(Weights)), 1),
        _ => ((nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(WeightSums)), 1),
    };

    /// <inheritdoc/>
    public override int BiasValues => 2;

    /// <inheritdoc/>
    public override ref float BiasValue(int index)
    {
        if (index == 0)
        {
            return ref Bias;
        }

        return ref BiasSum;
    }

    /// <summary>Trains on the given blocks of rows, in that order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    [SkipLocalsInit]
    public void Train<TKernel>(FfmEpochData data, ReadOnlySpan<int> blocks, FfmTrainingOptions options, int window) where TKernel : struct, IFfmKernel
    {
        FfmTable table = Table;
        float[] weights = Weights, sums = WeightSums;
        bool adaGrad = options.Solver == FfmSolver.AdaGrad, linear = options.UseLinear, classification = options.Task == FmTask.BinaryClassification;
        float eta = options.LearningRate, lambda = options.Lambda, linearLambda = options.LinearLambda;
        int k = table.EmbeddingSize, stride = table.FieldStride, rowStride = table.RowStride;

        // blocks of 4 weights followed by their 4 sums on x86 with 256-bit vectors: the trainer's own AdaGrad pair
        // loop (FfmPairUpdates: fewer instructions per pair, the same bits as the kernel's loop)
        bool fastAdaGrad = adaGrad && stride == 4 && table.BlockStride == 8 && FfmPairUpdates.Available;
        // with 512-bit vectors two pairs at a time: one square root and division for both (FfmPairUpdates)
        bool twice = fastAdaGrad && FfmPairUpdates.Available512;
        if (_rows.Length <= data.Longest)
        {
            _rows = new int[data.Longest + 1];
            _blocks = new int[data.Longest + 1];
            _features = new int[data.Longest + 1];
        }

        // a row's codes unpacked (TableRows): feature x row stride (the kernels' rows), field x block stride (their
        // blocks), and the features (linear weights, the merge's stamps)
        ref int rowsRef = ref MemoryMarshal.GetArrayDataReference(_rows);
        ref int blocksRef = ref MemoryMarshal.GetArrayDataReference(_blocks);
        ref int rowFeatures = ref MemoryMarshal.GetArrayDataReference(_features);
        ref float origin = ref table.Origin;
        ref FfmRow rowsAt = ref MemoryMarshal.GetArrayDataReference(data.Rows);
        ref int codesRef = ref MemoryMarshal.GetArrayDataReference(data.Codes);
        ushort[]? shortCodes = data.ShortCodes;
        ref ushort shortCodesRef = ref shortCodes is null ? ref Unsafe.NullRef<ushort>() : ref MemoryMarshal.GetArrayDataReference(shortCodes);
        // feature = code / fields as a multiply and shift: exact for codes and divisors below 2^16
        int numFields = data.NumFields;
        ulong fieldsInverse = ((1UL << 32) + (ulong)numFields - 1) / (ulong)numFields;
        int fieldBits = data.FieldBits, blockStride = table.BlockStride;
        float[] values = data.Values;
        bool unit = data.UnitValues;
        int[]? stamp = Stamp;
        float bias = Bias, biasSum = BiasSum;
        double totalLoss = 0;
        int trained = 0;
        Span<LossTerm> terms = stackalloc LossTerm[EpochData.RowsPerBlock];
        ref LossTerm termsRef = ref MemoryMarshal.GetReference(terms);
        for (int bi = 0; bi < blocks.Length; bi++)
        {
            if (bi + 2 < blocks.Length)
            {
                data.PrefetchRows(blocks[bi + 2]);
            }

            if (bi + 1 < blocks.Length)
            {
                data.PrefetchNonZeros(blocks[bi + 1]);
            }

            int block = blocks[bi];
            int from = block * EpochData.RowsPerBlock, to = Math.Min(data.Count, from + EpochData.RowsPerBlock);
            trained += to - from;
            for (int r = from; r < to; r++)
            {
                ref FfmRow row = ref Unsafe.Add(ref rowsAt, r);
                int start = row.Start, count = Unsafe.Add(ref row, 1).Start - start;
                ref float x = ref values[unit ? 0 : start];
                float lin = shortCodes is not null
                    ? TableRows(ref Unsafe.Add(ref shortCodesRef, start), numFields, fieldsInverse, ref rowFeatures, ref rowsRef, ref blocksRef, ref x, weights, count, rowStride, blockStride)
                    : TableRows(ref Unsafe.Add(ref codesRef, start), fieldBits, ref rowFeatures, ref rowsRef, ref blocksRef, ref x, weights, count, rowStride, blockStride);
                float pairs = count < 2 ? 0f : TKernel.PairSum(ref origin, ref rowsRef, ref blocksRef, ref x, count, k, stride);
                float ls = row.LinearScale, ps = row.PairScale;
                float score = FfmCore.Combine(linear ? bias : 0f, ls, linear ? lin : 0f, ps, pairs);
                float label = row.Label;
                float kappa;
                if (classification)
                {
                    float y = label > 0 ? 1f : -1f;
                    // loss log(1 + e^-m) at margin m = y s; its derivative in s is -y sigmoid(-m). The loss's log is
                    // taken after the block (LossTerm): a call here, on the way from the score to the updates,
                    // would also save and restore the loop's live registers
                    float margin = y * score;
                    kappa = -y * FmMath.LogisticGradient(margin, out float onePlusE);
                    ref LossTerm term = ref Unsafe.Add(ref termsRef, r - from);
                    term.Margin = margin;
                    term.OnePlusE = onePlusE;
                }
                else
                {
                    kappa = score - label;
                    totalLoss += 0.5 * (double)kappa * kappa;
                }

                if (count >= 2)
                {
                    if (fastAdaGrad)
                    {
                        if (twice)
                        {
                            if (unit)
                            {
                                FfmPairUpdates.AdaGrad4OnesTwice(ref origin, ref rowsRef, ref blocksRef, count, kappa * ps, eta, lambda);
                            }
                            else
                            {
                                FfmPairUpdates.AdaGrad4Twice(ref origin, ref rowsRef, ref blocksRef, ref x, count, kappa * ps, eta, lambda);
                            }
                        }
                        else if (unit)
                        {
                            FfmPairUpdates.AdaGrad4Ones(ref origin, ref rowsRef, ref blocksRef, count, kappa * ps, eta, lambda);
                        }
                        else
                        {
                            FfmPairUpdates.AdaGrad4(ref origin, ref rowsRef, ref blocksRef, ref x, count, kappa * ps, eta, lambda);
                        }
                    }
                    else if (adaGrad)
                    {
                        TKernel.UpdatePairsAdaGrad(ref origin, ref rowsRef, ref blocksRef, ref x, count, k, stride, kappa * ps, eta, lambda);
                    }
                    else
                    {
                        TKernel.UpdatePairsSgd(ref origin, ref rowsRef, ref blocksRef, ref x, count, k, stride, kappa * ps, eta, lambda);
                    }
                }

                if (stamp is not null)
                {
                    for (int a = 0; a < count; a++)
                    {
                        Touch(Unsafe.Add(ref rowFeatures, a), window);
                    }
                }

                if (linear)
                {
                    UpdateLinear(weights, sums, ref rowFeatures, ref x, count, kappa * ls, eta, linearLambda, adaGrad);
                    if (adaGrad)
                    {
                        biasSum = MathF.FusedMultiplyAdd(kappa, kappa, biasSum);
                        bias -= eta * kappa / MathF.Sqrt(biasSum);
                    }
                    else
                    {
                        bias -= eta * kappa;
                    }
                }
            }

            if (classification)
            {
                // the block's losses in row order (the same sum as adding each after its row)
                for (int i = 0; i < to - from; i++)
                {
                    ref LossTerm term = ref Unsafe.Add(ref termsRef, i);
                    totalLoss += FmMath.LogisticLossOf(term.Margin, term.OnePlusE);
                }
            }
        }

        Bias = bias;
        BiasSum = biasSum;
        LossSum += totalLoss;
        Examples += trained;
    }

    /// <summary>A classification row's margin and 1 + e^-|margin|, whose loss the block's end adds.</summary>
    private struct LossTerm
    {
        public float Margin;
        public float OnePlusE;
    }

    /// <summary>A row's codes unpacked (features, table rows = feature x row stride, blocks = field x block stride)
    /// and its linear sum, in the order of its nonzeros. Out of <see cref="Train{TKernel}"/>'s loop, whose many live
    /// values left the sum on the stack (a store and a load per nonzero on the sum's chain).</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float TableRows(ref int codes, int fieldBits, ref int features, ref int rows, ref int blocks, ref float x, float[] weights, int count, int rowStride, int blockStride)
    {
        float lin = 0f;
        int fieldMask = (1 << fieldBits) - 1;
        for (int a = 0; a < count; a++)
        {
            int code = Unsafe.Add(ref codes, a);
            int j = code >> fieldBits;
            Unsafe.Add(ref features, a) = j;
            Unsafe.Add(ref rows, a) = j * rowStride;
            Unsafe.Add(ref blocks, a) = (code & fieldMask) * blockStride;
            lin += weights[j] * Unsafe.Add(ref x, a);
        }

        return lin;
    }

    /// <summary><see cref="TableRows(ref int, int, ref int, ref int, ref int, ref float, float[], int, int, int)"/> for
    /// 16-bit codes (feature x fields + field, <see cref="FfmEpochData.ShortCodes"/>): the feature is the code times
    /// <paramref name="fieldsInverse"/> (2^32 / fields rounded up) shifted right by 32, exact for codes and fields
    /// below 2^16.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float TableRows(ref ushort codes, int numFields, ulong fieldsInverse, ref int features, ref int rows, ref int blocks, ref float x, float[] weights, int count, int rowStride, int blockStride)
    {
        float lin = 0f;
        for (int a = 0; a < count; a++)
        {
            int code = Unsafe.Add(ref codes, a);
            int j = (int)(((ulong)(uint)code * fieldsInverse) >> 32);
            Unsafe.Add(ref features, a) = j;
            Unsafe.Add(ref rows, a) = j * rowStride;
            Unsafe.Add(ref blocks, a) = (code - (j * numFields)) * blockStride;
            lin += weights[j] * Unsafe.Add(ref x, a);
        }

        return lin;
    }

    /// <summary>A row's linear weights, one step each (AdaGrad or SGD) with gradient kl x value + lambda x w.</summary>
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static void UpdateLinear(float[] weights, float[] sums, ref int features, ref float x, int count, float kl, float eta, float lambda, bool adaGrad)
    {
        for (int a = 0; a < count; a++)
        {
            int j = Unsafe.Add(ref features, a);
            float w = weights[j];
            float g = MathF.FusedMultiplyAdd(kl, Unsafe.Add(ref x, a), lambda * w);
            if (adaGrad)
            {
                float h = MathF.FusedMultiplyAdd(g, g, sums[j]);
                sums[j] = h;
                weights[j] = w - (eta * g / MathF.Sqrt(h));
            }
            else
            {
                weights[j] = w - (eta * g);
            }
        }
    }
}

