using FmCodegen.Data;
using FmCodegen.IO;

namespace FmCodegen.Training;

/// <summary>The memory check before a training run allocates its row tables (parameters and optimiser state per
/// thread, and the best epoch's copy), so a tiny file with one huge index is refused with the size it needs.</summary>
internal static class TrainingMemory
{
    /// <exception cref="InsufficientMemoryException">The tables would not fit in the memory the process may use.</exception>
    public static void Check(int numFeatures, int k, FmSolver solver, int threads, int order = 2)
    {
        int states = solver switch
        {
            FmSolver.Sgd => 0,
            FmSolver.Ftrl => 2,
            _ => 1,
        };
        long tables = ((long)threads * (1 + states)) + 1;
        long tableBytes = ModelLimits.TableFloats(numFeatures, k, order) * sizeof(float);
        MemoryBudget.Ensure(tables * tableBytes,
            $"Training {numFeatures:N0} features (the largest index + 1) with k = {k}{(order == 3 ? ", order 3" : string.Empty)}, {solver} and {threads} thread(s) ({tables} tables of {MemoryBudget.Size(tableBytes)})",
            "if the indices are sparse, renumber the features densely (0 .. the number of distinct features); or use a smaller k, fewer threads, or a machine with more memory");
    }
}
