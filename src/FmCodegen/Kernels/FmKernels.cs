using System.ComponentModel;
using System.Runtime.Intrinsics;

namespace FmCodegen.Kernels;

/// <summary>
/// The kernels this process has: the generated fixed-k ones (the library's own for k = 4, 8, 16, 32, 64 and any a
/// consumer declares with <see cref="FmKernelAttribute"/>; each registers itself at module load) and the runtime-k
/// kernels that serve every other k.
/// </summary>
public static class FmKernels
{
    private static readonly FmKernel?[] s_generated = new FmKernel?[FmModel.MaxEmbeddingSize + 1];

    /// <summary>The runtime-k SIMD kernel (accumulators in registers, the row re-read for each block of factors).</summary>
    public static FmKernel RuntimeSimd => FmKernel<RuntimeSimdKernel>.Instance;

    /// <summary>The runtime-k scalar O(kn) kernel.</summary>
    public static FmKernel RuntimeScalar => FmKernel<RuntimeScalarKernel>.Instance;

    /// <summary>Registers a fixed-k kernel struct (generated code calls this at module load); a later registration
    /// for the same k replaces an earlier one (a consumer's kernel, registered after the library's, wins).</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public static void Register<TKernel>()
        where TKernel : struct, IFmKernel =>
        Register(FmKernel<TKernel>.Instance);

    /// <summary>Registers a fixed-k kernel entry; see <see cref="Register{TKernel}"/>.</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public static void Register(FmKernel kernel)
    {
        ArgumentNullException.ThrowIfNull(kernel);

        // Read the SIMD cap now, at module load: methods compiled optimised at once (the batch loops) then see
        // FmSimd initialised and fold its tests to constants.
        _ = FmSimd.MaxBits;
        int k = kernel.EmbeddingSize;
        if (k < 1 || k >= s_generated.Length)
        {
            throw new ArgumentOutOfRangeException(nameof(kernel), k, $"Generated kernels have an embedding size from 1 to {FmModel.MaxEmbeddingSize}.");
        }

        Volatile.Write(ref s_generated[k], kernel);
    }

    /// <summary>The generated kernel for k, or null when none is registered.</summary>
    public static FmKernel? Generated(int embeddingSize) =>
        (uint)embeddingSize < (uint)s_generated.Length ? Volatile.Read(ref s_generated[embeddingSize]) : null;

    /// <summary>The best kernel for k: the generated one when registered, else <see cref="RuntimeSimd"/>.</summary>
    public static FmKernel For(int embeddingSize) => Generated(embeddingSize) ?? RuntimeSimd;

    /// <summary>Every registered generated kernel, by k.</summary>
    public static IReadOnlyList<FmKernel> All
    {
        get
        {
            var list = new List<FmKernel>();
            foreach (FmKernel? kernel in s_generated)
            {
                if (kernel is not null)
                {
                    list.Add(kernel);
                }
            }

            return list;
        }
    }

    /// <summary>The widest vector path in use on this machine, after any FMCODEGEN_SIMD limit.</summary>
    public static string BestPath =>
        Vector512.IsHardwareAccelerated && FmSimd.MaxBits >= 512 ? "Vector512"
        : Vector256.IsHardwareAccelerated && FmSimd.MaxBits >= 256 ? "Vector256"
        : Vector128.IsHardwareAccelerated && FmSimd.MaxBits >= 128 ? "Vector128"
        : "Scalar";
}

/// <summary>
/// A cap on the vector width kernels may use, read once from the environment variable FMCODEGEN_SIMD
/// ("512" or unset: the widest the hardware has; "256", "128", "scalar"), for benchmarks and tests. The runtime's DOTNET_EnableAVX512=0, DOTNET_EnableAVX2=0 and
/// DOTNET_EnableHWIntrinsic=0 switch the instruction sets themselves off. These are static readonly fields, so
/// the JIT folds every test of them to a constant.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class FmSimd
{
    /// <summary>The widest vector in bits kernels may use (0 = scalar only).</summary>
    public static readonly int MaxBits = Parse(Environment.GetEnvironmentVariable("FMCODEGEN_SIMD"));

    private static int Parse(string? value)
    {
        switch (value?.Trim().ToLowerInvariant())
        {
            case null or "" or "auto" or "512":
                return 512;
            case "256":
                return 256;
            case "128":
                return 128;
            case "scalar" or "0":
                return 0;
            default:
                throw new InvalidOperationException($"FMCODEGEN_SIMD must be auto, 512, 256, 128 or scalar; got '{value}'.");
        }
    }
}
