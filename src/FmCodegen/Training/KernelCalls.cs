using System.Runtime.CompilerServices;
using FmCodegen.Kernels;

namespace FmCodegen.Training;

/// <summary>
/// How the training loop calls the forward pass. For the library's generated fixed-k kernels it calls the generated
/// static method directly (the trainer's loop is compiled once per k, with no virtual call and no forwarding
/// override, which also ran unoptimised for the first few hundred milliseconds until tiered compilation caught up);
/// for any other kernel (runtime k, or a consumer's own [FmKernel] that replaced the built-in one) it goes through
/// <see cref="FmKernel.InteractionWithSums"/>. Both run the same generated arithmetic.
/// </summary>
internal interface IKernelCall
{
    static abstract float InteractionWithSums(FmKernel kernel, FmRows rows, ReadOnlySpan<int> indices, ReadOnlySpan<float> values, Span<float> sums);
}

internal readonly struct VirtualKernelCall : IKernelCall
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float InteractionWithSums(FmKernel kernel, FmRows rows, ReadOnlySpan<int> indices, ReadOnlySpan<float> values, Span<float> sums) =>
        kernel.InteractionWithSums(rows, indices, values, sums);
}

internal readonly struct Kernel4Call : IKernelCall
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float InteractionWithSums(FmKernel kernel, FmRows rows, ReadOnlySpan<int> indices, ReadOnlySpan<float> values, Span<float> sums) =>
        BuiltInKernel4.InteractionWithSums(rows, indices, values, sums);
}

internal readonly struct Kernel8Call : IKernelCall
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float InteractionWithSums(FmKernel kernel, FmRows rows, ReadOnlySpan<int> indices, ReadOnlySpan<float> values, Span<float> sums) =>
        BuiltInKernel8.InteractionWithSums(rows, indices, values, sums);
}

internal readonly struct Kernel16Call : IKernelCall
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float InteractionWithSums(FmKernel kernel, FmRows rows, ReadOnlySpan<int> indices, ReadOnlySpan<float> values, Span<float> sums) =>
        BuiltInKernel16.InteractionWithSums(rows, indices, values, sums);
}

internal readonly struct Kernel32Call : IKernelCall
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float InteractionWithSums(FmKernel kernel, FmRows rows, ReadOnlySpan<int> indices, ReadOnlySpan<float> values, Span<float> sums) =>
        BuiltInKernel32.InteractionWithSums(rows, indices, values, sums);
}

internal readonly struct Kernel64Call : IKernelCall
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static float InteractionWithSums(FmKernel kernel, FmRows rows, ReadOnlySpan<int> indices, ReadOnlySpan<float> values, Span<float> sums) =>
        BuiltInKernel64.InteractionWithSums(rows, indices, values, sums);
}
