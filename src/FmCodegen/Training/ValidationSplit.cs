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
}
