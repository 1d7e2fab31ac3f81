using FmCodegen.Data;
using FmCodegen.Kernels;

namespace FmCodegen.IO;

/// <summary>The checks every model reader makes on sizes before it allocates the row table.</summary>
internal static class ModelLimits
{
    /// <summary>
    /// Refuses a k outside 1 .. <see cref="FmModel.MaxEmbeddingSize"/>, a table larger than one .NET array, and a
    /// table the process has no memory for (<see cref="InsufficientMemoryException"/>).
    /// </summary>
    /// <exception cref="ModelFileException">k or the feature count is out of range.</exception>
    public static void CheckTable(long numFeatures, long k, string source, int order = 2)
    {
        if (k < 1 || k > FmModel.MaxEmbeddingSize)
        {
            throw new ModelFileException(
                $"{source}: k = {k:N0} factors per feature is out of range (1 .. {FmModel.MaxEmbeddingSize:N0}); the file is damaged or not a model this tool reads");
        }

        if (numFeatures < 0 || numFeatures >= int.MaxValue)
        {
            throw new ModelFileException($"{source}: {numFeatures:N0} features is out of range (0 .. {int.MaxValue - 1:N0})");
        }

        long floats = TableFloats(numFeatures, (int)k, order);
        if (floats > Array.MaxLength)
        {
            throw new ModelFileException(
                $"{source}: a model of {numFeatures:N0} features with k = {k} needs {floats:N0} floats in memory, more than one .NET array holds ({Array.MaxLength:N0})");
        }

        MemoryBudget.Ensure(floats * sizeof(float), $"{source}: the model ({numFeatures:N0} features, k = {k})",
            "use a machine (or container) with more memory, or a model with fewer features or a smaller k");
    }

    /// <summary>The floats of the in-memory row table for n features and k (what <see cref="AlignedTable"/> allocates).</summary>
    public static long TableFloats(long numFeatures, int k, int order = 2) => ((numFeatures + 1) * FmLayout.RowStride(k, order)) + FmLayout.TablePadding + 16;
}
