using FmCodegen.Data;
using FmCodegen.IO;
using FmCodegen.Training;

namespace FmCodegen.Training.Tests;

/// <summary>
/// Hashed data: a few features spread over a large index space train as the same features at compact ids, and the
/// model file holds only them.
/// </summary>
public class HashedFeatureTests
{
    private const int Spread = 4099;
    private const int Offset = 11;

    /// <summary>The same rows with every id i moved to i * 4099 + 11: rising, so compact ids keep their order.</summary>
    private static SparseDataset SpreadIds(SparseDataset data)
    {
        int[] indices = [.. data.Indices.ToArray().Select(i => (i * Spread) + Offset)];
        return SparseDataset.Create(data.Labels, data.Offsets, indices, data.Values);
    }

    private static (SparseDataset Dense, SparseDataset Spread) Data(int seed)
    {
        (SparseDataset data, _) = SyntheticFm.Generate(FmTask.BinaryClassification, rows: 3000, fields: 5, valuesPerField: 30, seed: seed);
        return (data, SpreadIds(data));
    }

    [Theory]
    [InlineData(FmSolver.AdaGrad, 1)]
    [InlineData(FmSolver.AdaGrad, 2)]
    [InlineData(FmSolver.Sgd, 2)]
    [InlineData(FmSolver.Ftrl, 1)]
    public void SpreadIdsTrainTheSameParametersAsCompactOnes(FmSolver solver, int threads)
    {
        (SparseDataset dense, SparseDataset spread) = Data(seed: 4);
        var options = new FmTrainingOptions
        {
            Task = FmTask.BinaryClassification,
            Solver = solver,
            EmbeddingSize = 8,
            Epochs = 3,
            Threads = threads,
            Seed = 9,
        };
        FmModel a = FmTrainer.Train(dense, options).Model;
        FmTrainingResult result = FmTrainer.Train(spread, options);
        FmModel b = result.Model;

        Assert.Equal(spread.NumFeatures, b.NumFeatures);
        Assert.Equal(((dense.NumFeatures - 1) * Spread) + Offset + 1, b.NumFeatures);
        Assert.Equal(a.Bias, b.Bias);
        for (int i = 0; i < a.NumFeatures; i++)
        {
            int j = (i * Spread) + Offset;
            Assert.Equal(a.Weight(i), b.Weight(j));
            Assert.True(a.FactorRow(i).SequenceEqual(b.FactorRow(j)), $"feature {i} (spread {j})");
        }

        // the ids between hold nothing
        Assert.Equal(0f, b.Weight(Offset + 1));
        Assert.True(b.FactorRow(Offset + 1).SequenceEqual(new float[8]));

        // the scores agree row for row
        for (int r = 0; r < 50; r++)
        {
            Assert.Equal(Fm.Score(a, dense.RowIndices(r), dense.RowValues(r)), Fm.Score(b, spread.RowIndices(r), spread.RowValues(r)));
        }
    }

    [Fact]
    public void TheModelFileOfAHashedModelHoldsItsFeaturesOnly()
    {
        (SparseDataset dense, SparseDataset spread) = Data(seed: 5);
        var options = new FmTrainingOptions { Task = FmTask.BinaryClassification, EmbeddingSize = 8, Epochs = 2, Seed = 1 };
        FmModel a = FmTrainer.Train(dense, options).Model;
        FmModel b = FmTrainer.Train(spread, options).Model;
        using var denseFile = new MemoryStream();
        using var spreadFile = new MemoryStream();
        NativeModelFile.Write(new ModelFile(a, FmTask.BinaryClassification), denseFile);
        NativeModelFile.Write(new ModelFile(b, FmTask.BinaryClassification), spreadFile);
        Assert.True(spreadFile.Length <= denseFile.Length + (dense.NumFeatures * sizeof(int)), $"{spreadFile.Length} bytes for {denseFile.Length}");

        ModelFile back = NativeModelFile.Read(new MemoryStream(spreadFile.ToArray()), "hashed.fmb", spreadFile.Length);
        Assert.Equal(b, back.Model);
        Assert.Equal(spread.NumFeatures, back.Model.NumFeatures);
    }

    [Fact]
    public void ValidationOnlyFeaturesAndAWarmStartKeepTheirIds()
    {
        (SparseDataset dense, SparseDataset spread) = Data(seed: 6);
        // a validation set with one feature the training rows never have, far beyond them
        int unseen = spread.NumFeatures + 100_000;
        SparseDataset validation = SparseDataset.Create([1f, 0f], [0, 2, 3], [Offset, unseen, Offset + Spread], [1f, 1f, 1f]);
        var options = new FmTrainingOptions { Task = FmTask.BinaryClassification, EmbeddingSize = 4, Epochs = 2, Seed = 3, Validation = validation };
        FmTrainingResult first = FmTrainer.Train(spread, options);
        Assert.Equal(unseen + 1, first.Model.NumFeatures);
        Assert.Equal(0f, first.Model.Weight(unseen));
        Assert.True(first.Model.FactorRow(unseen).SequenceEqual(new float[4]));
        Assert.NotNull(first.History[^1].Validation);
        Assert.Same(validation, first.Options.Validation);

        // warm start from the hashed model: training goes on from its parameters at the same ids
        FmTrainingResult second = FmTrainer.Train(spread, options with { WarmStart = first.Model, Epochs = 0 });
        Assert.Equal(first.Model.Bias, second.Model.Bias);
        for (int i = 0; i < dense.NumFeatures; i++)
        {
            int j = (i * Spread) + Offset;
            Assert.True(first.Model.FactorRow(j).SequenceEqual(second.Model.FactorRow(j)), $"feature {j}");
            Assert.Equal(first.Model.Weight(j), second.Model.Weight(j));
        }
    }
}
