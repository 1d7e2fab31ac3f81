using System.Runtime.CompilerServices;

namespace FmCodegen.Data;

/// <summary>
/// A reusable CSR buffer that a <see cref="SparseTextReader"/> fills with the next rows of a file. Its arrays grow
/// as needed and are kept between blocks, so streaming a file allocates only while rows grow longer.
/// The spans are valid until the next fill.
/// </summary>
public sealed class SparseBlock
{
    internal float[] LabelBuffer = new float[1024];
    internal int[] OffsetBuffer = new int[1025];
    internal int[] IndexBuffer = new int[16384];
    internal float[] ValueBuffer = new float[16384];
    internal int[] FieldBuffer = [];
    internal long[] LineBuffer = new long[1024];

    /// <summary>The number of rows in the block.</summary>
    public int Count { get; internal set; }

    /// <summary>The number of nonzeros in the block.</summary>
    public int NonZeros => OffsetBuffer[Count];

    /// <summary>True when the rows carry fields (libffm).</summary>
    public bool HasFields { get; internal set; }

    /// <summary>The 1-based line number of the first row of the block in its file.</summary>
    public long FirstLine { get; internal set; }

    /// <summary>The name of the file the rows came from (for messages); empty for a block never filled.</summary>
    public string SourceName { get; internal set; } = string.Empty;

    /// <summary>The 1-based line number of row <paramref name="row"/> in its file.</summary>
    public long LineOf(int row)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(row);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(row, Count);
        return LineBuffer[row];
    }

    public ReadOnlySpan<float> Labels => LabelBuffer.AsSpan(0, Count);
    public ReadOnlySpan<int> Offsets => OffsetBuffer.AsSpan(0, Count + 1);
    public ReadOnlySpan<int> Indices => IndexBuffer.AsSpan(0, NonZeros);
    public ReadOnlySpan<float> Values => ValueBuffer.AsSpan(0, NonZeros);

    /// <summary>The field of every nonzero; empty without fields.</summary>
    public ReadOnlySpan<int> Fields => HasFields ? FieldBuffer.AsSpan(0, NonZeros) : default;

    internal void Reset(bool hasFields)
    {
        Count = 0;
        OffsetBuffer[0] = 0;
        HasFields = hasFields;
    }

    /// <summary>Makes room for one more row of up to <paramref name="maxNonZeros"/> nonzeros.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void EnsureRoom(int maxNonZeros)
    {
        // the common case, room already there, inline in the parse loop; growing is a call
        if (Count + 1 >= LabelBuffer.Length || (long)OffsetBuffer[Count] + maxNonZeros > IndexBuffer.Length
            || (HasFields && FieldBuffer.Length < IndexBuffer.Length))
        {
            MakeRoom(maxNonZeros);
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void MakeRoom(int maxNonZeros)
    {
        if (Count + 1 >= LabelBuffer.Length)
        {
            Grow(ref LabelBuffer, LabelBuffer.Length * 2);
            Grow(ref OffsetBuffer, LabelBuffer.Length + 1);
            Grow(ref LineBuffer, LabelBuffer.Length);
        }

        long needed = (long)OffsetBuffer[Count] + maxNonZeros;
        if (needed > IndexBuffer.Length)
        {
            if (needed > Array.MaxLength)
            {
                throw new InsufficientMemoryException($"A block of data holds more than {Array.MaxLength:N0} nonzeros; read smaller blocks.");
            }

            int size = (int)Math.Min(Array.MaxLength, Math.Max(needed, (long)IndexBuffer.Length * 2));
            MemoryBudget.Ensure((long)size * (HasFields ? 12 : 8), $"A block of {Count + 1:N0} rows with up to {needed:N0} nonzeros",
                "read smaller blocks, or use a machine with more memory");
            Grow(ref IndexBuffer, size);
            Grow(ref ValueBuffer, size);
        }

        if (HasFields && FieldBuffer.Length < IndexBuffer.Length)
        {
            Grow(ref FieldBuffer, IndexBuffer.Length);
        }
    }

    /// <summary>Array.Resize for the block's arrays of numbers (a longer array, the old values copied), written here so
    /// that the precompiled image holds it: the runtime's generic Resize is compiled at start for each element type.</summary>
    private static void Grow<T>(ref T[] array, int length)
        where T : unmanaged
    {
        var grown = new T[length];
        Buffer.BlockCopy(array, 0, grown, 0, Math.Min(array.Length, length) * Unsafe.SizeOf<T>());
        array = grown;
    }
}
