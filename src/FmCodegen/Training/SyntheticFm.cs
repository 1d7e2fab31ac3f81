using FmCodegen.Data;

namespace FmCodegen.Training;

/// <summary>
/// Built-in data for demos and tests: examples drawn from a known Factorization Machine. Each example has one
/// active (value 1) feature in each of <c>fields</c> fields of <c>valuesPerField</c> features, chosen with a skew
/// towards low ids (as real categorical data); the target is the true FM's score plus Gaussian noise
/// (regression) or a label drawn with probability sigmoid(score) (classification, labels 0 / 1).
/// </summary>
internal static class SyntheticFm
{
    /// <summary>Draws the true model and <paramref name="rows"/> examples from it. The same arguments always give
    /// the same data.</summary>
    public static (SparseDataset Data, FmModel Truth) Generate(FmTask task, int rows, int fields = 6, int valuesPerField = 20,
        int embeddingSize = 4, double noise = 0.3, int seed = 1)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(rows);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(fields);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(valuesPerField);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(embeddingSize);
        var rng = new SplitMix64((ulong)(uint)seed + 0xA5A5A5A5UL);
        int numFeatures = fields * valuesPerField;
        var weights = new float[numFeatures];
        var factors = new float[numFeatures * embeddingSize];
        double factorScale = 1.0 / Math.Sqrt(embeddingSize * Math.Max(1, fields - 1) / 2.0);
        for (int i = 0; i < numFeatures; i++)
        {
            weights[i] = (float)(rng.NextGaussian() * 0.3);
        }

        for (int j = 0; j < factors.Length; j++)
        {
            factors[j] = (float)(rng.NextGaussian() * factorScale);
        }

        FmModel truth = FmModel.Create(task == FmTask.Regression ? 3f : -0.5f, weights, factors, embeddingSize);
        return (Sample(truth, task, rows, fields, valuesPerField, noise, rng), truth);
    }

    /// <summary>More examples from the same truth (for a test set): a different <paramref name="seed"/> gives new rows.</summary>
    public static SparseDataset Sample(FmModel truth, FmTask task, int rows, int fields, int valuesPerField, double noise, int seed) =>
        Sample(truth, task, rows, fields, valuesPerField, noise, new SplitMix64((ulong)(uint)seed + 0x5A5A5A5AUL));

    private static SparseDataset Sample(FmModel truth, FmTask task, int rows, int fields, int valuesPerField, double noise, SplitMix64 rng)
    {
        ArgumentNullException.ThrowIfNull(truth);
        var labels = new float[rows];
        var offsets = new int[rows + 1];
        var indices = new int[rows * fields];
        var values = new float[rows * fields];
        Array.Fill(values, 1f);
        for (int r = 0; r < rows; r++)
        {
            for (int f = 0; f < fields; f++)
            {
                // skewed towards low ids: the square of a uniform
                double u = rng.NextDouble();
                int value = Math.Min(valuesPerField - 1, (int)(u * u * valuesPerField));
                indices[(r * fields) + f] = (f * valuesPerField) + value;
            }

            offsets[r + 1] = (r + 1) * fields;
            float score = Fm.Score(truth, indices.AsSpan(r * fields, fields), values.AsSpan(r * fields, fields));
            labels[r] = task == FmTask.Regression
                ? (float)(score + (rng.NextGaussian() * noise))
                : rng.NextDouble() < Fm.Sigmoid(score) ? 1f : 0f;
        }

        return SparseDataset.Create(labels, offsets, indices, values);
    }
}
