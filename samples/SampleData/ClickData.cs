using FmCodegen.Data;

namespace FmCodegen.Samples;

/// <summary>
/// The samples' built-in data: clicks drawn from a known Factorization Machine. Each example has one active
/// (value 1) feature in each of <c>fields</c> categorical fields of <c>valuesPerField</c> values, skewed towards
/// low ids as real categories are; its label is 1 with probability sigmoid(score of the true model). This is demo
/// code, not part of the FmCodegen package: it shows how a <see cref="SparseDataset"/> is built from arrays.
/// </summary>
public static class ClickData
{
    /// <summary>Draws a true model with k = <paramref name="embeddingSize"/> and <paramref name="rows"/> examples
    /// from it. The same arguments give the same data.</summary>
    public static (SparseDataset Data, FmModel Truth) Generate(int rows, int fields, int valuesPerField, int embeddingSize, int seed)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(fields);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(valuesPerField);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(embeddingSize);
        var random = new Random(seed);
        int numFeatures = fields * valuesPerField;

        // weights ~ N(0, 0.3^2); factors scaled so the pairwise part has a spread of about one
        float[] weights = Normals(random, numFeatures, 0.3);
        float[] factors = Normals(random, numFeatures * embeddingSize, 1.0 / Math.Sqrt(embeddingSize * Math.Max(1, fields - 1) / 2.0));
        FmModel truth = FmModel.Create(bias: -0.5f, weights, factors, embeddingSize);
        return (Sample(truth, rows, fields, valuesPerField, seed + 1), truth);
    }

    /// <summary>More examples of the same true model (a test set: another <paramref name="seed"/>).</summary>
    public static SparseDataset Sample(FmModel truth, int rows, int fields, int valuesPerField, int seed)
    {
        ArgumentNullException.ThrowIfNull(truth);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(rows);
        var random = new Random(seed);
        var offsets = new int[rows + 1];
        var indices = new int[rows * fields];
        var values = new float[rows * fields];
        var labels = new float[rows];
        values.AsSpan().Fill(1f);
        for (int row = 0, at = 0; row < rows; row++)
        {
            for (int field = 0; field < fields; field++, at++)
            {
                double u = random.NextDouble();
                indices[at] = (field * valuesPerField) + Math.Min(valuesPerField - 1, (int)(u * u * valuesPerField));
            }

            offsets[row + 1] = at;
            float score = Fm.Score(truth, indices.AsSpan(at - fields, fields), values.AsSpan(at - fields, fields));
            labels[row] = random.NextDouble() < Fm.Sigmoid(score) ? 1f : 0f;
        }

        return SparseDataset.Create(labels, offsets, indices, values);
    }

    private static float[] Normals(Random random, int count, double scale)
    {
        var result = new float[count];
        for (int i = 0; i < count; i++)
        {
            // Box-Muller; 1 - NextDouble() is in (0, 1], so the logarithm is finite
            double radius = Math.Sqrt(-2.0 * Math.Log(1.0 - random.NextDouble()));
            result[i] = (float)(radius * Math.Cos(2.0 * Math.PI * random.NextDouble()) * scale);
        }

        return result;
    }
}
