using System.Globalization;
using FmCodegen.IO;

namespace FmCodegen.Data.Tests;

/// <summary>Predictions of the real tools (libFM 1.4.4, xLearn 0.44) reproduced from their own model files.</summary>
public class CompatibilityTests
{
    private static float[] ReadPredictions(string path) =>
        Array.ConvertAll(File.ReadAllLines(path), line => float.Parse(line, CultureInfo.InvariantCulture));

    private static float[] Predict(ModelFile file, SparseDataset data, bool probability, (float Min, float Max)? clip = null)
    {
        var scorer = new SparseScorer(file.Model);
        float[] scores = new float[data.Count];
        scorer.Score(data.Offsets, data.Indices, data.Values, scores);
        for (int r = 0; r < scores.Length; r++)
        {
            scores[r] = probability ? Fm.Sigmoid(scores[r]) : scores[r];
            if (clip is { } c)
            {
                scores[r] = Math.Clamp(scores[r], c.Min, c.Max);
            }
        }

        return scores;
    }

    private static void AssertClose(float[] expected, float[] actual, double tolerance)
    {
        Assert.Equal(expected.Length, actual.Length);
        double worst = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            worst = Math.Max(worst, Math.Abs(expected[i] - actual[i]));
        }

        Assert.True(worst <= tolerance, $"largest difference {worst:G3} > {tolerance:G3}");
    }

    [Theory]
    [InlineData("a9a_sgd.libfm.model", null, false, "a9a_sgd.libfm.loaded.pred.head300")]
    [InlineData("a9a_fm_nonorm.xlearn.txt", "xlearn", false, "a9a_fm_nonorm.xlearn.pred.head300")]
    [InlineData("a9a_fm_norm.xlearn.txt", null, true, "a9a_fm_norm.xlearn.pred.head300")]
    public void ReproducesTheToolsProbabilitiesOnA9a(string model, string? format, bool norm, string predictions)
    {
        ModelFile file = ModelFiles.Load(TestFiles.Fixture(model), format is null ? null : ModelFormat.XLearn, norm);
        SparseDataset data = SparseDataset.Load(TestFiles.Fixture("a9a.t.head300"));
        Assert.Equal(300, data.Count);
        AssertClose(ReadPredictions(TestFiles.Fixture(predictions)), Predict(file, data, probability: true), 1e-4);
    }

    [Fact]
    public void XLearnNormalisationMatters()
    {
        // the same model scored without normalisation is far off: the option really changes the scoring
        ModelFile file = ModelFiles.Load(TestFiles.Fixture("a9a_fm_norm.xlearn.txt"));
        SparseDataset data = SparseDataset.Load(TestFiles.Fixture("a9a.t.head300"));
        float[] expected = ReadPredictions(TestFiles.Fixture("a9a_fm_norm.xlearn.pred.head300"));
        float[] plain = Predict(file, data, probability: true);
        Assert.Contains(Enumerable.Range(0, 300), i => Math.Abs(plain[i] - expected[i]) > 0.05);
    }

    [Fact]
    public void NormalisedScoreFollowsXLearnsFormula()
    {
        FmModel model = ModelFileTests.RandomModel(6, 4).WithInstanceNormalization(true);
        int[] idx = [0, 3, 5, 3];
        float[] x = [0.5f, 2f, -1f, 0.25f];
        double squares = x.Sum(v => (double)v * v);
        double norm = 1 / squares;
        double expected = model.Bias;
        for (int i = 0; i < idx.Length; i++)
        {
            expected += model.Weight(idx[i]) * x[i] * Math.Sqrt(norm);
            for (int j = i + 1; j < idx.Length; j++)
            {
                double dot = 0;
                for (int f = 0; f < 4; f++)
                {
                    dot += model.FactorRow(idx[i])[f] * model.FactorRow(idx[j])[f];
                }

                expected += dot * x[i] * norm * x[j] * norm;
            }
        }

        Assert.Equal(expected, Fm.Score(model, idx, x), 5);
        Assert.Equal(expected, Fm.ScoreNaive(model, idx, x), 8);
        Assert.Equal(model.Bias, Fm.Score(model, [], []));
        Assert.Equal(model.Bias, Fm.Score(model, [2], [0f]));
    }

    [Theory]
    [InlineData(4)]   // the library's generated kernel
    [InlineData(7)]   // the runtime-k kernel
    public void ANormalisedModelScoresTheSameThroughEveryApi(int k)
    {
        FmModel plain = ModelFileTests.RandomModel(40, k);
        FmModel model = plain.WithInstanceNormalization(true);
        Assert.True(model.InstanceNormalization);
        Assert.NotEqual(plain, model);
        var random = new Random(5);
        int rows = 700;
        int[] offsets = new int[rows + 1];
        var idx = new List<int>();
        var val = new List<float>();
        for (int r = 0; r < rows; r++)
        {
            for (int j = 0; j < 1 + (r % 6); j++)
            {
                idx.Add(random.Next(45));
                val.Add((float)(random.NextDouble() * 4 - 2));
            }

            offsets[r + 1] = idx.Count;
        }

        int[] indices = idx.ToArray();
        float[] values = val.ToArray();
        float[] batch = new float[rows], batchTwo = new float[rows], kernelBatch = new float[rows], scorer = new float[rows];
        Fm.ScoreBatch(model, offsets, indices, values, batch);
        Fm.ScoreBatch(model, offsets, indices, values, batchTwo, maxThreads: 2);
        Kernels.FmKernels.For(k).ScoreBatch(model, offsets, indices, values, kernelBatch);
        new SparseScorer(model, maxThreads: 2).Score(offsets, indices, values, scorer);
        for (int r = 0; r < rows; r++)
        {
            ReadOnlySpan<int> i = indices.AsSpan(offsets[r], offsets[r + 1] - offsets[r]);
            ReadOnlySpan<float> v = values.AsSpan(offsets[r], offsets[r + 1] - offsets[r]);
            float one = Fm.Score(model, i, v);
            Assert.Equal(one, batch[r]);
            Assert.Equal(one, batchTwo[r]);
            Assert.Equal(one, scorer[r]);
            Assert.Equal(one, kernelBatch[r]);
            Assert.Equal(one, Kernels.FmKernels.For(k).Score(model, i, v));
            Assert.Equal(one, Kernels.FmKernels.RuntimeSimd.Score(model, i, v), 1e-5f * (1 + Math.Abs(one)));
            Assert.Equal(Fm.ScoreNaive(model, i, v), one, 3);
            Assert.Equal(Fm.Sigmoid(one), Fm.Probability(model, i, v));
        }

        // the flag really changes the scoring
        float[] plainBatch = new float[rows];
        Fm.ScoreBatch(plain, offsets, indices, values, plainBatch);
        Assert.Contains(Enumerable.Range(0, rows), r => Math.Abs(plainBatch[r] - batch[r]) > 1e-3);
    }

    [Fact]
    public void ScorerCountsUnknownFeaturesAndTheyScoreZero()
    {
        FmModel model = ModelFileTests.RandomModel(5, 8);
        var scorer = new SparseScorer(model);
        float[] output = new float[3];
        scorer.Score([0, 2, 4, 5], [1, 9, 2, 7, 4], [1, 1, 1, 1, 1], output);
        Assert.Equal(2, scorer.UnknownNonZeros);
        Assert.Equal(2, scorer.RowsWithUnknown);
        Assert.Equal(9, scorer.MaxUnknownIndex);
        Assert.Equal(Fm.Score(model, [1], [1]), output[0], 6);
    }

    [Fact]
    public void ParallelNormalisedScoringMatchesOneThread()
    {
        FmModel model = ModelFileTests.RandomModel(50, 16);
        var random = new Random(3);
        int rows = 5000;
        int[] offsets = new int[rows + 1];
        var idx = new List<int>();
        var val = new List<float>();
        for (int r = 0; r < rows; r++)
        {
            for (int j = 0; j < 1 + (r % 7); j++)
            {
                idx.Add(random.Next(60));
                val.Add((float)random.NextDouble());
            }

            offsets[r + 1] = idx.Count;
        }

        float[] one = new float[rows], two = new float[rows];
        new SparseScorer(model.WithInstanceNormalization(true), maxThreads: 1).Score(offsets, idx.ToArray(), val.ToArray(), one);
        new SparseScorer(model.WithInstanceNormalization(true), maxThreads: 2).Score(offsets, idx.ToArray(), val.ToArray(), two);
        Assert.Equal(one, two);
    }

    [SkippableSharedDataFact]
    public void ReproducesLibFmRegressionOnMl100kWhenTheSharedDataIsThere()
    {
        string shared = TestFiles.SharedData()!;
        ModelFile file = ModelFiles.Load(Path.Combine(shared, "fixtures", "libfm", "ml100k_ua_als.libfm.model"));
        SparseDataset data = SparseDataset.Load(Path.Combine(shared, "ml100k", "ua.test.libfm"));
        float[] expected = ReadPredictions(Path.Combine(shared, "fixtures", "libfm", "ml100k_ua_als.libfm.loaded.pred"));
        AssertClose(expected, Predict(file, data, probability: false, clip: (1f, 5f)), 1e-4);
    }

    [SkippableSharedDataFact]
    public void ReproducesTheFullA9aFixturesWhenTheSharedDataIsThere()
    {
        string shared = TestFiles.SharedData()!;
        SparseDataset data = SparseDataset.Load(Path.Combine(shared, "a9a", "a9a.t"));
        AssertClose(ReadPredictions(Path.Combine(shared, "fixtures", "libfm", "a9a_sgd.libfm.loaded.pred")),
            Predict(ModelFiles.Load(Path.Combine(shared, "fixtures", "libfm", "a9a_sgd.libfm.model")), data, true), 1e-4);
        AssertClose(ReadPredictions(Path.Combine(shared, "fixtures", "xlearn", "a9a_fm_norm.xlearn.pred")),
            Predict(ModelFiles.Load(Path.Combine(shared, "fixtures", "xlearn", "a9a_fm_norm.xlearn.txt"), null, true), data, true), 1e-4);
        AssertClose(ReadPredictions(Path.Combine(shared, "fixtures", "xlearn", "a9a_fm_nonorm.xlearn.pred")),
            Predict(ModelFiles.Load(Path.Combine(shared, "fixtures", "xlearn", "a9a_fm_nonorm.xlearn.txt")), data, true), 1e-4);
    }
}

/// <summary>A fact that runs only when ../shared/data exists beside the repository (or FMCODEGEN_SHARED_DATA names it);
/// otherwise it is reported as skipped with the reason.</summary>
public sealed class SkippableSharedDataFactAttribute : FactAttribute
{
    public SkippableSharedDataFactAttribute()
    {
        if (TestFiles.SharedData() is null)
        {
            Skip = "../shared/data is missing (a fresh clone): the full-file compatibility checks need it; set FMCODEGEN_SHARED_DATA or put the data beside the repository.";
        }
    }
}
