using System.Globalization;
using System.Security;
using System.Text;
using FmCodegen.Data;
using FmCodegen.Training;

namespace FmCodegen.Cli.Commands;

/// <summary>
/// The learning curves of a run as an SVG, written by hand (no plotting package, so no native graphics libraries
/// in the tool): training loss and, when there is one, the validation loss per epoch, the refit epochs (if any) as
/// a separate series, and the epoch the model comes from marked.
/// </summary>
internal static class LearningCurvePlot
{
    private const int Width = 800;
    private const int Height = 500;
    private const double Left = 80, Right = 30, Top = 50, Bottom = 60;
    private static readonly string[] Colors = ["#1f77b4", "#d62728", "#2ca02c"];

    /// <summary>True when <paramref name="path"/> names a file this plot can write (.svg).</summary>
    public static bool Supports(string path) => Path.GetExtension(path).Equals(".svg", StringComparison.OrdinalIgnoreCase);

    public static void Save(string path, FmTrainingResult result)
    {
        string svg = Render(result);
        AtomicFile.Write(path, stream =>
        {
            byte[] bytes = Encoding.UTF8.GetBytes(svg);
            stream.Write(bytes);
        }, durable: false);
    }

    internal static string Render(FmTrainingResult result)
    {
        bool classification = result.Task == FmTask.BinaryClassification;
        string loss = classification ? "logloss" : "RMSE";
        var series = new List<(string Label, List<(double X, double Y)> Points)>
        {
            ("train", result.History.Where(e => !e.Refit).Select(e => ((double)e.Epoch, classification ? e.TrainLoss : e.TrainMetric)).ToList()),
            ("validation", result.History.Where(e => e.Validation is not null).Select(e => ((double)e.Epoch, e.Validation!.Loss)).ToList()),
            ("train (refit on all rows)", result.History.Where(e => e.Refit).Select(e => ((double)e.Epoch, classification ? e.TrainLoss : e.TrainMetric)).ToList()),
        };
        series.RemoveAll(s => s.Points.Count == 0);
        foreach (var s in series)
        {
            s.Points.RemoveAll(p => !double.IsFinite(p.Y));
        }

        List<(double X, double Y)> all = series.SelectMany(s => s.Points).ToList();
        double xMax = Math.Max(2, all.Count == 0 ? 2 : all.Max(p => p.X));
        double yMin = all.Count == 0 ? 0 : all.Min(p => p.Y);
        double yMax = all.Count == 0 ? 1 : all.Max(p => p.Y);
        if (yMax - yMin < 1e-9)
        {
            (yMin, yMax) = (yMin - 0.5, yMax + 0.5);
        }

        double step = NiceStep((yMax - yMin) / 5);
        yMin = Math.Floor(yMin / step) * step;
        yMax = Math.Ceiling(yMax / step) * step;
        double plotW = Width - Left - Right, plotH = Height - Top - Bottom;
        double Px(double x) => Left + ((x - 1) / (xMax - 1) * plotW);
        double Py(double y) => Top + ((yMax - y) / (yMax - yMin) * plotH);

        var svg = new StringBuilder();
        Append(svg, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{Width}\" height=\"{Height}\" viewBox=\"0 0 {Width} {Height}\" font-family=\"sans-serif\" font-size=\"12\">\n");
        Append(svg, $"<rect width=\"{Width}\" height=\"{Height}\" fill=\"white\"/>\n");
        Append(svg, $"<text x=\"{Width / 2}\" y=\"28\" text-anchor=\"middle\" font-size=\"16\">FmCodegen: {loss} per epoch</text>\n");

        // grid and y ticks
        for (double y = yMin; y <= yMax + (step / 2); y += step)
        {
            double py = Py(y);
            Append(svg, $"<line x1=\"{N(Left)}\" y1=\"{N(py)}\" x2=\"{N(Width - Right)}\" y2=\"{N(py)}\" stroke=\"#e0e0e0\"/>\n");
            Append(svg, $"<text x=\"{N(Left - 8)}\" y=\"{N(py + 4)}\" text-anchor=\"end\">{Tick(y, step)}</text>\n");
        }

        // x ticks: about ten, on whole epochs
        int xStep = Math.Max(1, (int)NiceStep((xMax - 1) / 10));
        for (int x = 1; x <= xMax; x += xStep)
        {
            double px = Px(x);
            Append(svg, $"<line x1=\"{N(px)}\" y1=\"{N(Height - Bottom)}\" x2=\"{N(px)}\" y2=\"{N(Height - Bottom + 5)}\" stroke=\"black\"/>\n");
            Append(svg, $"<text x=\"{N(px)}\" y=\"{N(Height - Bottom + 20)}\" text-anchor=\"middle\">{x}</text>\n");
        }

        Append(svg, $"<rect x=\"{N(Left)}\" y=\"{N(Top)}\" width=\"{N(plotW)}\" height=\"{N(plotH)}\" fill=\"none\" stroke=\"black\"/>\n");
        Append(svg, $"<text x=\"{N(Left + (plotW / 2))}\" y=\"{N(Height - 15)}\" text-anchor=\"middle\">epoch</text>\n");
        Append(svg, $"<text transform=\"translate(20 {N(Top + (plotH / 2))}) rotate(-90)\" text-anchor=\"middle\">{loss}</text>\n");

        // the epoch the model comes from (not for a refit, whose model is its last epoch)
        bool refit = result.History.Any(e => e.Refit);
        if (!refit && result.BestEpoch >= 1 && result.History.Any(e => e.Validation is not null))
        {
            double px = Px(result.BestEpoch);
            Append(svg, $"<line x1=\"{N(px)}\" y1=\"{N(Top)}\" x2=\"{N(px)}\" y2=\"{N(Height - Bottom)}\" stroke=\"#555\" stroke-dasharray=\"4 4\"/>\n");
            Append(svg, $"<text x=\"{N(px + 4)}\" y=\"{N(Top + 14)}\" fill=\"#555\">best epoch {result.BestEpoch}</text>\n");
        }

        for (int s = 0; s < series.Count; s++)
        {
            string color = Colors[s % Colors.Length];
            string points = string.Join(' ', series[s].Points.Select(p => $"{N(Px(p.X))},{N(Py(p.Y))}"));
            Append(svg, $"<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" points=\"{points}\"/>\n");
            foreach ((double x, double y) in series[s].Points)
            {
                Append(svg, $"<circle cx=\"{N(Px(x))}\" cy=\"{N(Py(y))}\" r=\"3\" fill=\"{color}\"/>\n");
            }

            double ly = Top + 15 + (s * 18);
            double lx = Width - Right - 210;
            Append(svg, $"<line x1=\"{N(lx)}\" y1=\"{N(ly)}\" x2=\"{N(lx + 24)}\" y2=\"{N(ly)}\" stroke=\"{color}\" stroke-width=\"2\"/>\n");
            Append(svg, $"<text x=\"{N(lx + 30)}\" y=\"{N(ly + 4)}\">{SecurityElement.Escape(series[s].Label)}</text>\n");
        }

        svg.Append("</svg>\n");
        return svg.ToString();
    }

    private static void Append(StringBuilder builder, FormattableString text) => builder.Append(text.ToString(CultureInfo.InvariantCulture));

    private static string N(double value) => value.ToString("0.##", CultureInfo.InvariantCulture);

    private static string Tick(double value, double step)
    {
        int decimals = Math.Clamp((int)Math.Ceiling(-Math.Log10(step)), 0, 8);
        return value.ToString("F" + decimals.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
    }

    /// <summary>1, 2 or 5 times a power of ten, at least <paramref name="rough"/>.</summary>
    private static double NiceStep(double rough)
    {
        if (!(rough > 0))
        {
            return 1;
        }

        double power = Math.Pow(10, Math.Floor(Math.Log10(rough)));
        double scaled = rough / power;
        return (scaled <= 1 ? 1 : scaled <= 2 ? 2 : scaled <= 5 ? 5 : 10) * power;
    }
}
