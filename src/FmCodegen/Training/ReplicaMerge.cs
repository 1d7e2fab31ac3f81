using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using FmCodegen.Kernels;

namespace FmCodegen.Training;

/// <summary>
/// What the end-of-window merge of multi-threaded training needs of one thread's replica, FM or field-aware alike:
/// the features it updated in the window (stamped, and listed per team member that merges them), how many rows it
/// trained, its per-feature tables (pinned: their base addresses and floats per feature) and its bias values.
/// </summary>
internal abstract class MergedReplica
{
    /// <summary>Stamps and touched lists only when <paramref name="team"/> &gt; 1 (one replica never merges).</summary>
    protected MergedReplica(int numFeatures, int team)
    {
        if (team > 1)
        {
            Stamp = new int[numFeatures];
            Array.Fill(Stamp, -1);
            Touched = new int[team][];
            TouchedCounts = new int[team];
            for (int t = 0; t < team; t++)
            {
                Touched[t] = new int[Math.Max(1, Math.Min(numFeatures, 1024))];
            }
        }
    }

    /// <summary>The window in which each feature was last updated (multi-threaded training only).</summary>
    public int[]? Stamp { get; }

    /// <summary>The features updated in the current window, one list per team member that will merge them
    /// (<see cref="MergeOwner"/>), <see cref="TouchedCounts"/> of each.</summary>
    public int[][]? Touched { get; }

    public int[]? TouchedCounts { get; }

    /// <summary>Examples trained in the current window.</summary>
    public int Examples;

    /// <summary>How many per-feature tables the merge averages (parameters first, then optimiser state).</summary>
    public abstract int MergeTables { get; }

    /// <summary>Table <paramref name="table"/>: its pinned base address and floats per feature.</summary>
    public abstract (nint Base, int Stride) MergeTable(int table);

    /// <summary>How many bias values (the bias, then its optimiser state) the merge averages.</summary>
    public abstract int BiasValues { get; }

    /// <summary>Bias value <paramref name="index"/>.</summary>
    public abstract ref float BiasValue(int index);

    /// <summary>The team member that merges a feature: a multiplicative hash scaled to [0, team) (no division).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int MergeOwner(int feature, int team) => (int)(((ulong)((uint)feature * 2654435769u) * (uint)team) >> 32);

    /// <summary>Forgets the features of the last window.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void ResetTouched()
    {
        if (TouchedCounts is not null)
        {
            Array.Clear(TouchedCounts);
        }
    }

    /// <summary>Records that <paramref name="feature"/> was updated in <paramref name="window"/> (multi-threaded
    /// training only; a no-op for a feature already stamped in it).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Touch(int feature, int window)
    {
        int[] stamp = Stamp!;
        if (stamp[feature] != window)
        {
            stamp[feature] = window;
            AddTouched(feature, stamp.Length);
        }
    }

    private void AddTouched(int feature, int features)
    {
        int[][] touched = Touched!;
        int[] counts = TouchedCounts!;
        int owner = MergeOwner(feature, touched.Length);
        int[] list = touched[owner];
        int n = counts[owner];
        if (n == list.Length)
        {
            Array.Resize(ref touched[owner], Math.Min(features, list.Length * 2));
            list = touched[owner];
        }

        list[n] = feature;
        counts[owner] = n + 1;
    }
}

/// <summary>
/// The merge at the end of a window of multi-threaded training, FM (<see cref="Replica"/>) and field-aware
/// (<see cref="FfmReplica"/>) alike: every feature updated by at least one replica gets, in every replica, the mean
/// of its values in every table (parameters and optimiser state) over the replicas that updated it, summed in replica
/// order; each bias value is averaged over the replicas that trained. Elementwise adds and one multiply per lane, so
/// the same on every instruction set.
/// </summary>
internal static class ReplicaMerge
{
    /// <summary>Thread <paramref name="part"/>'s share of the merge: the features it owns (<see cref="MergedReplica.MergeOwner"/>)
    /// that any replica updated in window <paramref name="window"/>, and the bias for part 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Merge(ReadOnlySpan<MergedReplica> replicas, int[] mergeStamp, int window, int part)
    {
        int threads = replicas.Length;
        if (part == 0)
        {
            MergeBias(replicas);
        }

        // the tables are pinned: take each replica's base pointers once
        int tables = replicas[0].MergeTables;
        Span<nint> bases = stackalloc nint[threads * tables];
        Span<int> strides = stackalloc int[tables];
        for (int r = 0; r < threads; r++)
        {
            for (int t = 0; t < tables; t++)
            {
                (bases[(r * tables) + t], strides[t]) = replicas[r].MergeTable(t);
            }
        }

        Span<int> updaters = stackalloc int[threads];
        for (int source = 0; source < threads; source++)
        {
            MergedReplica owner = replicas[source];
            ReadOnlySpan<int> touched = owner.Touched![part].AsSpan(0, owner.TouchedCounts![part]);
            foreach (int feature in touched)
            {
                if (mergeStamp[feature] == window)
                {
                    continue;
                }

                mergeStamp[feature] = window;
                int count = 0;
                for (int r = 0; r < threads; r++)
                {
                    if (replicas[r].Stamp![feature] == window)
                    {
                        updaters[count++] = r;
                    }
                }

                for (int table = 0; table < tables; table++)
                {
                    MergeRow(bases, tables, table, (nint)feature * strides[table] * sizeof(float), strides[table], updaters[..count]);
                }
            }
        }
    }

    /// <summary>Each bias value becomes its mean (a sum in replica order, divided by the count) over the replicas
    /// that trained in the window.</summary>
    private static void MergeBias(ReadOnlySpan<MergedReplica> replicas)
    {
        int values = replicas[0].BiasValues;
        for (int i = 0; i < values; i++)
        {
            float sum = 0;
            int trained = 0;
            foreach (MergedReplica r in replicas)
            {
                if (r.Examples > 0)
                {
                    sum += r.BiasValue(i);
                    trained++;
                }
            }

            if (trained > 0)
            {
                sum /= trained;
                foreach (MergedReplica r in replicas)
                {
                    r.BiasValue(i) = sum;
                }
            }
        }
    }

    /// <summary>Every replica's row of one table becomes the mean of the updaters' rows, summed in replica order
    /// (one updater: its row, exactly), written to every replica from registers.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static unsafe void MergeRow(ReadOnlySpan<nint> bases, int tables, int table, nint offset, int stride, ReadOnlySpan<int> updaters)
    {
        int replicas = bases.Length / tables;
        float* first = (float*)(bases[(updaters[0] * tables) + table] + offset);
        float scale = 1f / updaters.Length;
        int j = 0;
        for (; j + 8 <= stride; j += 8)
        {
            Vector256<float> value = Vector256.Load(first + j);
            if (updaters.Length > 1)
            {
                for (int u = 1; u < updaters.Length; u++)
                {
                    value += Vector256.Load((float*)(bases[(updaters[u] * tables) + table] + offset) + j);
                }

                value *= scale;
            }

            for (int r = 0; r < replicas; r++)
            {
                Vector256.Store(value, (float*)(bases[(r * tables) + table] + offset) + j);
            }
        }

        for (; j < stride; j++)
        {
            float value = first[j];
            if (updaters.Length > 1)
            {
                for (int u = 1; u < updaters.Length; u++)
                {
                    value += ((float*)(bases[(updaters[u] * tables) + table] + offset))[j];
                }

                value *= scale;
            }

            for (int r = 0; r < replicas; r++)
            {
                ((float*)(bases[(r * tables) + table] + offset))[j] = value;
            }
        }
    }
}
