using System.Diagnostics;
using FmCodegen.Data;
using FmCodegen.Metrics;

namespace FmCodegen.Training;

/// <summary>Everything that shapes an SGDA run (libFM's <c>-method sgda</c>). Only <see cref="Task"/> is required.</summary>
public sealed record FmSgdaOptions
{
    /// <summary>Regression (squared loss, predictions clipped to the training targets' range) or binary classification
    /// (logistic loss; labels above 0 are positive).</summary>
    public required FmTask Task { get; init; }

    /// <summary>The number of factors k; 0 gives a linear model.</summary>
    public int EmbeddingSize { get; init; } = 8;

    /// <summary>Use the global bias w0 (libFM's k0).</summary>
    public bool UseBias { get; init; } = true;

    /// <summary>Use the linear weights w (libFM's k1).</summary>
    public bool UseLinear { get; init; } = true;

    /// <summary>Passes over the training data (libFM's -iter).</summary>
    public int Iterations { get; init; } = 100;

    /// <summary>The step size of both the parameters and the regularisation (libFM's -learn_rate).</summary>
    public double LearningRate { get; init; } = 0.1;

    /// <summary>The standard deviation of the normal the factors start from (libFM's -init_stdev); w0 and w start at 0.</summary>
    public double InitStdev { get; init; } = 0.1;

    /// <summary>The seed of the factors' starting values (the only random draw: rows are visited in file order, as libFM).</summary>
    public int Seed { get; init; } = 1;

    /// <summary>The group of every feature (libFM's -meta): one L2 per group for w and per group and factor for V.
    /// Null: one group.</summary>
    public IReadOnlyList<int>? Groups { get; init; }

    /// <summary>The least number of features of the model (more when the data has more).</summary>
    public int NumFeatures { get; init; }
}

/// <summary>One pass of an SGDA run.</summary>
/// <param name="Iteration">1-based.</param>
/// <param name="TrainMetric">RMSE of the clipped predictions (regression) or accuracy (classification) on the training data.</param>
/// <param name="ValidationMetric">The same on the validation data (the rows that train the regularisation).</param>
/// <param name="Test">The test set's metrics, or null.</param>
/// <param name="Seconds">Wall time of the pass, evaluation included.</param>
/// <param name="LinearLambda">Per group: the L2 of w.</param>
/// <param name="FactorLambda">Per group then factor (g * k + f): the L2 of v.</param>
public sealed record FmSgdaIteration(int Iteration, double TrainMetric, double ValidationMetric, FmEvaluation? Test, double Seconds,
    double[] LinearLambda, double[] FactorLambda);

/// <summary>The outcome of <see cref="FmSgdaTrainer.Train"/>.</summary>
/// <param name="Model">The final model.</param>
/// <param name="History">Every pass, in order.</param>
/// <param name="TestPredictions">The final model's predictions of the test set: probabilities (classification) or
/// values clipped to the training targets' range (regression); null without a test set.</param>
/// <param name="TargetMin">The smallest training target.</param>
/// <param name="TargetMax">The largest training target.</param>
public sealed record FmSgdaResult(FmModel Model, IReadOnlyList<FmSgdaIteration> History, float[]? TestPredictions, float TargetMin, float TargetMax);

/// <summary>
/// SGD with adaptive regularisation (Rendle 2012, "Learning Recommender Systems with Adaptive Regularization";
/// libFM's <c>-method sgda</c>): every training row takes an SGD step on the parameters with the current L2
/// (theta -= eta (grad + 2 lambda theta)); from the second pass on, each step is followed by one step on the L2 values
/// (per group for w, per group and factor for V) from the next validation row, along the gradient of the validation
/// loss at the parameters one step ahead; an L2 never goes below 0. The bias is not regularised. Rows are visited in
/// file order and arithmetic is in double, as libFM's; deterministic for a seed.
/// </summary>
public static class FmSgdaTrainer
{
    /// <summary>Trains on <paramref name="train"/>, adapting the regularisation on <paramref name="validation"/>.</summary>
    /// <exception cref="ArgumentException">An option is out of range, the data is empty or the groups do not cover the features.</exception>
    public static FmSgdaResult Train(SparseDataset train, SparseDataset validation, FmSgdaOptions options, SparseDataset? test = null,
        Action<FmSgdaIteration>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(train);
        ArgumentNullException.ThrowIfNull(validation);
        ArgumentNullException.ThrowIfNull(options);
        if (train.Count == 0)
        {
            throw new ArgumentException("The training data has no examples.", nameof(train));
        }

        if (validation.Count == 0)
        {
            throw new ArgumentException("The validation data has no examples: SGDA learns the regularisation from it.", nameof(validation));
        }

        if (options.EmbeddingSize is < 0 or > FmModel.MaxEmbeddingSize)
        {
            throw new ArgumentException($"The number of factors k must be between 0 and {FmModel.MaxEmbeddingSize}; got {options.EmbeddingSize}.", nameof(options));
        }

        if (options.Iterations < 1)
        {
            throw new ArgumentException($"The number of iterations must be at least 1; got {options.Iterations}.", nameof(options));
        }

        if (!(options.LearningRate > 0) || !double.IsFinite(options.LearningRate))
        {
            throw new ArgumentException($"The learning rate must be a finite number above 0; got {options.LearningRate}.", nameof(options));
        }

        if (!(options.InitStdev >= 0) || !double.IsFinite(options.InitStdev))
        {
            throw new ArgumentException($"The init stdev must be a finite number of at least 0; got {options.InitStdev}.", nameof(options));
        }

        return new Run(train, validation, options, test).Execute(progress);
    }

    private sealed class Run
    {
        private readonly SparseDataset _train, _validation;
        private readonly SparseDataset? _test;
        private readonly FmSgdaOptions _o;
        private readonly bool _classification;
        private readonly int _n, _k, _groups;
        private readonly int[] _group;
        private readonly double[] _w, _v, _gradW, _gradV;
        private readonly double[] _regW, _regV;
        private readonly double[] _sum, _sumDash, _groupSum, _groupCross, _groupLinear;
        private readonly float _min, _max;
        private double _w0;

        public Run(SparseDataset train, SparseDataset validation, FmSgdaOptions o, SparseDataset? test)
        {
            _train = train;
            _validation = validation;
            _test = test;
            _o = o;
            _classification = o.Task == FmTask.BinaryClassification;
            _n = Math.Max(Math.Max(Math.Max(train.NumFeatures, validation.NumFeatures), test?.NumFeatures ?? 0), o.NumFeatures);
            _k = o.EmbeddingSize;
            _group = new int[_n];
            if (o.Groups is { } groups)
            {
                if (groups.Count < _n)
                {
                    throw new ArgumentException($"The groups cover {groups.Count:N0} features, but the data has {_n:N0}: every feature needs a group.", nameof(o));
                }

                for (int j = 0; j < _n; j++)
                {
                    _group[j] = groups[j] >= 0 ? groups[j] : throw new ArgumentException($"The group of feature {j} is {groups[j]}; groups are numbered from 0.", nameof(o));
                }
            }

            _groups = _n == 0 ? 1 : _group.Max() + 1;
            _w = new double[_n];
            _gradW = new double[_n];
            _v = new double[(long)_n * _k];
            _gradV = new double[_v.Length];
            _regW = new double[_groups];
            _regV = new double[_groups * _k];
            _sum = new double[_k];
            _sumDash = new double[_k];
            _groupSum = new double[_groups];
            _groupCross = new double[_groups];
            _groupLinear = new double[_groups];
            var random = new SplitMix64(unchecked(((ulong)o.Seed * 0x9E3779B97F4A7C15UL) + 0x5D6AUL));
            for (int i = 0; i < _v.Length; i++)
            {
                _v[i] = random.NextGaussian() * o.InitStdev;
            }

            _min = float.PositiveInfinity;
            _max = float.NegativeInfinity;
            foreach (float y in train.Labels)
            {
                _min = Math.Min(_min, y);
                _max = Math.Max(_max, y);
            }
        }

        public FmSgdaResult Execute(Action<FmSgdaIteration>? progress)
        {
            var history = new List<FmSgdaIteration>(_o.Iterations);
            float[]? testPredictions = _test is null ? null : new float[_test.Count];
            int next = 0;
            for (int iteration = 0; iteration < _o.Iterations; iteration++)
            {
                long start = Stopwatch.GetTimestamp();
                for (int r = 0; r < _train.Count; r++)
                {
                    ThetaStep(_train.RowIndices(r), _train.RowValues(r), Target(_train.Labels[r]));

                    // no regularisation step in the first pass: the gradients it looks ahead with are not all set yet
                    if (iteration > 0)
                    {
                        LambdaStep(_validation.RowIndices(next), _validation.RowValues(next), Target(_validation.Labels[next]));
                        next = next + 1 == _validation.Count ? 0 : next + 1;
                    }
                }

                double trainMetric = Metric(_train, null);
                double validationMetric = Metric(_validation, null);
                FmEvaluation? testEvaluation = null;
                if (_test is not null)
                {
                    Metric(_test, testPredictions);
                    testEvaluation = _classification
                        ? new FmEvaluation(FmTask.BinaryClassification, _test.Count, FmMetrics.LogLossOfProbabilities(testPredictions, _test.Labels),
                            FmMetrics.Auc(testPredictions, _test.Labels), FmMetrics.Accuracy(testPredictions, _test.Labels, 0.5f), double.NaN, double.NaN)
                        : new FmEvaluation(FmTask.Regression, _test.Count, double.NaN, double.NaN, double.NaN,
                            FmMetrics.Rmse(testPredictions, _test.Labels), FmMetrics.Mae(testPredictions, _test.Labels));
                }

                var pass = new FmSgdaIteration(iteration + 1, trainMetric, validationMetric, testEvaluation,
                    Stopwatch.GetElapsedTime(start).TotalSeconds, (double[])_regW.Clone(), (double[])_regV.Clone());
                history.Add(pass);
                progress?.Invoke(pass);
            }

            return new FmSgdaResult(Snapshot(), history, testPredictions, _min, _max);
        }

        private double Target(float label) => _classification ? (label > 0 ? 1.0 : -1.0) : label;

        /// <summary>The loss's derivative at prediction p (regression: clipped p, as libFM).</summary>
        private double LossGradient(double p, double target) => _classification
            ? target * ((1.0 / (1.0 + Math.Exp(-target * p))) - 1.0)
            : 2 * (Math.Clamp(p, _min, _max) - target);

        private double Predict(ReadOnlySpan<int> indices, ReadOnlySpan<float> values, bool keepSums)
        {
            double p = _o.UseBias ? _w0 : 0;
            for (int i = 0; i < indices.Length; i++)
            {
                if (_o.UseLinear)
                {
                    p += _w[indices[i]] * values[i];
                }
            }

            for (int f = 0; f < _k; f++)
            {
                double sum = 0, squares = 0;
                for (int i = 0; i < indices.Length; i++)
                {
                    double d = _v[((long)indices[i] * _k) + f] * values[i];
                    sum += d;
                    squares += d * d;
                }

                if (keepSums)
                {
                    _sum[f] = sum;
                }

                p += 0.5 * ((sum * sum) - squares);
            }

            return p;
        }

        private void ThetaStep(ReadOnlySpan<int> indices, ReadOnlySpan<float> values, double target)
        {
            double eta = _o.LearningRate;
            double mult = LossGradient(Predict(indices, values, keepSums: true), target);
            if (_o.UseBias)
            {
                _w0 -= eta * mult; // the bias is not regularised
            }

            if (_o.UseLinear)
            {
                for (int i = 0; i < indices.Length; i++)
                {
                    int j = indices[i];
                    _gradW[j] = mult * values[i];
                    _w[j] -= eta * (_gradW[j] + (2 * _regW[_group[j]] * _w[j]));
                }
            }

            for (int f = 0; f < _k; f++)
            {
                for (int i = 0; i < indices.Length; i++)
                {
                    int j = indices[i];
                    long at = ((long)j * _k) + f;
                    double x = values[i];
                    _gradV[at] = mult * x * (_sum[f] - (_v[at] * x));
                    _v[at] -= eta * (_gradV[at] + (2 * _regV[(_group[j] * _k) + f] * _v[at]));
                }
            }
        }

        /// <summary>One step on the L2 values from one validation row, at the parameters one SGD step ahead.</summary>
        private void LambdaStep(ReadOnlySpan<int> indices, ReadOnlySpan<float> values, double target)
        {
            double eta = _o.LearningRate;

            // the prediction with theta' = theta - eta (grad + 2 lambda theta), each parameter with its last gradient
            double p = _o.UseBias ? _w0 : 0;
            if (_o.UseLinear)
            {
                for (int i = 0; i < indices.Length; i++)
                {
                    int j = indices[i];
                    p += (_w[j] - (eta * (_gradW[j] + (2 * _regW[_group[j]] * _w[j])))) * values[i];
                }
            }

            for (int f = 0; f < _k; f++)
            {
                double sum = 0, squares = 0;
                for (int i = 0; i < indices.Length; i++)
                {
                    int j = indices[i];
                    long at = ((long)j * _k) + f;
                    double d = (_v[at] - (eta * (_gradV[at] + (2 * _regV[(_group[j] * _k) + f] * _v[at])))) * values[i];
                    sum += d;
                    squares += d * d;
                }

                _sumDash[f] = sum;
                p += 0.5 * ((sum * sum) - squares);
            }

            double gradLoss = LossGradient(p, target);
            if (_o.UseLinear)
            {
                Array.Clear(_groupLinear);
                for (int i = 0; i < indices.Length; i++)
                {
                    _groupLinear[_group[indices[i]]] += values[i] * _w[indices[i]];
                }

                for (int g = 0; g < _groups; g++)
                {
                    _regW[g] = Math.Max(0, _regW[g] - (eta * gradLoss * (-2 * eta * _groupLinear[g])));
                }
            }

            for (int f = 0; f < _k; f++)
            {
                Array.Clear(_groupSum);
                Array.Clear(_groupCross);
                for (int i = 0; i < indices.Length; i++)
                {
                    int j = indices[i];
                    int g = _group[j];
                    long at = ((long)j * _k) + f;
                    double x = values[i];
                    double v = _v[at];
                    double vDash = v - (eta * (_gradV[at] + (2 * _regV[(g * _k) + f] * v)));
                    _groupSum[g] += v * x;
                    _groupCross[g] += vDash * x * v * x;
                }

                for (int g = 0; g < _groups; g++)
                {
                    double gradLambda = -2 * eta * ((_sumDash[f] * _groupSum[g]) - _groupCross[g]);
                    _regV[(g * _k) + f] = Math.Max(0, _regV[(g * _k) + f] - (eta * gradLoss * gradLambda));
                }
            }
        }

        /// <summary>RMSE of the clipped predictions or accuracy on a data set; writes the predictions (probabilities or
        /// clipped values) when asked.</summary>
        private double Metric(SparseDataset data, float[]? predictions)
        {
            double total = 0;
            for (int r = 0; r < data.Count; r++)
            {
                double p = Predict(data.RowIndices(r), data.RowValues(r), keepSums: false);
                float label = data.Labels[r];
                if (_classification)
                {
                    total += (p >= 0) == (label > 0) ? 1 : 0;
                    if (predictions is not null)
                    {
                        predictions[r] = (float)(1.0 / (1.0 + Math.Exp(-p)));
                    }
                }
                else
                {
                    double clipped = Math.Clamp(p, _min, _max);
                    total += (clipped - label) * (clipped - label);
                    if (predictions is not null)
                    {
                        predictions[r] = (float)clipped;
                    }
                }
            }

            return _classification ? total / data.Count : Math.Sqrt(total / data.Count);
        }

        private FmModel Snapshot()
        {
            int k = Math.Max(_k, 1);
            var weights = new float[_n];
            var factors = new float[(long)_n * k];
            for (int j = 0; j < _n; j++)
            {
                weights[j] = _o.UseLinear ? (float)_w[j] : 0f;
                for (int f = 0; f < _k; f++)
                {
                    factors[((long)j * k) + f] = (float)_v[((long)j * _k) + f];
                }
            }

            return FmModel.Create(_o.UseBias ? (float)_w0 : 0f, weights, factors, k);
        }
    }
}
