using System.Globalization;
using FmCodegen.Data;
using FmCodegen.Training;
using Spectre.Console;

namespace FmCodegen.Cli.Commands;

/// <summary>
/// The terminal's live view of a training run (Spectre.Console): a table that gains a row per epoch (losses are
/// logloss for classification, half the squared error / RMSE for regression), redrawn in place, its caption saying
/// how long is left; the last rows stay on screen when training ends. The epoch with the best validation loss so
/// far stays in the table, marked, even when newer rows would push it out. FM_PLAIN=1 asks for plain lines instead.
/// Used only when stdout is a terminal; redirected output gets plain lines (<see cref="TrainingRun"/>).
/// </summary>
internal static class LiveProgress
{
    public static FmTrainingResult Train(SparseDataset train, FmTrainingOptions options)
    {
        var view = new ProgressTable(options.Task == FmTask.BinaryClassification, options.Patience == 0, AnsiConsole.Profile.Width);
        FmTrainingResult? result = null;
        AnsiConsole.Live(view.Table).AutoClear(false).Overflow(VerticalOverflow.Ellipsis).Cropping(VerticalOverflowCropping.Top).Start(context =>
        {
            result = FmTrainer.Train(train, options, e =>
            {
                view.Add(e);
                context.Refresh();
            });
            view.Done();
            context.Refresh();
        });
        return result!;
    }
}

/// <summary>
/// The live table's content, kept apart from the terminal so a test can render it at any width: the last
/// <see cref="VisibleRows"/> epochs, plus the best epoch so far (by validation loss) pinned above them when it has
/// scrolled out, marked with '*' in every case. Headers are single words that never wrap.
/// </summary>
internal sealed class ProgressTable
{
    public const int VisibleRows = 20;
    public const string BestMark = "*";

    private readonly bool _classification;
    private readonly bool _noEarlyStopping;
    private readonly bool _showSpeed;
    private readonly bool _showTrainMetric;
    private readonly List<(FmEpoch Epoch, string[] Cells)> _rows = [];
    private (FmEpoch Epoch, string[] Cells)? _best;
    private double _seconds;
    private int _epochs;
    private bool _refit;

    /// <param name="classification">Classification (AUC column) or regression.</param>
    /// <param name="noEarlyStopping">True when the run cannot stop early (the time left is then exact).</param>
    /// <param name="width">The terminal's width: narrower terminals drop the speed and time columns, then the
    /// training metric, so that no row wraps and every header stays whole.</param>
    public ProgressTable(bool classification, bool noEarlyStopping, int width = 120)
    {
        _classification = classification;
        _noEarlyStopping = noEarlyStopping;
        _showSpeed = width >= 72;
        _showTrainMetric = width >= 54;
        Table = new Table().Border(TableBorder.Simple);
        Table.AddColumn(new TableColumn("epoch").NoWrap());
        Table.AddColumn(new TableColumn("loss").RightAligned().NoWrap());
        if (_showTrainMetric)
        {
            Table.AddColumn(new TableColumn(classification ? "acc" : "RMSE").RightAligned().NoWrap());
        }

        Table.AddColumn(new TableColumn(classification ? "val-loss" : "val-RMSE").RightAligned().NoWrap());
        if (classification)
        {
            Table.AddColumn(new TableColumn("val-AUC").RightAligned().NoWrap());
        }

        if (_showSpeed)
        {
            Table.AddColumn(new TableColumn("Mex/s").RightAligned().NoWrap());
            Table.AddColumn(new TableColumn("sec").RightAligned().NoWrap());
        }

        Table.Caption("training...");
    }

    public Table Table { get; }

    /// <summary>The epoch of the best validation loss so far (0 before any validated epoch).</summary>
    public int BestEpoch => _best?.Epoch.Epoch ?? 0;

    public void Add(FmEpoch e)
    {
        if (e.Refit != _refit)
        {
            (_seconds, _epochs, _refit) = (0, 0, e.Refit);
        }

        _seconds += e.Seconds;
        _epochs++;
        var cells = new List<string>
        {
            e.Refit ? $"refit {e.Epoch}/{e.PlannedEpochs}" : $"{e.Epoch}/{e.PlannedEpochs}",
            F(e.TrainLoss),
        };
        if (_showTrainMetric)
        {
            cells.Add(F(e.TrainMetric));
        }

        cells.Add(e.Validation is { } v ? F(v.Loss) : "");
        if (_classification)
        {
            cells.Add(e.Validation is { } w ? F(w.Auc) : "");
        }

        if (_showSpeed)
        {
            cells.Add(F(e.ExamplesPerSecond / 1e6, "F2"));
            cells.Add(F(e.Seconds, "F2"));
        }

        var row = (e, cells.ToArray());
        _rows.Add(row);
        if (!e.Refit && e.Validation is { } validation && (_best is null || validation.Loss < _best.Value.Epoch.Validation!.Loss))
        {
            _best = row;
        }

        Redraw();
        double left = Math.Max(0, e.PlannedEpochs - e.Epoch) * (_seconds / _epochs);
        string bound = e.Refit || _noEarlyStopping || e.Validation is null ? "" : "at most ";
        string best = _best is { } b && !e.Refit ? $"; {BestMark} best validation loss: epoch {b.Epoch.Epoch}" : "";
        Table.Caption(string.Create(CultureInfo.InvariantCulture, $"{(e.Refit ? "refit on all rows" : "training")}: {bound}{left:F1} s left{best}"));
    }

    public void Done()
    {
        string best = _best is { } b && !_refit ? $"; {BestMark} best validation loss: epoch {b.Epoch.Epoch}" : "";
        Table.Caption("done" + best);
    }

    private void Redraw()
    {
        Table.Rows.Clear();
        int bestIndex = _best is { } best ? _rows.FindIndex(r => ReferenceEquals(r.Cells, best.Cells)) : -1;
        int newest = VisibleRows;
        if (bestIndex >= 0 && bestIndex < _rows.Count - VisibleRows)
        {
            // the best row stays on screen above the newest ones, a gap row between them
            AddRow(_rows[bestIndex], marked: true);
            Table.AddRow(Enumerable.Repeat("...", Table.Columns.Count).ToArray());
            newest = VisibleRows - 2;
        }

        for (int i = Math.Max(0, _rows.Count - newest); i < _rows.Count; i++)
        {
            AddRow(_rows[i], marked: i == bestIndex);
        }
    }

    private void AddRow((FmEpoch Epoch, string[] Cells) row, bool marked)
    {
        string[] cells = (string[])row.Cells.Clone();
        if (marked)
        {
            cells[0] = $"{cells[0]} {BestMark}";
        }

        Table.AddRow(cells.Select(c => marked ? $"[bold]{Markup.Escape(c)}[/]" : Markup.Escape(c)).ToArray());
    }

    private static string F(double value, string format = "F4") => value.ToString(format, CultureInfo.InvariantCulture);
}
