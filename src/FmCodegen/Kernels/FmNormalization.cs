using System.ComponentModel;

namespace FmCodegen.Kernels;

/// <summary>
/// xLearn's instance normalisation, the one place its arithmetic lives: every scoring entry point (Fm.Score,
/// Fm.ScoreBatch, the kernels' Score and ScoreBatch, generated ones included) sends a model with
/// <see cref="FmModel.InstanceNormalization"/> here. Called by generated code; not for direct use.
/// </summary>
/// <remarks>With norm = 1 / sum_j x_j^2 over the example, xLearn scales x by sqrt(norm) in the linear term and by
/// norm on both sides of every factor product, so y = w0 + sqrt(norm) linear + norm^2 pairwise, where linear and
/// pairwise are the plain terms over the unscaled x. An example whose values are all zero scores as the bias.</remarks>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class FmNormalization
{
    /// <summary>The normalised score of one example; <paramref name="kernel"/> computes the plain terms.</summary>
    public static float Score(FmKernel kernel, FmModel model, ReadOnlySpan<int> indices, ReadOnlySpan<float> values)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        ArgumentNullException.ThrowIfNull(model);
        if (indices.Length != values.Length)
        {
            FmErrors.ThrowLengthMismatch(indices.Length, values.Length);
        }

        return ScoreOne(kernel, model, FmRows.Of(model), indices, values);
    }

    /// <summary>Scores the rows [0, output.Length) of a CSR batch on the calling thread, normalised.</summary>
    public static void ScoreBatch(FmKernel kernel, FmModel model, ReadOnlySpan<int> offsets, ReadOnlySpan<int> indices, ReadOnlySpan<float> values, Span<float> output)
    {
        ArgumentNullException.ThrowIfNull(kernel);
        ArgumentNullException.ThrowIfNull(model);
        FmErrors.CheckBatch(offsets, indices, values, output);
        FmRows rows = FmRows.Of(model);
        for (int r = 0; r < output.Length; r++)
        {
            int start = offsets[r];
            int count = offsets[r + 1] - start;
            output[r] = ScoreOne(kernel, model, rows, indices.Slice(start, count), values.Slice(start, count));
        }
    }

    private static float ScoreOne(FmKernel kernel, FmModel model, FmRows rows, ReadOnlySpan<int> indices, ReadOnlySpan<float> values)
    {
        // the kernel checks the indices; both = linear + pairwise over the unscaled x
        float both = kernel.Interaction(rows, indices, values);
        float squares = 0f;
        float linear = 0f;
        for (int j = 0; j < indices.Length; j++)
        {
            float x = values[j];
            squares += x * x;
            linear += model.Weight(indices[j]) * x;
        }

        if (squares == 0f)
        {
            return model.Bias;
        }

        float norm = 1f / squares;
        return model.Bias + (MathF.Sqrt(norm) * linear) + (norm * norm * (both - linear));
    }

    /// <summary>The reference in double: the definition over every pair, with xLearn's scaling.</summary>
    internal static double ScoreNaive(FmModel model, ReadOnlySpan<int> indices, ReadOnlySpan<float> values)
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
        double scale = Math.Sqrt(norm);
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

        return model.Bias + (scale * linear) + (norm * norm * pairs);
    }
}
