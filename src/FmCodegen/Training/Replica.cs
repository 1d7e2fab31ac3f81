using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using FmCodegen.Data;
using FmCodegen.Kernels;

namespace FmCodegen.Training;

/// <summary>
/// One thread's copy of the parameters and the optimiser state, in the kernels' row layout (state tables have the
/// same layout as the parameters, lane for lane), and the loop that trains it on a range of examples.
/// </summary>
internal sealed class Replica : MergedReplica
{
    private readonly float[] _sums;      // the kernel's s_f, k lanes, then room up to the stride
    private readonly float[] _mask;      // 1 for factor lanes (f < k), 0 for the weight and padding lanes
    private readonly float[] _one;       // 1 at the weight lane k, 0 elsewhere
    private readonly float[] _l2;        // the L2 weight of each lane: factors, linear, 0 for padding
    private readonly int _embeddingSize;
    private readonly bool _useLinear;

    // order 3 only (null for order 2): per example, the gradient of lane l is g x (S_l - u (C_l - u D_l)), u = p_l x:
    // order-2 factor lanes S = s_f, C = 1, D = 0; the weight lane S = 1, C = D = 0; order-3 factor lanes
    // S = (p1_f^2 - p2_f) / 2, C = p1_f, D = 1; padding 0
    private readonly float[]? _order3S;
    private readonly float[]? _order3C;
    private readonly float[]? _order3D;

    /// <summary>A replica over <paramref name="parameters"/> with the solver's state tables; <paramref name="team"/>
    /// replicas train together. With <paramref name="useLinear"/> false the linear weights get no gradient and no L2,
    /// so they stay 0.</summary>
    public Replica(AlignedTable parameters, FmSolver solver, FmRegularization l2, int team, bool useLinear = true)
        : base(parameters.NumFeatures, team)
    {
        Parameters = parameters;
        int k = parameters.EmbeddingSize;
        int stride = parameters.Stride;
        _embeddingSize = k;
        State1 = solver == FmSolver.Sgd ? null : new AlignedTable(parameters.NumFeatures, k, parameters.Order);
        State2 = solver == FmSolver.Ftrl ? new AlignedTable(parameters.NumFeatures, k, parameters.Order) : null;
        int lanes = Math.Max(stride, 16);
        _sums = new float[Math.Max(lanes, 3 * k)];
        _mask = new float[lanes];
        _one = new float[lanes];
        _l2 = new float[lanes];
        for (int f = 0; f < k; f++)
        {
            _mask[f] = 1f;
            _l2[f] = l2.Factors;
        }

        _useLinear = useLinear;
        _one[k] = useLinear ? 1f : 0f;
        _l2[k] = useLinear ? l2.Linear : 0f;
        if (parameters.Order == 3)
        {
            int third = FmLayout.Order3Offset(k);
            _order3S = new float[lanes];
            _order3C = new float[lanes];
            _order3D = new float[lanes];
            _order3S[k] = useLinear ? 1f : 0f;
            for (int f = 0; f < k; f++)
            {
                _order3C[f] = 1f;
                _order3D[third + f] = 1f;
                _l2[third + f] = l2.Factors;
            }
        }
    }

    public AlignedTable Parameters { get; }
    public AlignedTable? State1 { get; }
    public AlignedTable? State2 { get; }
    public float Bias;
    public float BiasState1;
    public float BiasState2;

    /// <inheritdoc/>
    public override int MergeTables => State2 is not null ? 3 : State1 is not null ? 2 : 1;

    /// <inheritdoc/>
    public override (nint Base, int Stride) MergeTable(int table) =>
        (Address(table == 0 ? Parameters : table == 1 ? State1! : State2!), Parameters.Stride);

    /// <inheritdoc/>
    public override int BiasValues => 3;

    /// <inheritdoc/>
    public override ref float BiasValue(int index)
    {
        if (index == 0)
        {
            return ref Bias;
        }

        return ref index == 1 ? ref BiasState1 : ref BiasState2;
    }

    // AlignedTable lives on the pinned object heap
    private static unsafe nint Address(AlignedTable table) => (nint)Unsafe.AsPointer(ref MemoryMarshal.GetReference(table.Span));

    // progressive statistics of the epoch
    public double LossSum;
    public double MetricSum;
    public long Count;

    /// <summary>Per feature, the factor by which L2 is scaled at each of its updates (null: 1).</summary>
    public float[]? RegularizationScale;

    public void ResetEpochStatistics()
    {
        LossSum = 0;
        MetricSum = 0;
        Count = 0;
    }

    /// <summary>Trains on the given blocks of the data's rows, in that order (see <see cref="EpochData"/>). Optimised at
    /// once: the first epoch is a long-running loop that tiered compilation would otherwise start in unoptimised code.</summary>
    /// <remarks>With <paramref name="useBias"/> false the bias is never updated. With instance normalisation (the
    /// data's <see cref="EpochData.LinearScale"/>) the stored values are x norm, so the kernel's pairwise term and the
    /// factors' gradients are already those of the normalised model; its linear term and the weights' gradients are
    /// scaled by the row's LinearScale to become x sqrt(norm).</remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void Run<TRule, TKernel>(EpochData data, ReadOnlySpan<int> blocks, FmTask task, in Hyper hyper, float biasL2, int window, bool useBias = true)
        where TRule : struct, IUpdateRule
        where TKernel : struct, IFmKernel
    {
        AlignedTable table = Parameters;
        FmRows rows = FmRows.Of(table);
        float[]? order3S = _order3S, order3C = _order3C, order3D = _order3D;
        int third = FmLayout.Order3Offset(_embeddingSize);
        ref float p0 = ref MemoryMarshal.GetReference(table.Span);
        ref float s10 = ref State1 is null ? ref p0 : ref MemoryMarshal.GetReference(State1.Span);
        ref float s20 = ref State2 is null ? ref p0 : ref MemoryMarshal.GetReference(State2.Span);
        ReadOnlySpan<int> offsets = data.Offsets;
        ReadOnlySpan<int> indices = data.Indices;
        ReadOnlySpan<float> values = data.Values;
        bool unitValues = data.UnitValues;
        ReadOnlySpan<float> labels = data.Labels;
        float[]? linearScale = data.LinearScale;
        int rowsRun = 0;
        Span<float> sums = _sums.AsSpan(0, order3S is null ? _embeddingSize : 3 * _embeddingSize);
        ref float sumsRef = ref _sums[0];
        ref float maskRef = ref _mask[0];
        ref float oneRef = ref _one[0];
        ref float l2Ref = ref _l2[0];
        int stride = table.Stride;
        uint numFeatures = (uint)table.NumFeatures;
        bool classification = task == FmTask.BinaryClassification;
        int[]? stamp = Stamp;
        float[]? regScale = RegularizationScale;
        double lossSum = 0;
        double metricSum = 0;

        // the replica's scalars live in locals during the loop: replicas sit side by side on the heap, and writing
        // their fields for every example from two threads would share (and fight over) cache lines
        float bias = Bias, biasState1 = BiasState1, biasState2 = BiasState2;

        foreach (int block in blocks)
        {
            int to = Math.Min(data.Count, (block + 1) * EpochData.RowsPerBlock);
            rowsRun += to - (block * EpochData.RowsPerBlock);
            for (int row = block * EpochData.RowsPerBlock; row < to; row++)
            {
                int start = offsets[row];
                int count = offsets[row + 1] - start;
                ReadOnlySpan<int> idx = indices.Slice(start, count);
                ReadOnlySpan<float> val = values.Slice(unitValues ? 0 : start, count);
                float score = bias + TKernel.InteractionWithSums(rows, idx, val, sums);
                if (linearScale is not null)
                {
                    // the kernel added sum_j w_j (x_j norm); the normalised model's linear term is scale times that
                    float scale = linearScale[row];
                    float linear = 0f;
                    for (int j = 0; j < count; j++)
                    {
                        int feature = idx[j];
                        if ((uint)feature < numFeatures)
                        {
                            linear += Unsafe.Add(ref p0, ((nint)feature * stride) + _embeddingSize) * val[j];
                        }
                    }

                    score += (scale - 1f) * linear;
                    Unsafe.Add(ref oneRef, _embeddingSize) = _useLinear ? scale : 0f;
                }

                float label = labels[row];
                float g;
                if (classification)
                {
                    float y = label > 0 ? 1f : -1f;
                    float margin = y * score;
                    // loss log(1 + e^-m), gradient -y sigmoid(-m)
                    lossSum += FmMath.LogisticLoss(margin, out float sig);
                    metricSum += margin > 0 ? 1 : 0;
                    g = -y * sig;
                }
                else
                {
                    float err = score - label;
                    lossSum += 0.5 * err * err;
                    metricSum += err * err;
                    g = err;
                }

                if (useBias)
                {
                    TRule.Update(ref bias, ref biasState1, ref biasState2, g, biasL2, hyper);
                }

                if (order3S is not null)
                {
                    // the example's gradient pieces from the forward pass's sums (s, p1, p2), O(k) per example
                    int k = _embeddingSize;
                    for (int f = 0; f < k; f++)
                    {
                        float p1 = sums[k + f];
                        order3S[f] = sums[f];
                        order3S[third + f] = ((p1 * p1) - sums[(2 * k) + f]) * 0.5f;
                        order3C![third + f] = p1;
                    }
                }

                for (int j = 0; j < count; j++)
                {
                    int feature = idx[j];
                    if ((uint)feature >= numFeatures)
                    {
                        continue;
                    }

                    if (stamp is not null)
                    {
                        Touch(feature, window);
                    }

                    float x = val[j];
                    nint at = (nint)feature * stride;
                    if (order3S is null)
                    {
                        UpdateRow<TRule>(ref Unsafe.Add(ref p0, at), ref Unsafe.Add(ref s10, at), ref Unsafe.Add(ref s20, at),
                            ref sumsRef, ref maskRef, ref oneRef, ref l2Ref, g * x, x, regScale is null ? 1f : regScale[feature], stride, hyper);
                    }
                    else
                    {
                        UpdateRow3<TRule>(ref Unsafe.Add(ref p0, at), ref Unsafe.Add(ref s10, at), ref Unsafe.Add(ref s20, at),
                            ref order3S[0], ref order3C![0], ref order3D![0], ref l2Ref, g * x, x, regScale is null ? 1f : regScale[feature], stride, hyper);
                    }
                }
            }
        }

        Bias = bias;
        BiasState1 = biasState1;
        BiasState2 = biasState2;
        LossSum += lossSum;
        MetricSum += metricSum;
        Count += rowsRun;
        Examples += rowsRun;
    }

    /// <summary>
    /// One order-3 row's update: lane l gets the gradient g x (S_l - u (C_l - u D_l)) with u = p_l x (see the fields
    /// _order3S, _order3C, _order3D): g x (s_f - u) for an order-2 factor, g x for the weight, and
    /// g x ((p1_f^2 - p2_f) / 2 - u p1_f + u^2) for an order-3 factor. The same IEEE operations on every width.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void UpdateRow3<TRule>(ref float p, ref float s1, ref float s2, ref float sPart, ref float cPart, ref float dPart, ref float l2,
        float gx, float x, float regScale, int stride, in Hyper hyper)
        where TRule : struct, IUpdateRule
    {
        if (Vector512.IsHardwareAccelerated && (stride & 15) == 0)
        {
            Vector512<float> vgx = Vector512.Create(gx);
            Vector512<float> vx = Vector512.Create(x);
            for (int c = 0; c < stride; c += 16)
            {
                Vector512<float> u = Vector512.LoadUnsafe(ref p, (nuint)c) * vx;
                Vector512<float> inner = Vector512.LoadUnsafe(ref cPart, (nuint)c) - (u * Vector512.LoadUnsafe(ref dPart, (nuint)c));
                Vector512<float> g = vgx * (Vector512.LoadUnsafe(ref sPart, (nuint)c) - (u * inner));
                TRule.Update(ref Unsafe.Add(ref p, c), ref Unsafe.Add(ref s1, c), ref Unsafe.Add(ref s2, c), g,
                    Vector512.LoadUnsafe(ref l2, (nuint)c) * regScale, hyper);
            }
        }
        else if (stride >= 8)
        {
            Vector256<float> vgx = Vector256.Create(gx);
            Vector256<float> vx = Vector256.Create(x);
            for (int c = 0; c < stride; c += 8)
            {
                Vector256<float> u = Vector256.LoadUnsafe(ref p, (nuint)c) * vx;
                Vector256<float> inner = Vector256.LoadUnsafe(ref cPart, (nuint)c) - (u * Vector256.LoadUnsafe(ref dPart, (nuint)c));
                Vector256<float> g = vgx * (Vector256.LoadUnsafe(ref sPart, (nuint)c) - (u * inner));
                TRule.Update(ref Unsafe.Add(ref p, c), ref Unsafe.Add(ref s1, c), ref Unsafe.Add(ref s2, c), g,
                    Vector256.LoadUnsafe(ref l2, (nuint)c) * regScale, hyper);
            }
        }
        else
        {
            for (int c = 0; c < stride; c++)
            {
                float u = Unsafe.Add(ref p, c) * x;
                float inner = Unsafe.Add(ref cPart, c) - (u * Unsafe.Add(ref dPart, c));
                float g = gx * (Unsafe.Add(ref sPart, c) - (u * inner));
                TRule.Update(ref Unsafe.Add(ref p, c), ref Unsafe.Add(ref s1, c), ref Unsafe.Add(ref s2, c), g, Unsafe.Add(ref l2, c) * regScale, hyper);
            }
        }
    }

    /// <summary>
    /// One row's update: lane f &lt; k gets the gradient g x (s_f - v_f x), lane k (the linear weight) g x times the
    /// value of <c>one</c> at lane k (1; 0 without linear weights; the row's linear scale with normalisation), padding 0.
    /// Written as gx (S - v x M) with S = the sums, 1 at lane k, 0 beyond, and M = 1 for factor lanes only.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void UpdateRow<TRule>(ref float p, ref float s1, ref float s2, ref float sums, ref float mask, ref float one, ref float l2,
        float gx, float x, float regScale, int stride, in Hyper hyper)
        where TRule : struct, IUpdateRule
    {
        if (Vector512.IsHardwareAccelerated && (stride & 15) == 0)
        {
            Vector512<float> vgx = Vector512.Create(gx);
            Vector512<float> vx = Vector512.Create(x);
            for (int c = 0; c < stride; c += 16)
            {
                Vector512<float> m = Vector512.LoadUnsafe(ref mask, (nuint)c);
                Vector512<float> s = Vector512.ConditionalSelect(Vector512.Equals(m, Vector512<float>.Zero),
                    Vector512.LoadUnsafe(ref one, (nuint)c), Vector512.LoadUnsafe(ref sums, (nuint)c));
                Vector512<float> w = Vector512.LoadUnsafe(ref p, (nuint)c);
                Vector512<float> g = vgx * (s - (w * vx * m));
                TRule.Update(ref Unsafe.Add(ref p, c), ref Unsafe.Add(ref s1, c), ref Unsafe.Add(ref s2, c), g,
                    Vector512.LoadUnsafe(ref l2, (nuint)c) * regScale, hyper);
            }
        }
        else if (stride >= 8)
        {
            Vector256<float> vgx = Vector256.Create(gx);
            Vector256<float> vx = Vector256.Create(x);
            for (int c = 0; c < stride; c += 8)
            {
                Vector256<float> m = Vector256.LoadUnsafe(ref mask, (nuint)c);
                Vector256<float> s = Vector256.ConditionalSelect(Vector256.Equals(m, Vector256<float>.Zero),
                    Vector256.LoadUnsafe(ref one, (nuint)c), Vector256.LoadUnsafe(ref sums, (nuint)c));
                Vector256<float> w = Vector256.LoadUnsafe(ref p, (nuint)c);
                Vector256<float> g = vgx * (s - (w * vx * m));
                TRule.Update(ref Unsafe.Add(ref p, c), ref Unsafe.Add(ref s1, c), ref Unsafe.Add(ref s2, c), g,
                    Vector256.LoadUnsafe(ref l2, (nuint)c) * regScale, hyper);
            }
        }
        else
        {
            for (int c = 0; c < stride; c++)
            {
                float m = Unsafe.Add(ref mask, c);
                float s = m == 0f ? Unsafe.Add(ref one, c) : Unsafe.Add(ref sums, c);
                float g = gx * (s - (Unsafe.Add(ref p, c) * x * m));
                TRule.Update(ref Unsafe.Add(ref p, c), ref Unsafe.Add(ref s1, c), ref Unsafe.Add(ref s2, c), g, Unsafe.Add(ref l2, c) * regScale, hyper);
            }
        }
    }
}
