using FmCodegen.Kernels;
using Xunit;

namespace FmCodegen.Tests;

public delegate float ScoreFn(FmModel model, ReadOnlySpan<int> indices, ReadOnlySpan<float> values);

public delegate float CrossTermFn(ReadOnlySpan<float> embeddings);

/// <summary>Every way to score, by name, so one property runs over all of them.</summary>
public static class Scorers
{
    /// <summary>The embedding sizes with a generated kernel in this process: the library's and this project's.</summary>
    public static readonly int[] GeneratedSizes = [1, 3, 4, 5, 8, 16, 24, 32, 64, 100, 300, 1024];

    public static readonly string[] Names = ["Fm.Score", "generated Score", "generated kernel", "runtime SIMD", "runtime scalar"];

    public static ScoreFn Get(string name, int k) => name switch
    {
        "Fm.Score" => Fm.Score,
        "generated Score" => GeneratedScore(k),
        "generated kernel" => FmKernels.Generated(k)!.Score,
        "runtime SIMD" => FmKernels.RuntimeSimd.Score,
        "runtime scalar" => FmKernels.RuntimeScalar.Score,
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, null),
    };

    /// <summary>The static Score the generator emitted into the class for k (not through the registry).</summary>
    public static ScoreFn GeneratedScore(int k) => k switch
    {
        1 => Kernel1.Score,
        3 => Outer.Kernel3.Score,
        4 => BuiltInKernel4.Score,
        5 => Kernel5.Score,
        8 => BuiltInKernel8.Score,
        16 => BuiltInKernel16.Score,
        24 => Kernel24.Score,
        32 => BuiltInKernel32.Score,
        64 => BuiltInKernel64.Score,
        100 => Kernel100.Score,
        300 => Kernel300.Score,
        1024 => Kernel1024.Score,
        _ => throw new ArgumentOutOfRangeException(nameof(k), k, null),
    };

    public static CrossTermFn GeneratedCrossTerm(int k) => k switch
    {
        1 => Kernel1.CrossTerm,
        3 => Outer.Kernel3.CrossTerm,
        4 => BuiltInKernel4.CrossTerm,
        5 => Kernel5.CrossTerm,
        8 => BuiltInKernel8.CrossTerm,
        16 => BuiltInKernel16.CrossTerm,
        24 => Kernel24.CrossTerm,
        32 => BuiltInKernel32.CrossTerm,
        64 => BuiltInKernel64.CrossTerm,
        100 => Kernel100.CrossTerm,
        300 => Kernel300.CrossTerm,
        1024 => Kernel1024.CrossTerm,
        _ => throw new ArgumentOutOfRangeException(nameof(k), k, null),
    };

    /// <summary>
    /// Fewer cases for the largest k keep the suite fast; the small k carry the breadth. FMCODEGEN_MAX_TEST caps the
    /// cases per property (at least 3): .ci/run sets it for the run under Arm64 emulation, where each case costs more.
    /// </summary>
    public static int Tests(int k) => Math.Min(k >= 300 ? 25 : k >= 64 ? 60 : 150, MaxTest);

    private static readonly int MaxTest =
        int.TryParse(Environment.GetEnvironmentVariable("FMCODEGEN_MAX_TEST"), out int cap) ? Math.Max(cap, 3) : int.MaxValue;

    public static TheoryData<string, int> All()
    {
        var data = new TheoryData<string, int>();
        foreach (string name in Names)
        {
            foreach (int k in GeneratedSizes)
            {
                data.Add(name, k);
            }
        }

        // k without a generated kernel: Fm.Score falls back to the runtime-k SIMD kernel.
        foreach (int k in new[] { 2, 7, 9, 13, 17, 33, 47 })
        {
            data.Add("Fm.Score", k);
            data.Add("runtime scalar", k);
        }

        return data;
    }
}
