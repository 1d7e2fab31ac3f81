using FmCodegen.Kernels;
using Xunit;

namespace FmCodegen.Tests;

/// <summary>
/// Every way to score returns the same bits: the definition of the summation order (written again here, in plain
/// scalar code independent of the library), every generated kernel, the runtime-k kernels, Fm.Score whatever is
/// registered, InteractionWithSums, and ScoreBatch on one or two threads. .ci/run repeats this with AVX-512, AVX2 and
/// all intrinsics switched off, so the committed hashes also hold the paths to each other across instruction sets.
/// </summary>
public class SameBitsTests
{
    public static TheoryData<int> Sizes => new([1, 2, 3, 4, 5, 7, 8, 9, 13, 16, 17, 24, 31, 32, 33, 40, 47, 64, 100, 300, 1024]);

    [Theory]
    [MemberData(nameof(Sizes))]
    public void Every_scorer_returns_the_bits_of_the_definition(int k)
    {
        (FmModel model, int[] offsets, int[] indices, float[] values) = Workload(k, examples: k >= 300 ? 60 : 300, seed: (ulong)k);
        var scorers = new List<(string Name, ScoreFn Score)>
        {
            ("Fm.Score", Fm.Score),
            ("runtime SIMD", FmKernels.RuntimeSimd.Score),
            ("runtime scalar", FmKernels.RuntimeScalar.Score),
        };
        if (FmKernels.Generated(k) is { } entry)
        {
            scorers.Add(("generated kernel entry", entry.Score));
            scorers.Add(("generated Score", Scorers.GeneratedScore(k)));
            scorers.Add(("generated InteractionWithSums", (m, i, v) => m.Bias + entry.InteractionWithSums(FmRows.Of(m), i, v, new float[k])));
        }

        var expected = new float[offsets.Length - 1];
        for (int r = 0; r < expected.Length; r++)
        {
            expected[r] = Definition.Score(model, indices.AsSpan(offsets[r]..offsets[r + 1]), values.AsSpan(offsets[r]..offsets[r + 1]));
        }

        foreach ((string name, ScoreFn score) in scorers)
        {
            for (int r = 0; r < expected.Length; r++)
            {
                float actual = score(model, indices.AsSpan(offsets[r]..offsets[r + 1]), values.AsSpan(offsets[r]..offsets[r + 1]));
                Assert.True(Bits(actual) == Bits(expected[r]), $"k = {k}, {name} on {FmKernels.For(k).Path}, row {r}: {actual:R}, the definition gives {expected[r]:R}");
            }
        }

        foreach (int threads in new[] { 1, 2 })
        {
            var batch = new float[expected.Length];
            Fm.ScoreBatch(model, offsets, indices, values, batch, threads);
            Assert.Equal(expected.Select(Bits), batch.Select(Bits));
        }
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public void Sums_and_cross_terms_return_the_bits_of_the_definition(int k)
    {
        (FmModel model, int[] offsets, int[] indices, float[] values) = Workload(k, examples: 40, seed: 1000 + (ulong)k);
        var expectedSums = new float[k];
        var sums = new float[k];
        foreach (FmKernel kernel in Kernels(k))
        {
            for (int r = 0; r + 1 < offsets.Length; r++)
            {
                Range row = offsets[r]..offsets[r + 1];
                Definition.Interaction(model, indices.AsSpan(row), values.AsSpan(row), expectedSums);
                kernel.InteractionWithSums(FmRows.Of(model), indices.AsSpan(row), values.AsSpan(row), sums);
                Assert.Equal(expectedSums.Select(Bits), sums.Select(Bits));
            }
        }

        var rng = new SplitMix(7 + (ulong)k);
        foreach (int fields in new[] { 0, 1, 2, 3, 8, 39 })
        {
            float[] embeddings = Enumerable.Range(0, fields * k).Select(_ => rng.Float(-1f, 1f)).ToArray();
            float expected = Definition.CrossTerm(embeddings, k);
            Assert.Equal(Bits(expected), Bits(Fm.CrossTerm(embeddings, k)));
            foreach (FmKernel kernel in Kernels(k))
            {
                Assert.True(Bits(expected) == Bits(kernel.CrossTerm(embeddings, k)), $"{kernel} CrossTerm, k = {k}, {fields} fields");
            }
        }
    }

    /// <summary>The committed hashes: the same bits for these workloads on every machine and instruction set. A
    /// change to the summation order changes them, and must be deliberate (and documented in docs/training.md).</summary>
    [Theory]
    [InlineData(8, 0x489a74be0df82d5aUL)]
    [InlineData(16, 0x97e6942e0b3b213fUL)]
    [InlineData(24, 0x87655e13c463a44aUL)]
    [InlineData(40, 0x6890da535d094fb2UL)]
    public void The_hash_of_Score_and_ScoreBatch_bits_is_the_committed_one(int k, ulong expected)
    {
        (FmModel model, int[] offsets, int[] indices, float[] values) = Workload(k, examples: 1500, seed: 42);
        var batch = new float[offsets.Length - 1];
        Fm.ScoreBatch(model, offsets, indices, values, batch, maxThreads: 2);
        ulong hash = Fnv.Offset;
        for (int r = 0; r < batch.Length; r++)
        {
            float one = Fm.Score(model, indices.AsSpan(offsets[r]..offsets[r + 1]), values.AsSpan(offsets[r]..offsets[r + 1]));
            Assert.Equal(Bits(one), Bits(batch[r]));
            hash = Fnv.Add(hash, Bits(one));
        }

        Assert.True(hash == expected, $"k = {k} on {FmKernels.For(k)}: hash 0x{hash:x16}, committed 0x{expected:x16}");
    }

    private static IEnumerable<FmKernel> Kernels(int k) =>
        FmKernels.Generated(k) is { } generated ? [generated, FmKernels.RuntimeSimd, FmKernels.RuntimeScalar] : [FmKernels.RuntimeSimd, FmKernels.RuntimeScalar];

    private static uint Bits(float value) => BitConverter.SingleToUInt32Bits(value);

    /// <summary>A seeded model over 500 features and CSR examples of 0..60 nonzeros: unseen and repeated indices,
    /// negative values, a few large magnitudes.</summary>
    internal static (FmModel Model, int[] Offsets, int[] Indices, float[] Values) Workload(int k, int examples, ulong seed)
    {
        var rng = new SplitMix(seed);
        const int features = 500;
        float[] weights = Enumerable.Range(0, features).Select(_ => rng.Float(-1f, 1f)).ToArray();
        float[] factors = Enumerable.Range(0, features * k).Select(_ => rng.Float(-0.5f, 0.5f)).ToArray();
        FmModel model = FmModel.Create(rng.Float(-1f, 1f), weights, factors, k);
        var offsets = new List<int> { 0 };
        var indices = new List<int>();
        var values = new List<float>();
        for (int e = 0; e < examples; e++)
        {
            int n = rng.Int(61);
            for (int j = 0; j < n; j++)
            {
                indices.Add(rng.Int(features + 20));
                float x = rng.Int(4) == 0 ? 1f : rng.Float(-3f, 3f);
                values.Add(rng.Int(50) == 0 ? x * 1000f : x);
            }

            offsets.Add(indices.Count);
        }

        return (model, offsets.ToArray(), indices.ToArray(), values.ToArray());
    }

    /// <summary>The summation order of FmCodegen's kernels, as docs/training.md states it, in the plainest code.</summary>
    internal static class Definition
    {
        public static float Score(FmModel model, ReadOnlySpan<int> indices, ReadOnlySpan<float> values) =>
            model.Bias + Interaction(model, indices, values, default);

        public static float Interaction(FmModel model, ReadOnlySpan<int> indices, ReadOnlySpan<float> values, Span<float> sums)
        {
            int k = model.EmbeddingSize;
            float[] linear = new float[2];
            for (int j = 0; j < indices.Length; j++)
            {
                linear[j % 2] += model.Weight(indices[j]) * values[j];
            }

            float[] lanes = new float[16];
            for (int f = 0; f < k; f++)
            {
                float[] s = new float[2], q = new float[2];
                for (int j = 0; j < indices.Length; j++)
                {
                    float v = indices[j] < model.NumFeatures ? model.FactorRow(indices[j])[f] : 0f;
                    float t = v * values[j];
                    s[j % 2] += t;
                    q[j % 2] += t * t;
                }

                float sf = s[0] + s[1], qf = q[0] + q[1];
                if (!sums.IsEmpty)
                {
                    sums[f] = sf;
                }

                lanes[f % 16] += (sf * sf) - qf;
            }

            return (linear[0] + linear[1]) + (0.5f * Tree(lanes));
        }

        public static float CrossTerm(float[] embeddings, int k)
        {
            int fields = embeddings.Length / k;
            float[] lanes = new float[16];
            for (int f = 0; f < k; f++)
            {
                float[] s = new float[2], q = new float[2];
                for (int i = 0; i < fields; i++)
                {
                    float t = embeddings[(i * k) + f];
                    s[i % 2] += t;
                    q[i % 2] += t * t;
                }

                float sf = s[0] + s[1], qf = q[0] + q[1];
                lanes[f % 16] += (sf * sf) - qf;
            }

            return 0.5f * Tree(lanes);
        }

        private static float Tree(float[] lanes)
        {
            float[] a = Enumerable.Range(0, 8).Select(l => lanes[l] + lanes[l + 8]).ToArray();
            float[] b = Enumerable.Range(0, 4).Select(l => a[l] + a[l + 4]).ToArray();
            return (b[0] + b[2]) + (b[1] + b[3]);
        }
    }

    internal static class Fnv
    {
        public const ulong Offset = 14695981039346656037UL;

        public static ulong Add(ulong hash, uint bits)
        {
            for (int i = 0; i < 4; i++)
            {
                hash = (hash ^ ((bits >> (8 * i)) & 0xff)) * 1099511628211UL;
            }

            return hash;
        }
    }

    internal sealed class SplitMix(ulong seed)
    {
        private ulong _state = seed;

        public ulong Next()
        {
            ulong z = _state += 0x9E3779B97F4A7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }

        public int Int(int bound) => (int)(Next() % (ulong)bound);

        public float Float(float low, float high) => low + ((high - low) * ((Next() >> 40) / (float)(1 << 24)));
    }
}
