using System.Globalization;
using FmCodegen.Data;
using FmCodegen.Training;
using Spectre.Console;

namespace FmCodegen.Cli.Commands;

/// <summary>
/// The terminal's live view of a training run (Spectre.Console): a table that gains a row per epoch (losses are
/// logloss for classification, half the squared error / RMSE for regression), redrawn in place, its caption saying
/// how long is left; the last rows stay on screen when training ends. FM_PLAIN=1 asks for plain lines instead. Used only when
/// stdout is a terminal; redirected output gets plain lines (<see cref="TrainingRun"/>).
/// </summary>
internal static class LiveProgress
{
    private const int VisibleRows = 20;

    public static FmTrainingResult Train(SparseDataset train, FmTrainingOptions options)
    {
        bool classification = options.Task == FmTask.BinaryClassification;
        var table = new Table().Border(TableBorder.Simple);
        table.AddColumn("epoch");
        table.AddColumn(new TableColumn("train loss").RightAligned());
        table.AddColumn(new TableColumn(classification ? "train acc" : "train RMSE").RightAligned());
        table.AddColumn(new TableColumn(classification ? "val loss" : "val RMSE").RightAligned());
        if (classification)
        {
            table.AddColumn(new TableColumn("val AUC").RightAligned());
        }

        table.AddColumn(new TableColumn("M ex/s").RightAligned());
        table.AddColumn(new TableColumn("s").RightAligned());
        table.Caption("training...");

        FmTrainingResult? result = null;
        double seconds = 0;
        int epochs = 0;
        bool refit = false;
        AnsiConsole.Live(table).AutoClear(false).Overflow(VerticalOverflow.Ellipsis).Cropping(VerticalOverflowCropping.Top).Start(context =>
        {
            result = FmTrainer.Train(train, options, e =>
            {
                if (e.Refit != refit)
                {
                    (seconds, epochs, refit) = (0, 0, e.Refit);
                }

                seconds += e.Seconds;
                epochs++;
                var cells = new List<string>
                {
                    e.Refit ? $"refit {e.Epoch}/{e.PlannedEpochs}" : $"{e.Epoch}/{e.PlannedEpochs}",
                    F(e.TrainLoss),
                    F(e.TrainMetric),
                    e.Validation is { } v ? F(v.Loss) : "",
                };
                if (classification)
                {
                    cells.Add(e.Validation is { } w ? F(w.Auc) : "");
                }

                cells.Add(F(e.ExamplesPerSecond / 1e6, "F2"));
                cells.Add(F(e.Seconds, "F2"));
                if (table.Rows.Count >= VisibleRows)
                {
                    table.Rows.RemoveAt(0);
                }

                table.AddRow(cells.Select(c => Markup.Escape(c)).ToArray());
                double left = Math.Max(0, e.PlannedEpochs - e.Epoch) * (seconds / epochs);
                string bound = e.Refit || options.Patience == 0 || e.Validation is null ? "" : "at most ";
                table.Caption(string.Create(CultureInfo.InvariantCulture, $"{(e.Refit ? "refit on all rows" : "training")}: {bound}{left:F1} s left"));
                context.Refresh();
            });
            table.Caption("done");
            context.Refresh();
        });
        return result!;
    }

    private static string F(double value, string format = "F4") => value.ToString(format, CultureInfo.InvariantCulture);
}
