using System.Diagnostics;
using System.Globalization;
using System.IO.Compression;
using System.Text;

namespace FmCodegen.Fuzz.Tests;

/// <summary>
/// The fuzz engine: a fixed time budget per target, a seeded random source per case (case i of a target is the
/// same input on every machine; a faster machine only runs more cases), structured mutations of real inputs, and
/// a report line per target ("fuzz: TARGET: N cases in S s, seed X") on the test output and, when
/// FMCODEGEN_FUZZ_REPORT names a file, appended there (CI prints it).
/// FMCODEGEN_FUZZ_SECONDS sets the whole budget (default 12 s, split between the targets by weight);
/// FMCODEGEN_FUZZ_SEED the seed (default 20261201). A failure names the target, seed and case and shows the input.
/// </summary>
internal static class Fuzz
{
    private static readonly object ReportLock = new();

    public static double TotalSeconds =>
        double.TryParse(Environment.GetEnvironmentVariable("FMCODEGEN_FUZZ_SECONDS"), NumberStyles.Float, CultureInfo.InvariantCulture, out double s) && s > 0 ? s : 12;

    public static int Seed =>
        int.TryParse(Environment.GetEnvironmentVariable("FMCODEGEN_FUZZ_SEED"), NumberStyles.Integer, CultureInfo.InvariantCulture, out int s) ? s : 20261201;

    /// <summary>The weights of the targets in the budget (they sum to 1).</summary>
    public static double Share(string target) => target switch
    {
        "data-lines" => 0.30,
        "data-gzip" => 0.15,
        "models" => 0.30,
        "cli" => 0.25,
        _ => 0.1,
    };

    /// <summary>Runs <paramref name="oneCase"/> for the target's share of the budget (at least <paramref name="minCases"/>
    /// cases); returns the number of cases.</summary>
    public static int Run(string target, int minCases, Action<Random, int> oneCase, Action<string> log)
    {
        double budget = TotalSeconds * Share(target);
        int seed = Seed;
        int targetId = StableHash(target);
        var clock = Stopwatch.StartNew();
        int cases = 0;
        while (cases < minCases || clock.Elapsed.TotalSeconds < budget)
        {
            var random = new Random(unchecked((seed * 1_000_003) ^ (targetId * 7919) ^ (cases * 104_729)));
            oneCase(random, cases);
            cases++;
        }

        string line = string.Create(CultureInfo.InvariantCulture,
            $"fuzz: {target}: {cases:N0} cases in {clock.Elapsed.TotalSeconds:F1} s (budget {budget:F1} s of {TotalSeconds:F0} s, seed {seed})");
        log(line);
        if (Environment.GetEnvironmentVariable("FMCODEGEN_FUZZ_REPORT") is { Length: > 0 } report)
        {
            lock (ReportLock)
            {
                File.AppendAllText(report, line + Environment.NewLine);
            }
        }

        return cases;
    }

    private static int StableHash(string text)
    {
        int h = 17;
        foreach (char c in text)
        {
            h = unchecked((h * 31) + c);
        }

        return h;
    }

    /// <summary>What a failing case shows: the target, seed and case, and the input (escaped, cut at 400 bytes).</summary>
    public static string Describe(string target, int index, byte[] input) =>
        string.Create(CultureInfo.InvariantCulture, $"{target} case {index} (seed {Seed}), {input.Length} bytes: {Escape(input)}");

    public static string Escape(byte[] bytes)
    {
        var sb = new StringBuilder();
        foreach (byte b in bytes.AsSpan(0, Math.Min(bytes.Length, 400)))
        {
            sb.Append(b is >= 32 and < 127 and not (byte)'\\' ? ((char)b).ToString() : $"\\x{b:x2}");
        }

        return bytes.Length > 400 ? sb.Append(" ...").ToString() : sb.ToString();
    }

    // ---- mutations

    /// <summary>Numbers that have broken parsers: limits, overflows, non-finite spellings, odd forms.</summary>
    public static readonly string[] Numbers =
    [
        "0", "-0", "1", "-1", "+1", "9", "10", "1.", ".5", "-.5", "1e", "e5", "1e+", "1e-", "1e39", "-1e39", "3e38",
        "3.4028235e38", "3.4028236e38", "1e-46", "1e-45", "1.5e-10", "nan", "NaN", "inf", "-Infinity", "Infinity",
        "\u221E", "2147483646", "2147483647", "2147483648", "4294967296", "99999999999999999999", "16777216",
        "16777217", "123456789", "1234567890", "0.1234567890123", "00000000001", "0x1F", "1_000", "1,5", "\u0661",
        "--1", "1e1000", "1e-1000", "65536", "65537", "",
    ];

    /// <summary>Bytes that mean something to a reader (separators, comments, line ends, a BOM's first byte, NUL, high bytes).</summary>
    private static readonly byte[] Interesting = [(byte)':', (byte)' ', (byte)'\t', (byte)'#', (byte)'-', (byte)'+', (byte)'.', (byte)'e', 0, (byte)'\r', (byte)'\n', 0xEF, 0xBB, 0xBF, 0xFF, 0x80, (byte)'0', (byte)'9', (byte)'_', (byte)'v', (byte)'i'];

    /// <summary>One to four structured mutations of <paramref name="input"/>.</summary>
    public static byte[] Mutate(Random random, byte[] input)
    {
        var bytes = new List<byte>(input);
        int count = 1 + random.Next(4);
        for (int m = 0; m < count; m++)
        {
            MutateOnce(random, bytes);
        }

        return [.. bytes];
    }

    private static void MutateOnce(Random random, List<byte> bytes)
    {
        int n = bytes.Count;
        int at = n == 0 ? 0 : random.Next(n);
        switch (random.Next(11))
        {
            case 0 when n > 0: // flip a bit
                bytes[at] ^= (byte)(1 << random.Next(8));
                break;
            case 1 when n > 0: // an interesting byte in place of one
                bytes[at] = Interesting[random.Next(Interesting.Length)];
                break;
            case 2: // insert an interesting byte
                bytes.Insert(Math.Min(at, n), Interesting[random.Next(Interesting.Length)]);
                break;
            case 3 when n > 0: // delete a range
                bytes.RemoveRange(at, Math.Min(n - at, 1 + random.Next(8)));
                break;
            case 4 when n > 0: // duplicate a range
                int length = Math.Min(n - at, 1 + random.Next(16));
                bytes.InsertRange(at, bytes.GetRange(at, length));
                break;
            case 5: // truncate at any byte
                bytes.RemoveRange(at, n - at);
                break;
            case 6: // truncate at a boundary class: after ':', ' ', '\n', inside a number, before a line end
                TruncateAtBoundary(random, bytes);
                break;
            case 7: // a number token replaced by an interesting number
                ReplaceNumber(random, bytes, Numbers[random.Next(Numbers.Length)]);
                break;
            case 8: // a huge or negative number
                ReplaceNumber(random, bytes, random.Next(2) == 0 ? "-" + random.Next(1, 1000) : new string('9', 1 + random.Next(30)));
                break;
            case 9 when n > 0: // repeat a token many times (long lines, huge k)
                int start = at;
                while (start > 0 && bytes[start - 1] is not ((byte)' ' or (byte)'\n'))
                {
                    start--;
                }

                int end = at;
                while (end < n && bytes[end] is not ((byte)' ' or (byte)'\n'))
                {
                    end++;
                }

                byte[] token = [.. bytes.GetRange(start, end - start), (byte)' '];
                int times = random.Next(10) == 0 ? 70_000 : 1 + random.Next(50);
                var repeated = new byte[token.Length * times];
                for (int t = 0; t < times; t++)
                {
                    token.CopyTo(repeated, t * token.Length);
                }

                bytes.InsertRange(start, repeated);
                break;
            default: // swap two lines' order or drop a line
                DropOrSwapLine(random, bytes);
                break;
        }
    }

    private static void TruncateAtBoundary(Random random, List<byte> bytes)
    {
        int kind = random.Next(5);
        var positions = new List<int>();
        for (int i = 0; i < bytes.Count; i++)
        {
            bool hit = kind switch
            {
                0 => bytes[i] == (byte)':',
                1 => bytes[i] == (byte)' ',
                2 => bytes[i] == (byte)'\n',
                3 => char.IsAsciiDigit((char)bytes[i]) && i + 1 < bytes.Count && char.IsAsciiDigit((char)bytes[i + 1]),
                _ => i + 1 < bytes.Count && bytes[i + 1] == (byte)'\n',
            };
            if (hit)
            {
                positions.Add(i + 1);
            }
        }

        if (positions.Count > 0)
        {
            int cut = positions[random.Next(positions.Count)];
            bytes.RemoveRange(cut, bytes.Count - cut);
        }
    }

    private static void ReplaceNumber(Random random, List<byte> bytes, string number)
    {
        var starts = new List<int>();
        for (int i = 0; i < bytes.Count; i++)
        {
            if (char.IsAsciiDigit((char)bytes[i]) && (i == 0 || !char.IsAsciiDigit((char)bytes[i - 1])) && (i == 0 || bytes[i - 1] != (byte)'.'))
            {
                starts.Add(i);
            }
        }

        if (starts.Count == 0)
        {
            return;
        }

        int start = starts[random.Next(starts.Count)];
        int end = start;
        while (end < bytes.Count && (char.IsAsciiDigit((char)bytes[end]) || bytes[end] is (byte)'.' or (byte)'e' or (byte)'E' or (byte)'-' or (byte)'+'))
        {
            end++;
        }

        bytes.RemoveRange(start, end - start);
        bytes.InsertRange(start, Encoding.UTF8.GetBytes(number));
    }

    private static void DropOrSwapLine(Random random, List<byte> bytes)
    {
        string text = Encoding.Latin1.GetString([.. bytes]);
        var lines = text.Split('\n').ToList();
        if (lines.Count < 2)
        {
            return;
        }

        int a = random.Next(lines.Count);
        if (random.Next(2) == 0)
        {
            lines.RemoveAt(a);
        }
        else
        {
            int b = random.Next(lines.Count);
            (lines[a], lines[b]) = (lines[b], lines[a]);
        }

        bytes.Clear();
        bytes.AddRange(Encoding.Latin1.GetBytes(string.Join('\n', lines)));
    }

    // ---- gzip

    public static byte[] Gzip(byte[] content, Random random)
    {
        using var buffer = new MemoryStream();
        using (var gzip = new GZipStream(buffer, random.Next(2) == 0 ? CompressionLevel.Fastest : CompressionLevel.Optimal, leaveOpen: true))
        {
            // sometimes a flush mid-stream: a cut there is a clean deflate boundary
            int split = random.Next(content.Length + 1);
            gzip.Write(content, 0, split);
            if (random.Next(2) == 0)
            {
                gzip.Flush();
            }

            gzip.Write(content, split, content.Length - split);
        }

        return buffer.ToArray();
    }

    /// <summary>Gzip damage: a flipped byte, a cut (also right before the trailer or after the header), garbage after
    /// the end, a second member, or nothing.</summary>
    public static byte[] DamageGzip(Random random, byte[] gzip, byte[] secondMember)
    {
        int n = gzip.Length;
        return random.Next(7) switch
        {
            0 => Flip(random, gzip),
            1 => gzip[..random.Next(n)],
            2 => gzip[..Math.Max(0, n - 8 + random.Next(8))],
            3 => gzip[..Math.Min(n, 10 + random.Next(4))],
            4 => [.. gzip, .. Enumerable.Range(0, 1 + random.Next(16)).Select(_ => (byte)random.Next(256))],
            5 => [.. gzip, .. secondMember],
            _ => gzip,
        };

        static byte[] Flip(Random random, byte[] data)
        {
            byte[] copy = (byte[])data.Clone();
            if (copy.Length == 0)
            {
                return copy;
            }

            copy[random.Next(copy.Length)] ^= (byte)(1 << random.Next(8));
            return copy;
        }
    }
}

/// <summary>A folder under the temp folder, deleted on dispose.</summary>
internal sealed class FuzzFolder : IDisposable
{
    public FuzzFolder()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "fm-fuzz-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

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
