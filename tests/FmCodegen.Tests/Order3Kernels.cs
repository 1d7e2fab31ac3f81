namespace FmCodegen.Tests;

/// <summary>The order-3 kernels generated in this process, by k (the library's for 4, 8, 16, 32; this project's
/// for 1, 5, 24, 100), and their classes' own Score.</summary>
public static class Order3Kernels
{
    public static readonly int[] Sizes = [1, 4, 5, 8, 16, 24, 32, 100];

    public static Order3ScoreFn GeneratedScore(int k) => k switch
    {
        1 => Order3Kernel1.Score,
        4 => FmCodegen.Kernels.BuiltInKernel4.Score,
        5 => Order3Kernel5.Score,
        8 => FmCodegen.Kernels.BuiltInKernel8.Score,
        16 => FmCodegen.Kernels.BuiltInKernel16.Score,
        24 => Order3Kernel24.Score,
        32 => FmCodegen.Kernels.BuiltInKernel32.Score,
        100 => Order3Kernel100.Score,
        _ => throw new ArgumentOutOfRangeException(nameof(k), k, null),
    };
}
