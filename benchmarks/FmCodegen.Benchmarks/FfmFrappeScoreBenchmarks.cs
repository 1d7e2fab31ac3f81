using BenchmarkDotNet.Attributes;
using FmCodegen.Data;
using FmCodegen.IO;
using FmCodegen.Kernels;

namespace FmCodegen.Benchmarks;

/// <summary>
/// One field-aware example at a time on frappe itself, the workload the ML.NET figure was measured on
/// (PredictionEngine, 1,570 ns per frappe example, ../shared/docs/baselines.md): libffm's own k = 4 model of frappe
/// (../shared/data/fixtures/libffm/frappe_k4.libffm.model, 5,382 features x 10 fields, libffm normalisation) and
/// frappe's 28,860 test rows (../shared/data/frappe/frappe_te.ffm) scored one call each, in the file's order. Unlike
/// <see cref="FfmScoreBenchmarks"/>, whose features are drawn uniformly (every row of the 861 KB table equally
/// likely, the worst case for the caches), the features here come as often as they do in the data: a few users and
/// items, and context fields of a handful of values. The setup checks that every row's probability is libffm's own
/// prediction to 1e-4 and that the paths return the same bits. Needs the shared data folder beside the repository
/// (or FMCODEGEN_SHARED_DATA); without it the setup stops with a message saying so.
/// </summary>
public class FfmFrappeScoreBenchmarks
{
    private FfmModel _model = null!;
    private int[] _offsets = null!;
    private int[] _fields = null!;
    private int[] _indices = null!;
    private float[] _values = null!;

    [GlobalSetup]
    public void Setup()
    {
        string shared = FindSharedData();
        _model = FfmModelFiles.Load(Path.Combine(shared, "fixtures", "libffm", "frappe_k4.libffm.model"), FfmModelFormat.LibFfm).Model;
        SparseDataset data = SparseDataset.Load(Path.Combine(shared, "frappe", "frappe_te.ffm"), SparseFormat.LibFfm);
        _offsets = data.Offsets.ToArray();
        _fields = data.Fields.ToArray();
        _indices = data.Indices.ToArray();
        _values = data.Values.ToArray();

        string[] expected = File.ReadAllLines(Path.Combine(shared, "fixtures", "libffm", "frappe_k4.libffm.pred"));
        if (data.Count != Rows)
        {
            throw new InvalidOperationException($"frappe_te.ffm has {data.Count} rows, not {Rows}.");
        }

        if (expected.Length != data.Count)
        {
            throw new InvalidOperationException($"libffm's predictions have {expected.Length} rows, the data {data.Count}.");
        }

        for (int r = 0; r < data.Count; r++)
        {
            (int at, int n) = (_offsets[r], _offsets[r + 1] - _offsets[r]);
            float p = Ffm.Probability(_model, _fields.AsSpan(at, n), _indices.AsSpan(at, n), _values.AsSpan(at, n));
            if (Math.Abs(p - double.Parse(expected[r], System.Globalization.CultureInfo.InvariantCulture)) > 1e-4)
            {
                throw new InvalidOperationException($"row {r + 1}: {p} against libffm's {expected[r]}.");
            }
        }

        if (Declared() != Generated() || Runtime() != Generated())
        {
            throw new InvalidOperationException("The paths must return the same bits.");
        }

        Console.WriteLine($"// frappe: {data.Count:N0} rows, {_indices.Length:N0} nonzeros; model {_model.NumFeatures:N0} features x {_model.NumFields} fields x k = {_model.EmbeddingSize}");
    }

    private static string FindSharedData()
    {
        string? set = Environment.GetEnvironmentVariable("FMCODEGEN_SHARED_DATA");
        if (set is not null && File.Exists(Path.Combine(set, "frappe", "frappe_te.ffm")))
        {
            return set;
        }

        for (string? dir = AppContext.BaseDirectory; dir is not null; dir = Path.GetDirectoryName(dir))
        {
            string candidate = Path.Combine(dir, "..", "shared", "data");
            if (File.Exists(Path.Combine(candidate, "frappe", "frappe_te.ffm")))
            {
                return candidate;
            }
        }

        throw new FileNotFoundException("The frappe data is missing: FfmFrappeScoreBenchmarks needs the shared data folder at ../shared/data beside the repository (or FMCODEGEN_SHARED_DATA).");
    }

    /// <summary>frappe_te.ffm's rows (checked in the setup), so BenchmarkDotNet reports the time per example.</summary>
    private const int Rows = 28_860;

    [Benchmark(Description = "[FfmKernel(4)] Ctr4.Score", OperationsPerInvoke = Rows)]
    public float Declared()
    {
        float sum = 0;
        for (int r = 0; r < Rows; r++)
        {
            (int at, int n) = (_offsets[r], _offsets[r + 1] - _offsets[r]);
            sum += FfmCore.Score<Ctr4.Kernel>(_model, _fields.AsSpan(at, n), _indices.AsSpan(at, n), _values.AsSpan(at, n));
        }

        return sum;
    }

    [Benchmark(Description = "Ffm.Score (generated kernel)", OperationsPerInvoke = Rows)]
    public float Generated()
    {
        float sum = 0;
        for (int r = 0; r < Rows; r++)
        {
            (int at, int n) = (_offsets[r], _offsets[r + 1] - _offsets[r]);
            sum += Ffm.Score(_model, _fields.AsSpan(at, n), _indices.AsSpan(at, n), _values.AsSpan(at, n));
        }

        return sum;
    }

    [Benchmark(Description = "runtime-k kernel", OperationsPerInvoke = Rows)]
    public float Runtime()
    {
        FfmKernelEntry kernel = FfmKernels.Runtime;
        float sum = 0;
        for (int r = 0; r < Rows; r++)
        {
            (int at, int n) = (_offsets[r], _offsets[r + 1] - _offsets[r]);
            sum += kernel.Score(_model, _fields.AsSpan(at, n), _indices.AsSpan(at, n), _values.AsSpan(at, n));
        }

        return sum;
    }
}
