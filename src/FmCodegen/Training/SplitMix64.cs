namespace FmCodegen.Training;

/// <summary>
/// SplitMix64 (Steele, Lea and Flood 2014): a tiny seeded generator whose sequence is fixed by this code alone,
/// so a seed gives the same model on every .NET version and machine.
/// </summary>
internal sealed class SplitMix64
{
    private ulong _state;

    public SplitMix64(ulong seed) => _state = seed;

    public ulong NextULong()
    {
        ulong z = _state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Uniform in [0, bound) by the multiply-high method (bias below 2^-32 for the bounds used here).</summary>
    public int NextInt(int bound) => (int)Math.BigMul(NextULong(), (ulong)bound, out _);

    /// <summary>Uniform in (0, 1]: 53 random bits.</summary>
    public double NextDouble() => ((NextULong() >> 11) + 1) * (1.0 / (1UL << 53));

    /// <summary>A standard normal by Box-Muller (one value per call, the cosine branch).</summary>
    public double NextGaussian()
    {
        double u1 = NextDouble();
        double u2 = NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }

    /// <summary>Fisher-Yates shuffle in place.</summary>
    public void Shuffle(Span<int> items)
    {
        for (int i = items.Length - 1; i > 0; i--)
        {
            int j = NextInt(i + 1);
            (items[i], items[j]) = (items[j], items[i]);
        }
    }
}
