using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using FmCodegen.Kernels;
using Xunit;

namespace FmCodegen.Tests;

/// <summary>
/// On Arm64 the kernels' Vector128 path is the one the JIT compiles to AdvSimd. .ci/run publishes this project for
/// linux-arm64, runs it under qemu-aarch64 and sets FMCODEGEN_EXPECT_ARM64=1 there, so in that run this test
/// cannot be skipped: it proves which path the kernel properties beside it exercised. Elsewhere it is skipped.
/// </summary>
public class Arm64Tests
{
    [Fact]
    public void On_Arm64_the_kernels_take_the_AdvSimd_Vector128_path()
    {
        if (Environment.GetEnvironmentVariable("FMCODEGEN_EXPECT_ARM64") != "1")
        {
            Assert.SkipUnless(RuntimeInformation.ProcessArchitecture == Architecture.Arm64,
                "runs on Arm64 only (.ci/run runs it under qemu-aarch64)");
        }

        Assert.Equal(Architecture.Arm64, RuntimeInformation.ProcessArchitecture);
        if (Environment.GetEnvironmentVariable("DOTNET_EnableHWIntrinsic") == "0")
        {
            Assert.False(AdvSimd.IsSupported);
            Assert.Equal("Scalar", BuiltInKernel16.ActivePath);
            return;
        }

        Assert.True(AdvSimd.IsSupported);
        Assert.True(Vector128.IsHardwareAccelerated);
        Assert.False(Vector256.IsHardwareAccelerated);
        Assert.False(Vector512.IsHardwareAccelerated);

        // Every built-in kernel of at least four floats, and a consumer's, runs its Vector128 (AdvSimd) code.
        Assert.Equal("Vector128", BuiltInKernel4.ActivePath);
        Assert.Equal("Vector128", BuiltInKernel8.ActivePath);
        Assert.Equal("Vector128", BuiltInKernel16.ActivePath);
        Assert.Equal("Vector128", BuiltInKernel32.ActivePath);
        Assert.Equal("Vector128", BuiltInKernel64.ActivePath);
        Assert.Equal("Vector128", Kernel24.ActivePath);
        Assert.Equal("Vector128", Kernel1024.ActivePath);
    }
}
