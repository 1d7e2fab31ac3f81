using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using FmCodegen.Data;
using FmCodegen.Kernels;
using FmCodegen.Metrics;

namespace FmCodegen.Training.Bayesian;

/// <summary>
/// Bayesian Factorization Machines by Gibbs sampling (MCMC) and their point-estimate twin ALS, as libFM does them
/// (Rendle 2012, "Factorization Machines with libFM"): every parameter is drawn from its one-dimensional Gaussian
/// conditional, computed from cached residuals and cached per-row factor sums and updated after each draw, so one
/// sweep costs O(k x nonzeros); the data is also held by column for that. Hyperpriors: the noise precision alpha and,
/// per group, a mean and precision for w and for each factor, drawn every sweep (alpha0 = gamma0 = beta0 = 1, mu0 = 0).
/// Classification is probit regression on a latent target drawn from a normal truncated to the label's side.
/// Deterministic for a seed: every draw comes from <see cref="BayesRandom"/>.
/// </summary>
public static class FmBayesTrainer
{
    /// <summary>Trains on <paramref name="train"/>; when <paramref name="test"/> is given, its predictions are made at
    /// every sweep (averaged over the kept samples) and returned, as libFM does.</summary>
    /// <exception cref="ArgumentException">An option is out of range or the groups do not cover the features.</exception>
    public static FmBayesResult Train(SparseDataset train, FmBayesOptions options, SparseDataset? test = null, Action<FmBayesSweep>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(options);
        Check(train, options, test);
        return new GibbsSampler(train, options, test).Run(progress);
    }

    private static void Check(SparseDataset train, FmBayesOptions o, SparseDataset? test)
    {
        if (train.Count == 0)
        {
            throw new ArgumentException("The training data has no examples.", nameof(train));
        }

        if (o.EmbeddingSize is < 0 or > FmModel.MaxEmbeddingSize)
        {
            throw new ArgumentException($"The number of factors k must be between 0 and {FmModel.MaxEmbeddingSize}; got {o.EmbeddingSize}.", nameof(o));
        }

        if (o.Iterations < 1)
        {
            throw new ArgumentException($"The number of iterations must be at least 1; got {o.Iterations}.", nameof(o));
        }

        if (o.BurnIn < 0 || o.BurnIn >= o.Iterations)
        {
            throw new ArgumentException($"The burn-in must be at least 0 and below the iterations ({o.Iterations}); got {o.BurnIn}.", nameof(o));
        }

        if (o.KeptSamples is < 1)
        {
            throw new ArgumentException($"The number of kept samples must be at least 1; got {o.KeptSamples}.", nameof(o));
        }

        if (!(o.InitStdev >= 0) || double.IsInfinity(o.InitStdev))
        {
            throw new ArgumentException($"The init stdev must be a finite number of at least 0; got {o.InitStdev}.", nameof(o));
        }

        if (o.NumFeatures < 0)
        {
            throw new ArgumentException($"NumFeatures must be at least 0; got {o.NumFeatures}.", nameof(o));
        }

        int features = Math.Max(Math.Max(train.NumFeatures, o.NumFeatures), test?.NumFeatures ?? 0);
        int groups = 1;
        if (o.Groups is { } g)
        {
            if (g.Count < features)
            {
                throw new ArgumentException($"The groups cover {g.Count:N0} features, but the data has {features:N0}: every feature needs a group.", nameof(o));
            }

            for (int j = 0; j < g.Count; j++)
            {
                if (g[j] < 0)
                {
                    throw new ArgumentException($"The group of feature {j} is {g[j]}; groups are numbered from 0.", nameof(o));
                }

                groups = Math.Max(groups, g[j] + 1);
            }
        }

        if (o.Regularization is { } r)
        {
            CheckList(r.Linear, "linear", groups);
            CheckList(r.Factors, "factor", groups);
            if (!(r.Bias >= 0) || double.IsInfinity(r.Bias))
            {
                throw new ArgumentException($"The bias regularisation must be a finite number of at least 0; got {r.Bias}.", nameof(o));
            }
        }

        static void CheckList(IReadOnlyList<double> values, string part, int groups)
        {
            if (values.Count != 1 && values.Count != groups)
            {
                throw new ArgumentException($"The {part} regularisation needs 1 value or one per group ({groups}); got {values.Count}.", nameof(o));
            }

            foreach (double value in values)
            {
                if (!(value >= 0) || double.IsInfinity(value))
                {
                    throw new ArgumentException($"The {part} regularisation must be finite numbers of at least 0; got {value}.", nameof(o));
                }
            }
        }
    }

    /// <summary>The state of one run: parameters, hyperparameters, caches, the column copy of the data.</summary>
    private sealed class GibbsSampler
    {
        private const double Alpha0 = 1, Gamma0 = 1, Beta0 = 1, Mu0 = 0;

        // The per-row passes (latent targets, residual sums) work in chunks of RowChunk rows whose partial sums are
        // added in chunk order: the cut depends on the data alone, never on the thread count.
        private const int RowChunk = 4_096;

        // A block is shared among the threads when it has at least this much work (nonzeros plus FeatureWeight per
        // feature, for its draw).
        private const int ParallelEntries = 16_384;
        private const int FeatureWeight = 64;

        // A feature with more nonzeros than this is gathered and applied in parts of this many, on any threads, its
        // sums added in part order; the other features of a block go to the threads in groups of about GroupWeight of
        // work. Both cuts depend on the data alone, never on the thread count.
        private const int SegmentEntries = 4_096;
        private const int GroupWeight = 8_192;

        private const int PrefetchAhead = 12;

        // FM_MCMC_PROFILE=1: where the sweeps' time goes, on stderr at the end (wall ticks per phase; the feature
        // passes summed over the threads)
        private static readonly bool Profile = Environment.GetEnvironmentVariable("FM_MCMC_PROFILE") == "1";
        private readonly long[] _blockTicks = new long[4];
        private long _lastBlock;
        private readonly long[] _phase = new long[(int)Phase.Count];

        private readonly FmBayesOptions _o;
        private readonly SparseDataset _train;
        private readonly SparseDataset? _test;
        private readonly bool _sample;
        private readonly bool _classification;
        private readonly int _n;
        private readonly int _k;
        private readonly int _kp;
        private readonly int _rows;
        private readonly FeatureBlocks _blocks;
        private readonly double[] _labels;
        private readonly double[] _z;
        private readonly double[] _e;
        private readonly double[] _q;
        private readonly int _q0;
        private readonly int[] _group;
        private readonly int _groups;
        private readonly int[] _groupCount;
        private readonly double[] _w;
        private readonly double[] _v;
        private readonly double[] _wMu, _wLambda, _vMu, _vLambda;
        private readonly double _reg0;
        private readonly ulong _featureKey, _rowKey;
        private readonly float _min, _max;
        private readonly int _threads;
        private WorkTeam? _team;
        private readonly Scratch[] _scratch;
        private readonly BlockPlan[] _plans;
        private readonly Scratch[] _segmentScratch;
        private readonly double[] _bigChange;
        private readonly double[] _chunkSums;
        private BayesRandom _random;

        /// <summary>Whether 512-bit vectors are there to be used. Asked in a method of its own: the ReadyToRun image is
        /// compiled for 256-bit vectors, and the code of a method that asks is left to the JIT at run time.</summary>
        [MethodImpl(MethodImplOptions.NoInlining)]
        private static bool WideVectors() => Vector512.IsHardwareAccelerated && Avx512F.IsSupported;

        /// <summary>k = 8 on 512-bit vectors: one vector per row's q.</summary>
        private bool Wide => _wide;

        private readonly bool _wide;
        private AlignedTable? _table;
        private int _sweep;
        private double _w0;
        private double _alpha = Alpha0;
        private double _sse, _sumE;

        public GibbsSampler(SparseDataset train, FmBayesOptions o, SparseDataset? test)
        {
            _o = o;
            _train = train;
            _test = test;
            _sample = o.Method == FmBayesMethod.Mcmc;
            _classification = o.Task == FmTask.BinaryClassification;
            _n = Math.Max(Math.Max(train.NumFeatures, o.NumFeatures), test?.NumFeatures ?? 0);
            _k = o.EmbeddingSize;
            _kp = (_k + 3) & ~3;
            _rows = train.Count;
            _wide = _kp == 8 && !o.NarrowVectors && WideVectors();
            ulong seed = unchecked((ulong)o.Seed * 0x9E3779B97F4A7C15UL + 0xB5AD4ECEDA1CE2A9UL);
            _random = new BayesRandom(seed);
            _featureKey = seed ^ 0x5851F42D4C957F2DUL;
            _rowKey = seed ^ 0x14057B7EF767814FUL;

            _blocks = FeatureBlocks.Build(train, _n);
            _threads = o.Threads > 0 ? o.Threads : Environment.ProcessorCount;
            _scratch = new Scratch[_threads];
            for (int t = 0; t < _threads; t++)
            {
                _scratch[t] = new Scratch(_kp);
            }

            _plans = new BlockPlan[_blocks.Count];
            int segmentsAtMost = 0, bigAtMost = 0;
            for (int b = 0; b < _blocks.Count; b++)
            {
                _plans[b] = BlockPlan.Of(_blocks, b);
                segmentsAtMost = Math.Max(segmentsAtMost, _plans[b].SegmentStart.Length);
                bigAtMost = Math.Max(bigAtMost, _plans[b].Big.Length);
            }

            _segmentScratch = new Scratch[segmentsAtMost];
            for (int i = 0; i < segmentsAtMost; i++)
            {
                _segmentScratch[i] = new Scratch(_kp);
            }

            _bigChange = new double[bigAtMost];

            _chunkSums = new double[3 * ((_rows + RowChunk - 1) / RowChunk)];
            _labels = new double[_rows];
            for (int r = 0; r < _rows; r++)
            {
                _labels[r] = train.Labels[r];
            }

            _z = new double[_rows];
            _min = float.PositiveInfinity;
            _max = float.NegativeInfinity;
            for (int r = 0; r < _rows; r++)
            {
                _z[r] = _classification ? (_labels[r] > 0 ? 1.0 : -1.0) : _labels[r];
                _min = Math.Min(_min, train.Labels[r]);
                _max = Math.Max(_max, train.Labels[r]);
            }

            _e = GC.AllocateArray<double>(_rows, pinned: true);
            // pinned and cut so that each row's q starts on a 64-byte line (k = 8: one line per row)
            _q = GC.AllocateArray<double>((int)((long)_kp * _rows) + 8, pinned: true);
            unsafe
            {
                fixed (double* q = _q)
                {
                    _q0 = (int)((64 - ((nuint)q & 63)) & 63) / sizeof(double);
                }
            }

            _group = new int[_n];
            if (o.Groups is { } groups)
            {
                for (int j = 0; j < _n; j++)
                {
                    _group[j] = groups[j];
                }
            }

            _groups = 1;
            foreach (int g in _group)
            {
                _groups = Math.Max(_groups, g + 1);
            }

            if (o.Groups is { Count: > 0 } all)
            {
                for (int j = 0; j < all.Count; j++)
                {
                    _groups = Math.Max(_groups, all[j] + 1);
                }
            }

            _groupCount = new int[_groups];
            foreach (int g in _group)
            {
                _groupCount[g]++;
            }

            _w = new double[_n];
            _v = new double[(long)_kp * _n];
            _wMu = new double[_groups];
            _wLambda = new double[_groups];
            _vMu = new double[_groups * _k];
            _vLambda = new double[_groups * _k];
            FmBayesRegularization reg = o.Regularization ?? FmBayesRegularization.Uniform(0, 0, 0);
            _reg0 = reg.Bias;
            for (int g = 0; g < _groups; g++)
            {
                _wLambda[g] = reg.Linear[reg.Linear.Count == 1 ? 0 : g];
                for (int f = 0; f < _k; f++)
                {
                    _vLambda[g * _k + f] = reg.Factors[reg.Factors.Count == 1 ? 0 : g];
                }
            }

            // libFM starts w and V from N(0, init_stdev) (w only when it is used), V factor by factor
            if (o.UseLinear)
            {
                for (int j = 0; j < _n; j++)
                {
                    _w[j] = _random.Normal(0, o.InitStdev);
                }
            }

            for (int f = 0; f < _k; f++)
            {
                for (int j = 0; j < _n; j++)
                {
                    _v[((long)j * _kp) + f] = _random.Normal(0, o.InitStdev);
                }
            }
        }

        public FmBayesResult Run(Action<FmBayesSweep>? progress)
        {
            int iterations = _o.Iterations;
            int kept = Math.Min(_o.KeptSamples ?? int.MaxValue, iterations - _o.BurnIn);
            int averageFrom = iterations - kept;
            FmSampleLink link = _classification ? FmSampleLink.Probit : FmSampleLink.Identity;
            float clipMin = _classification ? float.NegativeInfinity : _min;
            float clipMax = _classification ? float.PositiveInfinity : _max;

            double[]? testSums = _test is null ? null : new double[_test.Count];
            float[]? testScores = _test is null ? null : new float[_test.Count];
            float[]? testPredictions = _test is null ? null : new float[_test.Count];
            var samples = new List<FmModel>();
            var history = new List<FmBayesSweep>(iterations);
            FmModel? last = null;
            int averaged = 0;

            using var team = _team = new WorkTeam(_threads);
            RunParts((_rows + RowChunk - 1) / RowChunk, c => Predict(c * RowChunk, Math.Min(_rows, (c + 1) * RowChunk)));
            RowPass(drawLatent: false);
            for (int i = 0; i < iterations; i++)
            {
                long start = Stopwatch.GetTimestamp();
                _sweep = i;
                long t = start;
                DrawAll(ref t);
                double trainMetric = RowPass(drawLatent: true);
                Mark(Phase.RowPass, ref t);

                bool keep = _sample ? i >= averageFrom : i == iterations - 1;
                bool snapshot = _test is not null || (keep && _o.StoreSamples) || i == iterations - 1;
                FmEvaluation? testEvaluation = null;
                if (snapshot)
                {
                    // a kept sample needs its own table; a snapshot only scored on the test set reuses one
                    last = Snapshot(reuse: !(keep && _sample && _o.StoreSamples) && i < iterations - 1);
                    Mark(Phase.Snapshot, ref t);
                    if (keep && _sample && _o.StoreSamples)
                    {
                        samples.Add(last);
                    }

                    if (_test is not null)
                    {
                        bool accumulate = _sample && i >= averageFrom;
                        if (accumulate)
                        {
                            averaged++;
                        }

                        // each row alone (scored, then linked and averaged), in chunks on the threads
                        int count = averaged;
                        FmModel scored = last;
                        RunParts((testScores!.Length + RowChunk - 1) / RowChunk, c =>
                        {
                            int from = c * RowChunk, to = Math.Min(testScores.Length, from + RowChunk);
                            Fm.ScoreBatch(scored, _test.Offsets.Slice(from, to - from + 1), _test.Indices, _test.Values, testScores.AsSpan(from, to - from));
                            for (int r = from; r < to; r++)
                            {
                                double p = Link(testScores[r], link, clipMin, clipMax);
                                if (accumulate)
                                {
                                    testSums![r] += p;
                                    testPredictions![r] = (float)(testSums[r] / count);
                                }
                                else
                                {
                                    testPredictions![r] = (float)p;
                                }
                            }
                        });

                        Mark(Phase.TestScore, ref t);
                        testEvaluation = Evaluate(testPredictions!, _test.Labels, auc: _o.AucEverySweep || i == iterations - 1);
                        Mark(Phase.TestEval, ref t);
                    }
                }

                double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
                var sweep = new FmBayesSweep(i + 1, trainMetric, testEvaluation, _alpha, seconds,
                    (double[])_wMu.Clone(), (double[])_wLambda.Clone(), (double[])_vMu.Clone(), (double[])_vLambda.Clone());
                history.Add(sweep);
                progress?.Invoke(sweep);
                Mark(Phase.Report, ref t);
            }

            if (Profile)
            {
                PrintProfile(iterations);
            }

            FmSampleSet? set = _sample && _o.StoreSamples ? FmSampleSet.Create(samples, link, clipMin, clipMax) : null;
            return new FmBayesResult(last!, set, history, _min, _max, testPredictions, _o);
        }

        private static double Link(float score, FmSampleLink link, float min, float max) =>
            link == FmSampleLink.Probit ? FmSampleSet.NormalCdf(score) : score < min ? min : score > max ? max : score;

        private FmEvaluation Evaluate(float[] predictions, ReadOnlySpan<float> labels, bool auc)
        {
            if (_classification)
            {
                return new FmEvaluation(FmTask.BinaryClassification, predictions.Length, FmMetrics.LogLossOfProbabilities(predictions, labels),
                    auc ? FmMetrics.Auc(predictions, labels) : double.NaN, FmMetrics.Accuracy(predictions, labels, 0.5f), double.NaN, double.NaN);
            }

            return new FmEvaluation(FmTask.Regression, predictions.Length, double.NaN, double.NaN, double.NaN,
                FmMetrics.Rmse(predictions, labels), FmMetrics.Mae(predictions, labels));
        }

        /// <summary>The current parameters as a float model for the kernels (k = 0 becomes one zero factor), written
        /// straight into the kernels' table; with <paramref name="reuse"/> into the same table each time (the model
        /// before is no longer used).</summary>
        private FmModel Snapshot(bool reuse)
        {
            int k = Math.Max(_k, 1);
            AlignedTable table = reuse ? _table ??= new AlignedTable(_n, k) : new AlignedTable(_n, k);
            for (int j = 0; j < _n; j++)
            {
                Span<float> row = table.Row(j);
                ReadOnlySpan<double> factors = _v.AsSpan((int)((long)j * _kp), _k);
                for (int f = 0; f < factors.Length; f++)
                {
                    row[f] = (float)factors[f];
                }

                row[k] = _o.UseLinear ? (float)_w[j] : 0f;
            }

            return FmModel.FromTable(_o.UseBias ? (float)_w0 : 0f, table, "the MCMC sampler");
        }

        /// <summary>Once per sweep, per training row in chunks: y_hat = e + z; the training metric's term; for
        /// classification the latent target z drawn anew (MCMC; its mean for ALS) from its chunk's stream and
        /// e = y_hat - z; the sums of e and e^2 for the next draws of alpha and w0. Returns the training RMSE
        /// (clipped) or accuracy.</summary>
        private double RowPass(bool drawLatent)
        {
            int chunks = (_rows + RowChunk - 1) / RowChunk;
            RunParts(chunks, c => RowChunkPass(c, drawLatent));
            double metric = 0, sse = 0, sum = 0;
            for (int c = 0; c < chunks; c++)
            {
                metric += _chunkSums[3 * c];
                sse += _chunkSums[(3 * c) + 1];
                sum += _chunkSums[(3 * c) + 2];
            }

            _sse = sse;
            _sumE = sum;
            return _classification ? metric / _rows : Math.Sqrt(metric / _rows);
        }

        private void RowChunkPass(int c, bool drawLatent)
        {
            int from = c * RowChunk, to = Math.Min(_rows, from + RowChunk);
            double metric = 0, sse = 0, sum = 0;
            Span<double> e = _e.AsSpan(from, to - from);
            Span<double> z = _z.AsSpan(from, to - from);
            ReadOnlySpan<double> labels = _labels.AsSpan(from, to - from);
            double min = _min, max = _max;
            var random = BayesRandom.For(_rowKey, _sweep, c);
            if (!_classification)
            {
                for (int r = 0; r < e.Length; r++)
                {
                    double target = labels[r];
                    // Math.Clamp's comparisons written out (min <= max here): from the ReadyToRun image, Math.Clamp
                    // is a call per row
                    double y = e[r] + z[r];
                    double clipped = y < min ? min : y > max ? max : y;
                    metric += (clipped - target) * (clipped - target);
                    sse += e[r] * e[r];
                    sum += e[r];
                }
            }
            else
            {
                for (int r = 0; r < e.Length; r++)
                {
                    double y = e[r] + z[r];
                    bool positive = labels[r] > 0;
                    if ((y >= 0) == positive)
                    {
                        metric++;
                    }

                    if (drawLatent)
                    {
                        double target;
                        if (_sample)
                        {
                            // z ~ N(y, 1) truncated to z > 0 for positives, z < 0 for negatives, from the chunk's
                            // stream row after row (the chunk is fixed by the data, so any thread gives the same draws)
                            target = positive ? y + random.LeftTruncatedNormal(-y) : y - random.LeftTruncatedNormal(y);
                        }
                        else
                        {
                            // the truncated normal's mean: y + phi(y) / Phi(y) above 0, y - phi(y) / Phi(-y) below
                            double density = Math.Exp(-0.5 * y * y) / Math.Sqrt(2 * Math.PI);
                            target = positive ? y + density / Math.Max(FmSampleSet.NormalCdf(y), 1e-300)
                                : y - density / Math.Max(FmSampleSet.NormalCdf(-y), 1e-300);
                        }

                        z[r] = target;
                        e[r] = y - target;
                    }

                    sse += e[r] * e[r];
                    sum += e[r];
                }
            }

            _chunkSums[3 * c] = metric;
            _chunkSums[(3 * c) + 1] = sse;
            _chunkSums[(3 * c) + 2] = sum;
        }

        /// <summary>The predictions of rows [from, to) minus nothing yet (e = y_hat; the first row pass subtracts
        /// the targets), and their factor sums q.</summary>
        private void Predict(int from, int to)
        {
            ReadOnlySpan<int> offsets = _train.Offsets;
            ReadOnlySpan<int> indices = _train.Indices;
            ReadOnlySpan<float> values = _train.Values;
            int k = _k, kp = _kp;
            Span<double> squares = stackalloc double[Math.Max(k, 1)];
            for (int r = from; r < to; r++)
            {
                double y = _o.UseBias ? _w0 : 0;
                Span<double> sum = _q.AsSpan(_q0 + (r * kp), kp);
                sum.Clear();
                squares.Clear();
                for (int p = offsets[r]; p < offsets[r + 1]; p++)
                {
                    int j = indices[p];
                    double x = values[p];
                    if (_o.UseLinear)
                    {
                        y += _w[j] * x;
                    }

                    ReadOnlySpan<double> row = _v.AsSpan((int)((long)j * kp), k);
                    for (int f = 0; f < k; f++)
                    {
                        double t = row[f] * x;
                        sum[f] += t;
                        squares[f] += t * t;
                    }
                }

                for (int f = 0; f < k; f++)
                {
                    y += 0.5 * (sum[f] * sum[f] - squares[f]);
                }

                _e[r] = y - _z[r];
            }
        }

        private void RunParts(int parts, Action<int> body) => _team!.Run(parts, (p, _) => body(p));

        private void DrawAll(ref long t)
        {
            if (_sample)
            {
                double alpha = _random.Gamma((Alpha0 + _rows) / 2, (Gamma0 + _sse) / 2);
                if (double.IsFinite(alpha))
                {
                    _alpha = alpha;
                }
            }

            if (_o.UseBias)
            {
                DrawBias();
            }

            Mark(Phase.Bias, ref t);

            if (_o.UseLinear)
            {
                DrawHyper(_w, 0, 1, _wMu, _wLambda, 0);
            }

            for (int f = 0; f < _k; f++)
            {
                DrawHyper(_v, f, _kp, _vMu, _vLambda, f);
            }

            Mark(Phase.Hyper, ref t);
            if (!_o.UseLinear && _k == 0)
            {
                return;
            }

            for (int b = 0; b < _blocks.Count; b++)
            {
                long tb = Profile ? Stopwatch.GetTimestamp() : 0;
                if (Profile && b > 0)
                {
                    _blockTicks[Math.Min(b - 1, 3)] += tb - _lastBlock;
                }

                _lastBlock = tb;
                DrawBlock(_plans[b]);
            }

            if (Profile && _blocks.Count > 0)
            {
                _blockTicks[Math.Min(_blocks.Count - 1, 3)] += Stopwatch.GetTimestamp() - _lastBlock;
            }

            Mark(Phase.Blocks, ref t);
            foreach (int j in _blocks.Empty)
            {
                var random = BayesRandom.For(_featureKey, _sweep, j);
                int g = _group[j];
                if (_o.UseLinear)
                {
                    _w[j] = DrawFromPrior(_w[j], _wMu[g], _wLambda[g], ref random);
                }

                for (int f = 0; f < _k; f++)
                {
                    long at = ((long)j * _kp) + f;
                    _v[at] = DrawFromPrior(_v[at], _vMu[(g * _k) + f], _vLambda[(g * _k) + f], ref random);
                }
            }

            Mark(Phase.Empty, ref t);
        }

        /// <summary>The features of one block: the small ones whole (in groups), the large ones' sums by parts on the
        /// threads, added in part order, then their draws, then their second passes by parts.</summary>
        private void DrawBlock(BlockPlan plan)
        {
            int groups = plan.GroupStart.Length - 1, segments = plan.SegmentStart.Length;
            bool parallel = _threads > 1 && plan.Weight >= ParallelEntries;
            ForEach(groups + segments, parallel, (i, scratch) =>
            {
                if (i < groups)
                {
                    for (int f = plan.GroupStart[i]; f < plan.GroupStart[i + 1]; f++)
                    {
                        DrawFeature(plan.Small[f], scratch);
                    }
                }
                else
                {
                    int part = i - groups;
                    Gather(plan.Big[plan.SegmentOwner[part]], plan.SegmentStart[part], plan.SegmentLength[part], _segmentScratch[part]);
                }
            });

            if (segments == 0)
            {
                return;
            }

            for (int i = 0; i < plan.Big.Length; i++)
            {
                Scratch first = _segmentScratch[plan.BigSegment[i]];
                for (int part = plan.BigSegment[i] + 1; part < plan.BigSegment[i + 1]; part++)
                {
                    AddSums(first, _segmentScratch[part]);
                }

                _bigChange[i] = DrawFromSums(plan.Big[i], first);
            }

            ForEach(segments, parallel, (part, _) =>
            {
                int i = plan.SegmentOwner[part];
                Apply(plan.SegmentStart[part], plan.SegmentLength[part], _bigChange[i], _segmentScratch[plan.BigSegment[i]]);
            });
        }

        /// <summary>body(i, a thread's scratch) for i in [0, count), on the threads that come first to take the next i
        /// (each i must not depend on which thread or in which order).</summary>
        private void ForEach(int count, bool parallel, Action<int, Scratch> body)
        {
            if (!parallel || count < 2)
            {
                for (int i = 0; i < count; i++)
                {
                    body(i, _scratch[0]);
                }

                return;
            }

            _team!.Run(count, (i, thread) => body(i, _scratch[thread]));
        }

        private void DrawBias()
        {
            double sum = _sumE - (_w0 * _rows);
            double variance = 1.0 / (_reg0 + _alpha * _rows);
            double mean = -variance * _alpha * sum;
            double next = _sample ? _random.Normal(mean, Math.Sqrt(variance)) : mean;
            if (!double.IsFinite(next))
            {
                return;
            }

            double change = next - _w0;
            Span<double> e = _e;
            for (int r = 0; r < e.Length; r++)
            {
                e[r] += change;
            }

            _w0 = next;
        }

        /// <summary>A parameter without data: its prior N(mu, 1 / lambda) (0 when lambda is 0, as libFM).</summary>
        private double DrawFromPrior(double old, double mu, double lambda, ref BayesRandom random)
        {
            double variance = 1.0 / lambda;
            double next = !double.IsFinite(variance) ? 0 : _sample ? random.Normal(mu, Math.Sqrt(variance)) : mu;
            return double.IsFinite(next) ? next : old;
        }

        /// <summary>The conditional draw (or mean, ALS) of one parameter from the sums over its nonzeros:
        /// <paramref name="mean"/> = sum h e with e the residual including the parameter's own part, and
        /// <paramref name="precision"/> = sum h^2.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private double Draw(double old, double mean, double precision, double mu, double lambda, ref BayesRandom random)
        {
            mean -= old * precision;
            double variance = 1.0 / (lambda + _alpha * precision);
            mean = variance * (mu * lambda - _alpha * mean);
            double next = !double.IsFinite(variance) ? 0 : _sample ? random.Normal(mean, Math.Sqrt(variance)) : mean;
            return double.IsFinite(next) ? next : old;
        }

        /// <summary>
        /// Draws the parameters of feature j from two passes over its column. The first (<see cref="Gather"/>)
        /// collects, over the feature's rows, sum x e and sum x^2 (for w_j) and for the factors h_f = x (q_f - x v_jf)
        /// (the part of the prediction that v_jf multiplies; it does not change while v_j is drawn), sum h_f e, sum x h_f
        /// and the Gram matrix sum h_f h_g. MCMC draws (w_j, v_j) jointly from these (<see cref="DrawJoint"/>); ALS (and
        /// MCMC when the joint precision is singular) takes w_j, then v_j1 .. v_jk one after the other, each given those
        /// before: a change moves the residuals of the feature's rows by x dw or h_f dv_f, so the later sums follow
        /// exactly (sum h_g e grows by dv_f sum h_f h_g) (<see cref="DrawFromSums"/>). The second pass
        /// (<see cref="Apply"/>) applies the changes to the rows' residuals e and factor sums q. Works on the feature's
        /// rows only, so the features of one block (no shared row) can run on any threads; the draws come from the
        /// feature's own stream for this sweep.
        /// </summary>
        private void DrawFeature(int j, Scratch s)
        {
            int start = _blocks.ColumnStart[j], length = _blocks.ColumnStart[j + 1] - start;
            long t0 = Profile ? Stopwatch.GetTimestamp() : 0;
            Gather(j, start, length, s);
            long t1 = Profile ? Stopwatch.GetTimestamp() : 0;
            double dw = DrawFromSums(j, s);
            long t2 = Profile ? Stopwatch.GetTimestamp() : 0;
            Apply(start, length, dw, s);
            if (Profile)
            {
                s.Ticks[0] += t1 - t0;
                s.Ticks[1] += t2 - t1;
                s.Ticks[2] += Stopwatch.GetTimestamp() - t2;
            }
        }

        /// <summary>The sums of feature j over the nonzeros [start, start + length) of the column form, into s
        /// (with v_j as it is now in s.Old).</summary>
        private void Gather(int j, int start, int length, Scratch s)
        {
            ReadOnlySpan<int> rows = _blocks.Rows.AsSpan(start, length);
            ReadOnlySpan<double> xs = _blocks.Values.AsSpan(start, length);
            int kp = _kp;
            Span<double> e = _e;
            double sx = 0, sxx = 0;
            if (kp == 0)
            {
                for (int p = 0; p < rows.Length; p++)
                {
                    double x = xs[p];
                    sx = Math.FusedMultiplyAdd(x, e[rows[p]], sx);
                    sxx = Math.FusedMultiplyAdd(x, x, sxx);
                }

                (s.Sx, s.Sxx) = (sx, sxx);
                return;
            }

            MemoryMarshal.Cast<double, Vector256<double>>(_v.AsSpan(j * kp, kp)).CopyTo(s.Old);
            s.HE.AsSpan().Clear();
            s.XH.AsSpan().Clear();
            s.Gram.AsSpan().Clear();
            if (Wide)
            {
                ReadOnlySpan<int> toEnd = _blocks.Rows.AsSpan(start);
                (s.Sx, s.Sxx) = _blocks.Binary ? GatherWide<Ones>(toEnd, rows.Length, xs, s) : GatherWide<AnyValues>(toEnd, rows.Length, xs, s);
                return;
            }

            (s.Sx, s.Sxx) = GatherNarrow(rows, xs, s);
        }

        /// <summary>The first pass of <see cref="DrawFeature"/> on 256-bit vectors (any k, and k = 8 without AVX-512).</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private (double Sx, double Sxx) GatherNarrow(ReadOnlySpan<int> rows, ReadOnlySpan<double> xs, Scratch s)
        {
            int k = _k, kp = _kp, chunks = kp / 4;
            Span<double> e = _e;
            double sx = 0, sxx = 0;
            Span<Vector256<double>> old = s.Old;
            Span<Vector256<double>> h = s.H;
            Span<Vector256<double>> hSum = s.HE;
            Span<Vector256<double>> xh = s.XH;
            Span<Vector256<double>> gram = s.Gram;
            Span<double> hs = MemoryMarshal.Cast<Vector256<double>, double>(h);
            for (int p = 0; p < rows.Length; p++)
            {
                int r = rows[p];
                double x = xs[p];
                double er = e[r];
                sx = Math.FusedMultiplyAdd(x, er, sx);
                sxx = Math.FusedMultiplyAdd(x, x, sxx);
                ReadOnlySpan<Vector256<double>> q = MemoryMarshal.Cast<double, Vector256<double>>(_q.AsSpan(_q0 + (r * kp), kp));
                var xv = Vector256.Create(x);
                var ev = Vector256.Create(er);
                for (int c = 0; c < chunks; c++)
                {
                    Vector256<double> hc = xv * (q[c] - (xv * old[c]));
                    h[c] = hc;
                    hSum[c] = Vector256.FusedMultiplyAdd(hc, ev, hSum[c]);
                    xh[c] = Vector256.FusedMultiplyAdd(xv, hc, xh[c]);
                }

                // the upper half of the Gram matrix (by chunks of 4), each entry one fused multiply-add per row
                for (int f = 0; f < k; f++)
                {
                    var hf = Vector256.Create(hs[f]);
                    int row = f * chunks;
                    for (int c = f >> 2; c < chunks; c++)
                    {
                        gram[row + c] = Vector256.FusedMultiplyAdd(hf, h[c], gram[row + c]);
                    }
                }
            }

            return (sx, sxx);
        }

        /// <summary>Adds the sums of a later part of a column (<paramref name="other"/>) to those of s.</summary>
        private static void AddSums(Scratch s, Scratch other)
        {
            s.Sx += other.Sx;
            s.Sxx += other.Sxx;
            for (int c = 0; c < s.HE.Length; c++)
            {
                s.HE[c] += other.HE[c];
                s.XH[c] += other.XH[c];
            }

            for (int c = 0; c < s.Gram.Length; c++)
            {
                s.Gram[c] += other.Gram[c];
            }
        }

        /// <summary>Draws (MCMC) or sets (ALS) w_j and v_j from the sums in s; returns the change of w_j and leaves
        /// those of v_j in s.Delta.</summary>
        private double DrawFromSums(int j, Scratch s)
        {
            var random = BayesRandom.For(_featureKey, _sweep, j);
            int g = _group[j];
            int k = _k, kp = _kp;
            double sx = s.Sx, sxx = s.Sxx;
            if (kp == 0)
            {
                double old0 = _w[j];
                double next0 = Draw(old0, sx, sxx, _wMu[g], _wLambda[g], ref random);
                _w[j] = next0;
                return next0 - old0;
            }

            Span<double> v = _v.AsSpan(j * kp, kp);
            Span<double> b = MemoryMarshal.Cast<Vector256<double>, double>(s.HE.AsSpan());
            ReadOnlySpan<double> cross = MemoryMarshal.Cast<Vector256<double>, double>(s.XH.AsSpan());
            ReadOnlySpan<double> gramValues = MemoryMarshal.Cast<Vector256<double>, double>(s.Gram.AsSpan());
            Span<double> change = MemoryMarshal.Cast<Vector256<double>, double>(s.Delta.AsSpan());
            change.Clear();
            double dw = 0;
            if (!_sample || !DrawJoint(j, g, sx, sxx, b, cross, gramValues, v, change, ref dw, ref random, s))
            {
                if (_o.UseLinear)
                {
                    double oldW = _w[j];
                    double nextW = Draw(oldW, sx, sxx, _wMu[g], _wLambda[g], ref random);
                    dw = nextW - oldW;
                    _w[j] = nextW;
                    for (int f = 0; f < k; f++)
                    {
                        b[f] += dw * cross[f];
                    }
                }

                for (int f = 0; f < k; f++)
                {
                    ReadOnlySpan<double> gramRow = gramValues.Slice(f * kp, kp);
                    double oldV = v[f];
                    double nextV = Draw(oldV, b[f], gramRow[f], _vMu[(g * k) + f], _vLambda[(g * k) + f], ref random);
                    double d = nextV - oldV;
                    change[f] = d;
                    v[f] = nextV;
                    for (int f2 = f + 1; f2 < k; f2++)
                    {
                        b[f2] += d * gramRow[f2];
                    }
                }
            }

            return dw;
        }

        /// <summary>The second pass over the nonzeros [start, start + length): the rows' residuals and factor sums
        /// follow the changes (dw, and s.Delta from s.Old).</summary>
        private void Apply(int start, int length, double dw, Scratch s)
        {
            ReadOnlySpan<int> rows = _blocks.Rows.AsSpan(start, length);
            ReadOnlySpan<double> xs = _blocks.Values.AsSpan(start, length);
            Span<double> e = _e;
            if (_kp == 0)
            {
                for (int p = 0; p < rows.Length; p++)
                {
                    e[rows[p]] += xs[p] * dw;
                }

                return;
            }

            if (Wide)
            {
                if (_blocks.Binary)
                {
                    ApplyWide<Ones>(_blocks.Rows.AsSpan(start), rows.Length, xs, dw, s);
                }
                else
                {
                    ApplyWide<AnyValues>(_blocks.Rows.AsSpan(start), rows.Length, xs, dw, s);
                }

                return;
            }

            ApplyNarrow(rows, xs, dw, s);
        }

        /// <summary>The second pass of <see cref="DrawFeature"/> on 256-bit vectors.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void ApplyNarrow(ReadOnlySpan<int> rows, ReadOnlySpan<double> xs, double dw, Scratch s)
        {
            int kp = _kp, chunks = kp / 4;
            Span<double> e = _e;
            ReadOnlySpan<Vector256<double>> old = s.Old;
            ReadOnlySpan<Vector256<double>> delta = s.Delta;
            for (int p = 0; p < rows.Length; p++)
            {
                int r = rows[p];
                double x = xs[p];
                Span<Vector256<double>> q = MemoryMarshal.Cast<double, Vector256<double>>(_q.AsSpan(_q0 + (r * kp), kp));
                var xv = Vector256.Create(x);
                Vector256<double> qc = q[0];
                Vector256<double> dot = xv * (qc - (xv * old[0])) * delta[0];
                q[0] = Vector256.FusedMultiplyAdd(xv, delta[0], qc);
                for (int c = 1; c < chunks; c++)
                {
                    qc = q[c];
                    dot += xv * (qc - (xv * old[c])) * delta[c];
                    q[c] = Vector256.FusedMultiplyAdd(xv, delta[c], qc);
                }

                e[r] += (x * dw) + Vector256.Sum(dot);
            }
        }

        /// <summary>The first pass of <see cref="DrawFeature"/> for k = 8 with 512-bit vectors (one per row's q):
        /// the same fused multiply-adds in the same order as the 256-bit loop, so the same bits; of the Gram matrix the
        /// rows 0-3 whole and the rows 4-7 from column 4 (the upper half, all the draws read).</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private (double Sx, double Sxx) GatherWide<TX>(ReadOnlySpan<int> rows, int length, ReadOnlySpan<double> xs, Scratch s)
            where TX : struct, IColumnValues
        {
            ref double q0 = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_q), _q0);
            ref double e0 = ref MemoryMarshal.GetArrayDataReference(_e);
            Vector512<double> old = Vector512.Create(s.Old[0], s.Old[1]);
            Vector512<double> he = default, xh = default, g0 = default, g1 = default, g2 = default, g3 = default;
            Vector256<double> g4 = default, g5 = default, g6 = default, g7 = default;
            // lane f of h to every lane by a permute in registers (a round trip through memory, a 64-byte store then
            // 8-byte loads from it, stalls on the store's forwarding at every row)
            Vector512<long> lane0 = Vector512.Create(0L), lane1 = Vector512.Create(1L), lane2 = Vector512.Create(2L), lane3 = Vector512.Create(3L);
            double sx = 0, sxx = 0;
            for (int p = 0; p < length; p++)
            {
                int r = rows[p];
                double x = TX.AllOne ? 1.0 : xs[p];
                Prefetch(rows, p, ref q0, ref e0);
                double er = Unsafe.Add(ref e0, r);
                sx = TX.AllOne ? sx + er : Math.FusedMultiplyAdd(x, er, sx);
                sxx = TX.AllOne ? sxx + 1.0 : Math.FusedMultiplyAdd(x, x, sxx);
                var xv = Vector512.Create(x);
                Vector512<double> h = TX.AllOne ? Vector512.LoadUnsafe(ref q0, (nuint)r * 8) - old : xv * (Vector512.LoadUnsafe(ref q0, (nuint)r * 8) - (xv * old));
                he = Vector512.FusedMultiplyAdd(h, Vector512.Create(er), he);
                xh = TX.AllOne ? xh + h : Vector512.FusedMultiplyAdd(xv, h, xh);
                g0 = Vector512.FusedMultiplyAdd(Avx512F.PermuteVar8x64(h, lane0), h, g0);
                g1 = Vector512.FusedMultiplyAdd(Avx512F.PermuteVar8x64(h, lane1), h, g1);
                g2 = Vector512.FusedMultiplyAdd(Avx512F.PermuteVar8x64(h, lane2), h, g2);
                g3 = Vector512.FusedMultiplyAdd(Avx512F.PermuteVar8x64(h, lane3), h, g3);
                Vector256<double> upper = h.GetUpper();
                g4 = Vector256.FusedMultiplyAdd(Avx2.Permute4x64(upper, 0b00_00_00_00), upper, g4);
                g5 = Vector256.FusedMultiplyAdd(Avx2.Permute4x64(upper, 0b01_01_01_01), upper, g5);
                g6 = Vector256.FusedMultiplyAdd(Avx2.Permute4x64(upper, 0b10_10_10_10), upper, g6);
                g7 = Vector256.FusedMultiplyAdd(Avx2.Permute4x64(upper, 0b11_11_11_11), upper, g7);
            }

            (s.HE[0], s.HE[1]) = (he.GetLower(), he.GetUpper());
            (s.XH[0], s.XH[1]) = (xh.GetLower(), xh.GetUpper());
            Span<Vector256<double>> gram = s.Gram;
            (gram[0], gram[1]) = (g0.GetLower(), g0.GetUpper());
            (gram[2], gram[3]) = (g1.GetLower(), g1.GetUpper());
            (gram[4], gram[5]) = (g2.GetLower(), g2.GetUpper());
            (gram[6], gram[7]) = (g3.GetLower(), g3.GetUpper());
            (gram[9], gram[11], gram[13], gram[15]) = (g4, g5, g6, g7);
            return (sx, sxx);
        }

        /// <summary>Asks for the caches of the row PrefetchAhead entries on (a feature's rows are mostly far apart,
        /// so waiting for each row's line one after the other is what the passes would otherwise spend their time on).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private static unsafe void Prefetch(ReadOnlySpan<int> rows, int p, ref double q0, ref double e0)
        {
            if (Sse.IsSupported && p + PrefetchAhead < rows.Length)
            {
                int ahead = rows[p + PrefetchAhead];
                Sse.Prefetch0(Unsafe.AsPointer(ref Unsafe.Add(ref q0, (nuint)ahead * 8)));
                Sse.Prefetch0(Unsafe.AsPointer(ref Unsafe.Add(ref e0, ahead)));
            }
        }

        /// <summary>The second pass of <see cref="DrawFeature"/> for k = 8 with 512-bit vectors (the same bits).</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void ApplyWide<TX>(ReadOnlySpan<int> rows, int length, ReadOnlySpan<double> xs, double dw, Scratch s)
            where TX : struct, IColumnValues
        {
            ref double q0 = ref Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_q), _q0);
            ref double e0 = ref MemoryMarshal.GetArrayDataReference(_e);
            Vector512<double> old = Vector512.Create(s.Old[0], s.Old[1]);
            Vector512<double> delta = Vector512.Create(s.Delta[0], s.Delta[1]);
            for (int p = 0; p < length; p++)
            {
                int r = rows[p];
                double x = TX.AllOne ? 1.0 : xs[p];
                var xv = Vector512.Create(x);
                Prefetch(rows, p, ref q0, ref e0);
                ref double qr = ref Unsafe.Add(ref q0, (nuint)r * 8);
                Vector512<double> q = Vector512.LoadUnsafe(ref qr);
                Vector512<double> t = TX.AllOne ? (q - old) * delta : xv * (q - (xv * old)) * delta;
                (TX.AllOne ? q + delta : Vector512.FusedMultiplyAdd(xv, delta, q)).StoreUnsafe(ref qr);
                Unsafe.Add(ref e0, r) += (TX.AllOne ? dw : x * dw) + Vector256.Sum(t.GetLower() + t.GetUpper());
            }
        }

        /// <summary>
        /// MCMC: draws (w_j, v_j1 .. v_jk) jointly from their Gaussian conditional (a blocked Gibbs step; the same
        /// posterior as one coordinate after the other, but the feature's parameters move together, which mixes
        /// faster). Precision P = diag(lambda) + alpha A with A = sum a a' over the feature's rows, a = (x, h_1 .. h_k);
        /// mean P^-1 (lambda mu - alpha (sum a e - A theta_old)); the draw adds L^-T z (P = L L', z standard normal).
        /// Returns false, drawing nothing, when P is not positive definite (then the coordinate draws run).
        /// </summary>
        private unsafe bool DrawJoint(int j, int g, double sx, double sxx, ReadOnlySpan<double> b, ReadOnlySpan<double> cross,
            ReadOnlySpan<double> gram, Span<double> v, Span<double> change, ref double dw, ref BayesRandom random, Scratch s)
        {
            int k = _k, kp = _kp;
            int lin = _o.UseLinear ? 1 : 0;
            int m = lin + k;
            double alpha = _alpha;
            fixed (double* l = s.Joint, rhs = s.Rhs, theta = s.Theta, inverse = s.Inverse)
            fixed (double* gr = gram, hb = b, xh = cross, vj = v, dv = change)
            {
                if (lin == 1 && k == 8 && !_o.NarrowVectors)
                {
                    return Wide
                        ? DrawJoint9Wide(j, g, sx, sxx, s, vj, dv, ref dw, ref random)
                        : DrawJoint9(j, g, sx, sxx, gr, hb, xh, vj, dv, ref dw, ref random);
                }

                // A = sum a a' (a = (x, h_1 .. h_k)) in the lower half of l (row i at i * m); sum a e in rhs
                if (lin == 1)
                {
                    l[0] = sxx;
                    rhs[0] = sx;
                    theta[0] = _w[j];
                    for (int f = 0; f < k; f++)
                    {
                        l[(1 + f) * m] = xh[f];
                    }
                }

                for (int f = 0; f < k; f++)
                {
                    rhs[lin + f] = hb[f];
                    theta[lin + f] = vj[f];
                    double* row = l + ((lin + f) * m) + lin;
                    for (int f2 = 0; f2 <= f; f2++)
                    {
                        row[f2] = gr[(f2 * kp) + f];
                    }
                }

                // rhs = lambda mu - alpha (sum a e - A theta_old), A theta from the lower half
                for (int i = 0; i < m; i++)
                {
                    double* row = l + (i * m);
                    double at = 0;
                    for (int c = 0; c <= i; c++)
                    {
                        at = Math.FusedMultiplyAdd(row[c], theta[c], at);
                    }

                    for (int c = i + 1; c < m; c++)
                    {
                        at = Math.FusedMultiplyAdd(l[(c * m) + i], theta[c], at);
                    }

                    (double lambda, double mu) = lin == 1 && i == 0 ? (_wLambda[g], _wMu[g]) : (_vLambda[(g * k) + i - lin], _vMu[(g * k) + i - lin]);
                    rhs[i] = (lambda * mu) - (alpha * (rhs[i] - at));
                    inverse[i] = lambda;
                }

                // P = alpha A + diag(lambda) = L L' (Cholesky, row by row, in place); inverse holds 1 / L_ii
                for (int i = 0; i < m; i++)
                {
                    double* rowI = l + (i * m);
                    for (int c = 0; c < i; c++)
                    {
                        double* rowC = l + (c * m);
                        double x = alpha * rowI[c];
                        for (int t = 0; t < c; t++)
                        {
                            x = Math.FusedMultiplyAdd(-rowI[t], rowC[t], x);
                        }

                        rowI[c] = x * inverse[c];
                    }

                    double d = Math.FusedMultiplyAdd(alpha, rowI[i], inverse[i]);
                    for (int t = 0; t < i; t++)
                    {
                        d = Math.FusedMultiplyAdd(-rowI[t], rowI[t], d);
                    }

                    if (!(d > 0) || !double.IsFinite(d))
                    {
                        return false;
                    }

                    d = Math.Sqrt(d);
                    rowI[i] = d;
                    inverse[i] = 1.0 / d;
                }

                // mean = P^-1 rhs (L y = rhs, then L' mean = y), plus a standard normal through L'^-1: solve L' u = y + z
                for (int i = 0; i < m; i++)
                {
                    double* rowI = l + (i * m);
                    double x = rhs[i];
                    for (int t = 0; t < i; t++)
                    {
                        x = Math.FusedMultiplyAdd(-rowI[t], rhs[t], x);
                    }

                    rhs[i] = x * inverse[i];
                }

                for (int i = 0; i < m; i++)
                {
                    rhs[i] += random.Normal();
                }

                for (int i = m - 1; i >= 0; i--)
                {
                    double x = rhs[i];
                    for (int t = i + 1; t < m; t++)
                    {
                        x = Math.FusedMultiplyAdd(-l[(t * m) + i], rhs[t], x);
                    }

                    rhs[i] = x * inverse[i];
                    if (!double.IsFinite(rhs[i]))
                    {
                        return false;
                    }
                }

                if (lin == 1)
                {
                    dw = rhs[0] - theta[0];
                    _w[j] = rhs[0];
                }

                for (int f = 0; f < k; f++)
                {
                    dv[f] = rhs[lin + f] - theta[lin + f];
                    vj[f] = rhs[lin + f];
                }
            }

            return true;
        }

        /// <summary>
        /// <see cref="DrawJoint9"/> on 512-bit vectors, one lane per factor (row i of the 9 x 9 system in lane i - 1; row
        /// 0, w's, in scalars): every entry is the same expression as there, with its fused multiply-adds in the same
        /// order, so the same bits. The Cholesky factor is made column by column (column c below the diagonal for all
        /// rows at once: alpha A_ic, minus L_it L_ct for t = 0 .. c-1 in turn, times 1 / L_cc), the diagonal and the
        /// forward solve follow each column; the backward solve, whose sums run the other way, stays in scalars.
        /// The Gram matrix is used whole (the lower entries of rows 0-3 and of the block of rows and columns 4-7 are the
        /// same products summed in the same order as the upper ones, so the same numbers); the rest of rows 4-7 is
        /// rows 0-3's upper right block turned over.
        /// </summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private unsafe bool DrawJoint9Wide(int j, int g, double sx, double sxx, Scratch s, double* vj, double* dv, ref double dw, ref BayesRandom random)
        {
            double alpha = _alpha;
            Vector512<double> alphas = Vector512.Create(alpha);
            ReadOnlySpan<Vector256<double>> gram = s.Gram;
            Vector256<double> b0 = gram[1], b1 = gram[3], b2 = gram[5], b3 = gram[7];
            Vector256<double> u01 = Avx.UnpackLow(b0, b1), u23 = Avx.UnpackLow(b2, b3), w01 = Avx.UnpackHigh(b0, b1), w23 = Avx.UnpackHigh(b2, b3);
            Vector512<double> row0 = Vector512.Create(gram[0], b0), row1 = Vector512.Create(gram[2], b1);
            Vector512<double> row2 = Vector512.Create(gram[4], b2), row3 = Vector512.Create(gram[6], b3);
            Vector512<double> row4 = Vector512.Create(Avx.Permute2x128(u01, u23, 0x20), gram[9]);
            Vector512<double> row5 = Vector512.Create(Avx.Permute2x128(w01, w23, 0x20), gram[11]);
            Vector512<double> row6 = Vector512.Create(Avx.Permute2x128(u01, u23, 0x31), gram[13]);
            Vector512<double> row7 = Vector512.Create(Avx.Permute2x128(w01, w23, 0x31), gram[15]);
            Vector512<double> xh = Vector512.Create(s.XH[0], s.XH[1]);
            Vector512<double> theta = Vector512.Load(vj);
            double t0 = _w[j];
            int gk = g * 8;
            Vector512<double> lambda = Vector512.LoadUnsafe(ref _vLambda[gk]);
            Vector512<double> mu = Vector512.LoadUnsafe(ref _vMu[gk]);
            double lw = _wLambda[g], mw = _wMu[g];

            // rhs = lambda mu - alpha (sum a e - A theta), A theta summed over the columns in order
            double at0 = Math.FusedMultiplyAdd(sxx, t0, 0.0);
            for (int c = 0; c < 8; c++)
            {
                at0 = Math.FusedMultiplyAdd(xh.GetElement(c), theta.GetElement(c), at0);
            }

            double r0 = (lw * mw) - (alpha * (sx - at0));
            Vector512<double> at = Vector512.FusedMultiplyAdd(xh, Vector512.Create(t0), Vector512<double>.Zero);
            at = Vector512.FusedMultiplyAdd(row0, Lane(theta, 0), at);
            at = Vector512.FusedMultiplyAdd(row1, Lane(theta, 1), at);
            at = Vector512.FusedMultiplyAdd(row2, Lane(theta, 2), at);
            at = Vector512.FusedMultiplyAdd(row3, Lane(theta, 3), at);
            at = Vector512.FusedMultiplyAdd(row4, Lane(theta, 4), at);
            at = Vector512.FusedMultiplyAdd(row5, Lane(theta, 5), at);
            at = Vector512.FusedMultiplyAdd(row6, Lane(theta, 6), at);
            at = Vector512.FusedMultiplyAdd(row7, Lane(theta, 7), at);
            Vector512<double> rhs = (lambda * mu) - (alphas * (Vector512.Create(s.HE[0], s.HE[1]) - at));

            // Cholesky, column by column; diagonal: alpha A_ii + lambda_i, minus L_it^2 for t = 0 .. i-1 in turn
            double d0 = Math.FusedMultiplyAdd(alpha, sxx, lw);
            if (!(d0 > 0) || !double.IsFinite(d0))
            {
                return false;
            }

            Vector512<double>* l = stackalloc Vector512<double>[8];
            double* inv = stackalloc double[9];
            inv[0] = 1.0 / Math.Sqrt(d0);
            Vector512<double> column = (alphas * xh) * Vector512.Create(inv[0]);
            l[0] = column;
            Vector512<double> diagonal = Vector512.Create(row0.GetElement(0), row1.GetElement(1), row2.GetElement(2), row3.GetElement(3),
                row4.GetElement(4), row5.GetElement(5), row6.GetElement(6), row7.GetElement(7));
            diagonal = Vector512.FusedMultiplyAdd(alphas, diagonal, lambda);
            diagonal = Vector512.FusedMultiplyAdd(-column, column, diagonal);
            double y0 = r0 * inv[0];
            rhs = Vector512.FusedMultiplyAdd(-column, Vector512.Create(y0), rhs);
            double* y = stackalloc double[9];
            y[0] = y0;
            Vector512<double>* rows = stackalloc Vector512<double>[8];
            (rows[0], rows[1], rows[2], rows[3], rows[4], rows[5], rows[6], rows[7]) = (row0, row1, row2, row3, row4, row5, row6, row7);
            for (int c = 1; c <= 8; c++)
            {
                Vector512<long> lane = Vector512.Create((long)(c - 1));
                double d = Avx512F.PermuteVar8x64(diagonal, lane).ToScalar();
                if (!(d > 0) || !double.IsFinite(d))
                {
                    return false;
                }

                double v = 1.0 / Math.Sqrt(d);
                inv[c] = v;
                double yc = Avx512F.PermuteVar8x64(rhs, lane).ToScalar() * v;
                y[c] = yc;
                if (c == 8)
                {
                    break;
                }

                Vector512<double> x = alphas * rows[c - 1];
                for (int t = 0; t < c; t++)
                {
                    Vector512<double> lt = l[t];
                    x = Vector512.FusedMultiplyAdd(-lt, Avx512F.PermuteVar8x64(lt, lane), x);
                }

                column = x * Vector512.Create(v);
                l[c] = column;
                diagonal = Vector512.FusedMultiplyAdd(-column, column, diagonal);
                rhs = Vector512.FusedMultiplyAdd(-column, Vector512.Create(yc), rhs);
            }

            // plus a standard normal each, then L' x = y from the last row up (L_ti for t = i+1 .. k in turn)
            Span<double> normals = stackalloc double[9];
            random.Normals(normals);
            for (int i = 0; i <= 8; i++)
            {
                y[i] += normals[i];
            }

            double* lv = (double*)l;
            for (int i = 8; i >= 0; i--)
            {
                double x = y[i];
                for (int t = i + 1; t <= 8; t++)
                {
                    x = Math.FusedMultiplyAdd(-lv[(i * 8) + t - 1], y[t], x);
                }

                x *= inv[i];
                if (!double.IsFinite(x))
                {
                    return false;
                }

                y[i] = x;
            }

            dw = y[0] - t0;
            _w[j] = y[0];
            for (int f = 0; f < 8; f++)
            {
                dv[f] = y[f + 1] - vj[f];
                vj[f] = y[f + 1];
            }

            return true;

            static Vector512<double> Lane(Vector512<double> v, long i) => Avx512F.PermuteVar8x64(v, Vector512.Create(i));
        }

        /// <summary><see cref="DrawJoint"/> for w and k = 8 (9 parameters) written out, the same operations in the same
        /// order (so the same bits) without the loops, whose short, varying trip counts cost more than the arithmetic.
        /// Each entry of the lower half is a local: aI_C is row I, column C of A, then of L.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private unsafe bool DrawJoint9(int j, int g, double sx, double sxx, double* gr, double* hb, double* xh, double* vj, double* dv,
            ref double dw, ref BayesRandom random)
        {
            double alpha = _alpha;
            // A = sum a a' (lower half), sum a e, theta
            double t0 = _w[j];
            double t1 = vj[0];
            double t2 = vj[1];
            double t3 = vj[2];
            double t4 = vj[3];
            double t5 = vj[4];
            double t6 = vj[5];
            double t7 = vj[6];
            double t8 = vj[7];
            double a0_0 = sxx;
            double a1_0 = xh[0];
            double a1_1 = gr[0];
            double a2_0 = xh[1];
            double a2_1 = gr[1];
            double a2_2 = gr[9];
            double a3_0 = xh[2];
            double a3_1 = gr[2];
            double a3_2 = gr[10];
            double a3_3 = gr[18];
            double a4_0 = xh[3];
            double a4_1 = gr[3];
            double a4_2 = gr[11];
            double a4_3 = gr[19];
            double a4_4 = gr[27];
            double a5_0 = xh[4];
            double a5_1 = gr[4];
            double a5_2 = gr[12];
            double a5_3 = gr[20];
            double a5_4 = gr[28];
            double a5_5 = gr[36];
            double a6_0 = xh[5];
            double a6_1 = gr[5];
            double a6_2 = gr[13];
            double a6_3 = gr[21];
            double a6_4 = gr[29];
            double a6_5 = gr[37];
            double a6_6 = gr[45];
            double a7_0 = xh[6];
            double a7_1 = gr[6];
            double a7_2 = gr[14];
            double a7_3 = gr[22];
            double a7_4 = gr[30];
            double a7_5 = gr[38];
            double a7_6 = gr[46];
            double a7_7 = gr[54];
            double a8_0 = xh[7];
            double a8_1 = gr[7];
            double a8_2 = gr[15];
            double a8_3 = gr[23];
            double a8_4 = gr[31];
            double a8_5 = gr[39];
            double a8_6 = gr[47];
            double a8_7 = gr[55];
            double a8_8 = gr[63];
            double r0 = sx;
            double r1 = hb[0];
            double r2 = hb[1];
            double r3 = hb[2];
            double r4 = hb[3];
            double r5 = hb[4];
            double r6 = hb[5];
            double r7 = hb[6];
            double r8 = hb[7];
            double lw = _wLambda[g], mw = _wMu[g];
            int gk = g * 8;
            double l1 = _vLambda[gk + 0], u1 = _vMu[gk + 0];
            double l2 = _vLambda[gk + 1], u2 = _vMu[gk + 1];
            double l3 = _vLambda[gk + 2], u3 = _vMu[gk + 2];
            double l4 = _vLambda[gk + 3], u4 = _vMu[gk + 3];
            double l5 = _vLambda[gk + 4], u5 = _vMu[gk + 4];
            double l6 = _vLambda[gk + 5], u6 = _vMu[gk + 5];
            double l7 = _vLambda[gk + 6], u7 = _vMu[gk + 6];
            double l8 = _vLambda[gk + 7], u8 = _vMu[gk + 7];
            r0 = (lw * mw) - (alpha * (r0 - Math.FusedMultiplyAdd(a8_0, t8, Math.FusedMultiplyAdd(a7_0, t7, Math.FusedMultiplyAdd(a6_0, t6, Math.FusedMultiplyAdd(a5_0, t5, Math.FusedMultiplyAdd(a4_0, t4, Math.FusedMultiplyAdd(a3_0, t3, Math.FusedMultiplyAdd(a2_0, t2, Math.FusedMultiplyAdd(a1_0, t1, Math.FusedMultiplyAdd(a0_0, t0, 0.0)))))))))));
            r1 = (l1 * u1) - (alpha * (r1 - Math.FusedMultiplyAdd(a8_1, t8, Math.FusedMultiplyAdd(a7_1, t7, Math.FusedMultiplyAdd(a6_1, t6, Math.FusedMultiplyAdd(a5_1, t5, Math.FusedMultiplyAdd(a4_1, t4, Math.FusedMultiplyAdd(a3_1, t3, Math.FusedMultiplyAdd(a2_1, t2, Math.FusedMultiplyAdd(a1_1, t1, Math.FusedMultiplyAdd(a1_0, t0, 0.0)))))))))));
            r2 = (l2 * u2) - (alpha * (r2 - Math.FusedMultiplyAdd(a8_2, t8, Math.FusedMultiplyAdd(a7_2, t7, Math.FusedMultiplyAdd(a6_2, t6, Math.FusedMultiplyAdd(a5_2, t5, Math.FusedMultiplyAdd(a4_2, t4, Math.FusedMultiplyAdd(a3_2, t3, Math.FusedMultiplyAdd(a2_2, t2, Math.FusedMultiplyAdd(a2_1, t1, Math.FusedMultiplyAdd(a2_0, t0, 0.0)))))))))));
            r3 = (l3 * u3) - (alpha * (r3 - Math.FusedMultiplyAdd(a8_3, t8, Math.FusedMultiplyAdd(a7_3, t7, Math.FusedMultiplyAdd(a6_3, t6, Math.FusedMultiplyAdd(a5_3, t5, Math.FusedMultiplyAdd(a4_3, t4, Math.FusedMultiplyAdd(a3_3, t3, Math.FusedMultiplyAdd(a3_2, t2, Math.FusedMultiplyAdd(a3_1, t1, Math.FusedMultiplyAdd(a3_0, t0, 0.0)))))))))));
            r4 = (l4 * u4) - (alpha * (r4 - Math.FusedMultiplyAdd(a8_4, t8, Math.FusedMultiplyAdd(a7_4, t7, Math.FusedMultiplyAdd(a6_4, t6, Math.FusedMultiplyAdd(a5_4, t5, Math.FusedMultiplyAdd(a4_4, t4, Math.FusedMultiplyAdd(a4_3, t3, Math.FusedMultiplyAdd(a4_2, t2, Math.FusedMultiplyAdd(a4_1, t1, Math.FusedMultiplyAdd(a4_0, t0, 0.0)))))))))));
            r5 = (l5 * u5) - (alpha * (r5 - Math.FusedMultiplyAdd(a8_5, t8, Math.FusedMultiplyAdd(a7_5, t7, Math.FusedMultiplyAdd(a6_5, t6, Math.FusedMultiplyAdd(a5_5, t5, Math.FusedMultiplyAdd(a5_4, t4, Math.FusedMultiplyAdd(a5_3, t3, Math.FusedMultiplyAdd(a5_2, t2, Math.FusedMultiplyAdd(a5_1, t1, Math.FusedMultiplyAdd(a5_0, t0, 0.0)))))))))));
            r6 = (l6 * u6) - (alpha * (r6 - Math.FusedMultiplyAdd(a8_6, t8, Math.FusedMultiplyAdd(a7_6, t7, Math.FusedMultiplyAdd(a6_6, t6, Math.FusedMultiplyAdd(a6_5, t5, Math.FusedMultiplyAdd(a6_4, t4, Math.FusedMultiplyAdd(a6_3, t3, Math.FusedMultiplyAdd(a6_2, t2, Math.FusedMultiplyAdd(a6_1, t1, Math.FusedMultiplyAdd(a6_0, t0, 0.0)))))))))));
            r7 = (l7 * u7) - (alpha * (r7 - Math.FusedMultiplyAdd(a8_7, t8, Math.FusedMultiplyAdd(a7_7, t7, Math.FusedMultiplyAdd(a7_6, t6, Math.FusedMultiplyAdd(a7_5, t5, Math.FusedMultiplyAdd(a7_4, t4, Math.FusedMultiplyAdd(a7_3, t3, Math.FusedMultiplyAdd(a7_2, t2, Math.FusedMultiplyAdd(a7_1, t1, Math.FusedMultiplyAdd(a7_0, t0, 0.0)))))))))));
            r8 = (l8 * u8) - (alpha * (r8 - Math.FusedMultiplyAdd(a8_8, t8, Math.FusedMultiplyAdd(a8_7, t7, Math.FusedMultiplyAdd(a8_6, t6, Math.FusedMultiplyAdd(a8_5, t5, Math.FusedMultiplyAdd(a8_4, t4, Math.FusedMultiplyAdd(a8_3, t3, Math.FusedMultiplyAdd(a8_2, t2, Math.FusedMultiplyAdd(a8_1, t1, Math.FusedMultiplyAdd(a8_0, t0, 0.0)))))))))));
            // Cholesky
            double d0 = Math.FusedMultiplyAdd(alpha, a0_0, lw);
            if (!(d0 > 0) || !double.IsFinite(d0))
            {
                return false;
            }

            double v0 = 1.0 / Math.Sqrt(d0);
            a1_0 = (alpha * a1_0) * v0;
            double d1 = Math.FusedMultiplyAdd(-a1_0, a1_0, Math.FusedMultiplyAdd(alpha, a1_1, l1));
            if (!(d1 > 0) || !double.IsFinite(d1))
            {
                return false;
            }

            double v1 = 1.0 / Math.Sqrt(d1);
            a2_0 = (alpha * a2_0) * v0;
            a2_1 = (Math.FusedMultiplyAdd(-a2_0, a1_0, alpha * a2_1)) * v1;
            double d2 = Math.FusedMultiplyAdd(-a2_1, a2_1, Math.FusedMultiplyAdd(-a2_0, a2_0, Math.FusedMultiplyAdd(alpha, a2_2, l2)));
            if (!(d2 > 0) || !double.IsFinite(d2))
            {
                return false;
            }

            double v2 = 1.0 / Math.Sqrt(d2);
            a3_0 = (alpha * a3_0) * v0;
            a3_1 = (Math.FusedMultiplyAdd(-a3_0, a1_0, alpha * a3_1)) * v1;
            a3_2 = (Math.FusedMultiplyAdd(-a3_1, a2_1, Math.FusedMultiplyAdd(-a3_0, a2_0, alpha * a3_2))) * v2;
            double d3 = Math.FusedMultiplyAdd(-a3_2, a3_2, Math.FusedMultiplyAdd(-a3_1, a3_1, Math.FusedMultiplyAdd(-a3_0, a3_0, Math.FusedMultiplyAdd(alpha, a3_3, l3))));
            if (!(d3 > 0) || !double.IsFinite(d3))
            {
                return false;
            }

            double v3 = 1.0 / Math.Sqrt(d3);
            a4_0 = (alpha * a4_0) * v0;
            a4_1 = (Math.FusedMultiplyAdd(-a4_0, a1_0, alpha * a4_1)) * v1;
            a4_2 = (Math.FusedMultiplyAdd(-a4_1, a2_1, Math.FusedMultiplyAdd(-a4_0, a2_0, alpha * a4_2))) * v2;
            a4_3 = (Math.FusedMultiplyAdd(-a4_2, a3_2, Math.FusedMultiplyAdd(-a4_1, a3_1, Math.FusedMultiplyAdd(-a4_0, a3_0, alpha * a4_3)))) * v3;
            double d4 = Math.FusedMultiplyAdd(-a4_3, a4_3, Math.FusedMultiplyAdd(-a4_2, a4_2, Math.FusedMultiplyAdd(-a4_1, a4_1, Math.FusedMultiplyAdd(-a4_0, a4_0, Math.FusedMultiplyAdd(alpha, a4_4, l4)))));
            if (!(d4 > 0) || !double.IsFinite(d4))
            {
                return false;
            }

            double v4 = 1.0 / Math.Sqrt(d4);
            a5_0 = (alpha * a5_0) * v0;
            a5_1 = (Math.FusedMultiplyAdd(-a5_0, a1_0, alpha * a5_1)) * v1;
            a5_2 = (Math.FusedMultiplyAdd(-a5_1, a2_1, Math.FusedMultiplyAdd(-a5_0, a2_0, alpha * a5_2))) * v2;
            a5_3 = (Math.FusedMultiplyAdd(-a5_2, a3_2, Math.FusedMultiplyAdd(-a5_1, a3_1, Math.FusedMultiplyAdd(-a5_0, a3_0, alpha * a5_3)))) * v3;
            a5_4 = (Math.FusedMultiplyAdd(-a5_3, a4_3, Math.FusedMultiplyAdd(-a5_2, a4_2, Math.FusedMultiplyAdd(-a5_1, a4_1, Math.FusedMultiplyAdd(-a5_0, a4_0, alpha * a5_4))))) * v4;
            double d5 = Math.FusedMultiplyAdd(-a5_4, a5_4, Math.FusedMultiplyAdd(-a5_3, a5_3, Math.FusedMultiplyAdd(-a5_2, a5_2, Math.FusedMultiplyAdd(-a5_1, a5_1, Math.FusedMultiplyAdd(-a5_0, a5_0, Math.FusedMultiplyAdd(alpha, a5_5, l5))))));
            if (!(d5 > 0) || !double.IsFinite(d5))
            {
                return false;
            }

            double v5 = 1.0 / Math.Sqrt(d5);
            a6_0 = (alpha * a6_0) * v0;
            a6_1 = (Math.FusedMultiplyAdd(-a6_0, a1_0, alpha * a6_1)) * v1;
            a6_2 = (Math.FusedMultiplyAdd(-a6_1, a2_1, Math.FusedMultiplyAdd(-a6_0, a2_0, alpha * a6_2))) * v2;
            a6_3 = (Math.FusedMultiplyAdd(-a6_2, a3_2, Math.FusedMultiplyAdd(-a6_1, a3_1, Math.FusedMultiplyAdd(-a6_0, a3_0, alpha * a6_3)))) * v3;
            a6_4 = (Math.FusedMultiplyAdd(-a6_3, a4_3, Math.FusedMultiplyAdd(-a6_2, a4_2, Math.FusedMultiplyAdd(-a6_1, a4_1, Math.FusedMultiplyAdd(-a6_0, a4_0, alpha * a6_4))))) * v4;
            a6_5 = (Math.FusedMultiplyAdd(-a6_4, a5_4, Math.FusedMultiplyAdd(-a6_3, a5_3, Math.FusedMultiplyAdd(-a6_2, a5_2, Math.FusedMultiplyAdd(-a6_1, a5_1, Math.FusedMultiplyAdd(-a6_0, a5_0, alpha * a6_5)))))) * v5;
            double d6 = Math.FusedMultiplyAdd(-a6_5, a6_5, Math.FusedMultiplyAdd(-a6_4, a6_4, Math.FusedMultiplyAdd(-a6_3, a6_3, Math.FusedMultiplyAdd(-a6_2, a6_2, Math.FusedMultiplyAdd(-a6_1, a6_1, Math.FusedMultiplyAdd(-a6_0, a6_0, Math.FusedMultiplyAdd(alpha, a6_6, l6)))))));
            if (!(d6 > 0) || !double.IsFinite(d6))
            {
                return false;
            }

            double v6 = 1.0 / Math.Sqrt(d6);
            a7_0 = (alpha * a7_0) * v0;
            a7_1 = (Math.FusedMultiplyAdd(-a7_0, a1_0, alpha * a7_1)) * v1;
            a7_2 = (Math.FusedMultiplyAdd(-a7_1, a2_1, Math.FusedMultiplyAdd(-a7_0, a2_0, alpha * a7_2))) * v2;
            a7_3 = (Math.FusedMultiplyAdd(-a7_2, a3_2, Math.FusedMultiplyAdd(-a7_1, a3_1, Math.FusedMultiplyAdd(-a7_0, a3_0, alpha * a7_3)))) * v3;
            a7_4 = (Math.FusedMultiplyAdd(-a7_3, a4_3, Math.FusedMultiplyAdd(-a7_2, a4_2, Math.FusedMultiplyAdd(-a7_1, a4_1, Math.FusedMultiplyAdd(-a7_0, a4_0, alpha * a7_4))))) * v4;
            a7_5 = (Math.FusedMultiplyAdd(-a7_4, a5_4, Math.FusedMultiplyAdd(-a7_3, a5_3, Math.FusedMultiplyAdd(-a7_2, a5_2, Math.FusedMultiplyAdd(-a7_1, a5_1, Math.FusedMultiplyAdd(-a7_0, a5_0, alpha * a7_5)))))) * v5;
            a7_6 = (Math.FusedMultiplyAdd(-a7_5, a6_5, Math.FusedMultiplyAdd(-a7_4, a6_4, Math.FusedMultiplyAdd(-a7_3, a6_3, Math.FusedMultiplyAdd(-a7_2, a6_2, Math.FusedMultiplyAdd(-a7_1, a6_1, Math.FusedMultiplyAdd(-a7_0, a6_0, alpha * a7_6))))))) * v6;
            double d7 = Math.FusedMultiplyAdd(-a7_6, a7_6, Math.FusedMultiplyAdd(-a7_5, a7_5, Math.FusedMultiplyAdd(-a7_4, a7_4, Math.FusedMultiplyAdd(-a7_3, a7_3, Math.FusedMultiplyAdd(-a7_2, a7_2, Math.FusedMultiplyAdd(-a7_1, a7_1, Math.FusedMultiplyAdd(-a7_0, a7_0, Math.FusedMultiplyAdd(alpha, a7_7, l7))))))));
            if (!(d7 > 0) || !double.IsFinite(d7))
            {
                return false;
            }

            double v7 = 1.0 / Math.Sqrt(d7);
            a8_0 = (alpha * a8_0) * v0;
            a8_1 = (Math.FusedMultiplyAdd(-a8_0, a1_0, alpha * a8_1)) * v1;
            a8_2 = (Math.FusedMultiplyAdd(-a8_1, a2_1, Math.FusedMultiplyAdd(-a8_0, a2_0, alpha * a8_2))) * v2;
            a8_3 = (Math.FusedMultiplyAdd(-a8_2, a3_2, Math.FusedMultiplyAdd(-a8_1, a3_1, Math.FusedMultiplyAdd(-a8_0, a3_0, alpha * a8_3)))) * v3;
            a8_4 = (Math.FusedMultiplyAdd(-a8_3, a4_3, Math.FusedMultiplyAdd(-a8_2, a4_2, Math.FusedMultiplyAdd(-a8_1, a4_1, Math.FusedMultiplyAdd(-a8_0, a4_0, alpha * a8_4))))) * v4;
            a8_5 = (Math.FusedMultiplyAdd(-a8_4, a5_4, Math.FusedMultiplyAdd(-a8_3, a5_3, Math.FusedMultiplyAdd(-a8_2, a5_2, Math.FusedMultiplyAdd(-a8_1, a5_1, Math.FusedMultiplyAdd(-a8_0, a5_0, alpha * a8_5)))))) * v5;
            a8_6 = (Math.FusedMultiplyAdd(-a8_5, a6_5, Math.FusedMultiplyAdd(-a8_4, a6_4, Math.FusedMultiplyAdd(-a8_3, a6_3, Math.FusedMultiplyAdd(-a8_2, a6_2, Math.FusedMultiplyAdd(-a8_1, a6_1, Math.FusedMultiplyAdd(-a8_0, a6_0, alpha * a8_6))))))) * v6;
            a8_7 = (Math.FusedMultiplyAdd(-a8_6, a7_6, Math.FusedMultiplyAdd(-a8_5, a7_5, Math.FusedMultiplyAdd(-a8_4, a7_4, Math.FusedMultiplyAdd(-a8_3, a7_3, Math.FusedMultiplyAdd(-a8_2, a7_2, Math.FusedMultiplyAdd(-a8_1, a7_1, Math.FusedMultiplyAdd(-a8_0, a7_0, alpha * a8_7)))))))) * v7;
            double d8 = Math.FusedMultiplyAdd(-a8_7, a8_7, Math.FusedMultiplyAdd(-a8_6, a8_6, Math.FusedMultiplyAdd(-a8_5, a8_5, Math.FusedMultiplyAdd(-a8_4, a8_4, Math.FusedMultiplyAdd(-a8_3, a8_3, Math.FusedMultiplyAdd(-a8_2, a8_2, Math.FusedMultiplyAdd(-a8_1, a8_1, Math.FusedMultiplyAdd(-a8_0, a8_0, Math.FusedMultiplyAdd(alpha, a8_8, l8)))))))));
            if (!(d8 > 0) || !double.IsFinite(d8))
            {
                return false;
            }

            double v8 = 1.0 / Math.Sqrt(d8);
            // forward
            r0 = (r0) * v0;
            r1 = (Math.FusedMultiplyAdd(-a1_0, r0, r1)) * v1;
            r2 = (Math.FusedMultiplyAdd(-a2_1, r1, Math.FusedMultiplyAdd(-a2_0, r0, r2))) * v2;
            r3 = (Math.FusedMultiplyAdd(-a3_2, r2, Math.FusedMultiplyAdd(-a3_1, r1, Math.FusedMultiplyAdd(-a3_0, r0, r3)))) * v3;
            r4 = (Math.FusedMultiplyAdd(-a4_3, r3, Math.FusedMultiplyAdd(-a4_2, r2, Math.FusedMultiplyAdd(-a4_1, r1, Math.FusedMultiplyAdd(-a4_0, r0, r4))))) * v4;
            r5 = (Math.FusedMultiplyAdd(-a5_4, r4, Math.FusedMultiplyAdd(-a5_3, r3, Math.FusedMultiplyAdd(-a5_2, r2, Math.FusedMultiplyAdd(-a5_1, r1, Math.FusedMultiplyAdd(-a5_0, r0, r5)))))) * v5;
            r6 = (Math.FusedMultiplyAdd(-a6_5, r5, Math.FusedMultiplyAdd(-a6_4, r4, Math.FusedMultiplyAdd(-a6_3, r3, Math.FusedMultiplyAdd(-a6_2, r2, Math.FusedMultiplyAdd(-a6_1, r1, Math.FusedMultiplyAdd(-a6_0, r0, r6))))))) * v6;
            r7 = (Math.FusedMultiplyAdd(-a7_6, r6, Math.FusedMultiplyAdd(-a7_5, r5, Math.FusedMultiplyAdd(-a7_4, r4, Math.FusedMultiplyAdd(-a7_3, r3, Math.FusedMultiplyAdd(-a7_2, r2, Math.FusedMultiplyAdd(-a7_1, r1, Math.FusedMultiplyAdd(-a7_0, r0, r7)))))))) * v7;
            r8 = (Math.FusedMultiplyAdd(-a8_7, r7, Math.FusedMultiplyAdd(-a8_6, r6, Math.FusedMultiplyAdd(-a8_5, r5, Math.FusedMultiplyAdd(-a8_4, r4, Math.FusedMultiplyAdd(-a8_3, r3, Math.FusedMultiplyAdd(-a8_2, r2, Math.FusedMultiplyAdd(-a8_1, r1, Math.FusedMultiplyAdd(-a8_0, r0, r8))))))))) * v8;
            r0 += random.Normal();
            r1 += random.Normal();
            r2 += random.Normal();
            r3 += random.Normal();
            r4 += random.Normal();
            r5 += random.Normal();
            r6 += random.Normal();
            r7 += random.Normal();
            r8 += random.Normal();
            // back
            r8 = (r8) * v8;
            r7 = (Math.FusedMultiplyAdd(-a8_7, r8, r7)) * v7;
            r6 = (Math.FusedMultiplyAdd(-a8_6, r8, Math.FusedMultiplyAdd(-a7_6, r7, r6))) * v6;
            r5 = (Math.FusedMultiplyAdd(-a8_5, r8, Math.FusedMultiplyAdd(-a7_5, r7, Math.FusedMultiplyAdd(-a6_5, r6, r5)))) * v5;
            r4 = (Math.FusedMultiplyAdd(-a8_4, r8, Math.FusedMultiplyAdd(-a7_4, r7, Math.FusedMultiplyAdd(-a6_4, r6, Math.FusedMultiplyAdd(-a5_4, r5, r4))))) * v4;
            r3 = (Math.FusedMultiplyAdd(-a8_3, r8, Math.FusedMultiplyAdd(-a7_3, r7, Math.FusedMultiplyAdd(-a6_3, r6, Math.FusedMultiplyAdd(-a5_3, r5, Math.FusedMultiplyAdd(-a4_3, r4, r3)))))) * v3;
            r2 = (Math.FusedMultiplyAdd(-a8_2, r8, Math.FusedMultiplyAdd(-a7_2, r7, Math.FusedMultiplyAdd(-a6_2, r6, Math.FusedMultiplyAdd(-a5_2, r5, Math.FusedMultiplyAdd(-a4_2, r4, Math.FusedMultiplyAdd(-a3_2, r3, r2))))))) * v2;
            r1 = (Math.FusedMultiplyAdd(-a8_1, r8, Math.FusedMultiplyAdd(-a7_1, r7, Math.FusedMultiplyAdd(-a6_1, r6, Math.FusedMultiplyAdd(-a5_1, r5, Math.FusedMultiplyAdd(-a4_1, r4, Math.FusedMultiplyAdd(-a3_1, r3, Math.FusedMultiplyAdd(-a2_1, r2, r1)))))))) * v1;
            r0 = (Math.FusedMultiplyAdd(-a8_0, r8, Math.FusedMultiplyAdd(-a7_0, r7, Math.FusedMultiplyAdd(-a6_0, r6, Math.FusedMultiplyAdd(-a5_0, r5, Math.FusedMultiplyAdd(-a4_0, r4, Math.FusedMultiplyAdd(-a3_0, r3, Math.FusedMultiplyAdd(-a2_0, r2, Math.FusedMultiplyAdd(-a1_0, r1, r0))))))))) * v0;
            if (!double.IsFinite(r0) || !double.IsFinite(r1) || !double.IsFinite(r2) || !double.IsFinite(r3) || !double.IsFinite(r4)
                || !double.IsFinite(r5) || !double.IsFinite(r6) || !double.IsFinite(r7) || !double.IsFinite(r8))
            {
                return false;
            }

            dw = r0 - t0;
            _w[j] = r0;
            dv[0] = r1 - t1;
            vj[0] = r1;
            dv[1] = r2 - t2;
            vj[1] = r2;
            dv[2] = r3 - t3;
            vj[2] = r3;
            dv[3] = r4 - t4;
            vj[3] = r4;
            dv[4] = r5 - t5;
            vj[4] = r5;
            dv[5] = r6 - t6;
            vj[5] = r6;
            dv[6] = r7 - t7;
            vj[6] = r7;
            dv[7] = r8 - t8;
            vj[7] = r8;
            return true;
        }

        /// <summary>What the column passes know of the values: with every value 1 (one-hot or binary data) the products
        /// with x are left out, which gives the same bits (x = 1 makes each of them exact).</summary>
        private interface IColumnValues
        {
            static abstract bool AllOne { get; }
        }

        private struct Ones : IColumnValues
        {
            public static bool AllOne => true;
        }

        private struct AnyValues : IColumnValues
        {
            public static bool AllOne => false;
        }

        private enum Phase
        {
            Hyper, Bias, Blocks, Empty, RowPass, Snapshot, TestScore, TestEval, Report, Gather, Draw, Apply, Count,
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private void Mark(Phase phase, ref long t)
        {
            if (Profile)
            {
                long now = Stopwatch.GetTimestamp();
                _phase[(int)phase] += now - t;
                t = now;
            }
        }

        private void PrintProfile(int sweeps)
        {
            foreach (Scratch s in _scratch)
            {
                for (int i = 0; i < 3; i++)
                {
                    _phase[(int)Phase.Gather + i] += s.Ticks[i];
                }
            }

            var text = new System.Text.StringBuilder($"FM_MCMC_PROFILE: {sweeps} sweeps, {_threads} thread(s), {_blocks.Count} blocks; ms per sweep:");
            for (int i = 0; i < (int)Phase.Count; i++)
            {
                text.Append(System.Globalization.CultureInfo.InvariantCulture, $" {(Phase)i} {_phase[i] * 1000.0 / Stopwatch.Frequency / sweeps:F3}");
            }

            text.Append(System.Globalization.CultureInfo.InvariantCulture, $" | blocks 0,1,2,3+: {string.Join(' ', _blockTicks.Select(x => (x * 1000.0 / Stopwatch.Frequency / sweeps).ToString("F3", System.Globalization.CultureInfo.InvariantCulture)))}");
            Console.Error.WriteLine(text.ToString());
        }

        /// <summary>How the features of one block are shared among the threads (fixed by the data).</summary>
        private sealed class BlockPlan
        {
            /// <summary>The features of at most SegmentEntries nonzeros, in groups [GroupStart[g], GroupStart[g + 1]).</summary>
            public required int[] Small { get; init; }

            public required int[] GroupStart { get; init; }

            /// <summary>The larger features; the parts of Big[i] are [BigSegment[i], BigSegment[i + 1]).</summary>
            public required int[] Big { get; init; }

            public required int[] BigSegment { get; init; }

            /// <summary>Per part: its first nonzero (column form), its length and its feature (an index into Big).</summary>
            public required int[] SegmentStart { get; init; }

            public required int[] SegmentLength { get; init; }

            public required int[] SegmentOwner { get; init; }

            public long Weight { get; init; }

            public static BlockPlan Of(FeatureBlocks blocks, int b)
            {
                var small = new List<int>();
                var groupStart = new List<int> { 0 };
                var big = new List<int>();
                var bigSegment = new List<int> { 0 };
                var segmentStart = new List<int>();
                var segmentLength = new List<int>();
                var segmentOwner = new List<int>();
                long weight = 0, group = 0;
                for (int i = blocks.BlockStart[b]; i < blocks.BlockStart[b + 1]; i++)
                {
                    int j = blocks.Features[i];
                    int start = blocks.ColumnStart[j], length = blocks.ColumnStart[j + 1] - start;
                    weight += length + FeatureWeight;
                    if (length <= SegmentEntries)
                    {
                        small.Add(j);
                        group += length + FeatureWeight;
                        if (group >= GroupWeight)
                        {
                            groupStart.Add(small.Count);
                            group = 0;
                        }

                        continue;
                    }

                    for (int at = 0; at < length; at += SegmentEntries)
                    {
                        segmentStart.Add(start + at);
                        segmentLength.Add(Math.Min(SegmentEntries, length - at));
                        segmentOwner.Add(big.Count);
                    }

                    big.Add(j);
                    bigSegment.Add(segmentStart.Count);
                }

                if (groupStart[^1] != small.Count)
                {
                    groupStart.Add(small.Count);
                }

                return new BlockPlan
                {
                    Small = [.. small], GroupStart = [.. groupStart], Big = [.. big], BigSegment = [.. bigSegment],
                    SegmentStart = [.. segmentStart], SegmentLength = [.. segmentLength], SegmentOwner = [.. segmentOwner], Weight = weight,
                };
            }
        }

        /// <summary>One thread's buffers for <see cref="DrawFeature"/>, in vectors of 4 of the padded k.</summary>
        private sealed class Scratch(int kp)
        {
            public readonly Vector256<double>[] Old = new Vector256<double>[kp / 4];
            public readonly Vector256<double>[] H = new Vector256<double>[kp / 4];
            public readonly Vector256<double>[] HE = new Vector256<double>[kp / 4];
            public readonly Vector256<double>[] XH = new Vector256<double>[kp / 4];
            public readonly Vector256<double>[] Delta = new Vector256<double>[kp / 4];
            public readonly Vector256<double>[] Gram = new Vector256<double>[kp * kp / 4];
            public readonly double[] Joint = new double[(kp + 1) * (kp + 1)];
            public readonly double[] Rhs = new double[kp + 1];
            public readonly double[] Theta = new double[kp + 1];
            public readonly double[] Inverse = new double[kp + 1];
            public readonly long[] Ticks = new long[3];
            public double Sx, Sxx;
        }

        /// <summary>Draws (MCMC) each group's precision then mean for one block of parameters (w, or factor f of V:
        /// the values at j * stride + offset); ALS keeps the precision and sets the mean to mu0.</summary>
        private void DrawHyper(double[] parameters, int offset, int stride, double[] mu, double[] lambda, int f)
        {
            int muStride = parameters == _w ? 1 : _k;
            if (!_sample)
            {
                for (int g = 0; g < _groups; g++)
                {
                    mu[(g * muStride) + f] = Mu0;
                }

                return;
            }

            Span<double> squares = _groups <= 64 ? stackalloc double[_groups] : new double[_groups];
            Span<double> sums = _groups <= 64 ? stackalloc double[_groups] : new double[_groups];
            for (int g = 0; g < _groups; g++)
            {
                double m = mu[(g * muStride) + f] - Mu0;
                squares[g] = Beta0 * m * m + Gamma0;
            }

            for (int j = 0; j < _n; j++)
            {
                int g = _group[j];
                double value = parameters[((long)j * stride) + offset];
                double d = value - mu[(g * muStride) + f];
                squares[g] += d * d;
                sums[g] += value;
            }

            for (int g = 0; g < _groups; g++)
            {
                double next = _random.Gamma((Alpha0 + _groupCount[g] + 1) / 2, squares[g] / 2);
                if (double.IsFinite(next))
                {
                    lambda[(g * muStride) + f] = next;
                }
            }

            for (int g = 0; g < _groups; g++)
            {
                double count = _groupCount[g] + Beta0;
                double mean = (sums[g] + Beta0 * Mu0) / count;
                double next = _random.Normal(mean, Math.Sqrt(1.0 / (count * lambda[(g * muStride) + f])));
                if (double.IsFinite(next))
                {
                    mu[(g * muStride) + f] = next;
                }
            }
        }
    }
}
