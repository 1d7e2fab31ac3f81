using FmCodegen.Data;

namespace FmCodegen.Training;

/// <summary>The rows a run trains on and the rows it validates on (each in file order), and the data those
/// validation rows index: a given validation set, or a seeded random fraction held out of the training data.</summary>
internal sealed record ValidationSplit(int[] AllRows, int[] TrainRows, SparseDataset ValidationData, int[] ValidationRows)
{
    public static ValidationSplit Make(SparseDataset train, FmTrainingOptions o, ulong seed)
    {
        int[] allRows = Enumerable.Range(0, train.Count).ToArray();
        if (o.Validation is { } validation)
        {
            return new ValidationSplit(allRows, allRows, validation, Enumerable.Range(0, validation.Count).ToArray());
        }

        var splitRng = new SplitMix64(seed);
        int held = Math.Min((int)Math.Round(train.Count * o.ValidationFraction!.Value), train.Count - 1);
        var shuffled = (int[])allRows.Clone();
        if (held > 0)
        {
            splitRng.Shuffle(shuffled);
        }

        int[] validationRows = shuffled[..held];
        int[] trainRows = shuffled[held..];
        Array.Sort(validationRows);
        Array.Sort(trainRows);
        return new ValidationSplit(allRows, trainRows, train, validationRows);
    }

    /// <summary>The rows <see cref="Make"/> holds out of <paramref name="count"/> rows (the same seeded choice), as a
    /// bit per row, and how many: for training rows read from disk.</summary>
    public static (ulong[] Bits, int Held) HeldOut(int count, double fraction, ulong seed)
    {
        var bits = new ulong[(count + 63) >> 6];
        int held = Math.Min((int)Math.Round(count * fraction), count - 1);
        if (held <= 0)
        {
            return (bits, 0);
        }

        var shuffled = new int[count];
        for (int i = 0; i < count; i++)
        {
            shuffled[i] = i;
        }

        new SplitMix64(seed).Shuffle(shuffled);
        foreach (int r in shuffled.AsSpan(0, held))
        {
            bits[r >> 6] |= 1UL << r;
        }

        return (bits, held);
    }
}
