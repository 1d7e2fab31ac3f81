using FmCodegen.Data;
using FmCodegen.Kernels;
using FmCodegen.Training;

namespace FmCodegen.Training.Tests;

/// <summary>
/// A seeded field-aware model is the same bytes whichever instruction set trains it: .ci/run repeats these tests
/// with AVX-512, AVX2 and all intrinsics switched off, and the committed hashes must hold on every one (and across
/// changes to the training loop that are meant to keep the bits). The data is made from integer arithmetic only,
/// so it is the same on every machine; some rows repeat a field or a feature, so a pair's blocks are not always
/// its own.
/// </summary>
public class FfmSameBitsTests
{
    [Theory]
    [InlineData(FmTask.BinaryClassification, FfmSolver.AdaGrad, 4, 1, 0x3583d973b7b53861UL)]
    [InlineData(FmTask.BinaryClassification, FfmSolver.AdaGrad, 4, 2, 0xdf0c36352f93be6dUL)]
    [InlineData(FmTask.Regression, FfmSolver.Sgd, 4, 1, 0x28e60a278c32233bUL)]
    [InlineData(FmTask.BinaryClassification, FfmSolver.AdaGrad, 3, 1, 0x5dcc32be12f3ecfdUL)]
    [InlineData(FmTask.BinaryClassification, FfmSolver.AdaGrad, 8, 1, 0x996acc5762a9be42UL)]
    [InlineData(FmTask.Regression, FfmSolver.AdaGrad, 5, 1, 0x2aa5ac2b47498562UL)]
    [InlineData(FmTask.BinaryClassification, FfmSolver.AdaGrad, 16, 1, 0x675d23df13d44757UL)]
    public void A_seeded_model_has_the_committed_hash(FmTask task, FfmSolver solver, int k, int threads, ulong expected)
    {
        var options = new FfmTrainingOptions { Task = task, Solver = solver, EmbeddingSize = k, Epochs = 3, Threads = threads, Seed = 1, ValidationFraction = 0 };
        FfmTrainingResult result = FfmTrainer.Train(Data(task, 3000), options);
        ulong hash = ModelBits.Hash(result.Model);
        Assert.True(hash == expected, $"{task} {solver} k = {k}, {threads} thread(s), kernel {FfmKernels.For(k)}: hash 0x{hash:x16}, committed 0x{expected:x16}");
    }

    [Fact]
    public void The_trainers_pair_loop_updates_as_the_kernels_loop_does()
    {
        if (!FfmPairUpdates.Available)
        {
            // the trainer's own loop runs on x86 with 256-bit vectors only; elsewhere it takes the kernel's loop
            Assert.False(System.Runtime.Intrinsics.X86.Avx.IsSupported && System.Runtime.Intrinsics.Vector256.IsHardwareAccelerated && FmSimd.MaxBits >= 256);
            return;
        }

        // 6 features x 5 fields of [4 weights | 4 sums]; example rows that repeat a feature, a field, or both
        const int Fields = 5, RowFloats = Fields * 8;
        // (the last ones for the two-pairs-at-a-time loops: pairs (a, b) and (a, b + 1) that share a block, one
        // example with the pairs' blocks all distinct and one of a single pair)
        int[][] examples = [[0, 1, 2, 3], [4, 4, 1, 0], [2, 5, 3, 1, 0], [1, 3, 3, 0], [0, 1, 2, 3, 4, 5], [3, 3, 3], [2, 0, 2, 5, 1, 2], [5, 4, 3, 2, 1, 0], [1, 2]];
        int[][] exampleFields = [[0, 1, 2, 3], [0, 2, 1, 1], [4, 3, 2, 1, 0], [2, 2, 0, 2], [0, 1, 2, 3, 4, 0], [1, 1, 1], [1, 3, 1, 0, 1, 3], [0, 1, 2, 3, 4, 2], [3, 4]];
        var rng = new Random(7);
        for (int e = 0; e < examples.Length; e++)
        {
            var kernelTable = new float[(7 * RowFloats) + 16];
            for (int i = 0; i < kernelTable.Length; i++)
            {
                kernelTable[i] = (i / 4) % 2 == 0 ? (float)(rng.NextDouble() - 0.5) : 1f + (float)rng.NextDouble();
            }

            float[] ownTable = (float[])kernelTable.Clone(), onesKernelTable = (float[])kernelTable.Clone(), onesTable = (float[])kernelTable.Clone();
            float[] twiceTable = (float[])kernelTable.Clone(), onesTwiceTable = (float[])kernelTable.Clone();
            int[] rows = examples[e].Select(j => j * RowFloats).ToArray();
            int[] blocks = exampleFields[e].Select(f => f * 8).ToArray();
            float[] x = rows.Select(_ => 0.25f + (float)rng.NextDouble()).ToArray();
            float kappa = (float)(rng.NextDouble() - 0.5);
            FfmKernels.For(4).Accept(new KernelUpdate(kernelTable, rows, blocks, x, kappa));
            FfmPairUpdates.AdaGrad4(ref ownTable[0], ref rows[0], ref blocks[0], ref x[0], rows.Length, kappa, 0.2f, 2e-5f);
            Assert.Equal(kernelTable.Select(BitConverter.SingleToUInt32Bits), ownTable.Select(BitConverter.SingleToUInt32Bits));

            // an example whose values are all 1: the loop that takes kappa as every pair's scale
            float[] ones = rows.Select(_ => 1f).ToArray();
            FfmKernels.For(4).Accept(new KernelUpdate(onesKernelTable, rows, blocks, ones, kappa));
            FfmPairUpdates.AdaGrad4Ones(ref onesTable[0], ref rows[0], ref blocks[0], rows.Length, kappa, 0.2f, 2e-5f);
            Assert.Equal(onesKernelTable.Select(BitConverter.SingleToUInt32Bits), onesTable.Select(BitConverter.SingleToUInt32Bits));

            // two pairs per 512-bit vector, where 512-bit vectors run
            if (FfmPairUpdates.Available512)
            {
                FfmPairUpdates.AdaGrad4Twice(ref twiceTable[0], ref rows[0], ref blocks[0], ref x[0], rows.Length, kappa, 0.2f, 2e-5f);
                Assert.Equal(kernelTable.Select(BitConverter.SingleToUInt32Bits), twiceTable.Select(BitConverter.SingleToUInt32Bits));
                FfmPairUpdates.AdaGrad4OnesTwice(ref onesTwiceTable[0], ref rows[0], ref blocks[0], rows.Length, kappa, 0.2f, 2e-5f);
                Assert.Equal(onesKernelTable.Select(BitConverter.SingleToUInt32Bits), onesTwiceTable.Select(BitConverter.SingleToUInt32Bits));
            }
        }

        // the 512-bit loops exist wherever 512-bit vectors run
        Assert.Equal(System.Runtime.Intrinsics.X86.Avx512F.IsSupported && System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated && FmSimd.MaxBits >= 512, FfmPairUpdates.Available512);
    }

    [Theory]
    [InlineData(FfmSolver.AdaGrad, 4, 1)]
    [InlineData(FfmSolver.AdaGrad, 4, 2)]
    [InlineData(FfmSolver.Sgd, 4, 1)]
    [InlineData(FfmSolver.AdaGrad, 8, 1)]
    public void Data_without_a_value_array_trains_the_model_of_the_same_data_with_its_ones(FfmSolver solver, int k, int threads)
    {
        // the trainer keeps no copy of unit values and its pair loop takes kappa for kappa x 1 x 1 there
        SparseDataset data = Data(FmTask.BinaryClassification, 3000);
        var offsets = data.Offsets.ToArray();
        var ones = new float[data.NonZeros];
        Array.Fill(ones, 1f);
        var unit = SparseDataset.FromTrustedArrays(data.Labels.ToArray(), offsets, data.Indices.ToArray(), null, data.Fields.ToArray(), data.NumFeatures, data.NumFields);
        var explicitOnes = SparseDataset.FromTrustedArrays(data.Labels.ToArray(), offsets, data.Indices.ToArray(), ones, data.Fields.ToArray(), data.NumFeatures, data.NumFields);
        Assert.True(unit.UnitValues);
        Assert.False(explicitOnes.UnitValues);
        var options = new FfmTrainingOptions { Task = FmTask.BinaryClassification, Solver = solver, EmbeddingSize = k, Epochs = 3, Threads = threads, Seed = 1, ValidationFraction = 0 };
        ulong expected = ModelBits.Hash(FfmTrainer.Train(explicitOnes, options).Model);
        Assert.Equal(expected, ModelBits.Hash(FfmTrainer.Train(unit, options).Model));
    }

    private sealed class KernelUpdate(float[] table, int[] rows, int[] blocks, float[] x, float kappa) : IFfmKernelVisitor<int>
    {
        public int Visit<TKernel>() where TKernel : struct, IFfmKernel
        {
            TKernel.UpdatePairsAdaGrad(ref table[0], ref rows[0], ref blocks[0], ref x[0], rows.Length, 4, 4, kappa, 0.2f, 2e-5f);
            return 0;
        }
    }

    /// <summary>Up to 8 fields of 30 one-hot values each, values in quarters; about one row in eight repeats a field
    /// (with another feature) or a feature (in another field). The label is a fixed integer function of the row.</summary>
    private static SparseDataset Data(FmTask task, int rows)
    {
        ulong state = 12345;
        var labels = new float[rows];
        var offsets = new int[rows + 1];
        var fields = new List<int>();
        var indices = new List<int>();
        var values = new List<float>();
        for (int r = 0; r < rows; r++)
        {
            long sum = 0;
            for (int f = 0; f < 8; f++)
            {
                ulong z = ModelBits.Next(ref state);
                if (z % 5 == 0)
                {
                    continue; // the field is absent from this row
                }

                int value = (int)((z >> 8) % 30);
                fields.Add(f);
                indices.Add((f * 30) + value);
                values.Add(((int)((z >> 20) % 4) + 1) / 4f);
                sum += (value % 7) - 3 + (f * value % 5);
            }

            ulong extra = ModelBits.Next(ref state);
            if (extra % 8 == 0 && indices.Count > offsets[r])
            {
                // repeat the row's first field with another feature, or its first feature in another field
                bool sameField = (extra >> 8) % 2 == 0;
                fields.Add(sameField ? fields[offsets[r]] : (fields[offsets[r]] + 3) % 8);
                indices.Add(sameField ? 240 + (int)((extra >> 16) % 10) : indices[offsets[r]]);
                values.Add(0.5f);
                sum += 2;
            }

            offsets[r + 1] = indices.Count;
            labels[r] = task == FmTask.BinaryClassification ? (sum > 0 ? 1 : 0) : sum / 8f;
        }

        return SparseDataset.Create(labels, offsets, indices.ToArray(), values.ToArray(), fields.ToArray());
    }
}
