using System.ComponentModel;

namespace FmCodegen.Kernels;

/// <summary>
/// A field-aware kernel: the pair work of one example, as static members of a struct, so the loops around it
/// (scoring, batches, training) are written once as generic methods and the JIT specialises them per kernel.
/// <c>[FfmKernel(k)]</c> emits one such struct per k; <see cref="RuntimeFfmKernel"/> serves every other k.
/// </summary>
/// <remarks>
/// An example reaches a kernel compacted: for each of its <c>count</c> kept nonzeros a (those whose feature and
/// field the model knows), <c>rows[a]</c> is the float offset of its feature's row, <c>blocks[a]</c> the offset of
/// its field's block within a row, and <c>x[a]</c> its value. The pair (a, b) then reads the blocks at
/// rows[a] + blocks[b] and rows[b] + blocks[a].
/// <para>The accumulation order, the same on every path (so every kernel, every instruction set and the trainer's
/// forward pass return the same bits): for every factor lane c independently, with fused multiply-adds,
/// inner_c = 0; for b = a + 1 .. count - 1: inner_c = fma(u[a, f_b]_c, u[b, f_a]_c * x_b, inner_c); then
/// acc_c = fma(inner_c, x_a, acc_c), for a = 0 .. count - 1 in order; the pair sum is then
/// ((acc_0 + acc_1) + acc_2) + ... + acc_{k-1}.</para>
/// </remarks>
[EditorBrowsable(EditorBrowsableState.Advanced)]
public interface IFfmKernel
{
    /// <summary>The k the kernel is specialised for; 0 when it takes any k.</summary>
    static abstract int EmbeddingSize { get; }

    /// <summary>The instruction set the kernel uses on this machine.</summary>
    static abstract string ActivePath { get; }

    /// <summary>The pair sum of one compacted example (the order in the remarks), before the pair scale.</summary>
    static abstract float PairSum(ref float table, ref int rows, ref int blocks, ref float x, int count, int k, int fieldStride);

    /// <summary>
    /// One AdaGrad step on every pair (libffm's update, exact square roots): with t = kappa * (x_a * x_b), per lane
    /// g1 = fma(t, w2, lambda * w1), g2 = fma(t, w1, lambda * w2), G += g^2, w -= eta * g / sqrt(G), where each
    /// block's AdaGrad sums sit <paramref name="fieldStride"/> floats after its weights.
    /// </summary>
    static abstract void UpdatePairsAdaGrad(ref float table, ref int rows, ref int blocks, ref float x, int count, int k, int fieldStride, float kappa, float eta, float lambda);

    /// <summary>One plain SGD step on every pair: the gradient of <see cref="UpdatePairsAdaGrad"/>, w -= eta * g.</summary>
    static abstract void UpdatePairsSgd(ref float table, ref int rows, ref int blocks, ref float x, int count, int k, int fieldStride, float kappa, float eta, float lambda);
}
