// One field-aware example at a time, FfmScoreBenchmarks' workload (frappe's shape: 10 fields in order, one nonzero
// per field, values 1, libffm normalisation, k = 4, a pool of 4,096 examples with random features), timed for two
// builds of the library in one process: each build's copy of this program is loaded into its own load context and
// the two alternate pass by pass, so both see the same machine load. Prints the minimum per-example time of each
// (see run.sh).
#pragma warning disable
using System.Diagnostics;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.Loader;
using FmCodegen;
using FmCodegen.Kernels;

if (args.Length < 2)
{
    Console.WriteLine("usage: FfmScoreAb DIR_A DIR_B [features=5382|frappe] [passes=1000]");
    return 1;
}

string features = args.Length > 2 ? args[2] : "5382";
int passes = args.Length > 3 ? int.Parse(args[3]) : 1000;
var builds = new List<(string Dir, Func<double> Declared, Func<double> Generated)>();
foreach (string dir in args[..2])
{
    string full = Path.GetFullPath(dir);
    Type api = new BuildContext(full).LoadFromAssemblyPath(Path.Combine(full, "FfmScoreAb.dll")).GetType("Workload")!;
    Console.WriteLine($"{dir}: {api.GetMethod("Setup")!.Invoke(null, [features])}");
    builds.Add((dir, api.GetMethod("PassDeclared")!.CreateDelegate<Func<double>>(), api.GetMethod("PassGenerated")!.CreateDelegate<Func<double>>()));
}

var best = builds.Select(_ => new[] { double.MaxValue, double.MaxValue }).ToArray();
for (int p = 0; p < passes; p++)
{
    for (int b = 0; b < builds.Count; b++)
    {
        best[b][0] = Math.Min(best[b][0], builds[b].Declared());
        best[b][1] = Math.Min(best[b][1], builds[b].Generated());
    }
}

for (int b = 0; b < builds.Count; b++)
{
    Console.WriteLine($"{builds[b].Dir}: {features} features, min of {passes} passes: [FfmKernel(4)] Score {best[b][0]:F2} ns, Ffm.Score {best[b][1]:F2} ns per example");
}

return 0;

/// <summary>Loads a build's own FmCodegen (and this program) from its directory; the framework is shared.</summary>
internal sealed class BuildContext(string dir) : AssemblyLoadContext
{
    protected override Assembly? Load(AssemblyName name)
    {
        string path = Path.Combine(dir, name.Name + ".dll");
        return name.Name!.StartsWith("FmCodegen", StringComparison.Ordinal) || name.Name == "FfmScoreAb" ? LoadFromAssemblyPath(path) : null;
    }
}

/// <summary>The workload, one copy per build.</summary>
public static class Workload
{
    private const int Fields = 10, K = 4;
    private static FfmModel s_model = null!;
    private static int[] s_offsets = null!, s_fields = null!, s_indices = null!;
    private static float[] s_values = null!;
    private static int s_rows;
    public static float Sink;

    /// <summary>features: the size of a uniform random table (the benchmark's pool of 4,096 examples), or "frappe":
    /// libffm's frappe model (k = 4) and frappe_te.ffm's rows (FfmFrappeScoreBenchmarks' workload), from
    /// FMCODEGEN_SHARED or /work/shared/data.</summary>
    public static string Setup(string features) => features == "frappe" ? SetupFrappe() : SetupUniform(int.Parse(features));

    private static string SetupUniform(int features)
    {
        const int pool = 4096;
        var rng = new Random(7);
        var v = new float[features * Fields * K];
        for (int i = 0; i < v.Length; i++)
        {
            v[i] = (float)(rng.NextDouble() * 0.5);
        }

        s_model = FfmModel.Create(0f, new float[features], v, Fields, K) with { Normalization = FfmNormalization.LibFfm };
        s_rows = pool;
        s_offsets = new int[pool + 1];
        s_fields = new int[pool * Fields];
        s_indices = new int[pool * Fields];
        s_values = new float[pool * Fields];
        for (int e = 0; e < pool; e++)
        {
            s_offsets[e + 1] = (e + 1) * Fields;
            for (int f = 0; f < Fields; f++)
            {
                s_fields[(e * Fields) + f] = f;
                s_indices[(e * Fields) + f] = rng.Next(features);
                s_values[(e * Fields) + f] = 1f;
            }
        }

        return Describe();
    }

    private static string SetupFrappe()
    {
        string shared = Environment.GetEnvironmentVariable("FMCODEGEN_SHARED") ?? "/work/shared/data";
        s_model = FmCodegen.IO.FfmModelFiles.Load(Path.Combine(shared, "fixtures", "libffm", "frappe_k4.libffm.model"), FmCodegen.IO.FfmModelFormat.LibFfm).Model;
        FmCodegen.Data.SparseDataset data = FmCodegen.Data.SparseDataset.Load(Path.Combine(shared, "frappe", "frappe_te.ffm"), FmCodegen.Data.SparseFormat.LibFfm);
        s_rows = data.Count;
        s_offsets = data.Offsets.ToArray();
        s_fields = data.Fields.ToArray();
        s_indices = data.Indices.ToArray();
        s_values = data.Values.ToArray();
        return Describe();
    }

    /// <summary>The library's path, the sums of the pool's scores and a hash (FNV-1a) of every score's bits through
    /// both calls (the same bits in both builds unless the definition changed).</summary>
    private static string Describe()
    {
        float declared = Declared(), generated = Generated();
        uint hashDeclared = 2166136261, hashGenerated = 2166136261;
        for (int e = 0; e < s_rows; e++)
        {
            int at = s_offsets[e], n = s_offsets[e + 1] - at;
            uint a = BitConverter.SingleToUInt32Bits(FfmCore.Score<Ctr4.Kernel>(s_model, s_fields.AsSpan(at, n), s_indices.AsSpan(at, n), s_values.AsSpan(at, n)));
            uint b = BitConverter.SingleToUInt32Bits(Ffm.Score(s_model, s_fields.AsSpan(at, n), s_indices.AsSpan(at, n), s_values.AsSpan(at, n)));
            hashDeclared = (hashDeclared ^ a) * 16777619;
            hashGenerated = (hashGenerated ^ b) * 16777619;
        }

        return $"{typeof(FfmModel).Assembly.Location}, {s_rows} rows, sums of the scores {declared:R} and {generated:R}, hashes {hashDeclared:x8} and {hashGenerated:x8}";
    }

    public static double PassDeclared() => Time(Declared);

    public static double PassGenerated() => Time(Generated);

    private static double Time(Func<float> pass)
    {
        long start = Stopwatch.GetTimestamp();
        Sink += pass();
        return Stopwatch.GetElapsedTime(start).TotalNanoseconds / s_rows;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static float Declared()
    {
        float sum = 0;
        for (int e = 0; e < s_rows; e++)
        {
            int at = s_offsets[e], n = s_offsets[e + 1] - at;
            sum += FfmCore.Score<Ctr4.Kernel>(s_model, s_fields.AsSpan(at, n), s_indices.AsSpan(at, n), s_values.AsSpan(at, n));
        }

        return sum;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static float Generated()
    {
        float sum = 0;
        for (int e = 0; e < s_rows; e++)
        {
            int at = s_offsets[e], n = s_offsets[e + 1] - at;
            sum += Ffm.Score(s_model, s_fields.AsSpan(at, n), s_indices.AsSpan(at, n), s_values.AsSpan(at, n));
        }

        return sum;
    }
}

[FfmKernel(4)]
internal static partial class Ctr4;
