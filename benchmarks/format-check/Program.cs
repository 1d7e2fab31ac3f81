using System.Globalization;
using System.Reflection;
using System.Runtime.Loader;
using System.Text;

// FormatCheck OLD_DLL NEW_DLL FROM TO [THREADS] [STRIDE]: formats every float whose bit pattern lies in [FROM, TO)
// (hexadecimal; every STRIDE-th one when given) with the prediction formatter (NumberText.FormatFloat) of two builds of
// FmCodegen.dll, each loaded in a context of its own, and counts the patterns whose bytes differ (the first 20 are
// printed). Exit code 0 when there are none.
if (args.Length < 4)
{
    Console.Error.WriteLine("usage: FormatCheck OLD_DLL NEW_DLL FROM_HEX TO_HEX [THREADS] [STRIDE]");
    return 2;
}

uint from = uint.Parse(args[2], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
ulong to = ulong.Parse(args[3], NumberStyles.HexNumber, CultureInfo.InvariantCulture);
int threads = args.Length > 4 ? int.Parse(args[4], CultureInfo.InvariantCulture) : Environment.ProcessorCount;
ulong stride = args.Length > 5 ? ulong.Parse(args[5], CultureInfo.InvariantCulture) : 1;
Func<float, byte[], int, int> oldFormat = Formatter(args[0]);
Func<float, byte[], int, int> newFormat = Formatter(args[1]);
long mismatches = 0, count = 0;
var clock = System.Diagnostics.Stopwatch.StartNew();
ulong span = to - from;
Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t =>
{
    byte[] a = new byte[32], b = new byte[32];
    ulong first = from + (span * (ulong)t / (ulong)threads), last = from + (span * (ulong)(t + 1) / (ulong)threads);
    first = from + ((first - from + stride - 1) / stride * stride);
    long local = 0;
    for (ulong bits = first; bits < last; bits += stride)
    {
        float value = BitConverter.UInt32BitsToSingle((uint)bits);
        int na = oldFormat(value, a, 0), nb = newFormat(value, b, 0);
        if (!a.AsSpan(0, na).SequenceEqual(b.AsSpan(0, nb)) && Interlocked.Increment(ref mismatches) <= 20)
        {
            Console.WriteLine($"differs: {bits:X8} ({value.ToString("R", CultureInfo.InvariantCulture)}): '{Encoding.ASCII.GetString(a, 0, na)}' vs '{Encoding.ASCII.GetString(b, 0, nb)}'");
        }

        local++;
    }

    Interlocked.Add(ref count, local);
});
Console.WriteLine($"{count:N0} floats in [{from:X8}, {to:X8}) (stride {stride}) in {clock.Elapsed.TotalSeconds:F1} s: {mismatches} differ");
return mismatches == 0 ? 0 : 1;

static Func<float, byte[], int, int> Formatter(string path)
{
    var context = new AssemblyLoadContext(Path.GetFullPath(path), isCollectible: false);
    Assembly assembly = context.LoadFromAssemblyPath(Path.GetFullPath(path));
    Type type = assembly.GetType("FmCodegen.Data.NumberText", throwOnError: true)!;
    MethodInfo method = type.GetMethod("FormatFloat", BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic, [typeof(float), typeof(byte[]), typeof(int)])
        ?? throw new InvalidOperationException($"{path}: no NumberText.FormatFloat(float, byte[], int)");
    return method.CreateDelegate<Func<float, byte[], int, int>>();
}
