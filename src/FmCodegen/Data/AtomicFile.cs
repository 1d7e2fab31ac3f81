namespace FmCodegen.Data;

/// <summary>
/// Writes files so that a reader never sees a half-written one: the content goes to a temporary file in the same
/// folder, which is flushed and then renamed over the target. On any failure the temporary file is deleted and the
/// target is left as it was (absent, or the previous version). A process killed while writing (SIGKILL) cannot
/// clean up: its temporary, named after its process id, is removed by the next write to the same target.
/// </summary>
internal static class AtomicFile
{
    /// <summary>Writes <paramref name="path"/> through <paramref name="write"/>, atomically.</summary>
    public static void Write(string path, Action<Stream> write, bool durable = true)
    {
        ArgumentNullException.ThrowIfNull(write);
        using AtomicFileStream file = Create(path, durable);
        write(file.Stream);
        file.Commit();
    }

    /// <summary>
    /// Opens a temporary file beside <paramref name="path"/>. Write to <see cref="AtomicFileStream.Stream"/>, then call
    /// <see cref="AtomicFileStream.Commit"/>; disposing without a commit deletes the temporary file.
    /// <paramref name="durable"/> flushes the content to the disk before the rename (models); without it the rename
    /// still hides partial content from readers, but a power loss may leave an empty file (predictions).
    /// </summary>
    public static AtomicFileStream Create(string path, bool durable = true) => new(path, durable);

    /// <summary>
    /// Throws the error <see cref="Create"/> would throw for <paramref name="path"/> (a missing or read-only
    /// folder, a folder at the path) without writing anything, so a long job can find out before it starts.
    /// </summary>
    public static void CheckWritable(string path)
    {
        using AtomicFileStream probe = Create(path, durable: false);
    }

    /// <summary>The temporary's name: ".NAME.PID.GUID.tmp", so that a later write can tell whose it was.</summary>
    internal static string TemporaryName(string name, int processId, Guid id)
    {
        // the 32 lowercase hex digits of id's "N" form, written here: the runtime library's Guid formatter is
        // vectorised code its precompiled image leaves to the JIT on some CPUs, compiled at every start of a verb
        Span<byte> bytes = stackalloc byte[16];
        id.TryWriteBytes(bytes, bigEndian: true, out _);
        Span<char> digits = stackalloc char[32];
        for (int i = 0; i < bytes.Length; i++)
        {
            digits[2 * i] = HexDigit(bytes[i] >> 4);
            digits[(2 * i) + 1] = HexDigit(bytes[i] & 15);
        }

        return $".{name}.{processId}.{new string(digits)}.tmp";
    }

    private static char HexDigit(int value) => (char)(value < 10 ? '0' + value : 'a' + value - 10);

    /// <summary>
    /// Deletes the temporaries of <paramref name="name"/> in <paramref name="folder"/> left by processes that no
    /// longer run (killed before they could clean up). Those of running processes are left alone.
    /// </summary>
    internal static void RemoveStaleTemporaries(string folder, string name)
    {
        IEnumerable<string> candidates;
        try
        {
            candidates = Directory.EnumerateFiles(folder, $".{name}.*.tmp", new EnumerationOptions { MatchType = MatchType.Simple, IgnoreInaccessible = true, AttributesToSkip = 0 });
        }
        catch (IOException)
        {
            return;
        }
        catch (UnauthorizedAccessException)
        {
            return;
        }

        foreach (string candidate in candidates)
        {
            string file = Path.GetFileName(candidate);
            string prefix = $".{name}.";
            if (!file.StartsWith(prefix, StringComparison.Ordinal) || !file.EndsWith(".tmp", StringComparison.Ordinal) || file.Length < prefix.Length + 4)
            {
                continue;
            }

            // .NAME.PID.GUID.tmp
            string inner = file[prefix.Length..^4];
            int dot = inner.IndexOf('.', StringComparison.Ordinal);
            if (dot <= 0
                || !int.TryParse(inner.AsSpan(0, dot), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int pid)
                || !Guid.TryParseExact(inner.AsSpan(dot + 1), "N", out _)
                || pid == Environment.ProcessId || IsRunning(pid))
            {
                continue;
            }

            try
            {
                File.Delete(candidate);
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }
    }

    private static bool IsRunning(int pid)
    {
        if (OperatingSystem.IsLinux())
        {
            return Directory.Exists($"/proc/{pid}");
        }

        try
        {
            using var process = System.Diagnostics.Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }
}

/// <summary>A temporary file that becomes <see cref="TargetPath"/> on <see cref="Commit"/>, or disappears on dispose.</summary>
internal sealed class AtomicFileStream : IDisposable
{
    private readonly FileStream _stream;
    private bool _committed;
    private readonly bool _durable;
    private bool _disposed;

    internal AtomicFileStream(string path, bool durable)
    {
        _durable = durable;
        ArgumentException.ThrowIfNullOrEmpty(path);
        TargetPath = Path.GetFullPath(path);
        string folder = Path.GetDirectoryName(TargetPath) ?? ".";
        if (!Directory.Exists(folder))
        {
            throw new DirectoryNotFoundException($"Cannot write '{path}': the folder '{folder}' does not exist.");
        }

        if (Directory.Exists(TargetPath))
        {
            throw new IOException($"Cannot write '{path}': it is a folder.");
        }

        string name = Path.GetFileName(TargetPath);
        AtomicFile.RemoveStaleTemporaries(folder, name);
        TempPath = Path.Combine(folder, AtomicFile.TemporaryName(name, Environment.ProcessId, Guid.NewGuid()));
        try
        {
            _stream = new FileStream(TempPath, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16);
        }
        catch (UnauthorizedAccessException e)
        {
            // name the file the user asked for, not the hidden temporary
            throw new UnauthorizedAccessException($"Cannot write '{path}': the folder '{folder}' is not writable (permission denied).", e);
        }
        catch (IOException e) when (e is not PathTooLongException)
        {
            throw new IOException($"Cannot write '{path}' in the folder '{folder}': {e.Message.Replace(TempPath, "a temporary file", StringComparison.Ordinal)}", e);
        }
    }

    /// <summary>The file that <see cref="Commit"/> creates or replaces.</summary>
    public string TargetPath { get; }

    /// <summary>The temporary file being written.</summary>
    public string TempPath { get; }

    /// <summary>Where to write the content.</summary>
    public Stream Stream => _stream;

    /// <summary>Flushes the content to disk and renames the temporary file over the target.</summary>
    public void Commit()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_committed)
        {
            return;
        }

        _stream.Flush(flushToDisk: _durable);
        _stream.Dispose();
        File.Move(TempPath, TargetPath, overwrite: true);
        _committed = true;
    }

    /// <summary>Deletes the temporary file unless <see cref="Commit"/> succeeded.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        _stream.Dispose();
        if (!_committed)
        {
            try
            {
                File.Delete(TempPath);
            }
            catch (IOException)
            {
                // best effort: the failure that got us here matters more
            }
            catch (UnauthorizedAccessException)
            {
            }
        }
    }
}
