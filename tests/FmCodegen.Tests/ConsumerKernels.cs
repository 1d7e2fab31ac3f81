using FmCodegen;

namespace FmCodegen.Tests;

// This test project consumes the generator exactly as a user project does: each class below gets its kernels
// from [FmKernel(k)] at build time and registers them at module load. The sizes cover what the library does not
// ship: k = 1 (scalar only), 5 (Vector128 + scalar tail), 24 (Vector512 path with a Vector256 tail), 100 (several
// widths), 300 (Vector512 with two register blocks), 1024 (the largest, six blocks).

[FmKernel(1)]
public static partial class Kernel1;

[FmKernel(5)]
public static partial class Kernel5;

[FmKernel(24)]
public static partial class Kernel24;

[FmKernel(100)]
public static partial class Kernel100;

[FmKernel(300)]
public static partial class Kernel300;

[FmKernel(1024)]
public static partial class Kernel1024;

// Nested in a partial class: the generator repeats the containers.
public static partial class Outer
{
    [FmKernel(3)]
    internal static partial class Kernel3;
}

// Order-3 paths in a consumer, at k no other class here declares (a MaxOrder = 3 class registers its order-2 kernel
// too): k = 6 (Vector128 and a scalar tail), 12 (Vector256 and Vector128), 20 (Vector512 and a Vector128 tail), 48
// (two order-3 register blocks on Vector512).

[FmKernel(6, MaxOrder = 3)]
public static partial class Order3Kernel6;

[FmKernel(12, MaxOrder = 3)]
public static partial class Order3Kernel12;

[FmKernel(20, MaxOrder = 3)]
public static partial class Order3Kernel20;

[FmKernel(48, MaxOrder = 3)]
public static partial class Order3Kernel48;
