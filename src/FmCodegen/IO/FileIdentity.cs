using System.Runtime.InteropServices;

namespace FmCodegen.IO;

/// <summary>
/// Tells whether two paths name the same file: on Linux by device and inode (<c>statx</c>, whose buffer layout is
/// the same on every architecture), so hard links, symbolic links, "./" and ".." spellings are all caught; elsewhere
/// (or where <c>statx</c> is missing) by the full path after resolving a final symbolic link.
/// </summary>
internal static partial class FileIdentity
{
    private const int AtFdCwd = -100;
    private const uint StatxType = 0x1;
    private const uint StatxIno = 0x100;
    private static bool s_statxMissing;

    /// <summary>True when both paths exist and are the same file.</summary>
    public static bool Same(string a, string b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        if (!File.Exists(a) || !File.Exists(b))
        {
            return false;
        }

        if (Id(a) is { } idA && Id(b) is { } idB)
        {
            return idA == idB;
        }

        return string.Equals(Resolved(a), Resolved(b), OperatingSystem.IsWindows() || OperatingSystem.IsMacOS() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal);
    }

    /// <summary>The full path, with a final symbolic link resolved.</summary>
    public static string Resolved(string path)
    {
        string full = Path.GetFullPath(path);
        try
        {
            return new FileInfo(full).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? full;
        }
        catch (IOException)
        {
            return full;
        }
    }

    /// <summary>(device, inode) of an existing file on Linux; null where that cannot be had.</summary>
    internal static (ulong Device, ulong Inode)? Id(string path)
    {
        if (!OperatingSystem.IsLinux() || s_statxMissing)
        {
            return null;
        }

        Span<byte> buffer = stackalloc byte[256];
        buffer.Clear();
        int result;
        try
        {
            result = Statx(AtFdCwd, path, 0, StatxType | StatxIno, ref MemoryMarshal.GetReference(buffer));
        }
        catch (EntryPointNotFoundException)
        {
            s_statxMissing = true;
            return null;
        }
        catch (DllNotFoundException)
        {
            s_statxMissing = true;
            return null;
        }

        uint mask = MemoryMarshal.Read<uint>(buffer);
        if (result != 0 || (mask & StatxIno) == 0)
        {
            return null;
        }

        // struct statx: stx_ino at 32, stx_dev_major at 136, stx_dev_minor at 140 (native endianness)
        ulong inode = MemoryMarshal.Read<ulong>(buffer[32..]);
        ulong device = ((ulong)MemoryMarshal.Read<uint>(buffer[136..]) << 32) | MemoryMarshal.Read<uint>(buffer[140..]);
        return (device, inode);
    }

    [LibraryImport("libc", EntryPoint = "statx", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Statx(int dirfd, string path, int flags, uint mask, ref byte buffer);
}
