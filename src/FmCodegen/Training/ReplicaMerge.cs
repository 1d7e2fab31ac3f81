using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using FmCodegen.Kernels;

namespace FmCodegen.Training;

/// <summary>
/// The merge at the end of a window of multi-threaded training: every feature updated by at least one replica gets,
/// in every replica, the mean of its values (parameters and optimiser state) over the replicas that updated it,
/// summed in replica order; the bias is averaged over the replicas that trained. Elementwise adds and one multiply
/// per lane, so the same on every instruction set.
/// </summary>
internal static class ReplicaMerge
{
    /// <summary>Thread <paramref name="part"/>'s share of the merge: the features it owns (<see cref="Replica.MergeOwner"/>)
    /// that any replica updated in window <paramref name="window"/>, and the bias for part 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Merge(Replica[] replicas, int[] mergeStamp, int window, int part)
    {
        int threads = replicas.Length;
        if (part == 0)
        {
            float b = 0, b1 = 0, b2 = 0;
            int trained = 0;
            foreach (Replica r in replicas)
            {
                if (r.Examples > 0)
                {
                    b += r.Bias;
                    b1 += r.BiasState1;
                    b2 += r.BiasState2;
                    trained++;
                }
            }

            if (trained > 0)
            {
                b /= trained;
                b1 /= trained;
                b2 /= trained;
                foreach (Replica r in replicas)
                {
                    r.Bias = b;
                    r.BiasState1 = b1;
                    r.BiasState2 = b2;
                }
            }
        }

        // the tables are pinned (AlignedTable lives on the pinned object heap): take each replica's base pointers once
        int stride = replicas[0].Parameters.Stride;
        int tables = replicas[0].State2 is not null ? 3 : replicas[0].State1 is not null ? 2 : 1;
        Span<nint> bases = stackalloc nint[threads * tables];
        for (int r = 0; r < threads; r++)
        {
            bases[r * tables] = Address(replicas[r].Parameters);
            if (tables > 1)
            {
                bases[(r * tables) + 1] = Address(replicas[r].State1!);
            }

            if (tables > 2)
            {
                bases[(r * tables) + 2] = Address(replicas[r].State2!);
            }
        }

        Span<int> updaters = stackalloc int[threads];
        for (int source = 0; source < threads; source++)
        {
            Replica owner = replicas[source];
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

                nint offset = (nint)feature * stride * sizeof(float);
                for (int table = 0; table < tables; table++)
                {
                    MergeRow(bases, tables, table, offset, stride, updaters[..count]);
                }
            }
        }
    }

    private static unsafe nint Address(AlignedTable table) => (nint)Unsafe.AsPointer(ref MemoryMarshal.GetReference(table.Span));

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
