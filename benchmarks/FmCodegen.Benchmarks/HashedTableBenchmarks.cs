using BenchmarkDotNet.Attributes;
using FmCodegen.Data;
using FmCodegen.Kernels;

namespace FmCodegen.Benchmarks;

/// <summary>
/// A hashed model scored from the dense table of its whole index space (rows of absent ids never touched, so never
/// committed) against a compact table of its present rows with an id map (<see cref="CompactFmModel"/>: the bitmap with
/// ranks, or an int per id). The rows are frappe's test rows (../shared/data/frappe/frappe_te.libfm, 28,860 rows,
/// 10 nonzeros each) with its 5,382 ids spread at random over 4,194,304 ids as hashing does; the model has k = 8 and
/// seeded random parameters on the 5,382 present rows. Batch: every row on one thread; single: 4,096 rows one call each.
/// The setup prints each form's memory: the dense table's virtual size and the 4 KB pages its present rows touch, and
/// the compact table and map's bytes.
/// </summary>
[MemoryDiagnoser]
public class HashedTableBenchmarks
{
    private const int Space = 4_194_304;
    private const int Singles = 4096;
    private FmModel _dense = null!;
    private CompactFmModel _compact = null!;
    private int[] _offsets = null!;
    private int[] _indices = null!;
    private float[] _values = null!;
    private float[] _output = null!;

    [Params("dense", "compact-rank", "compact-int")]
    public string Table { get; set; } = "dense";

    [GlobalSetup]
    public void Setup()
    {
        string path = FindFrappe();
        SparseDataset data = SparseDataset.Load(path);
        int ids = data.NumFeatures;
        var random = new Random(10);
        var taken = new HashSet<int>();
        var spread = new int[ids];
        for (int i = 0; i < ids; i++)
        {
            int id;
            do
            {
                id = random.Next(Space);
            }
            while (!taken.Add(id));
            spread[i] = id;
        }

        _offsets = data.Offsets.ToArray();
        _indices = data.Indices.ToArray();
        for (int j = 0; j < _indices.Length; j++)
        {
            _indices[j] = spread[_indices[j]];
        }

        _values = data.Values.ToArray();
        _output = new float[data.Count];

        const int k = 8;
        int[] present = [.. spread.Order()];
        var table = new AlignedTable(Space, k);
        foreach (int i in present)
        {
            Span<float> row = table.Row(i)[..(k + 1)];
            for (int f = 0; f < row.Length; f++)
            {
                row[f] = (float)((random.NextDouble() - 0.5) * 0.2);
            }
        }

        _dense = FmModel.FromTable(0.1f, table, "benchmark", present);
        _compact = CompactFmModel.From(_dense, intMap: Table == "compact-int");
        long pages = present.Select(i => ((long)i * table.Stride * 4) >> 12).Distinct().LongCount();
        Console.WriteLine(Table == "dense"
            ? $"// memory: dense table {table.Length * 4L:N0} bytes virtual; its {present.Length:N0} present rows touch {pages:N0} pages of 4 KB = {pages * 4096:N0} bytes committed"
            : $"// memory: {Table} {_compact.Bytes:N0} bytes (compact table {_compact.Rows.RowTable.Length * 4L:N0})");
    }

    private static string FindFrappe()
    {
        for (string? dir = AppContext.BaseDirectory; dir is not null; dir = Path.GetDirectoryName(dir))
        {
            string candidate = Path.Combine(dir, "..", "shared", "data", "frappe", "frappe_te.libfm");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new FileNotFoundException("needs ../shared/data/frappe/frappe_te.libfm beside the repository");
    }

    [Benchmark]
    public void Batch()
    {
        if (Table == "dense")
        {
            Fm.ScoreBatch(_dense, _offsets, _indices, _values, _output);
        }
        else
        {
            _compact.ScoreBatch(_offsets, _indices, _values, _output);
        }
    }

    [Benchmark(OperationsPerInvoke = Singles)]
    public float Single()
    {
        float sum = 0;
        bool dense = Table == "dense";
        for (int r = 0; r < Singles; r++)
        {
            int start = _offsets[r], length = _offsets[r + 1] - start;
            ReadOnlySpan<int> idx = _indices.AsSpan(start, length);
            ReadOnlySpan<float> val = _values.AsSpan(start, length);
            sum += dense ? Fm.Score(_dense, idx, val) : _compact.Score(idx, val);
        }

        return sum;
    }
}
