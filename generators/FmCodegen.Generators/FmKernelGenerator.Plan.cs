using System.Collections.Generic;
using System.Linq;

namespace FmCodegen.Generators;

/// <summary>
/// Everything about k decided at generation time, before any text is written: the row stride, which vector paths
/// exist, the chunk plan per path (full vectors, then narrower vectors and scalars for the tail: no runtime tail
/// loop), the register blocks, and where each chunk's lanes fall in the 16-lane reduction that defines the
/// result (see <see cref="KernelEmitter"/>). Pure functions of k.
/// </summary>
internal static class KernelPlan
{
    /// <summary>The lanes of the reduction every path reproduces: factor f adds into lane f mod 16.</summary>
    public const int Lanes = 16;

    /// <summary>A run of factors [Offset, Offset + Width) loaded as one vector (Width 16, 8, 4) or one scalar (1).</summary>
    internal readonly record struct Chunk(int Offset, int Width)
    {
        /// <summary>The reduction lane of the chunk's first factor.</summary>
        public int Lane => Offset % Lanes;

        /// <summary>The factor group (factors 16g .. 16g + 15) the chunk is in.</summary>
        public int Group => Offset / Lanes;
    }

    internal enum SimdPath
    {
        Vector512 = 16,
        Vector256 = 8,
        Vector128 = 4,
        Scalar = 1,
    }

    /// <summary>The row stride, the same function as FmLayout.RowStride in the library.</summary>
    public static int RowStride(int k)
    {
        int width = k + 1;
        if (width <= 16)
        {
            int p = 1;
            while (p < width)
            {
                p <<= 1;
            }

            return p;
        }

        return (width + 15) & ~15;
    }

    /// <summary>
    /// The paths emitted for k, widest first: a width only when at least one full vector of it fits in k. Vector512
    /// is the default wherever it is emitted (k of 16 and up): with rows aligned to 64 bytes it was faster than
    /// Vector256 at k = 16 both in cache and on a 10M-row table (see README, "Choosing the width").
    /// </summary>
    public static IReadOnlyList<SimdPath> PathsFor(int k)
    {
        var paths = new List<SimdPath>();
        if (k >= 16)
        {
            paths.Add(SimdPath.Vector512);
        }

        if (k >= 8)
        {
            paths.Add(SimdPath.Vector256);
        }

        if (k >= 4)
        {
            paths.Add(SimdPath.Vector128);
        }

        paths.Add(SimdPath.Scalar);
        return paths;
    }

    /// <summary>Covers [0, k) with full vectors of the path's width, then ever narrower ones, then scalars.</summary>
    public static IReadOnlyList<Chunk> Plan(int k, SimdPath path)
    {
        var chunks = new List<Chunk>();
        int offset = 0;
        foreach (int width in new[] { 16, 8, 4, 1 })
        {
            if (width > (int)path)
            {
                continue;
            }

            while (k - offset >= width)
            {
                chunks.Add(new Chunk(offset, width));
                offset += width;
            }
        }

        return chunks;
    }

    /// <summary>Chunks per register block: four accumulators each (s and q for even and for odd nonzeros), with
    /// room for the broadcasts and temporaries (32 zmm with AVX-512; 16 ymm/xmm with AVX2 or SSE).</summary>
    public static int ChunksPerBlock(SimdPath path) => path == SimdPath.Vector512 ? 6 : 3;

    /// <summary>Chunks per register block of the order-3 paths: ten accumulators each (s and q of the order-2
    /// factors, p1, p2 and p3 of the order-3 factors, for even and for odd nonzeros): two chunks in 32 zmm, one in 16
    /// ymm/xmm (and one scalar factor at a time).</summary>
    public static int Order3ChunksPerBlock(SimdPath path) => path == SimdPath.Vector512 ? 2 : 1;

    /// <summary>The order-3 register blocks: the same chunk plan, fewer chunks per block.</summary>
    public static IReadOnlyList<IReadOnlyList<Chunk>> Order3Blocks(int k, SimdPath path) => Blocks(k, path, Order3ChunksPerBlock(path));

    /// <summary>The order-3 row stride, the same function as FmLayout.RowStride(k, 3) in the library: the order-2 row,
    /// then k order-3 factors, rounded as the order-2 stride is.</summary>
    public static int Order3RowStride(int k)
    {
        int width = RowStride(k) + k;
        if (width <= 16)
        {
            int p = 1;
            while (p < width)
            {
                p <<= 1;
            }

            return p;
        }

        return (width + 15) & ~15;
    }

    public static IReadOnlyList<IReadOnlyList<Chunk>> Blocks(int k, SimdPath path) => Blocks(k, path, ChunksPerBlock(path));

    private static IReadOnlyList<IReadOnlyList<Chunk>> Blocks(int k, SimdPath path, int per)
    {
        IReadOnlyList<Chunk> plan = Plan(k, path);
        var blocks = new List<IReadOnlyList<Chunk>>();
        for (int i = 0; i < plan.Count; i += per)
        {
            blocks.Add(plan.Skip(i).Take(per).ToList());
        }

        return blocks;
    }

    /// <summary>The reduction's lane vectors a path keeps (lane vector m holds lanes m*W .. m*W + W - 1): only those
    /// some factor adds into.</summary>
    public static int LaneVectors(int k, SimdPath path)
    {
        int width = (int)path;
        int used = System.Math.Min(k, Lanes);
        return (used + width - 1) / width;
    }

    /// <summary>"1 register block [512]", "2 register blocks: 2 x [256 256 256]": the plan in one line, for a comment
    /// above each path (runs of equal blocks counted).</summary>
    public static string Describe(IReadOnlyList<IReadOnlyList<Chunk>> blocks)
    {
        var runs = new List<(string Block, int Count)>();
        foreach (IReadOnlyList<Chunk> block in blocks)
        {
            string text = "[" + string.Join(" ", block.Select(c => c.Width == 1 ? "s" : (c.Width * 32).ToString(System.Globalization.CultureInfo.InvariantCulture))) + "]";
            if (runs.Count > 0 && runs[runs.Count - 1].Block == text)
            {
                runs[runs.Count - 1] = (text, runs[runs.Count - 1].Count + 1);
            }
            else
            {
                runs.Add((text, 1));
            }
        }

        string count = blocks.Count.ToString(System.Globalization.CultureInfo.InvariantCulture);
        string list = string.Join(" ", runs.Select(r => r.Count == 1 ? r.Block : r.Count.ToString(System.Globalization.CultureInfo.InvariantCulture) + " x " + r.Block));
        return count + (blocks.Count == 1 ? " register block " : " register blocks: ") + list;
    }
}
