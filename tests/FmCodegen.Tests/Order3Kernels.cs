namespace FmCodegen.Tests;

/// <summary>The order-3 kernels generated in this process, by k (the library's for 4, 8, 16, 32; this project's
/// for 6, 12, 20, 48), and their classes' own Score.</summary>
public static class Order3Kernels
{
    public static readonly int[] Sizes = [4, 6, 8, 12, 16, 20, 32, 48];

    public static Order3ScoreFn GeneratedScore(int k) => k switch
    {
        4 => FmCodegen.Kernels.BuiltInKernel4.Score,
        6 => Order3Kernel6.Score,
        8 => FmCodegen.Kernels.BuiltInKernel8.Score,
        12 => Order3Kernel12.Score,
        16 => FmCodegen.Kernels.BuiltInKernel16.Score,
        20 => Order3Kernel20.Score,
        32 => FmCodegen.Kernels.BuiltInKernel32.Score,
        48 => Order3Kernel48.Score,
        _ => throw new ArgumentOutOfRangeException(nameof(k), k, null),
    };
}
