namespace FmCodegen.Tests;

/// <summary>The order-3 kernels generated in this process, by k, and their classes' own Score.</summary>
public static class Order3Kernels
{
    public static readonly int[] Sizes = [];

    public static Order3ScoreFn GeneratedScore(int k) => k switch
    {
        _ => throw new ArgumentOutOfRangeException(nameof(k), k, null),
    };
}
