using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace FmCodegen.Training.Bayesian;

/// <summary>
/// The random draws of the Gibbs sampler, from a seeded SplitMix64 stream and this code alone (no runtime generator),
/// so a seed gives the same samples on every .NET version: uniform, standard normal (Marsaglia's polar method),
/// gamma (Marsaglia and Tsang 2000) and the one-sided truncated normal (Robert 1995). A value type: the sampler keeps
/// one main stream and opens a short independent stream per parameter or chunk of rows and sweep (<see cref="For"/>), so the
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

        double scale = Math.Sqrt(-2.0 * SamplerMath.Log(s) / s);
        _spare = v * scale;
        _hasSpare = true;
        return u * scale;
    }

    /// <summary>
    /// The next <c>into.Length</c> standard normals, exactly as as many calls of <see cref="Normal()"/> give them, and the
    /// stream left as those calls leave it (the spare of the last pair kept). With AVX-512 the uniforms of the next 8
    /// candidate pairs of the polar method come at once (SplitMix64 is a counter: the i-th next value is the mix of
    /// state + i x the increment), and the logarithms and square roots of the accepted pairs too, each lane the same
    /// operations as <see cref="Uniform"/> and <see cref="SamplerMath.Log"/> (so the same bits); what those pairs do not
    /// cover comes one call at a time.
    /// </summary>
    public void Normals(Span<double> into)
    {
        int i = 0;
        if (_hasSpare && into.Length > 0)
        {
            _hasSpare = false;
            into[i++] = _spare;
        }

        if (into.Length - i >= 2 && Vector512.IsHardwareAccelerated && Avx512DQ.IsSupported)
        {
            i = EightPairs(into, i);
        }

        while (i < into.Length)
        {
            into[i++] = Normal();
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private int EightPairs(Span<double> into, int i)
    {
        const ulong Step = 0x9E3779B97F4A7C15UL;
        Vector512<ulong> lane = Vector512.Create(1UL, 3, 5, 7, 9, 11, 13, 15);
        Vector512<double> u = 2.0 * Uniforms(Vector512.Create(_state) + (lane * Step)) - Vector512.Create(1.0);
        Vector512<double> v = 2.0 * Uniforms(Vector512.Create(_state) + ((lane + Vector512<ulong>.One) * Step)) - Vector512.Create(1.0);
        Vector512<double> s = (u * u) + (v * v);
        ulong accepted = (Vector512.LessThan(s, Vector512.Create(1.0)) & ~Vector512.Equals(s, Vector512<double>.Zero)).ExtractMostSignificantBits();
        Vector512<double> scale = Vector512.Sqrt((-2.0 * Log(s)) / s);
        Vector512<double> first = u * scale, second = v * scale;
        int used = 0;
        for (int pair = 0; pair < 8 && i < into.Length; pair++)
        {
            used = pair + 1;
            if ((accepted & (1UL << pair)) == 0)
            {
                continue;
            }

            into[i++] = first.GetElement(pair);
            if (i < into.Length)
            {
                into[i++] = second.GetElement(pair);
            }
            else
            {
                _spare = second.GetElement(pair);
                _hasSpare = true;
            }
        }

        _state += (ulong)(2 * used) * Step;
        return i;

        static Vector512<double> Uniforms(Vector512<ulong> z)
        {
            z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >>> 27)) * 0x94D049BB133111EBUL;
            z ^= z >>> 31;
            return Vector512.ConvertToDouble((z >>> 11) + Vector512<ulong>.One) * (1.0 / (1UL << 53));
        }

        // SamplerMath.Log lane by lane (the arguments here are in (0, 1): no lane needs its special cases)
        static Vector512<double> Log(Vector512<double> x)
        {
            Vector512<long> bits = x.AsInt64();
            Vector512<long> e = (bits >> 52) - Vector512.Create(1023L);
            Vector512<double> m = ((bits & Vector512.Create(0x000F_FFFF_FFFF_FFFFL)) | Vector512.Create(0x3FF0_0000_0000_0000L)).AsDouble();
            Vector512<double> high = Vector512.GreaterThanOrEqual(m, Vector512.Create(1.4142135623730951));
            m = Vector512.ConditionalSelect(high, m * 0.5, m);
            e = Vector512.ConditionalSelect(high.AsInt64(), e + Vector512<long>.One, e);
            Vector512<double> f = m - Vector512.Create(1.0);
            Vector512<double> s = f / (Vector512.Create(2.0) + f);
            Vector512<double> z = s * s;
            Vector512<double> z2 = z * z, z4 = z2 * z2;
            Vector512<double> p01 = Vector512.FusedMultiplyAdd(Vector512.Create(1.0 / 5), z, Vector512.Create(1.0 / 3));
            Vector512<double> p23 = Vector512.FusedMultiplyAdd(Vector512.Create(1.0 / 9), z, Vector512.Create(1.0 / 7));
            Vector512<double> p45 = Vector512.FusedMultiplyAdd(Vector512.Create(1.0 / 13), z, Vector512.Create(1.0 / 11));
            Vector512<double> p67 = Vector512.FusedMultiplyAdd(Vector512.Create(1.0 / 17), z, Vector512.Create(1.0 / 15));
            Vector512<double> p89 = Vector512.FusedMultiplyAdd(Vector512.Create(1.0 / 21), z, Vector512.Create(1.0 / 19));
            Vector512<double> p03 = Vector512.FusedMultiplyAdd(p23, z2, p01);
            Vector512<double> p47 = Vector512.FusedMultiplyAdd(p67, z2, p45);
            Vector512<double> p = Vector512.FusedMultiplyAdd(Vector512.FusedMultiplyAdd(p89, z4, p47), z4, p03);
            Vector512<double> lnM = f - Vector512.FusedMultiplyAdd(s, f, ((-2.0 * s) * z) * p);
            Vector512<double> ed = Vector512.ConvertToDouble(e);
            return Vector512.FusedMultiplyAdd(ed, Vector512.Create(0.693147180369123816490), Vector512.FusedMultiplyAdd(ed, Vector512.Create(1.90821492927058770002e-10), lnM));
        }
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
            if (u < 1.0 - 0.0331 * x2 * x2 || SamplerMath.Log(u) < 0.5 * x2 + d * (1.0 - v + SamplerMath.Log(v)))
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
            double z = left - SamplerMath.Log(Uniform()) / rate;
            double d = z - rate;
            if (Uniform() <= SamplerMath.Exp(-0.5 * d * d))
            {
                return z;
            }
        }
    }
}

/// <summary>
/// The natural logarithm and exponential the draws need, in managed code: the runtime's Math.Log and Math.Exp go
/// through a call into the C library that costs several times the arithmetic, and a sweep makes one or two per
/// parameter and per classification row. Within 2 units in the last place of Math's (tested), which is far below
/// anything a random draw can show; arguments outside the fast range go to Math.
/// </summary>
internal static class SamplerMath
{
    private const double Ln2Hi = 0.693147180369123816490; // ln 2 with the low 32 bits of the mantissa zero: n * Ln2Hi is exact
    private const double Ln2Lo = 1.90821492927058770002e-10; // ln 2 - Ln2Hi
    private const double Sqrt2 = 1.4142135623730951;

    /// <summary>ln x: x = 2^e m with m in [sqrt(1/2), sqrt(2)), ln m = 2 atanh(s) with s = (m - 1) / (m + 1), |s| below
    /// 0.172, by its series to s^21 (the next term is below 2^-54 of the sum).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static double Log(double x)
    {
        long bits = BitConverter.DoubleToInt64Bits(x);
        int biased = (int)(bits >> 52);
        if (biased <= 0 || biased >= 0x7FF)
        {
            return Math.Log(x); // zero, negative, subnormal, infinite or NaN
        }

        double m = BitConverter.Int64BitsToDouble((bits & 0x000F_FFFF_FFFF_FFFFL) | 0x3FF0_0000_0000_0000L);
        int e = biased - 1023;
        if (m >= Sqrt2)
        {
            m *= 0.5;
            e++;
        }

        double f = m - 1.0;
        double s = f / (2.0 + f);
        double z = s * s;
        // 1/3 + z/5 + ... + z^9/21 in Estrin's form (pairs, then pairs of pairs): a short chain of dependent steps
        double z2 = z * z, z4 = z2 * z2;
        double p01 = Math.FusedMultiplyAdd(1.0 / 5, z, 1.0 / 3);
        double p23 = Math.FusedMultiplyAdd(1.0 / 9, z, 1.0 / 7);
        double p45 = Math.FusedMultiplyAdd(1.0 / 13, z, 1.0 / 11);
        double p67 = Math.FusedMultiplyAdd(1.0 / 17, z, 1.0 / 15);
        double p89 = Math.FusedMultiplyAdd(1.0 / 21, z, 1.0 / 19);
        double p03 = Math.FusedMultiplyAdd(p23, z2, p01);
        double p47 = Math.FusedMultiplyAdd(p67, z2, p45);
        double p = Math.FusedMultiplyAdd(Math.FusedMultiplyAdd(p89, z4, p47), z4, p03);

        // 2 s = f - s f exactly in real numbers; the sum keeps f's leading bits out of the rounding
        double lnM = f - Math.FusedMultiplyAdd(s, f, -2.0 * s * z * p);
        return Math.FusedMultiplyAdd(e, Ln2Hi, Math.FusedMultiplyAdd(e, Ln2Lo, lnM));
    }

    /// <summary>e^x: x = n ln 2 + r with |r| at most ln(2) / 2, e^r by its Taylor series to r^14 (the next term is below
    /// 2^-56), times 2^n.</summary>
    public static double Exp(double x)
    {
        if (!(x > -708 && x < 709))
        {
            return Math.Exp(x); // out of the normal range, or NaN
        }

        double n = Math.Round(x * 1.4426950408889634);
        double r = Math.FusedMultiplyAdd(-n, Ln2Lo, Math.FusedMultiplyAdd(-n, Ln2Hi, x));
        double p = 1.0 / 87178291200; // 1 / 14!
        p = Math.FusedMultiplyAdd(p, r, 1.0 / 6227020800);
        p = Math.FusedMultiplyAdd(p, r, 1.0 / 479001600);
        p = Math.FusedMultiplyAdd(p, r, 1.0 / 39916800);
        p = Math.FusedMultiplyAdd(p, r, 1.0 / 3628800);
        p = Math.FusedMultiplyAdd(p, r, 1.0 / 362880);
        p = Math.FusedMultiplyAdd(p, r, 1.0 / 40320);
        p = Math.FusedMultiplyAdd(p, r, 1.0 / 5040);
        p = Math.FusedMultiplyAdd(p, r, 1.0 / 720);
        p = Math.FusedMultiplyAdd(p, r, 1.0 / 120);
        p = Math.FusedMultiplyAdd(p, r, 1.0 / 24);
        p = Math.FusedMultiplyAdd(p, r, 1.0 / 6);
        p = Math.FusedMultiplyAdd(p, r, 0.5);
        p = Math.FusedMultiplyAdd(p, r * r, r) + 1.0;
        return p * BitConverter.Int64BitsToDouble((long)((int)n + 1023) << 52);
    }
}
