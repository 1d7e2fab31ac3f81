namespace FmCodegen.Training.Tests;

/// <summary>
/// What the same-bits tests share: a seeded SplitMix64 stream for their data, and an FNV-1a hash over the bytes of
/// a model's floats (bias, weights, factors), so committed hashes pin every bit of a trained model.
/// </summary>
internal static class ModelBits
{
    public static ulong Next(ref ulong state)
    {
        ulong z = state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    public static ulong Hash(FmModel model)
    {
        ulong hash = Start;
        Add(ref hash, model.Bias);
        foreach (float value in model.RowTable)
        {
            Add(ref hash, value);
        }

        return hash;
    }

    public static ulong Hash(FfmModel model)
    {
        ulong hash = Start;
        Add(ref hash, model.Bias);
        foreach (float w in model.GetWeights())
        {
            Add(ref hash, w);
        }

        for (int j = 0; j < model.NumFeatures; j++)
        {
            for (int f = 0; f < model.NumFields; f++)
            {
                foreach (float v in model.FactorBlock(j, f))
                {
                    Add(ref hash, v);
                }
            }
        }

        return hash;
    }

    private const ulong Start = 14695981039346656037UL;

    private static void Add(ref ulong hash, float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        for (int i = 0; i < 4; i++)
        {
            hash = (hash ^ ((bits >> (8 * i)) & 0xff)) * 1099511628211UL;
        }
    }
}
