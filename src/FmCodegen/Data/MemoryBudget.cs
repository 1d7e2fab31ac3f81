using System.Globalization;

namespace FmCodegen.Data;

/// <summary>
/// Checks a large allocation against the memory this process may use before making it, so that a file declaring
/// (or a tiny file implying) gigabytes is refused with the size it needs and what to do, instead of an
/// <see cref="OutOfMemoryException"/> or a kill by the container. The limit is the GC's
/// <see cref="GCMemoryInfo.TotalAvailableMemoryBytes"/>: physical memory, a container's limit, or
/// <c>DOTNET_GCHeapHardLimit</c> when set.
/// </summary>
internal static class MemoryBudget
{
    /// <summary>Allocations below this size are not checked (the check is not free and small ones are harmless).</summary>
    public const long CheckAbove = 32L << 20;

    // a class, not long?: AsyncLocal over a reference type runs the runtime library's precompiled shared code,
    // while AsyncLocal<long?> was JIT-compiled at every start (Ensure reads it)
    private static readonly AsyncLocal<TestBudget?> TestLimit = new();

    /// <summary>The bytes this process may use in all.</summary>
    public static long Limit => TestLimit.Value?.Bytes ?? GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;

    /// <summary>
    /// Throws <see cref="InsufficientMemoryException"/> when <paramref name="bytes"/> more would not fit beside what
    /// the managed heap already holds. <paramref name="what"/> says what needs the memory ("the model of FILE");
    /// <paramref name="advice"/> what the user can do.
    /// </summary>
    public static void Ensure(long bytes, string what, string advice)
    {
        if (bytes < CheckAbove && TestLimit.Value is null)
        {
            return;
        }

        long limit = Limit;
        long inUse = TestLimit.Value is null ? GC.GetTotalMemory(forceFullCollection: false) : 0;
        if (bytes > limit - inUse)
        {
            throw new InsufficientMemoryException(
                $"{what} needs {Size(bytes)} of memory, but this process may use {Size(limit)}{(inUse > CheckAbove ? $" ({Size(inUse)} of it in use)" : "")}; {advice}");
        }
    }

    /// <summary>For tests: every check in this async flow uses <paramref name="bytes"/> as the whole limit.</summary>
    internal static IDisposable WithLimit(long bytes)
    {
        TestBudget? previous = TestLimit.Value;
        TestLimit.Value = new TestBudget(bytes);
        return new Restore(previous);
    }

    /// <summary>A byte count for people: 1.5 GB, 300 MB, 12 KB.</summary>
    public static string Size(long bytes) => bytes switch
    {
        >= 1L << 30 => string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)(1L << 30):F1} GB"),
        >= 1L << 20 => string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)(1L << 20):F0} MB"),
        >= 1L << 10 => string.Create(CultureInfo.InvariantCulture, $"{bytes / (double)(1L << 10):F0} KB"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{bytes} bytes"),
    };

    private sealed class Restore(TestBudget? previous) : IDisposable
    {
        public void Dispose() => TestLimit.Value = previous;
    }

    private sealed class TestBudget(long bytes)
    {
        public long Bytes { get; } = bytes;
    }
}
