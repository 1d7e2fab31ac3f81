using System.Globalization;
using BenchmarkDotNet.Attributes;
using FmCodegen.Data;
using FmCodegen.IO;

namespace FmCodegen.Data.Benchmarks;

/// <summary>
/// Parse throughput of the libFM and libffm readers on frappe x20 (577,200 rows, 41 MB libFM / 53 MB libffm),
/// built in a temporary folder from ../shared/data/frappe/frappe_te.*; plus scoring and prediction formatting, the
/// other stages of `fm predict`. Files are read from memory so the disk is not measured.
/// </summary>
[MemoryDiagnoser]
public class ParseBenchmarks
{
    private byte[] _libfm = [];
    private byte[] _libffm = [];
    private SparseDataset _data = null!;
    private FmModel _model = null!;
    private float[] _scores = [];
    private readonly SparseBlock _block = new();
    private readonly byte[] _text = new byte[1 << 24];

    [GlobalSetup]
    public void Setup()
    {
        _libfm = Frappe.Repeat("frappe_te.libfm", 20);
        _libffm = Frappe.Repeat("frappe_te.ffm", 20);
        using (var stream = new MemoryStream(_libfm))
        using (var reader = new SparseTextReader(stream, SparseFormat.LibFm, "frappe x20"))
        {
            _data = reader.ReadToEnd();
        }

        _model = Frappe.RandomModel(_data.NumFeatures, 16);
        _scores = new float[_data.Count];
    }

    /// <summary>libFM text into one dataset (the same as SparseDataset.Load).</summary>
    [Benchmark(Baseline = true)]
    public int ParseLibFm()
    {
        using var stream = new MemoryStream(_libfm, writable: false);
        using var reader = new SparseTextReader(stream, SparseFormat.LibFm, "frappe x20");
        return reader.ReadToEnd().Count;
    }

    /// <summary>Only finding the lines (the floor under any parser of this design).</summary>
    [Benchmark]
    public long LinesOnly()
    {
        using var stream = new MemoryStream(_libfm, writable: false);
        using var lines = new ByteLineReader(stream);
        long bytes = 0;
        while (lines.TryReadLine(out ReadOnlySpan<byte> line))
        {
            bytes += line.Length;
        }

        return bytes;
    }

    /// <summary>libFM text streamed in blocks of 8,192 rows (what fm predict does).</summary>
    [Benchmark]
    public long ParseLibFmBlocks()
    {
        using var stream = new MemoryStream(_libfm, writable: false);
        using var reader = new SparseTextReader(stream, SparseFormat.LibFm, "frappe x20");
        long rows = 0;
        while (reader.ReadBlock(_block, 8192))
        {
            rows += _block.Count;
        }

        return rows;
    }

    [Benchmark]
    public int ParseLibFfm()
    {
        using var stream = new MemoryStream(_libffm, writable: false);
        using var reader = new SparseTextReader(stream, SparseFormat.LibFfm, "frappe x20 ffm");
        return reader.ReadToEnd().Count;
    }

    /// <summary>The same streamed libFM parse on the checked span parser only (no pointer fast path).</summary>
    [Benchmark]
    public long ParseLibFmBlocksChecked()
    {
        using var stream = new MemoryStream(_libfm, writable: false);
        using var reader = new SparseTextReader(stream, SparseFormat.LibFm, "frappe x20") { CheckedParserOnly = true };
        long rows = 0;
        while (reader.ReadBlock(_block, 8192))
        {
            rows += _block.Count;
        }

        return rows;
    }

    /// <summary>libffm streamed in blocks, with the parser's default path.</summary>
    [Benchmark]
    public long ParseLibFfmBlocks()
    {
        using var stream = new MemoryStream(_libffm, writable: false);
        using var reader = new SparseTextReader(stream, SparseFormat.LibFfm, "frappe x20 ffm");
        long rows = 0;
        while (reader.ReadBlock(_block, 8192))
        {
            rows += _block.Count;
        }

        return rows;
    }

    /// <summary>libffm streamed in blocks on the checked span parser only.</summary>
    [Benchmark]
    public long ParseLibFfmBlocksChecked()
    {
        using var stream = new MemoryStream(_libffm, writable: false);
        using var reader = new SparseTextReader(stream, SparseFormat.LibFfm, "frappe x20 ffm") { CheckedParserOnly = true };
        long rows = 0;
        while (reader.ReadBlock(_block, 8192))
        {
            rows += _block.Count;
        }

        return rows;
    }

    /// <summary>Scoring the parsed rows with a k = 16 model on one thread.</summary>
    [Benchmark]
    public float ScoreK16()
    {
        Fm.ScoreBatch(_model, _data.Offsets, _data.Indices, _data.Values, _scores, maxThreads: 1);
        return _scores[^1];
    }

    /// <summary>Formatting the predictions as text (shortest round-trip floats).</summary>
    [Benchmark]
    public int FormatPredictions()
    {
        int used = 0;
        foreach (float s in _scores)
        {
            used += NumberText.FormatFloat(Fm.Sigmoid(s), _text.AsSpan(used));
            _text[used++] = (byte)'\n';
        }

        return used;
    }

    /// <summary>The same with the runtime's shortest round-trip formatter, for comparison.</summary>
    [Benchmark]
    public int FormatPredictionsRuntime()
    {
        int used = 0;
        foreach (float s in _scores)
        {
            used += NumberText.FormatFloatRuntime(Fm.Sigmoid(s), _text.AsSpan(used));
            _text[used++] = (byte)'\n';
        }

        return used;
    }
}

internal static class Frappe
{
    public static string Folder()
    {
        foreach (string? candidate in new[] { Environment.GetEnvironmentVariable("FMCODEGEN_SHARED_DATA"), "../shared/data", "../../shared/data", "../../../shared/data", "/work/shared/data" })
        {
            if (candidate is not null && File.Exists(Path.Combine(candidate, "frappe", "frappe_te.libfm")))
            {
                return Path.Combine(candidate, "frappe");
            }
        }

        throw new InvalidOperationException("The frappe data is missing: put the shared data at ../shared/data beside the repository (or set FMCODEGEN_SHARED_DATA).");
    }

    public static byte[] Repeat(string name, int times)
    {
        byte[] one = File.ReadAllBytes(Path.Combine(Folder(), name));
        byte[] all = new byte[one.Length * times];
        for (int i = 0; i < times; i++)
        {
            one.CopyTo(all, i * one.Length);
        }

        return all;
    }

    public static FmModel RandomModel(int features, int k)
    {
        var random = new Random(1);
        float[] w = new float[features];
        float[] v = new float[features * k];
        for (int i = 0; i < w.Length; i++)
        {
            w[i] = (float)(random.NextDouble() - 0.5) * 0.2f;
        }

        for (int i = 0; i < v.Length; i++)
        {
            v[i] = (float)(random.NextDouble() - 0.5) * 0.2f;
        }

        return FmModel.Create(0.1f, w, v, k);
    }

    /// <summary>Writes frappe x20 (libFM) and a k = 16 native model for timing `fm predict` end to end.</summary>
    public static void WriteFiles(string folder)
    {
        Directory.CreateDirectory(folder);
        string data = Path.Combine(folder, "frappe_x20.libfm");
        File.WriteAllBytes(data, Repeat("frappe_te.libfm", 20));
        SparseDataset parsed = SparseDataset.Load(data);
        NativeModelFile.Save(new ModelFile(RandomModel(parsed.NumFeatures, 16), FmTask.BinaryClassification), Path.Combine(folder, "frappe_k16.fmb"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"wrote {data} ({new FileInfo(data).Length:N0} bytes, {parsed.Count:N0} rows) and frappe_k16.fmb"));
    }
}
