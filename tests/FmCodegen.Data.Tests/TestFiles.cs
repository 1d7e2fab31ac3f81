using System.Text;
using FmCodegen.Data;

namespace FmCodegen.Data.Tests;

/// <summary>Helpers: temporary folders, parsing strings, fixture paths.</summary>
internal static class TestFiles
{
    public static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "Fixtures", name);

    public static SparseDataset Parse(string text, SparseFormat format = SparseFormat.LibFm, string source = "test.libfm")
    {
        using var stream = new MemoryStream(Encoding.UTF8.GetBytes(text));
        using var reader = new SparseTextReader(stream, format, source);
        return reader.ReadToEnd();
    }

    public static DataFormatException ParseError(string text, SparseFormat format = SparseFormat.LibFm) =>
        Assert.Throws<DataFormatException>(() => Parse(text, format));

    /// <summary>The shared data folder (../shared/data beside the repository), or null on a fresh clone.</summary>
    public static string? SharedData()
    {
        string? env = Environment.GetEnvironmentVariable("FMCODEGEN_SHARED_DATA");
        if (env is not null && Directory.Exists(env))
        {
            return env;
        }

        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "FmCodegen.sln")))
            {
                string shared = Path.GetFullPath(Path.Combine(dir.FullName, "..", "shared", "data"));
                return Directory.Exists(shared) ? shared : null;
            }
        }

        return null;
    }
}

/// <summary>A folder under the system temp folder, deleted on dispose.</summary>
internal sealed class TempFolder : IDisposable
{
    public TempFolder()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "fmdata-tests-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public string Write(string name, string content)
    {
        string path = File(name);
        System.IO.File.WriteAllText(path, content);
        return path;
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
