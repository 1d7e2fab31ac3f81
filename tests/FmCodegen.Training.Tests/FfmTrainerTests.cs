using FmCodegen.Data;
using FmCodegen.Training;

namespace FmCodegen.Training.Tests;

/// <summary>Field-aware training: it learns a planted field-aware model, is deterministic, and honours its options.</summary>
public class FfmTrainerTests
{
    /// <summary>Rows of 4 one-hot fields (8 values each) labelled by a planted FFM's sign (classification) or score.</summary>
    private static SparseDataset Planted(int rows, int seed, bool classification)
    {
        var rng = new Random(seed);
        var planted = new float[32 * 4 * 2];
        var prng = new Random(99);
        for (int i = 0; i < planted.Length; i++)
        {
            planted[i] = (float)(prng.NextDouble() - 0.5) * 2;
        }

        FfmModel truth = FfmModel.Create(0f, new float[32], planted, 4, 2);
        var labels = new float[rows];
        var offsets = new int[rows + 1];
        var fields = new int[rows * 4];
        var indices = new int[rows * 4];
        var values = new float[rows * 4];
        for (int r = 0; r < rows; r++)
        {
            for (int f = 0; f < 4; f++)
            {
                fields[(r * 4) + f] = f;
                indices[(r * 4) + f] = (f * 8) + rng.Next(8);
                values[(r * 4) + f] = 1f;
            }

            offsets[r + 1] = (r + 1) * 4;
            float y = Ffm.Score(truth, fields.AsSpan(r * 4, 4), indices.AsSpan(r * 4, 4), values.AsSpan(r * 4, 4));
            labels[r] = classification ? (y > 0 ? 1 : 0) : y;
        }

        return SparseDataset.Create(labels, offsets, indices, values, fields);
    }

    [Fact]
    public void Classification_learns_a_planted_model_and_is_deterministic()
    {
        SparseDataset train = Planted(4000, 1, classification: true), test = Planted(1000, 2, classification: true);
        var options = new FfmTrainingOptions { Task = FmTask.BinaryClassification, EmbeddingSize = 4, Seed = 3, Epochs = 15, ValidationFraction = 0 };
        FfmTrainingResult a = FfmTrainer.Train(train, options);
        FfmTrainingResult b = FfmTrainer.Train(train, options);
        Assert.Equal(a.Model, b.Model);
        Assert.NotEqual(a.Model, FfmTrainer.Train(train, options with { Seed = 4 }).Model);
        var scores = new float[test.Count];
        Ffm.ScoreBatch(a.Model, test.Offsets, test.Fields, test.Indices, test.Values, scores);
        double accuracy = Metrics.FmMetrics.Accuracy(scores, test.Labels);
        Assert.True(accuracy > 0.9, $"accuracy {accuracy:F3}");
        Assert.True(a.History[^1].TrainLoss < a.History[0].TrainLoss);
    }

    [Fact]
    public void Regression_with_sgd_and_without_normalisation_fits_the_planted_scores()
    {
        SparseDataset train = Planted(4000, 5, classification: false), test = Planted(1000, 6, classification: false);
        var options = new FfmTrainingOptions
        {
            Task = FmTask.Regression, Solver = FfmSolver.Sgd, LearningRate = 0.05f, EmbeddingSize = 2, Epochs = 30,
            Normalization = FfmNormalization.None, ValidationFraction = 0,
        };
        FfmTrainingResult result = FfmTrainer.Train(train, options);
        var scores = new float[test.Count];
        Ffm.ScoreBatch(result.Model, test.Offsets, test.Fields, test.Indices, test.Values, scores);
        double rmse = Metrics.FmMetrics.Rmse(scores, test.Labels);
        double spread = Metrics.FmMetrics.Rmse(new float[test.Count], test.Labels);
        Assert.True(rmse < 0.3 * spread, $"RMSE {rmse:F3} against {spread:F3} for predicting 0");
        Assert.Equal(FfmNormalization.None, result.Model.Normalization);
    }

    [Fact]
    public void Early_stopping_refits_and_warm_start_continues()
    {
        SparseDataset train = Planted(3000, 7, classification: true);
        var options = new FfmTrainingOptions { Task = FmTask.BinaryClassification, Seed = 1 };
        FfmTrainingResult result = FfmTrainer.Train(train, options);
        Assert.Contains(result.History, e => e.Refit);
        Assert.Equal(train.Count, result.TrainExamples);
        Assert.Equal(result.BestEpoch, result.History.Count(e => e.Refit));

        FfmTrainingResult warm = FfmTrainer.Train(train, options with { WarmStart = result.Model, Epochs = 1, ValidationFraction = 0 });
        Assert.True(warm.History[0].TrainLoss < result.History[0].TrainLoss);
        Assert.Throws<ArgumentException>(() => FfmTrainer.Train(train, options with { WarmStart = result.Model, EmbeddingSize = 8 }));
        Assert.Throws<ArgumentException>(() => FfmTrainer.Train(train, options with { Threads = 0 }));
        Assert.Throws<ArgumentException>(() => FfmTrainer.Train(train, options with { Threads = 1025 }));
    }

    /// <summary>The model's bytes: bias, linear weights, every factor block.</summary>
    private static byte[] Bytes(FfmModel model)
    {
        var bytes = new List<byte>(BitConverter.GetBytes(model.Bias));
        for (int j = 0; j < model.NumFeatures; j++)
        {
            bytes.AddRange(BitConverter.GetBytes(model.Weight(j)));
            for (int f = 0; f < model.NumFields; f++)
            {
                bytes.AddRange(System.Runtime.InteropServices.MemoryMarshal.AsBytes(model.FactorBlock(j, f)).ToArray());
            }
        }

        return bytes.ToArray();
    }

    [Theory]
    [InlineData(2, FfmSolver.AdaGrad)]
    [InlineData(3, FfmSolver.AdaGrad)]
    [InlineData(4, FfmSolver.Sgd)]
    public void Threads_give_the_same_bytes_for_the_same_seed_and_thread_count_and_still_learn(int threads, FfmSolver solver)
    {
        // 40,000 rows: with 8,192 rows per thread and window, several windows (and merges) per epoch
        SparseDataset train = Planted(40_000, 11, classification: true), test = Planted(2000, 12, classification: true);
        var options = new FfmTrainingOptions
        {
            Task = FmTask.BinaryClassification, Solver = solver, LearningRate = solver == FfmSolver.Sgd ? 0.05f : 0.2f, EmbeddingSize = 2,
            Seed = 5, Epochs = 4, ValidationFraction = 0, Threads = threads,
        };
        FfmTrainingResult a = FfmTrainer.Train(train, options);
        FfmTrainingResult b = FfmTrainer.Train(train, options);
        byte[] bytes = Bytes(a.Model);
        Assert.Equal(bytes, Bytes(b.Model));
        Assert.NotEqual(bytes, Bytes(FfmTrainer.Train(train, options with { Threads = 1 }).Model));
        Assert.NotEqual(bytes, Bytes(FfmTrainer.Train(train, options with { Seed = 6 }).Model));
        var scores = new float[test.Count];
        Ffm.ScoreBatch(a.Model, test.Offsets, test.Fields, test.Indices, test.Values, scores);
        double accuracy = Metrics.FmMetrics.Accuracy(scores, test.Labels);
        Assert.True(accuracy > 0.9, $"accuracy {accuracy:F3} with {threads} threads");
    }

    [Fact]
    public void Early_stopping_with_threads_is_deterministic()
    {
        SparseDataset train = Planted(6000, 13, classification: true);
        var options = new FfmTrainingOptions { Task = FmTask.BinaryClassification, Seed = 2, Threads = 2 };
        FfmTrainingResult a = FfmTrainer.Train(train, options);
        FfmTrainingResult b = FfmTrainer.Train(train, options);
        Assert.Equal(Bytes(a.Model), Bytes(b.Model));
        Assert.Equal(a.BestEpoch, b.BestEpoch);
        Assert.Equal(a.History.Select(e => e.ValidationLoss), b.History.Select(e => e.ValidationLoss));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Rows_without_nonzeros_train_wherever_the_shuffle_puts_them(bool unitValues)
    {
        // two rows, one empty: over these seeds the shuffled copy has the empty row first and last
        int[] offsets = [0, 2, 2];
        int[] indices = [0, 1], fields = [0, 1];
        float[] labels = [1, 0];
        for (int seed = 1; seed <= 8; seed++)
        {
            SparseDataset data = SparseDataset.FromTrustedArrays(labels, offsets, indices, unitValues ? null : [1f, 0.5f], fields, 2, 2);
            FfmTrainingResult result = FfmTrainer.Train(data, new FfmTrainingOptions { Task = FmTask.BinaryClassification, Epochs = 2, ValidationFraction = 0, Seed = seed });
            Assert.Equal(2, result.History.Count);
            Assert.All(result.History, e => Assert.True(double.IsFinite(e.TrainLoss)));
        }
    }

    /// <summary>The rows a held-out split keeps and holds out, as FfmTrainer chose them before it stopped copying
    /// them: the seeded shuffle of 0 .. count - 1, its first round(count x fraction) held out, both parts sorted.</summary>
    private static (int[] Fit, int[] Held) ReferenceSplit(int count, double fraction, int seed)
    {
        int[] order = Enumerable.Range(0, count).ToArray();
        new SplitMix64(unchecked((ulong)seed * 0x9E3779B97F4A7C15UL) ^ 0x5EEDUL).Shuffle(order);
        int held = Math.Max(1, (int)Math.Round(count * fraction));
        int[] heldRows = order[..held], fitRows = order[held..];
        Array.Sort(heldRows);
        Array.Sort(fitRows);
        return (fitRows, heldRows);
    }

    /// <summary>The given rows as a dataset of their own with a value array (ones too), numbering features and
    /// fields as <paramref name="data"/> does.</summary>
    private static SparseDataset Rows(SparseDataset data, int[] rows)
    {
        var labels = new List<float>();
        var offsets = new List<int> { 0 };
        var indices = new List<int>();
        var fields = new List<int>();
        var values = new List<float>();
        foreach (int r in rows)
        {
            labels.Add(data.Labels[r]);
            indices.AddRange(data.RowIndices(r).ToArray());
            fields.AddRange(data.RowFields(r).ToArray());
            values.AddRange(data.RowValues(r).ToArray());
            offsets.Add(indices.Count);
        }

        return SparseDataset.FromTrustedArrays(labels.ToArray(), offsets.ToArray(), indices.ToArray(), values.ToArray(), fields.ToArray(), data.NumFeatures, data.NumFields);
    }

    /// <summary><paramref name="data"/> with every third row's values halved (not all 1).</summary>
    private static SparseDataset Scaled(SparseDataset data)
    {
        float[] values = data.Values.ToArray();
        for (int r = 0; r < data.Count; r += 3)
        {
            for (int a = data.Offsets[r]; a < data.Offsets[r + 1]; a++)
            {
                values[a] = 0.5f;
            }
        }

        return SparseDataset.FromTrustedArrays(data.Labels.ToArray(), data.Offsets.ToArray(), data.Indices.ToArray(), values, data.Fields.ToArray(), data.NumFeatures, data.NumFields);
    }

    [Theory]
    [InlineData(10, 0.1, 1)]
    [InlineData(11, 0.5, 2)]
    [InlineData(64, 0.1, 3)]
    [InlineData(65, 0.3, 4)]
    [InlineData(1000, 0.1, 5)]
    [InlineData(4097, 0.9, 6)]
    public void The_split_holds_out_the_rows_it_always_did_and_lists_both_parts_in_file_order(int count, double fraction, int seed)
    {
        (ReadOnlyMemory<int> fit, ReadOnlyMemory<int> held) = FfmTrainer.Split(count, fraction, seed);
        (int[] expectedFit, int[] expectedHeld) = ReferenceSplit(count, fraction, seed);
        Assert.Equal(expectedFit, fit.ToArray());
        Assert.Equal(expectedHeld, held.ToArray());
    }

    [Theory]
    [InlineData(true, 1)]
    [InlineData(false, 1)]
    [InlineData(true, 2)]
    [InlineData(false, 2)]
    public void A_held_out_split_trains_the_model_its_rows_give_as_training_and_validation_data(bool unitValues, int threads)
    {
        // the split reads the rows where they are (the fit rows through a list, the held-out rows scored in place);
        // the same model, validation losses and best epoch as the rows copied into two datasets, the fit set with
        // a value array (ones when the data's values are all 1, so the copy trains through the kernels' value path
        // and the split through the ones path: the same bits)
        SparseDataset planted = Planted(3000, 21, classification: true);
        SparseDataset train = unitValues ? planted : Scaled(planted);
        Assert.Equal(unitValues, train.UnitValues);
        var options = new FfmTrainingOptions { Task = FmTask.BinaryClassification, Seed = 7, Epochs = 6, Threads = threads };
        (int[] fitRows, int[] heldRows) = ReferenceSplit(train.Count, options.ValidationFraction, options.Seed);
        SparseDataset fit = Rows(train, fitRows), held = Rows(train, heldRows);
        Assert.False(fit.UnitValues);

        FfmTrainingResult split = FfmTrainer.Train(train, options);
        FfmTrainingResult copied = FfmTrainer.Train(fit, options with { Validation = held });
        Assert.Equal(Bytes(copied.Model), Bytes(split.Model));
        Assert.Equal(copied.History.Select(e => e.ValidationLoss), split.History.Select(e => e.ValidationLoss));
        Assert.Equal(copied.History.Select(e => e.TrainLoss), split.History.Select(e => e.TrainLoss));
        Assert.Equal(copied.BestEpoch, split.BestEpoch);
        Assert.Equal((fitRows.Length, heldRows.Length), (split.TrainExamples, split.ValidationExamples));

        // features past a cap dropped by the copy (the one-hot path and the value path drop the same nonzeros)
        FfmTrainingOptions capped = options with { MaxFeatures = 20 };
        Assert.Equal(Bytes(FfmTrainer.Train(fit, capped with { Validation = held }).Model), Bytes(FfmTrainer.Train(train, capped).Model));

        // without epochs: the refit on every row trains the best epoch's count of epochs, as a run without a split
        FfmTrainingResult refit = FfmTrainer.Train(train, options with { Epochs = null });
        FfmTrainingResult direct = FfmTrainer.Train(train, options with { Epochs = refit.BestEpoch, ValidationFraction = 0 });
        Assert.Equal(Bytes(direct.Model), Bytes(refit.Model));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void Early_stopping_keeps_the_best_epochs_model_while_later_epochs_are_scored(int threads)
    {
        // labels partly flipped and a large learning rate: the validation loss gets worse after a few epochs, and
        // the model of the best epoch (kept while the later ones are built and scored) is the one returned: the
        // same bytes as a run that stops at that epoch
        SparseDataset train = Planted(2000, 31, classification: true);
        float[] labels = train.Labels.ToArray();
        for (int r = 0; r < labels.Length; r += 4)
        {
            labels[r] = 1 - labels[r];
        }

        train = SparseDataset.FromTrustedArrays(labels, train.Offsets.ToArray(), train.Indices.ToArray(), null, train.Fields.ToArray(), train.NumFeatures, train.NumFields);
        var options = new FfmTrainingOptions { Task = FmTask.BinaryClassification, Seed = 3, Epochs = 30, LearningRate = 0.5f, Lambda = 0, Threads = threads, Patience = 3 };
        FfmTrainingResult result = FfmTrainer.Train(train, options);
        Assert.True(result.BestEpoch > 1 && result.BestEpoch < result.History.Count, $"best epoch {result.BestEpoch} of {result.History.Count}");
        FfmTrainingResult stopped = FfmTrainer.Train(train, options with { Epochs = result.BestEpoch });
        Assert.Equal(result.BestEpoch, stopped.BestEpoch);
        Assert.Equal(Bytes(stopped.Model), Bytes(result.Model));
    }

    [Theory]
    [InlineData(4, FfmSolver.AdaGrad, true, FfmNormalization.XLearn)]
    [InlineData(1, FfmSolver.AdaGrad, false, FfmNormalization.None)]
    [InlineData(8, FfmSolver.Sgd, true, FfmNormalization.LibFfm)]
    [InlineData(16, FfmSolver.AdaGrad, true, FfmNormalization.XLearn)]
    public void The_warm_up_trains_a_made_up_model_of_its_own_for_any_options(int k, FfmSolver solver, bool linear, FfmNormalization normalization)
    {
        // fm train runs it on another thread while parsing (it compiles the training methods): whatever the options,
        // it neither throws nor changes what a run trains
        SparseDataset train = Planted(500, 41, classification: true);
        var options = new FfmTrainingOptions
        {
            Task = FmTask.BinaryClassification, EmbeddingSize = k, Solver = solver, UseLinear = linear, Normalization = normalization,
            Epochs = 2, Threads = 2, MaxFeatures = 20, Validation = Planted(50, 42, classification: true),
        };
        byte[] before = Bytes(FfmTrainer.Train(train, options).Model);
        FfmTrainer.WarmUp(options);
        FfmTrainer.WarmUp(options with { Task = FmTask.Regression, Validation = null });
        Assert.Equal(before, Bytes(FfmTrainer.Train(train, options).Model));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(16)]
    [InlineData(17)]
    [InlineData(18)]
    [InlineData(33)]
    [InlineData(1000)]
    public void The_epoch_copys_shuffle_is_the_generators_fisher_yates(int count)
    {
        // the copy's order draws each step's partner ahead of the swap (to prefetch it): the same draws in the same
        // order as SplitMix64.Shuffle, so the same permutation and the generator left in the same state
        var rows = new FfmRow[count + 1];
        int[] expected = new int[count];
        for (int i = 0; i < count; i++)
        {
            rows[i].Start = expected[i] = (3 * i) + 1;
        }

        var reference = new SplitMix64(77);
        var ahead = new SplitMix64(77);
        reference.Shuffle(expected);
        FfmEpochData.Shuffle(rows, count, ahead);
        Assert.Equal(expected, rows.Take(count).Select(r => r.Start));
        Assert.Equal(reference.NextULong(), ahead.NextULong());
    }

    [Fact]
    public void Data_without_fields_is_refused()
    {
        SparseDataset plain = SparseDataset.Create([1f], [0, 1], [0], [1f]);
        Assert.Contains("libffm", Assert.Throws<ArgumentException>(() => FfmTrainer.Train(plain, new FfmTrainingOptions { Task = FmTask.Regression })).Message, StringComparison.Ordinal);
    }
}
