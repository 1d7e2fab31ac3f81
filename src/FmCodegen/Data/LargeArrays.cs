using System.Runtime.InteropServices;

namespace FmCodegen.Data;

/// <summary>
/// Allocates the large arrays that hold a whole dataset (or a training copy of it), which the caller fills
/// completely before reading: without the GC's zeroing, and, on Linux, in memory advised for transparent huge pages.
/// </summary>
/// <remarks>
/// A dataset's arrays are written once, front to back, and then read in a random order of rows (the shuffled copy
/// before FFM training). With 4 KB pages a 58 MB libffm file costs some 50,000 page faults while its arrays are
/// first written, and the shuffled reads miss the TLB on almost every row; on a virtual machine both are dear (a
/// fault there is a hypervisor exit, a TLB miss a two-level page walk). Arrays of at least
/// <see cref="HugePageThreshold"/> bytes are therefore allocated pinned (they never move, so the advice stays on
/// their memory) and the kernel is asked (madvise MADV_HUGEPAGE) to back them with 2 MB pages where it can; it is
/// only advice: where transparent huge pages are off, or on other systems, the arrays are ordinary memory. From
/// <see cref="PopulateThreshold"/> bytes the array's pages are also mapped in one system call (<see cref="Populate"/>)
/// instead of a page fault each at the first writes. The caller must write every element it later reads: the content
/// of a new array is undefined.
/// </remarks>
internal static unsafe partial class LargeArrays
{
    /// <summary>Arrays from this size (bytes) up are pinned and advised for huge pages: a few 2 MB pages at least.</summary>
    public const long HugePageThreshold = 4L << 20;

    /// <summary>Arrays from this size (bytes) up have their pages mapped in one call when allocated
    /// (<see cref="Populate"/>).</summary>
    public const long PopulateThreshold = 256L << 10;

    private const int MadvHugePage = 14;
    private const int MadvPopulateWrite = 23;
    private const long HugePageSize = 2L << 20;
    private const long PageSize = 4096;
    private static bool s_adviceFailed;
    private static bool s_populateFailed;

    /// <summary>A new array of <paramref name="length"/> elements whose content is undefined: write before reading.</summary>
    /// <remarks>From <see cref="PopulateThreshold"/> bytes on Linux the array's pages are also mapped at once
    /// (<see cref="Populate"/>): the caller is about to write it all.</remarks>
    public static T[] Uninitialized<T>(int length)
        where T : unmanaged
    {
        long bytes = (long)length * sizeof(T);
        if (bytes < PopulateThreshold || !OperatingSystem.IsLinux() || s_adviceFailed)
        {
            return GC.AllocateUninitializedArray<T>(length);
        }

        bool huge = bytes >= HugePageThreshold;
        T[] array = GC.AllocateUninitializedArray<T>(length, pinned: huge);
        fixed (T* start = array)
        {
            // only whole huge pages inside the array: the advice never reaches memory of other objects
            long first = ((long)start + HugePageSize - 1) & ~(HugePageSize - 1);
            long end = ((long)start + bytes) & ~(HugePageSize - 1);
            if (huge && end > first)
            {
                try
                {
                    _ = Advise((void*)first, (nuint)(end - first), MadvHugePage);
                }
                catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
                {
                    s_adviceFailed = true;
                    return array;
                }
            }

            Populate(start, bytes);
        }

        return array;
    }

    /// <summary>
    /// Maps the pages of new memory (the whole pages inside [start, start + bytes)) in one system call
    /// (madvise MADV_POPULATE_WRITE, Linux 5.14 on): what the first write to each page would do, without a page
    /// fault per page. On a virtual machine a fault is a trap to the hypervisor or worse (12-22 us each measured
    /// here), the work of mapping and zeroing a 4 KB page a fraction of that; the huge pages of an array advised for
    /// them come as they would at the first write, but its first and last 2 MB (not advised: they share their huge
    /// page with other memory) were some 500 faults each. Only advice: where it fails (an older kernel) the pages
    /// fault in as before, and nothing is written.
    /// </summary>
    private static void Populate(void* start, long bytes)
    {
        if (s_populateFailed)
        {
            return;
        }

        // whole pages only: the page holding the array's header is mapped already, and the one after its end may
        // belong to memory the runtime has not committed
        long first = ((long)start + PageSize - 1) & ~(PageSize - 1);
        long end = ((long)start + bytes) & ~(PageSize - 1);
        if (end > first && Advise((void*)first, (nuint)(end - first), MadvPopulateWrite) != 0)
        {
            s_populateFailed = true;
        }
    }

    /// <summary>Tables (floats) from this size (bytes) up get <see cref="HugePageAligned"/>'s memory.</summary>
    public const long HugeTableThreshold = 512L << 10;

    /// <summary>
    /// A pinned float array holding a table of <paramref name="floats"/> floats that starts at element
    /// <paramref name="offset"/>, on a 2 MB boundary, with the 2 MB pages that cover it advised for transparent huge
    /// pages (Linux): a table of a few hundred kilobytes to some megabytes is then one or a few page faults when first
    /// written instead of one per 4 KB (dear on a virtual machine), and its random reads (the rows of a model) miss the
    /// TLB less. Null (the caller allocates as usual) below <see cref="HugeTableThreshold"/>, on other systems, where
    /// the advice failed before, or when the array would be too long. The array's content is undefined: the caller
    /// writes every element it later reads. Virtual memory: the table rounded up to 2 MB, plus 2 MB.
    /// </summary>
    public static float[]? HugePageAligned(long floats, out int offset)
    {
        offset = 0;
        long bytes = floats * sizeof(float);
        long rounded = (bytes + HugePageSize - 1) & ~(HugePageSize - 1);
        if (bytes < HugeTableThreshold || !OperatingSystem.IsLinux() || s_adviceFailed || (rounded + HugePageSize) / sizeof(float) > Array.MaxLength)
        {
            return null;
        }

        float[] array = GC.AllocateUninitializedArray<float>((int)((rounded + HugePageSize) / sizeof(float)), pinned: true);
        fixed (float* start = array)
        {
            long first = ((long)start + HugePageSize - 1) & ~(HugePageSize - 1);
            offset = (int)((first - (long)start) / sizeof(float));
            try
            {
                _ = Advise((void*)first, (nuint)rounded, MadvHugePage);
            }
            catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
            {
                s_adviceFailed = true;
            }
        }

        return array;
    }

    [LibraryImport("libc", EntryPoint = "madvise")]
    private static partial int Advise(void* address, nuint length, int advice);
}
