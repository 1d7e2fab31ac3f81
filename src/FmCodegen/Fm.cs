using System.Diagnostics.Contracts;
using System.Runtime.CompilerServices;
using FmCodegen.Kernels;

namespace FmCodegen;

/// <summary>
/// Pure scoring functions over an <see cref="FmModel"/>. Nothing here keeps state; functions that produce many
/// values write into a span the caller owns.
/// </summary>
public static class Fm
{
    /// <summary>
    /// The raw score y(x) of one sparse example, in O(kn) through the best kernel for the model's k (a generated
    /// one when registered, else the runtime-k SIMD kernel). Indices at or beyond NumFeatures contribute nothing.
    /// </summary>
    /// <exception cref="ArgumentException">The spans differ in length, or an index is negative.</exception>
    [Pure]
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float Score(FmModel model, ReadOnlySpan<int> indices, ReadOnlySpan<float> values)
    {
        ArgumentNullException.ThrowIfNull(model);
        return model.Order == 2
            ? FmKernels.For(model.EmbeddingSize).Score(model, indices, values)
            : FmOrder3Kernels.For(model.EmbeddingSize).Score(model, indices, values);
    }

    /// <summary>
    /// The reference: the definition itself, every pair i &lt; j of nonzero positions (and for an order-3 model every
    /// triple i &lt; j &lt; l, with the order-3 factors), in O(k n^2) (O(k n^3)), accumulated in double. A repeated
    /// index counts as two positions, as in the O(kn) identities.
    /// </summary>
    [Pure]
    public static double ScoreNaive(FmModel model, ReadOnlySpan<int> indices, ReadOnlySpan<float> values)
    {
        ArgumentNullException.ThrowIfNull(model);
        CheckExample(indices, values);
        if (model.InstanceNormalization)
        {
            return ScoreNaiveNormalized(model, indices, values);
        }

        int n = indices.Length;
        double score = model.Bias;
        for (int i = 0; i < n; i++)
        {
            score += (double)model.Weight(indices[i]) * values[i];
        }

        for (int i = 0; i < n; i++)
        {
            ReadOnlySpan<float> vi = model.FactorRow(indices[i]);
            for (int j = i + 1; j < n; j++)
            {
                ReadOnlySpan<float> vj = model.FactorRow(indices[j]);
                double dot = 0;
                for (int f = 0; f < vi.Length; f++)
                {
                    dot += (double)vi[f] * vj[f];
                }

                score += dot * values[i] * values[j];
            }
        }

        if (model.Order == 3)
        {
            score += TriplesNaive(model, indices, values);
        }

        return score;
    }

    /// <summary>sum over i &lt; j &lt; l of sum_f u_if u_jf u_lf x_i x_j x_l, in double.</summary>
    private static double TriplesNaive(FmModel model, ReadOnlySpan<int> indices, ReadOnlySpan<float> values)
    {
        int n = indices.Length;
        int k = model.EmbeddingSize;
        double sum = 0;
        for (int i = 0; i < n; i++)
        {
            ReadOnlySpan<float> ui = model.FactorRow(indices[i], 3);
            for (int j = i + 1; j < n; j++)
            {
                ReadOnlySpan<float> uj = model.FactorRow(indices[j], 3);
                for (int l = j + 1; l < n; l++)
                {
                    ReadOnlySpan<float> ul = model.FactorRow(indices[l], 3);
                    double dot = 0;
                    for (int f = 0; f < k; f++)
                    {
                        dot += (double)ui[f] * uj[f] * ul[f];
                    }

                    sum += dot * values[i] * values[j] * values[l];
                }
            }
        }

        return sum;
    }

    /// <summary>The logistic 1 / (1 + e^-y) of the score: the probability of the positive class.</summary>
    [Pure]
    public static float Probability(FmModel model, ReadOnlySpan<int> indices, ReadOnlySpan<float> values) =>
        Sigmoid(Score(model, indices, values));

    /// <summary>The logistic function 1 / (1 + e^-y), written so that it neither overflows nor loses the tails. The
    /// trainer's gradient, the metrics and <c>fm predict</c> use this same function.</summary>
    [Pure]
    public static float Sigmoid(float score) => FmMath.Sigmoid(score);

    /// <summary>
    /// DeepFM's FM layer for one example: 1/2 sum_f [(sum_i e_if)^2 - sum_i e_if^2] over dense [fields x k]
    /// embeddings, row-major. Uses the generated kernel for k when one is registered.
    /// </summary>
    [Pure]
    public static float CrossTerm(ReadOnlySpan<float> embeddings, int embeddingSize)
    {
        if (embeddingSize < 1 || embeddings.Length % embeddingSize != 0)
        {
            FmErrors.ThrowEmbeddingsShape(embeddings.Length, embeddingSize);
        }

        return FmKernels.For(embeddingSize).CrossTerm(embeddings, embeddingSize);
    }

    /// <summary>
    /// The FM layer over a batch: <paramref name="embeddings"/> is [batch x fields x k] row-major with
    /// batch = output.Length; writes one cross term per example.
    /// </summary>
    public static void CrossTermBatch(ReadOnlySpan<float> embeddings, int embeddingSize, Span<float> output)
    {
        int batch = output.Length;
        if (embeddingSize < 1 || (batch == 0 ? embeddings.Length != 0 : embeddings.Length % ((long)batch * embeddingSize) != 0))
        {
            FmErrors.ThrowEmbeddingsBatchShape(embeddings.Length, batch, embeddingSize);
        }

        if (batch == 0)
        {
            return;
        }

        int perExample = embeddings.Length / batch;
        FmKernel kernel = FmKernels.For(embeddingSize);
        for (int b = 0; b < batch; b++)
        {
            output[b] = kernel.CrossTerm(embeddings.Slice(b * perExample, perExample), embeddingSize);
        }
    }

    /// <summary>
    /// Scores a CSR batch: row r is indices/values[offsets[r] .. offsets[r + 1]), its raw score goes to output[r];
    /// offsets has output.Length + 1 entries. <paramref name="maxThreads"/> = 1 scores on the calling thread;
    /// more splits the rows across that many cores (0 or less: all cores). Every row's score is the same whatever
    /// the thread count.
    /// </summary>
    public static void ScoreBatch(FmModel model, ReadOnlySpan<int> offsets, ReadOnlySpan<int> indices, ReadOnlySpan<float> values, Span<float> output, int maxThreads = 1)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (model.Order == 2)
        {
            FmKernels.For(model.EmbeddingSize).ScoreBatch(model, offsets, indices, values, output, maxThreads);
        }
        else
        {
            FmOrder3Kernels.For(model.EmbeddingSize).ScoreBatch(model, offsets, indices, values, output, maxThreads);
        }
    }

    /// <summary>The reference with xLearn's instance normalisation: the definition over every pair in double, x
    /// scaled by sqrt(norm) in the linear term and by norm on both sides of each factor product.</summary>
    private static double ScoreNaiveNormalized(FmModel model, ReadOnlySpan<int> indices, ReadOnlySpan<float> values)
    {
        double squares = 0;
        foreach (float x in values)
        {
            squares += (double)x * x;
        }

        if (squares == 0)
        {
            return model.Bias;
        }

        double norm = 1 / squares;
        int n = indices.Length;
        double linear = 0;
        double pairs = 0;
        for (int i = 0; i < n; i++)
        {
            linear += (double)model.Weight(indices[i]) * values[i];
            ReadOnlySpan<float> vi = model.FactorRow(indices[i]);
            for (int j = i + 1; j < n; j++)
            {
                ReadOnlySpan<float> vj = model.FactorRow(indices[j]);
                double dot = 0;
                for (int f = 0; f < vi.Length; f++)
                {
                    dot += (double)vi[f] * vj[f];
                }

                pairs += dot * values[i] * values[j];
            }
        }

        return model.Bias + (Math.Sqrt(norm) * linear) + (norm * norm * pairs);
    }

    private static void CheckExample(ReadOnlySpan<int> indices, ReadOnlySpan<float> values)
    {
        if (indices.Length != values.Length)
        {
            FmErrors.ThrowLengthMismatch(indices.Length, values.Length);
        }

        foreach (int index in indices)
        {
            if (index < 0)
            {
                FmErrors.ThrowNegativeIndex(indices);
            }
        }
    }
}
