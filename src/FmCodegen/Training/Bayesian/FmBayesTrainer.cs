using System.Diagnostics;
using System.Runtime.CompilerServices;
using FmCodegen.Data;
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

        // The work of a block is cut into at most MaxParts parts of at least PartEntries nonzeros (more when the block
        // has many features, whose partial sums are added at the end); the cut depends on the data alone, never on
        // the thread count, so every thread count adds in the same order and gives the same bits.
        private const int MaxParts = 8;
        private const int PartEntries = 8_192;
        private const int PartRows = 16_384;

        private readonly FmBayesOptions _o;
        private readonly SparseDataset _train;
        private readonly SparseDataset? _test;
        private readonly bool _sample;
        private readonly bool _classification;
        private readonly int _n;
        private readonly int _k;
        private readonly int _rows;
        private readonly FeatureBlocks _blocks;
        private readonly double[] _mean;
        private readonly double[] _precision;
        private readonly double[] _change;
        private readonly double[] _target;
        private readonly RowState[] _state;
        private readonly double[] _factorSums;
        private readonly double[] _scratch;
        private readonly int[] _group;
        private readonly int _groups;
        private readonly int[] _groupCount;
        private readonly double[] _w;
        private readonly double[] _v;
        private readonly double[] _wMu, _wLambda, _vMu, _vLambda;
        private readonly double _reg0;
        private readonly BayesRandom _random;
        private readonly float _min, _max;
        private readonly int _threads;
        private readonly ParallelOptions _parallel;
        private readonly double[][] _partMean;
        private readonly double[][] _partPrecision;
        private readonly double[] _vt;
        private double _w0;
        private double _alpha = Alpha0;

        public GibbsSampler(SparseDataset train, FmBayesOptions o, SparseDataset? test)
        {
            _o = o;
            _train = train;
            _test = test;
            _sample = o.Method == FmBayesMethod.Mcmc;
            _classification = o.Task == FmTask.BinaryClassification;
            _n = Math.Max(Math.Max(train.NumFeatures, o.NumFeatures), test?.NumFeatures ?? 0);
            _k = o.EmbeddingSize;
            _rows = train.Count;
            _random = new BayesRandom(unchecked((ulong)o.Seed * 0x9E3779B97F4A7C15UL + 0xB5AD4ECEDA1CE2A9UL));

            _blocks = FeatureBlocks.Build(train, _n);
            _scratch = new double[_blocks.MaxEntries];
            _mean = new double[_blocks.MaxFeatures];
            _precision = new double[_blocks.MaxFeatures];
            _change = new double[_blocks.MaxFeatures];
            _threads = o.Threads > 0 ? o.Threads : Environment.ProcessorCount;
            _parallel = new ParallelOptions { MaxDegreeOfParallelism = _threads };
            int maxParts = 1;
            for (int b = 0; b < _blocks.Count; b++)
            {
                maxParts = Math.Max(maxParts, Parts(_blocks.EntryStart[b + 1] - _blocks.EntryStart[b], _blocks.FeatureStart[b + 1] - _blocks.FeatureStart[b]));
            }

            _partMean = new double[maxParts > 1 ? maxParts : 0][];
            _partPrecision = new double[_partMean.Length][];
            for (int p = 0; p < _partMean.Length; p++)
            {
                _partMean[p] = new double[_blocks.MaxFeatures];
                _partPrecision[p] = new double[_blocks.MaxFeatures];
            }
            ReadOnlySpan<float> labels = train.Labels;
            _target = new double[_rows];
            _min = float.PositiveInfinity;
            _max = float.NegativeInfinity;
            for (int r = 0; r < _rows; r++)
            {
                _target[r] = _classification ? (labels[r] > 0 ? 1.0 : -1.0) : labels[r];
                _min = Math.Min(_min, labels[r]);
                _max = Math.Max(_max, labels[r]);
            }

            _state = new RowState[_rows];
            _factorSums = new double[(long)_k * _rows];

            _group = new int[_n];
            if (o.Groups is { } groups)
            {
                for (int j = 0; j < _n; j++)
                {
                    _group[j] = groups[j];
                }
            }

            _groups = _n == 0 ? 1 : Math.Max(1, _group.Max() + 1);
            if (o.Groups is { Count: > 0 } all)
            {
                _groups = Math.Max(_groups, all.Max() + 1);
            }

            _groupCount = new int[_groups];
            foreach (int g in _group)
            {
                _groupCount[g]++;
            }

            _w = new double[_n];
            _v = new double[(long)_k * _n];
            _vt = new double[(long)_k * _n];
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

            // libFM starts w and V from N(0, init_stdev) (w only when it is used)
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
                    _v[(long)f * _n + j] = _random.Normal(0, o.InitStdev);
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

            RefreshPredictions(drawLatent: false);
            for (int i = 0; i < iterations; i++)
            {
                long start = Stopwatch.GetTimestamp();
                DrawAll();
                double trainMetric = RefreshPredictions(drawLatent: true);

                bool keep = _sample ? i >= averageFrom : i == iterations - 1;
                bool snapshot = _test is not null || (keep && _o.StoreSamples) || i == iterations - 1;
                FmEvaluation? testEvaluation = null;
                if (snapshot)
                {
                    last = Snapshot();
                    if (keep && _sample && _o.StoreSamples)
                    {
                        samples.Add(last);
                    }

                    if (_test is not null)
                    {
                        Fm.ScoreBatch(last, _test.Offsets, _test.Indices, _test.Values, testScores, maxThreads: _threads);
                        bool accumulate = _sample && i >= averageFrom;
                        if (accumulate)
                        {
                            averaged++;
                        }

                        for (int r = 0; r < testScores!.Length; r++)
                        {
                            double p = Link(testScores[r], link, clipMin, clipMax);
                            if (accumulate)
                            {
                                testSums![r] += p;
                                testPredictions![r] = (float)(testSums[r] / averaged);
                            }
                            else
                            {
                                testPredictions![r] = (float)p;
                            }
                        }

                        testEvaluation = Evaluate(testPredictions!, _test.Labels);
                    }
                }

                double seconds = Stopwatch.GetElapsedTime(start).TotalSeconds;
                var sweep = new FmBayesSweep(i + 1, trainMetric, testEvaluation, _alpha, seconds,
                    (double[])_wMu.Clone(), (double[])_wLambda.Clone(), (double[])_vMu.Clone(), (double[])_vLambda.Clone());
                history.Add(sweep);
                progress?.Invoke(sweep);
            }

            FmSampleSet? set = _sample && _o.StoreSamples ? FmSampleSet.Create(samples, link, clipMin, clipMax) : null;
            return new FmBayesResult(last!, set, history, _min, _max, testPredictions, _o);
        }

        private static double Link(float score, FmSampleLink link, float min, float max) =>
            link == FmSampleLink.Probit ? FmSampleSet.NormalCdf(score) : Math.Clamp(score, min, max);

        private FmEvaluation Evaluate(float[] predictions, ReadOnlySpan<float> labels)
        {
            if (_classification)
            {
                return new FmEvaluation(FmTask.BinaryClassification, predictions.Length, FmMetrics.LogLossOfProbabilities(predictions, labels),
                    FmMetrics.Auc(predictions, labels), FmMetrics.Accuracy(predictions, labels, 0.5f), double.NaN, double.NaN);
            }

            return new FmEvaluation(FmTask.Regression, predictions.Length, double.NaN, double.NaN, double.NaN,
                FmMetrics.Rmse(predictions, labels), FmMetrics.Mae(predictions, labels));
        }

        /// <summary>The current parameters as a float model for the kernels (k = 0 becomes one zero factor).</summary>
        private FmModel Snapshot()
        {
            int k = Math.Max(_k, 1);
            var weights = new float[_n];
            var factors = new float[(long)_n * k];
            if (_o.UseLinear)
            {
                for (int j = 0; j < _n; j++)
                {
                    weights[j] = (float)_w[j];
                }
            }

            for (int f = 0; f < _k; f++)
            {
                long row = (long)f * _n;
                for (int j = 0; j < _n; j++)
                {
                    factors[(long)j * k + f] = (float)_v[row + j];
                }
            }

            return FmModel.Create(_o.UseBias ? (float)_w0 : 0f, weights, factors, k);
        }

        /// <summary>Recomputes every training prediction from the parameters (no drift from the incremental updates),
        /// sets the residuals e = y_hat - target, and for classification draws the latent targets first. Returns the
        /// training RMSE (clipped) or accuracy. The predictions are made in parallel parts (each row alone); the draws
        /// and the metric follow in one pass in row order.</summary>
        private double RefreshPredictions(bool drawLatent)
        {
            int k = _k;
            for (int f = 0; f < k; f++)
            {
                for (int j = 0; j < _n; j++)
                {
                    _vt[(long)j * k + f] = _v[(long)f * _n + j];
                }
            }

            int parts = Math.Clamp(_rows / PartRows, 1, MaxParts);
            RunParts(parts, p => Predict((int)((long)_rows * p / parts), (int)((long)_rows * (p + 1) / parts)));

            double metric = 0;
            Span<RowState> state = _state;
            for (int r = 0; r < _rows; r++)
            {
                double y = state[r].E; // the prediction, as Predict left it
                double target = _target[r];
                if (!_classification)
                {
                    double clipped = Math.Clamp(y, _min, _max);
                    metric += (clipped - target) * (clipped - target);
                    state[r].E = y - target;
                    continue;
                }

                if ((y >= 0) == (target > 0))
                {
                    metric++;
                }

                if (drawLatent)
                {
                    if (_sample)
                    {
                        // z ~ N(y, 1) truncated to z > 0 for positives, z < 0 for negatives
                        target = target > 0 ? y + _random.LeftTruncatedNormal(-y) : y - _random.LeftTruncatedNormal(y);
                    }
                    else
                    {
                        // the truncated normal's mean: y + phi(y) / Phi(y) above 0, y - phi(y) / Phi(-y) below
                        double density = Math.Exp(-0.5 * y * y) / Math.Sqrt(2 * Math.PI);
                        target = target > 0 ? y + density / Math.Max(FmSampleSet.NormalCdf(y), 1e-300)
                            : y - density / Math.Max(FmSampleSet.NormalCdf(-y), 1e-300);
                    }
                }

                state[r].E = y - target;
            }

            return _classification ? metric / _rows : Math.Sqrt(metric / _rows);
        }

        /// <summary>The predictions of rows [from, to) into their residual slots, and their factor sums.</summary>
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void Predict(int from, int to)
        {
            ReadOnlySpan<int> offsets = _train.Offsets;
            ReadOnlySpan<int> indices = _train.Indices;
            ReadOnlySpan<float> values = _train.Values;
            ReadOnlySpan<double> vt = _vt;
            int k = _k;
            Span<double> sum = stackalloc double[Math.Max(k, 1)];
            Span<double> squares = stackalloc double[Math.Max(k, 1)];
            for (int r = from; r < to; r++)
            {
                double y = _o.UseBias ? _w0 : 0;
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

                    ReadOnlySpan<double> row = vt.Slice((int)((long)j * k), k);
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
                    _factorSums[((long)f * _rows) + r] = sum[f];
                }

                _state[r].E = y;
            }
        }

        /// <summary>How many parts the work of a block of <paramref name="entries"/> nonzeros over
        /// <paramref name="features"/> features is cut into (from the data alone).</summary>
        private static int Parts(int entries, int features) => Math.Clamp(entries / (PartEntries + (2 * features)), 1, MaxParts);

        /// <summary>Where part p of a block's entries starts: an even cut moved forward to a row's first entry, so
        /// that no row (a repeated feature) is split between two parts.</summary>
        private int PartStart(int entryStart, int count, int parts, int p)
        {
            if (p == 0)
            {
                return 0;
            }

            if (p == parts)
            {
                return count;
            }

            int at = (int)((long)count * p / parts);
            ReadOnlySpan<BlockEntry> entries = _blocks.Entries.AsSpan(entryStart, count);
            while (at < count && entries[at].Row == entries[at - 1].Row)
            {
                at++;
            }

            return at;
        }

        private void RunParts(int parts, Action<int> body)
        {
            if (parts == 1 || _threads == 1)
            {
                for (int p = 0; p < parts; p++)
                {
                    body(p);
                }

                return;
            }

            Parallel.For(0, parts, _parallel, body);
        }

        /// <summary>sum h e and sum h^2 per feature of one block, over the block's parts, added in part order.</summary>
        private void BlockSums(int b, int features, bool linear)
        {
            int entryStart = _blocks.EntryStart[b];
            int count = _blocks.EntryStart[b + 1] - entryStart;
            int parts = Parts(count, features);
            if (parts == 1)
            {
                PartSums(entryStart, 0, count, _mean, _precision, features, linear);
                return;
            }

            RunParts(parts, p => PartSums(entryStart, PartStart(entryStart, count, parts, p), PartStart(entryStart, count, parts, p + 1),
                _partMean[p], _partPrecision[p], features, linear));
            Span<double> mean = _mean.AsSpan(0, features);
            Span<double> precision = _precision.AsSpan(0, features);
            _partMean[0].AsSpan(0, features).CopyTo(mean);
            _partPrecision[0].AsSpan(0, features).CopyTo(precision);
            for (int p = 1; p < parts; p++)
            {
                ReadOnlySpan<double> partMean = _partMean[p].AsSpan(0, features);
                ReadOnlySpan<double> partPrecision = _partPrecision[p].AsSpan(0, features);
                for (int l = 0; l < features; l++)
                {
                    mean[l] += partMean[l];
                    precision[l] += partPrecision[l];
                }
            }
        }

        /// <summary>Applies the changes of one block's parameters to the rows' caches, part by part (each row is in
        /// one part only).</summary>
        private void BlockUpdate(int b, int features, bool linear)
        {
            int entryStart = _blocks.EntryStart[b];
            int count = _blocks.EntryStart[b + 1] - entryStart;
            int parts = Parts(count, features);
            RunParts(parts, p => PartUpdate(entryStart, PartStart(entryStart, count, parts, p), PartStart(entryStart, count, parts, p + 1), linear));
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void PartSums(int entryStart, int from, int to, double[] meanArray, double[] precisionArray, int features, bool linear)
        {
            ReadOnlySpan<BlockEntry> entries = _blocks.Entries.AsSpan(entryStart + from, to - from);
            Span<double> mean = meanArray.AsSpan(0, features);
            Span<double> precision = precisionArray.AsSpan(0, features);
            ReadOnlySpan<RowState> state = _state;
            mean.Clear();
            precision.Clear();
            if (linear)
            {
                foreach (BlockEntry entry in entries)
                {
                    double x = entry.X;
                    mean[entry.Local] += x * state[entry.Row].E;
                    precision[entry.Local] += x * x;
                }

                return;
            }

            ReadOnlySpan<double> old = _change.AsSpan(0, features);
            Span<double> h = _scratch.AsSpan(from, to - from);
            for (int p = 0; p < entries.Length; p++)
            {
                BlockEntry entry = entries[p];
                ref readonly RowState row = ref state[entry.Row];
                double x = entry.X;
                double hp = x * (row.Q - x * old[entry.Local]);
                h[p] = hp;
                mean[entry.Local] += hp * row.E;
                precision[entry.Local] += hp * hp;
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void PartUpdate(int entryStart, int from, int to, bool linear)
        {
            ReadOnlySpan<BlockEntry> entries = _blocks.Entries.AsSpan(entryStart + from, to - from);
            ReadOnlySpan<double> change = _change;
            Span<RowState> state = _state;
            if (linear)
            {
                foreach (BlockEntry entry in entries)
                {
                    state[entry.Row].E += entry.X * change[entry.Local];
                }

                return;
            }

            ReadOnlySpan<double> h = _scratch.AsSpan(from, to - from);
            for (int p = 0; p < entries.Length; p++)
            {
                BlockEntry entry = entries[p];
                ref RowState row = ref state[entry.Row];
                double delta = change[entry.Local];
                row.Q += entry.X * delta;
                row.E += h[p] * delta;
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void DrawAll()
        {
            if (_sample)
            {
                double sse = 0;
                foreach (ref readonly RowState row in _state.AsSpan())
                {
                    sse += row.E * row.E;
                }

                double alpha = _random.Gamma((Alpha0 + _rows) / 2, (Gamma0 + sse) / 2);
                if (double.IsFinite(alpha))
                {
                    _alpha = alpha;
                }
            }

            if (_o.UseBias)
            {
                DrawBias();
            }

            if (_o.UseLinear)
            {
                DrawHyper(_w, 0, 1, _wMu, _wLambda, 0);
                for (int b = 0; b < _blocks.Count; b++)
                {
                    DrawLinearBlock(b);
                }

                foreach (int j in _blocks.Empty)
                {
                    _w[j] = DrawFromPrior(_w[j], _wMu[_group[j]], _wLambda[_group[j]]);
                }
            }

            if (_k == 0)
            {
                return;
            }

            for (int f = 0; f < _k; f++)
            {
                DrawHyper(_v, (long)f * _n, _k, _vMu, _vLambda, f);
            }

            for (int f = 0; f < _k; f++)
            {
                // q_f of every row, as the last refresh left it: only this factor's draws change it
                int parts = Math.Clamp(_rows / PartRows, 1, MaxParts);
                int factor = f;
                RunParts(parts, p => LoadFactorSums(factor, (int)((long)_rows * p / parts), (int)((long)_rows * (p + 1) / parts)));

                DrawFactorColumn(f);
            }
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        private void DrawFactorColumn(int f)
        {
            Span<double> v = _v.AsSpan((int)((long)f * _n), _n);
            for (int b = 0; b < _blocks.Count; b++)
            {
                DrawFactorBlock(v, f, b);
            }

            foreach (int j in _blocks.Empty)
            {
                int g = _group[j];
                v[j] = DrawFromPrior(v[j], _vMu[g * _k + f], _vLambda[g * _k + f]);
            }
        }

        private void DrawBias()
        {
            double sum = 0;
            foreach (ref readonly RowState row in _state.AsSpan())
            {
                sum += row.E;
            }

            sum -= _w0 * _rows;
            double variance = 1.0 / (_reg0 + _alpha * _rows);
            double mean = -variance * _alpha * sum;
            double next = _sample ? _random.Normal(mean, Math.Sqrt(variance)) : mean;
            if (!double.IsFinite(next))
            {
                return;
            }

            double change = next - _w0;
            Span<RowState> state = _state;
            for (int r = 0; r < state.Length; r++)
            {
                state[r].E += change;
            }

            _w0 = next;
        }

        /// <summary>A parameter without data: its prior N(mu, 1 / lambda) (0 when lambda is 0, as libFM).</summary>
        private double DrawFromPrior(double old, double mu, double lambda)
        {
            double variance = 1.0 / lambda;
            double next = !double.IsFinite(variance) ? 0 : _sample ? _random.Normal(mu, Math.Sqrt(variance)) : mu;
            return double.IsFinite(next) ? next : old;
        }

        /// <summary>The conditional draw (or mean, ALS) of one parameter from the sums over its nonzeros:
        /// <paramref name="mean"/> = sum h e with e the residual including the parameter's own part, and
        /// <paramref name="precision"/> = sum h^2.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        private double Draw(double old, double mean, double precision, double mu, double lambda)
        {
            mean -= old * precision;
            double variance = 1.0 / (lambda + _alpha * precision);
            mean = variance * (mu * lambda - _alpha * mean);
            double next = !double.IsFinite(variance) ? 0 : _sample ? _random.Normal(mean, Math.Sqrt(variance)) : mean;
            return double.IsFinite(next) ? next : old;
        }

        private void LoadFactorSums(int f, int from, int to)
        {
            ReadOnlySpan<double> sums = _factorSums.AsSpan((int)((long)f * _rows) + from, to - from);
            Span<RowState> state = _state.AsSpan(from, to - from);
            for (int r = 0; r < state.Length; r++)
            {
                state[r].Q = sums[r];
            }
        }

        /// <summary>Draws the linear weights of one block: one pass for the sums, the draws, one pass for the residuals.</summary>
        private void DrawLinearBlock(int b)
        {
            ReadOnlySpan<int> features = _blocks.Features.AsSpan(_blocks.FeatureStart[b], _blocks.FeatureStart[b + 1] - _blocks.FeatureStart[b]);
            BlockSums(b, features.Length, linear: true);
            Span<double> change = _change.AsSpan(0, features.Length);
            for (int l = 0; l < features.Length; l++)
            {
                int j = features[l];
                int g = _group[j];
                double old = _w[j];
                double next = Draw(old, _mean[l], _precision[l], _wMu[g], _wLambda[g]);
                change[l] = next - old;
                _w[j] = next;
            }

            BlockUpdate(b, features.Length, linear: true);
        }

        /// <summary>Draws factor f of one block's features.</summary>
        private void DrawFactorBlock(Span<double> v, int f, int b)
        {
            ReadOnlySpan<int> features = _blocks.Features.AsSpan(_blocks.FeatureStart[b], _blocks.FeatureStart[b + 1] - _blocks.FeatureStart[b]);
            Span<double> change = _change.AsSpan(0, features.Length);
            for (int l = 0; l < features.Length; l++)
            {
                change[l] = v[features[l]];
            }

            BlockSums(b, features.Length, linear: false);
            for (int l = 0; l < features.Length; l++)
            {
                int j = features[l];
                int g = _group[j];
                double old = v[j];
                double next = Draw(old, _mean[l], _precision[l], _vMu[g * _k + f], _vLambda[g * _k + f]);
                change[l] = next - old;
                v[j] = next;
            }

            BlockUpdate(b, features.Length, linear: false);
        }

        /// <summary>Per training row: the residual e = y_hat - target and q_f = sum_j v_jf x_j of the factor being drawn.</summary>
        private struct RowState
        {
            public double E;
            public double Q;
        }

        /// <summary>Draws (MCMC) each group's precision then mean for one block of parameters (w, or factor f of V);
        /// ALS keeps the precision and sets the mean to mu0.</summary>
        private void DrawHyper(double[] parameters, long offset, int stride, double[] mu, double[] lambda, int f)
        {
            if (!_sample)
            {
                for (int g = 0; g < _groups; g++)
                {
                    mu[g * stride + f] = Mu0;
                }

                return;
            }

            Span<double> squares = _groups <= 64 ? stackalloc double[_groups] : new double[_groups];
            Span<double> sums = _groups <= 64 ? stackalloc double[_groups] : new double[_groups];
            for (int g = 0; g < _groups; g++)
            {
                double m = mu[g * stride + f] - Mu0;
                squares[g] = Beta0 * m * m + Gamma0;
            }

            ReadOnlySpan<double> values = parameters.AsSpan((int)offset, _n);
            for (int j = 0; j < _n; j++)
            {
                int g = _group[j];
                double d = values[j] - mu[g * stride + f];
                squares[g] += d * d;
                sums[g] += values[j];
            }

            for (int g = 0; g < _groups; g++)
            {
                double next = _random.Gamma((Alpha0 + _groupCount[g] + 1) / 2, squares[g] / 2);
                if (double.IsFinite(next))
                {
                    lambda[g * stride + f] = next;
                }
            }

            for (int g = 0; g < _groups; g++)
            {
                double count = _groupCount[g] + Beta0;
                double mean = (sums[g] + Beta0 * Mu0) / count;
                double next = _random.Normal(mean, Math.Sqrt(1.0 / (count * lambda[g * stride + f])));
                if (double.IsFinite(next))
                {
                    mu[g * stride + f] = next;
                }
            }
        }
    }
}
