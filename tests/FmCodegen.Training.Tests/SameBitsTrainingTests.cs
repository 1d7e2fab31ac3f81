using FmCodegen.Data;
using FmCodegen.Kernels;
using FmCodegen.Training;

namespace FmCodegen.Training.Tests;

/// <summary>
/// A seeded model is the same bytes whichever kernel serves k and whichever instruction set runs it: .ci/run repeats
/// these tests with AVX-512, AVX2 and all intrinsics switched off, and the committed hashes must hold on every one.
/// The data is made here from integer arithmetic only (no exp or log), so it is the same on every machine too.
/// </summary>
public class SameBitsTrainingTests
{
    [Theory]
    [InlineData(FmTask.BinaryClassification, FmSolver.AdaGrad, 16, 1, 0xbcb13ce51c9c45e8UL)]
    [InlineData(FmTask.BinaryClassification, FmSolver.Ftrl, 16, 2, 0xbeec52d46481ddacUL)]
    [InlineData(FmTask.Regression, FmSolver.Sgd, 8, 1, 0x4b1bb3ce0baf8761UL)]
    [InlineData(FmTask.Regression, FmSolver.AdaGrad, 24, 2, 0x39109ae6fcb306bbUL)]
    public void A_seeded_model_has_the_committed_hash(FmTask task, FmSolver solver, int k, int threads, ulong expected)
    {
        FmTrainingResult result = FmTrainer.Train(Data(task, 6000), Options(task, solver, k, threads));
        ulong hash = ModelBits.Hash(result.Model);
        Assert.True(hash == expected, $"{task} {solver} k = {k}, {threads} thread(s), kernel {FmKernels.For(k)}: hash 0x{hash:x16}, committed 0x{expected:x16}");
    }

    [Theory]
    [InlineData(FmTask.BinaryClassification, 16)]
    [InlineData(FmTask.Regression, 8)]
    public void The_generated_and_the_runtime_k_kernels_train_the_same_bytes(FmTask task, int k)
    {
        SparseDataset data = Data(task, 3000);
        FmTrainingOptions options = FmTrainer.Defaults(Options(task, FmSolver.AdaGrad, k, 2));
        ulong generated = ModelBits.Hash(FmTrainer.Train(data, options).Model);
        ulong simd = ModelBits.Hash(StochasticTraining.Run<AdaGradRule, RuntimeSimdKernel>(data, options, null, default).Model);
        ulong scalar = ModelBits.Hash(StochasticTraining.Run<AdaGradRule, RuntimeScalarKernel>(data, options, null, default).Model);
        Assert.Equal(generated, simd);
        Assert.Equal(generated, scalar);
    }

    private static FmTrainingOptions Options(FmTask task, FmSolver solver, int k, int threads) =>
        new() { Task = task, Solver = solver, EmbeddingSize = k, Epochs = 3, Threads = threads, Seed = 1 };

    /// <summary>Ten fields of 40 one-hot values plus one real-valued feature; the label is a fixed integer function of
    /// the example (for classification its sign).</summary>
    private static SparseDataset Data(FmTask task, int rows)
    {
        ulong state = 12345;
        var text = new System.Text.StringBuilder();
        for (int r = 0; r < rows; r++)
        {
            int signal = 0;
            var features = new List<string>();
            for (int field = 0; field < 10; field++)
            {
                int value = (int)(ModelBits.Next(ref state) % 40);
                signal += ((value * (field + 3)) % 7) - 3;
                features.Add($"{(field * 40) + value}:1");
            }

            int numeric = (int)(ModelBits.Next(ref state) % 100);
            features.Add($"400:{numeric / 100.0:0.00}");
            string label = task == FmTask.BinaryClassification ? (signal + (numeric / 25) > 2 ? "1" : "0") : (signal / 4.0).ToString("0.00", System.Globalization.CultureInfo.InvariantCulture);
            text.Append(label).Append(' ').AppendJoin(' ', features).Append('\n');
        }

        string path = Path.Combine(Path.GetTempPath(), $"fm-same-bits-{Environment.ProcessId}-{task}-{rows}.libfm");
        File.WriteAllText(path, text.ToString());
        try
        {
            return SparseDataset.Load(path);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
