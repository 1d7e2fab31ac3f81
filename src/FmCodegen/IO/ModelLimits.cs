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

    /// <summary>
    /// The field-aware twin of <see cref="CheckTable"/>: refuses n, m or k out of range and an FFM table (n + 1 rows of
    /// m field blocks) larger than one .NET array, and checks the table and the n + 1 linear weights against the
    /// memory the process may use (<see cref="InsufficientMemoryException"/>).
    /// </summary>
    /// <exception cref="ModelFileException">k, the feature count or the field count is out of range.</exception>
    public static void CheckFfmTable(long numFeatures, long numFields, long k, string source)
    {
        if (k < 1 || k > FfmLayout.MaxEmbeddingSize)
        {
            throw new ModelFileException(
                $"{source}: k = {k:N0} factors per field block is out of range (1 .. {FfmLayout.MaxEmbeddingSize:N0}); the file is damaged or not a model this tool reads");
        }

        if (numFeatures < 0 || numFeatures >= int.MaxValue || numFields < 1 || numFields >= int.MaxValue)
        {
            throw new ModelFileException($"{source}: {numFeatures:N0} features and {numFields:N0} fields are out of range (0 .. {int.MaxValue - 1:N0} features, 1 .. {int.MaxValue - 1:N0} fields)");
        }

        long rowStride = numFields * FfmLayout.FieldStride((int)k);
        long floats = rowStride > int.MaxValue ? long.MaxValue : ((numFeatures + 1) * rowStride) + FfmLayout.TablePadding + 16;
        if (floats > Array.MaxLength)
        {
            throw new ModelFileException(
                $"{source}: a field-aware model of {numFeatures:N0} features x {numFields:N0} fields with k = {k} needs {(floats == long.MaxValue ? "more" : floats.ToString("N0", System.Globalization.CultureInfo.InvariantCulture))} floats in memory, more than one .NET array holds ({Array.MaxLength:N0})");
        }

        MemoryBudget.Ensure((floats + numFeatures + 1) * sizeof(float), $"{source}: the field-aware model ({numFeatures:N0} features, {numFields:N0} fields, k = {k})",
            "use a machine (or container) with more memory, or a model with fewer features, fields or a smaller k");
    }

    /// <summary>The floats of the in-memory row table for n features and k (what <see cref="AlignedTable"/> allocates).</summary>
    public static long TableFloats(long numFeatures, int k, int order = 2) => ((numFeatures + 1) * FmLayout.RowStride(k, order)) + FmLayout.TablePadding + 16;
}
