using System.Runtime.Intrinsics;
using FmCodegen.Kernels;
using FsCheck;
using FsCheck.Fluent;
using Xunit;

namespace FmCodegen.Tests;

public class CrossTermAndBatchTests
{
    public static TheoryData<int> Sizes => new(Scorers.GeneratedSizes);

    /// <summary>Dense [fields x k] embeddings, multiples of 1/16, 0 to 40 fields.</summary>
    private static Arbitrary<(int Fields, float[] Embeddings)> Embeddings(int k) =>
        Arb.From(
            from fields in Gen.Choose(0, 40)
            from e in FmGen.Small.ArrayOf(fields * k)
            select (Fields: fields, Embeddings: e),
            c => c.Fields == 0 ? [] : new[] { (c.Fields - 1, c.Embeddings[..((c.Fields - 1) * k)]) });

    [Theory]
    [MemberData(nameof(Sizes))]
    public void CrossTerm_equals_the_sum_over_pairs_of_fields(int k)
    {
        CrossTermFn generated = Scorers.GeneratedCrossTerm(k);
        Check.One(Config.QuickThrowOnFailure.WithMaxTest(Scorers.Tests(k)), Prop.ForAll(Embeddings(k), c =>
        {
            double reference = 0, magnitude = 0;
            for (int i = 0; i < c.Fields; i++)
            {
                for (int j = i + 1; j < c.Fields; j++)
                {
                    for (int f = 0; f < k; f++)
                    {
                        reference += (double)c.Embeddings[(i * k) + f] * c.Embeddings[(j * k) + f];
                    }
                }
            }

            for (int f = 0; f < k; f++)
            {
                double a = 0;
                for (int i = 0; i < c.Fields; i++)
                {
                    a += Math.Abs(c.Embeddings[(i * k) + f]);
                }

                magnitude += a * a;
            }

            double tolerance = ((4.0 * c.Fields) + (2.0 * k) + 16) * Math.ScaleB(1, -24) * magnitude;
            foreach ((string name, float value) in new[]
            {
                ("generated CrossTerm", generated(c.Embeddings)),
                ("Fm.CrossTerm", Fm.CrossTerm(c.Embeddings, k)),
                ("runtime SIMD", FmKernels.RuntimeSimd.CrossTerm(c.Embeddings, k)),
                ("runtime scalar", FmKernels.RuntimeScalar.CrossTerm(c.Embeddings, k)),
            })
            {
                if (Math.Abs(value - reference) > tolerance)
                {
                    throw new InvalidOperationException($"{name} k={k}, {c.Fields} fields: {value:R} vs pairwise {reference:R} (tolerance {tolerance:G3})");
                }
            }
        }));
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public void CrossTermBatch_writes_each_example_cross_term(int k)
    {
        var rng = new Random(k);
        const int batch = 7, fields = 5;
        float[] e = Enumerable.Range(0, batch * fields * k).Select(_ => (float)rng.NextDouble() - 0.5f).ToArray();
        var viaFm = new float[batch];
        Fm.CrossTermBatch(e, k, viaFm);
        for (int b = 0; b < batch; b++)
        {
            Assert.Equal(Fm.CrossTerm(e.AsSpan(b * fields * k, fields * k), k), viaFm[b]);
        }

        Assert.Throws<ArgumentException>(() => Fm.CrossTermBatch(e.AsSpan(1), k, viaFm));
        if (k > 1)
        {
            // any length is whole rows of k = 1
            Assert.Throws<ArgumentException>(() => Fm.CrossTerm(new float[k + 1], k));
        }
    }

    [Fact]
    public void Generated_CrossTermBatch_matches_its_single_form()
    {
        var rng = new Random(5);
        float[] e = Enumerable.Range(0, 3 * 4 * 16).Select(_ => (float)rng.NextDouble()).ToArray();
        var output = new float[3];
        BuiltInKernel16.CrossTermBatch(e, output);
        for (int b = 0; b < 3; b++)
        {
            Assert.Equal(BuiltInKernel16.CrossTerm(e.AsSpan(b * 64, 64)), output[b]);
        }
    }

    [Theory]
    [InlineData(16, 1)]
    [InlineData(16, 2)]
    [InlineData(16, 0)]
    [InlineData(5, 2)]
    [InlineData(64, 2)]
    [InlineData(13, 2)]
    public void ScoreBatch_gives_each_row_its_own_score_whatever_the_threads(int k, int threads)
    {
        (FmModel model, int[] offsets, int[] indices, float[] values) = RandomBatch(k, rows: 3000, seed: k + threads);
        var output = new float[offsets.Length - 1];
        Fm.ScoreBatch(model, offsets, indices, values, output, threads);
        for (int r = 0; r < output.Length; r++)
        {
            float single = Fm.Score(model, indices.AsSpan(offsets[r]..offsets[r + 1]), values.AsSpan(offsets[r]..offsets[r + 1]));
            Assert.Equal(BitConverter.SingleToInt32Bits(single), BitConverter.SingleToInt32Bits(output[r]));
        }
    }

    [Fact]
    public void Generated_ScoreBatch_on_two_threads_matches_one()
    {
        (FmModel model, int[] offsets, int[] indices, float[] values) = RandomBatch(16, rows: 5000, seed: 1);
        var one = new float[offsets.Length - 1];
        var two = new float[offsets.Length - 1];
        BuiltInKernel16.ScoreBatch(model, offsets, indices, values, one);
        BuiltInKernel16.ScoreBatch(model, offsets, indices, values, two, maxThreads: 2);
        Assert.Equal(one, two);
    }

    [Fact]
    public void ScoreBatch_refuses_bad_offsets()
    {
        (FmModel model, _, int[] indices, float[] values) = RandomBatch(8, rows: 3, seed: 2);
        var output = new float[2];
        Assert.Throws<ArgumentException>(() => Fm.ScoreBatch(model, [0, 5], indices, values, output));
        Assert.Throws<ArgumentException>(() => Fm.ScoreBatch(model, [0, 5, 2], indices, values, output));
        Assert.Throws<ArgumentException>(() => Fm.ScoreBatch(model, [0, 1, indices.Length + 1], indices, values, output));
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public void InteractionWithSums_returns_the_same_score_and_the_factor_sums(int k)
    {
        (FmModel model, int[] offsets, int[] indices, float[] values) = RandomBatch(k, rows: 20, seed: k);
        FmRows rows = FmRows.Of(model);
        foreach (FmKernel kernel in new[] { FmKernels.Generated(k)!, FmKernels.RuntimeSimd, FmKernels.RuntimeScalar })
        {
            for (int r = 0; r < 20; r++)
            {
                ReadOnlySpan<int> ix = indices.AsSpan(offsets[r]..offsets[r + 1]);
                ReadOnlySpan<float> vx = values.AsSpan(offsets[r]..offsets[r + 1]);
                var sums = new float[k];
                float withSums = kernel.InteractionWithSums(rows, ix, vx, sums);
                Assert.Equal(kernel.Interaction(rows, ix, vx), withSums);
                for (int f = 0; f < k; f++)
                {
                    double expected = 0, magnitude = 0;
                    for (int j = 0; j < ix.Length; j++)
                    {
                        expected += (double)model.FactorRow(ix[j])[f] * vx[j];
                        magnitude += Math.Abs((double)model.FactorRow(ix[j])[f] * vx[j]);
                    }

                    Assert.True(Math.Abs(sums[f] - expected) <= (ix.Length + 2) * Math.ScaleB(1, -24) * magnitude,
                        $"{kernel.Name}: s_{f} = {sums[f]}, expected {expected}");
                }
            }
        }
    }

    [Fact]
    public void Fm_Score_uses_the_generated_kernel_of_a_consumer_and_the_runtime_kernel_otherwise()
    {
        Assert.Same(FmKernel<Kernel5.Kernel>.Instance, FmKernels.For(5));
        Assert.Same(FmKernel<Outer.Kernel3.Kernel>.Instance, FmKernels.For(3));
        Assert.Same(FmKernels.RuntimeSimd, FmKernels.For(7));
        Assert.Equal(16, FmKernels.For(16).EmbeddingSize);
        Assert.Contains(FmKernels.All, kernel => kernel.EmbeddingSize == 1024);
        Assert.Equal(5, Kernel5.EmbeddingSize);
        Assert.Equal(Kernel24.RowStride, FmLayout.RowStride(24));
    }

    [Fact]
    public void The_active_path_follows_the_hardware_and_the_runtime_switches()
    {
        string expected512 = Vector512.IsHardwareAccelerated && FmSimd.MaxBits >= 512 ? "Vector512" : null!;
        string expected = Vector256.IsHardwareAccelerated && FmSimd.MaxBits >= 256 ? "Vector256"
            : Vector128.IsHardwareAccelerated && FmSimd.MaxBits >= 128 ? "Vector128" : "Scalar";
        Assert.Equal(expected512 ?? expected, BuiltInKernel64.ActivePath);
        Assert.Equal(expected512 ?? expected, BuiltInKernel16.ActivePath);
        Assert.Equal(expected, BuiltInKernel8.ActivePath);
        Assert.Equal("Scalar", Kernel1.ActivePath);

        // The switches .ci/run uses really switch the instruction sets off.
        if (Environment.GetEnvironmentVariable("DOTNET_EnableAVX512") == "0")
        {
            Assert.False(Vector512.IsHardwareAccelerated);
        }

        if (Environment.GetEnvironmentVariable("DOTNET_EnableAVX2") == "0")
        {
            Assert.False(Vector256.IsHardwareAccelerated);
        }

        if (Environment.GetEnvironmentVariable("DOTNET_EnableHWIntrinsic") == "0")
        {
            Assert.False(Vector128.IsHardwareAccelerated);
            Assert.Equal("Scalar", BuiltInKernel16.ActivePath);
        }
    }

    internal static (FmModel Model, int[] Offsets, int[] Indices, float[] Values) RandomBatch(int k, int rows, int seed)
    {
        var rng = new Random(seed);
        FmModel model = ScoreProperties.RandomModel(k, 200, seed);
        var offsets = new List<int> { 0 };
        var indices = new List<int>();
        var values = new List<float>();
        for (int r = 0; r < rows; r++)
        {
            int n = rng.Next(0, 40);
            for (int j = 0; j < n; j++)
            {
                indices.Add(rng.Next(0, 210));
                values.Add(rng.Next(0, 4) == 0 ? 1f : (float)rng.NextDouble());
            }

            offsets.Add(indices.Count);
        }

        return (model, offsets.ToArray(), indices.ToArray(), values.ToArray());
    }
}
