namespace FmCodegen.Data;

/// <summary>
/// Writes files so that a reader never sees a half-written one: the content goes to a temporary file in the same
/// folder, which is flushed and then renamed over the target. On any failure the temporary file is deleted and the
/// target is left as it was (absent, or the previous version).
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

        TempPath = Path.Combine(folder, $".{Path.GetFileName(TargetPath)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        _stream = new FileStream(TempPath, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16);
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
