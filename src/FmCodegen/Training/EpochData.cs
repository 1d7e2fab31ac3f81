using System.Runtime.CompilerServices;
using FmCodegen.Data;

namespace FmCodegen.Training;

/// <summary>
/// Training rows of one segment of an epoch, in their shuffled order, cut into blocks of <see cref="RowsPerBlock"/>
/// consecutive rows; each epoch visits a segment's blocks in a new random order. The training loop thus reads memory
/// almost sequentially (visiting rows in shuffled order in place was half as fast on data larger than the cache, and
/// copying them into a new order every epoch cost a third of the epoch), while the order of examples still changes
/// every epoch at the grain of 32 rows of an already shuffled data set. In memory every segment is held at once;
/// out of core one segment at a time is read from the cache into one reused buffer.
/// </summary>
internal sealed class EpochData
{
    /// <summary>Rows per block: about 2.5 KB of a 10-nonzero data set, long enough for the hardware prefetcher.</summary>
    public const int RowsPerBlock = 32;

    /// <summary>The number of blocks (the last may be short).</summary>
    public int Blocks => (Count + RowsPerBlock - 1) / RowsPerBlock;

    /// <summary>Room for the given rows of <paramref name="data"/>, in an order set by <see cref="Fill"/> or
    /// <see cref="PlaceRows"/> and <see cref="CopyPart"/>. With <paramref name="normalize"/> each row's values are
    /// stored as x norm (norm = 1 / sum_j x_j^2, xLearn's instance normalisation of the pairwise term), with its
    /// <see cref="LinearScale"/> (binary data then stores its values too).</summary>
    public EpochData(SparseDataset data, ReadOnlySpan<int> rows, bool normalize = false)
    {
        long nonZeros = 0;
        int longest = 0;
        ReadOnlySpan<int> offsets = data.Offsets;
        foreach (int r in rows)
        {
            int length = offsets[r + 1] - offsets[r];
            nonZeros += length;
            longest = Math.Max(longest, length);
        }

        Labels = new float[rows.Length];
        Offsets = new int[rows.Length + 1];
        Indices = new int[nonZeros];
        UnitValues = data.UnitValues && !normalize;
        Values = UnitValues ? Ones(longest) : new float[nonZeros];
        LinearScale = normalize ? new float[rows.Length] : null;
        Count = rows.Length;
    }

    /// <summary>A buffer for chunks of a row cache: up to <paramref name="rows"/> rows and <paramref name="nonZeros"/>
    /// nonzeros (with <paramref name="normalize"/>, see <see cref="NormalizeRows"/>).</summary>
    public EpochData(int rows, int nonZeros, bool unitValues, bool normalize = false)
    {
        Labels = new float[rows];
        Offsets = new int[rows + 1];
        Indices = new int[nonZeros];
        UnitValues = unitValues && !normalize;
        Values = UnitValues ? Ones(256) : new float[nonZeros];
        LinearScale = normalize ? new float[rows] : null;
    }

    /// <summary>With instance normalisation: per row, sqrt(sum_j x_j^2), by which the stored values x norm are
    /// multiplied to give the linear term's x sqrt(norm). Null without normalisation.</summary>
    public float[]? LinearScale { get; }

    public float[] Labels { get; }
    public int[] Offsets { get; }
    public int[] Indices { get; }

    /// <summary>The values of the rows; when <see cref="UnitValues"/>, only a run of ones as long as the longest row
    /// (every row's values are its first entries), so binary data costs 4 bytes per nonzero here, not 8.</summary>
    public float[] Values { get; private set; }

    /// <summary>True when every value is 1 (and <see cref="Values"/> holds just ones).</summary>
    public bool UnitValues { get; }

    /// <summary>The rows held (a reused buffer may hold fewer than it has room for).</summary>
    public int Count { get; set; }

    /// <summary>Bytes held: what a segment costs in memory.</summary>
    public long Bytes => ((long)Labels.Length * 8) + ((long)Indices.Length * 4) + ((long)Values.Length * 4);

    /// <summary>With unit values: makes sure the run of ones covers the longest of the <see cref="Count"/> rows.</summary>
    public void CoverLongestRow()
    {
        if (!UnitValues)
        {
            return;
        }

        int longest = 0;
        for (int r = 0; r < Count; r++)
        {
            longest = Math.Max(longest, Offsets[r + 1] - Offsets[r]);
        }

        if (longest > Values.Length)
        {
            Values = Ones(longest);
        }
    }

    internal static float[] Ones(int length)
    {
        var ones = new float[Math.Max(length, 1)];
        ones.AsSpan().Fill(1f);
        return ones;
    }

    /// <summary>Copies the rows of <paramref name="data"/> in <paramref name="order"/> on the calling thread.</summary>
    public void Fill(SparseDataset data, int[] order)
    {
        PlaceRows(data, order);
        Copy(data, order, 0, order.Length);
    }

    /// <summary>Sets the offsets for <paramref name="order"/>; then <see cref="CopyPart"/> copies the rows, in parts.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void PlaceRows(SparseDataset data, int[] order)
    {
        ReadOnlySpan<int> source = data.Offsets;
        int at = 0;
        for (int i = 0; i < order.Length; i++)
        {
            int r = order[i];
            Offsets[i] = at;
            at += source[r + 1] - source[r];
        }

        Offsets[order.Length] = at;
    }

    /// <summary>Copies part <paramref name="part"/> of <paramref name="parts"/> of the rows placed by <see cref="PlaceRows"/>.</summary>
    public void CopyPart(SparseDataset data, int[] order, int part, int parts) =>
        Copy(data, order, (int)((long)order.Length * part / parts), (int)((long)order.Length * (part + 1) / parts));

    /// <summary>With instance normalisation, after a chunk was read into this buffer: scales each row's values as
    /// <see cref="Copy"/> does in memory (the same float operations, so the same bits).</summary>
    public void NormalizeRows()
    {
        if (LinearScale is null)
        {
            return;
        }

        for (int r = 0; r < Count; r++)
        {
            LinearScale[r] = Normalize(Values.AsSpan(Offsets[r], Offsets[r + 1] - Offsets[r]));
        }
    }

    /// <summary>Scales a row's values by norm = 1 / sum_j x_j^2 (summed in float, in order, as the scorer does) and
    /// returns sqrt(sum_j x_j^2); a row whose values are all zero stays as it is (it scores as the bias).</summary>
    internal static float Normalize(Span<float> values)
    {
        float squares = 0f;
        foreach (float x in values)
        {
            squares += x * x;
        }

        if (squares == 0f)
        {
            return 0f;
        }

        float norm = 1f / squares;
        for (int j = 0; j < values.Length; j++)
        {
            values[j] *= norm;
        }

        return MathF.Sqrt(squares);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Copy(SparseDataset data, int[] order, int from, int to)
    {
        ReadOnlySpan<int> offsets = data.Offsets;
        ReadOnlySpan<int> indices = data.Indices;
        bool dataUnit = data.UnitValues;
        ReadOnlySpan<float> values = UnitValues || dataUnit ? default : data.Values;
        ReadOnlySpan<float> labels = data.Labels;
        for (int i = from; i < to; i++)
        {
            int r = order[i];
            int start = offsets[r];
            int count = offsets[r + 1] - start;
            int target = Offsets[i];
            indices.Slice(start, count).CopyTo(Indices.AsSpan(target, count));
            Span<float> copied = Values.AsSpan(UnitValues ? 0 : target, count);
            if (!UnitValues)
            {
                (dataUnit ? SparseDataset.Ones(count) : values.Slice(start, count)).CopyTo(copied);
            }

            Labels[i] = labels[r];
            if (LinearScale is not null)
            {
                LinearScale[i] = Normalize(copied);
            }
        }
    }
}

/// <summary>
/// The training rows of a phase as segments: every epoch visits the segments in a new random order, and within each
/// its blocks in a new random order. How rows become segments is one rule for memory and disk alike
/// (<see cref="Segmenting"/>), so the same seed and thread count train the same model bytes from either.
/// </summary>
internal interface IEpochSource : IDisposable
{
    /// <summary>The number of segments.</summary>
    int Segments { get; }

    /// <summary>The training rows in all segments.</summary>
    int Rows { get; }

    /// <summary>How often each feature occurs in the training rows.</summary>
    int[] FeatureCounts { get; }

    /// <summary>Segment <paramref name="segment"/>'s rows, valid until the next call.</summary>
    EpochData Load(int segment);

    /// <summary>Bytes read from disk so far (0 in memory).</summary>
    long BytesRead { get; }
}

/// <summary>
/// How a phase's rows (given in file order) become segments: B = ceil(nonzeros / <see cref="SegmentNonZeros"/>)
/// segments. Shuffled: each row goes to a uniformly drawn segment (one draw per row in file order; none when
/// B = 1), then each segment's rows are permuted by Fisher-Yates (segments in order), which is a uniformly random
/// permutation of all rows; with B = 1 this is the single shuffle training always made. Unshuffled: B runs of
/// consecutive rows.
/// </summary>
internal static class Segmenting
{
    /// <summary>Nonzeros per segment: 8M, 32 MB of binary data (64 MB with values) plus 8 bytes per row. A constant,
    /// so the model does not depend on the memory the machine has.</summary>
    public const long DefaultSegmentNonZeros = 1L << 23;

    private static readonly AsyncLocal<long?> TestSegmentNonZeros = new();

    public static long SegmentNonZeros => TestSegmentNonZeros.Value ?? DefaultSegmentNonZeros;

    /// <summary>For tests: segments of <paramref name="nonZeros"/> in this async flow.</summary>
    internal static IDisposable WithSegmentNonZeros(long nonZeros)
    {
        long? previous = TestSegmentNonZeros.Value;
        TestSegmentNonZeros.Value = nonZeros;
        return new Restore(previous);
    }

    public static int Count(long nonZeros, int rows) =>
        (int)Math.Clamp((nonZeros + SegmentNonZeros - 1) / SegmentNonZeros, 1, Math.Max(1, rows));

    /// <summary>The first row (by rank) of segment <paramref name="segment"/> of <paramref name="rows"/> cut into <paramref name="segments"/> runs without shuffling.</summary>
    public static int RunStart(int segment, int rows, int segments) => (int)((long)rows * segment / segments);

    private sealed class Restore(long? previous) : IDisposable
    {
        public void Dispose() => TestSegmentNonZeros.Value = previous;
    }
}

/// <summary>The segments of a phase held in memory, copied from a dataset.</summary>
internal sealed class MemoryEpochSource : IEpochSource
{
    private readonly EpochData[] _segments;

    private MemoryEpochSource(EpochData[] segments, int rows, int[] counts)
    {
        _segments = segments;
        Rows = rows;
        FeatureCounts = counts;
    }

    public int Segments => _segments.Length;
    public int Rows { get; }
    public int[] FeatureCounts { get; }
    public long BytesRead => 0;

    public EpochData Load(int segment) => _segments[segment];

    /// <summary>Segments <paramref name="rows"/> (file order) of <paramref name="data"/> by <see cref="Segmenting"/>'s
    /// rule and copies them; the team, when given, copies in parallel.</summary>
    public static MemoryEpochSource Create(SparseDataset data, int[] rows, int numFeatures, bool shuffle, SplitMix64 rng, TrainingTeam? team, bool normalize = false)
    {
        var counts = new int[numFeatures];
        long nonZeros = 0;
        ReadOnlySpan<int> offsets = data.Offsets;
        foreach (int r in rows)
        {
            foreach (int f in data.RowIndices(r))
            {
                counts[f]++;
            }

            nonZeros += offsets[r + 1] - offsets[r];
        }

        int segments = Segmenting.Count(nonZeros, rows.Length);
        int[][] orders = new int[segments][];
        if (!shuffle)
        {
            for (int s = 0; s < segments; s++)
            {
                int from = Segmenting.RunStart(s, rows.Length, segments), to = Segmenting.RunStart(s + 1, rows.Length, segments);
                orders[s] = rows[from..to];
            }
        }
        else if (segments == 1)
        {
            orders[0] = (int[])rows.Clone();
            rng.Shuffle(orders[0]);
        }
        else
        {
            var of = new int[rows.Length];
            var sizes = new int[segments];
            for (int i = 0; i < rows.Length; i++)
            {
                of[i] = rng.NextInt(segments);
                sizes[of[i]]++;
            }

            for (int s = 0; s < segments; s++)
            {
                orders[s] = new int[sizes[s]];
            }

            Array.Clear(sizes);
            for (int i = 0; i < rows.Length; i++)
            {
                orders[of[i]][sizes[of[i]]++] = rows[i];
            }

            foreach (int[] order in orders)
            {
                rng.Shuffle(order);
            }
        }

        var result = new EpochData[segments];
        for (int s = 0; s < segments; s++)
        {
            int[] order = orders[s];
            var segment = new EpochData(data, order, normalize);
            if (team is null)
            {
                segment.Fill(data, order);
            }
            else
            {
                segment.PlaceRows(data, order);
                team.Run(t => segment.CopyPart(data, order, t, team.Size));
            }

            result[s] = segment;
            orders[s] = [];
        }

        return new MemoryEpochSource(result, rows.Length, counts);
    }

    public void Dispose()
    {
    }
}
