using System.Diagnostics;
using System.Globalization;
using BenchmarkDotNet.Running;

namespace FmCodegen.Data.Benchmarks;

public static class Program
{
    /// <summary>
    /// BenchmarkDotNet by default (e.g. <c>--filter *Parse*</c>). <c>--quick</c> times each stage a few times with a
    /// stopwatch (seconds, not minutes); <c>--write-files DIR</c> writes frappe x20 and a k = 16 model for `fm predict`.
    /// </summary>
    public static void Main(string[] args)
    {
        if (args.Length >= 1 && args[0] == "--quick")
        {
            Quick();
            return;
        }

        if (args.Length >= 2 && args[0] == "--write-files")
        {
            Frappe.WriteFiles(args[1]);
            return;
        }

        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
    }

    private static void Quick()
    {
        var bench = new ParseBenchmarks();
        bench.Setup();
        Time("lines only (no parsing)", 41_050_580, () => bench.LinesOnly());
        Time("parse libFM (one dataset)", 41_050_580, () => bench.ParseLibFm());
        Time("parse libFM (blocks of 8192)", 41_050_580, () => bench.ParseLibFmBlocks());
        Time("parse libffm (one dataset)", 52_594_580, () => bench.ParseLibFfm());
        Time("parse libFM blocks, checked", 41_050_580, () => bench.ParseLibFmBlocksChecked());
        Time("parse libffm blocks", 52_594_580, () => bench.ParseLibFfmBlocks());
        Time("parse libffm blocks, checked", 52_594_580, () => bench.ParseLibFfmBlocksChecked());
        Time("score k=16, 1 thread", 0, () => bench.ScoreK16());
        Time("format predictions", 0, () => bench.FormatPredictions());
        Time("format predictions (runtime)", 0, () => bench.FormatPredictionsRuntime());
    }

    private static void Time(string name, long bytes, Action action)
    {
        action();
        double best = double.MaxValue;
        for (int i = 0; i < 7; i++)
        {
            var clock = Stopwatch.StartNew();
            action();
            best = Math.Min(best, clock.Elapsed.TotalSeconds);
        }

        string rate = bytes > 0 ? string.Create(CultureInfo.InvariantCulture, $", {bytes / best / 1e6:F0} MB/s") : "";
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name,-32} best {best * 1000:F1} ms{rate}, {577_200 / best / 1e6:F2} M rows/s"));
    }
}
