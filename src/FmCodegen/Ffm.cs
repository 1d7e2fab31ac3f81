using System.Diagnostics.Contracts;
using FmCodegen.Kernels;

namespace FmCodegen;

/// <summary>
/// Pure scoring functions over an <see cref="FfmModel"/> (field-aware FM). Nothing here keeps state; functions that
/// produce many values write into a span the caller owns. Every function returns the same bits for the same model
/// and example, whichever kernel serves it.
/// </summary>
public static class Ffm
{
    /// <summary>
    /// The raw score of one example: nonzero a has field <paramref name="fields"/>[a], feature
    /// <paramref name="indices"/>[a] and value <paramref name="values"/>[a]. A nonzero whose feature or field the model
    /// does not know contributes nothing (its value still counts in the normalisation, as in libffm and xLearn).
    /// O(k n^2) through the best kernel for the model's k.
    /// </summary>
    /// <exception cref="ArgumentException">The spans differ in length, or a feature or field is negative.</exception>
    [Pure]
    public static float Score(FfmModel model, ReadOnlySpan<int> fields, ReadOnlySpan<int> indices, ReadOnlySpan<float> values)
    {
        ArgumentNullException.ThrowIfNull(model);
        return FfmKernels.For(model.EmbeddingSize).Score(model, fields, indices, values);
    }

    /// <summary>
    /// The reference: the definition, every pair a &lt; b of nonzero positions, accumulated in double, with the
    /// model's normalisation computed in double.
    /// </summary>
    [Pure]
    public static double ScoreNaive(FfmModel model, ReadOnlySpan<int> fields, ReadOnlySpan<int> indices, ReadOnlySpan<float> values)
    {
        ArgumentNullException.ThrowIfNull(model);
        FfmCore.CheckExample(fields, indices, values);
        int n = indices.Length;
        double squares = 0;
        for (int a = 0; a < n; a++)
        {
            squares += (double)values[a] * values[a];
        }

        (double linearScale, double pairScale) = NaiveScales(model.Normalization, squares);
        double linear = 0;
        double pairs = 0;
        for (int a = 0; a < n; a++)
        {
            if (!Known(model, fields[a], indices[a]))
            {
                continue;
            }

            linear += (double)model.Weight(indices[a]) * values[a];
            for (int b = a + 1; b < n; b++)
            {
                if (!Known(model, fields[b], indices[b]))
                {
                    continue;
                }

                ReadOnlySpan<float> u = model.FactorBlock(indices[a], fields[b]);
                ReadOnlySpan<float> v = model.FactorBlock(indices[b], fields[a]);
                double dot = 0;
                for (int c = 0; c < u.Length; c++)
                {
                    dot += (double)u[c] * v[c];
                }

                pairs += dot * values[a] * values[b];
            }
        }

        return model.Bias + (linearScale * linear) + (pairScale * pairs);
    }

    /// <summary>The logistic of the score: the probability of the positive class.</summary>
    [Pure]
    public static float Probability(FfmModel model, ReadOnlySpan<int> fields, ReadOnlySpan<int> indices, ReadOnlySpan<float> values) =>
        Fm.Sigmoid(Score(model, fields, indices, values));

    /// <summary>
    /// Scores a CSR batch: row r is fields/indices/values[offsets[r] .. offsets[r + 1]), its raw score goes to
    /// output[r]. <paramref name="maxThreads"/> = 1 scores on the calling thread, more splits the rows across cores
    /// (0 or less: all). Every row's score is the same whatever the thread count.
    /// </summary>
    public static void ScoreBatch(FfmModel model, ReadOnlySpan<int> offsets, ReadOnlySpan<int> fields, ReadOnlySpan<int> indices, ReadOnlySpan<float> values, Span<float> output, int maxThreads = 1)
    {
        ArgumentNullException.ThrowIfNull(model);
        FfmBatch.Score(FfmKernels.For(model.EmbeddingSize), model, offsets, fields, indices, values, output, maxThreads);
    }

    private static bool Known(FfmModel model, int field, int feature) =>
        (uint)field < (uint)model.NumFields && (uint)feature < (uint)model.NumFeatures;

    private static (double Linear, double Pair) NaiveScales(FfmNormalization normalization, double squares)
    {
        if (normalization == FfmNormalization.None || !(squares > 0))
        {
            return (1, 1);
        }

        return normalization == FfmNormalization.LibFfm ? (1, 1 / squares) : (1 / Math.Sqrt(squares), 1 / squares);
    }
}
