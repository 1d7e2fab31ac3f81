using FmCodegen.Training;
using ScottPlot;

namespace FmCodegen.Cli.Commands;

/// <summary>The learning curves of a run as an SVG or PNG (ScottPlot): training loss and, when there is one, the
/// validation loss per epoch, with the refit epochs (if any) as a separate series.</summary>
internal static class LearningCurvePlot
{
    public static void Save(string path, FmTrainingResult result)
    {
        bool classification = result.Task == FmTask.BinaryClassification;
        var plot = new Plot();
        AddSeries(plot, result.History.Where(e => !e.Refit).ToList(), e => classification ? e.TrainLoss : e.TrainMetric, "train");
        List<FmEpoch> validated = result.History.Where(e => e.Validation is not null).ToList();
        if (validated.Count > 0)
        {
            AddSeries(plot, validated, e => e.Validation!.Loss, "validation");
        }

        List<FmEpoch> refit = result.History.Where(e => e.Refit).ToList();
        if (refit.Count > 0)
        {
            AddSeries(plot, refit, e => classification ? e.TrainLoss : e.TrainMetric, "train (refit on all rows)");
        }

        plot.Title($"FmCodegen: {(classification ? "logloss" : "RMSE")} per epoch");
        plot.XLabel("epoch");
        plot.YLabel(classification ? "logloss" : "RMSE");
        plot.ShowLegend();

        // through a temporary file beside the target that then replaces it: no half-written plot, and a temporary
        // left by a killed process is removed by the next write
        byte[] image = Path.GetExtension(path).Equals(".svg", StringComparison.OrdinalIgnoreCase)
            ? System.Text.Encoding.UTF8.GetBytes(plot.GetSvgXml(800, 500))
            : plot.GetImageBytes(800, 500, ImageFormat.Png);
        Data.AtomicFile.Write(path, stream => stream.Write(image), durable: false);
    }

    private static void AddSeries(Plot plot, List<FmEpoch> epochs, Func<FmEpoch, double> value, string label)
    {
        double[] xs = epochs.Select(e => (double)e.Epoch).ToArray();
        double[] ys = epochs.Select(value).ToArray();
        var scatter = plot.Add.Scatter(xs, ys);
        scatter.LegendText = label;
    }
}
