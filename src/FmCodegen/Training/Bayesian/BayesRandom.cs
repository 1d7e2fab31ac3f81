namespace FmCodegen.Training.Bayesian;

/// <summary>
/// The random draws of the Gibbs sampler, from a seeded SplitMix64 stream and this code alone (no runtime generator),
/// so a seed gives the same samples on every .NET version: uniform, standard normal (Marsaglia's polar method),
/// gamma (Marsaglia and Tsang 2000) and the one-sided truncated normal (Robert 1995). A value type: the sampler keeps
/// one main stream and opens a short independent stream per parameter or row and sweep (<see cref="For"/>), so the
/// draws of different parameters do not depend on the order, or the thread, they are made in.
/// </summary>
internal struct BayesRandom(ulong seed)
{
    private ulong _state = seed;
    private double _spare;
    private bool _hasSpare;

    /// <summary>The stream of one (key, sweep, index): the three numbers hashed into a seed (SplitMix64's finaliser
    /// on each step), so neighbouring indices get unrelated streams.</summary>
    public static BayesRandom For(ulong key, int sweep, long index) =>
        new(Mix(Mix(key ^ Mix((ulong)(uint)sweep + 0x632BE59BD9B4E019UL)) + (ulong)index));

    private static ulong Mix(ulong z)
    {
        z += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>Uniform in (0, 1]: 53 random bits of the next SplitMix64 value.</summary>
    public double Uniform()
    {
        ulong z = _state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        z ^= z >> 31;
        return ((z >> 11) + 1) * (1.0 / (1UL << 53));
    }

    /// <summary>A standard normal. The polar method makes two per acceptance; the second is kept for the next call.</summary>
    public double Normal()
    {
        if (_hasSpare)
        {
            _hasSpare = false;
            return _spare;
        }

        double u, v, s;
        do
        {
            u = 2.0 * Uniform() - 1.0;
            v = 2.0 * Uniform() - 1.0;
            s = u * u + v * v;
        }
        while (s >= 1.0 || s == 0.0);

        double scale = Math.Sqrt(-2.0 * Math.Log(s) / s);
        _spare = v * scale;
        _hasSpare = true;
        return u * scale;
    }

    /// <summary>A normal of the given mean and standard deviation (the mean itself when the deviation is 0 or NaN).</summary>
    public double Normal(double mean, double stdev) => stdev == 0 || double.IsNaN(stdev) ? mean : mean + stdev * Normal();

    /// <summary>Gamma(shape, rate): density proportional to x^(shape-1) e^(-rate x); mean shape / rate.</summary>
    public double Gamma(double shape, double rate) => Gamma(shape) / rate;

    /// <summary>Gamma(shape, 1) by Marsaglia and Tsang's squeeze; shapes below 1 through Gamma(shape + 1) U^(1/shape).</summary>
    public double Gamma(double shape)
    {
        if (!(shape > 0))
        {
            throw new ArgumentOutOfRangeException(nameof(shape), shape, "The gamma shape must be positive.");
        }

        if (shape < 1)
        {
            return Gamma(shape + 1) * Math.Pow(Uniform(), 1.0 / shape);
        }

        double d = shape - 1.0 / 3.0;
        double c = 1.0 / Math.Sqrt(9.0 * d);
        while (true)
        {
            double x, v;
            do
            {
                x = Normal();
                v = 1.0 + c * x;
            }
            while (v <= 0);

            v = v * v * v;
            double u = Uniform();
            double x2 = x * x;
            if (u < 1.0 - 0.0331 * x2 * x2 || Math.Log(u) < 0.5 * x2 + d * (1.0 - v + Math.Log(v)))
            {
                return d * v;
            }
        }
    }

    /// <summary>A standard normal conditioned to be at least <paramref name="left"/>: rejection from the normal when
    /// that accepts at least half the time (left &lt;= 0), otherwise Robert's translated-exponential proposal.</summary>
    public double LeftTruncatedNormal(double left)
    {
        if (left <= 0)
        {
            double z;
            do
            {
                z = Normal();
            }
            while (z < left);

            return z;
        }

        double rate = 0.5 * (left + Math.Sqrt(left * left + 4.0));
        while (true)
        {
            double z = left - Math.Log(Uniform()) / rate;
            double d = z - rate;
            if (Uniform() <= Math.Exp(-0.5 * d * d))
            {
                return z;
            }
        }
    }
}
