namespace FmCodegen.Kernels;

// The library's own fixed-k kernels, emitted by its own generator. A consumer's [FmKernel(k)] for the same k
// registers later and takes over; both come from the same generator, so they compute the same thing. The common k
// also get order-3 paths (MaxOrder = 3), registered for order-3 models.

[FmKernel(4, MaxOrder = 3)]
internal static partial class BuiltInKernel4;

[FmKernel(8, MaxOrder = 3)]
internal static partial class BuiltInKernel8;

[FmKernel(16, MaxOrder = 3)]
internal static partial class BuiltInKernel16;

[FmKernel(32, MaxOrder = 3)]
internal static partial class BuiltInKernel32;

[FmKernel(64)]
internal static partial class BuiltInKernel64;

// The library's own field-aware kernels for the common k (the [FfmKernel] generator, same rules).

[FfmKernel(4)]
internal static partial class BuiltInFfmKernel4;

[FfmKernel(8)]
internal static partial class BuiltInFfmKernel8;

[FfmKernel(16)]
internal static partial class BuiltInFfmKernel16;
