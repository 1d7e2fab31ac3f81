using System.Diagnostics;
using System.Globalization;
using FmCodegen;
using FmCodegen.Kernels;

// A tour of the kernels: build a CTR-shaped model (39 one-hot fields, k = 16), score with the kernel the generator
// emitted for [FmKernel(16)] below, check it against the O(k n^2) definition, and time it beside the others.
CultureInfo.DefaultThreadCurrentCulture = CultureInfo.InvariantCulture;
const int Fields = 39, ValuesPerField = 256, K = 16, Examples = 20_000;
int numFeatures = Fields * ValuesPerField;
var rng = new Random(7);
float[] weights = Enumerable.Range(0, numFeatures).Select(_ => (float)(rng.NextDouble() - 0.5) * 0.2f).ToArray();
float[] factors = Enumerable.Range(0, numFeatures * K).Select(_ => (float)(rng.NextDouble() - 0.5) * 0.2f).ToArray();
FmModel model = FmModel.Create(-1.2f, weights, factors, K);
Console.WriteLine($"Model: {model.NumFeatures:N0} features, k = {model.EmbeddingSize}, rows of {model.RowStride} floats (factors + weight, 64-byte aligned)");

// A batch in CSR form: every example has one nonzero per field, like a Criteo row.
int[] offsets = new int[Examples + 1];
int[] indices = new int[Examples * Fields];
float[] values = new float[Examples * Fields];
for (int e = 0; e < Examples; e++)
{
    for (int f = 0; f < Fields; f++)
    {
        indices[(e * Fields) + f] = (f * ValuesPerField) + rng.Next(ValuesPerField);
        values[(e * Fields) + f] = 1f;
    }

    offsets[e + 1] = (e + 1) * Fields;
}

ReadOnlySpan<int> Row(int[] a, int e) => a.AsSpan(e * Fields, Fields);
ReadOnlySpan<float> Vals(int e) => values.AsSpan(e * Fields, Fields);

// 1. Correctness: the generated kernel against the pairwise definition in double.
double worst = 0;
for (int e = 0; e < 2_000; e++)
{
    worst = Math.Max(worst, Math.Abs(CtrKernel.Score(model, Row(indices, e), Vals(e)) - Fm.ScoreNaive(model, Row(indices, e), Vals(e))));
}

Console.WriteLine($"Generated kernel (path {CtrKernel.ActivePath}) vs the O(k n^2) definition on 2,000 examples: max |difference| = {worst:G3}");
Console.WriteLine($"Example 0: score {CtrKernel.Score(model, Row(indices, 0), Vals(0)):F6}, probability {Fm.Sigmoid(CtrKernel.Score(model, Row(indices, 0), Vals(0))):F6}");

// 2. Latency per example, one thread.
double Time(string name, Func<int, float> score, int count)
{
    float sink = 0;
    for (int e = 0; e < Math.Min(count, 2_000); e++)
    {
        sink += score(e); // warm up: let the JIT reach its optimised tier
    }

    long start = Stopwatch.GetTimestamp();
    for (int e = 0; e < count; e++)
    {
        sink += score(e % Examples);
    }

    double ns = Stopwatch.GetElapsedTime(start).TotalNanoseconds / count;
    Console.WriteLine($"  {name,-34} {ns,9:F1} ns/example{(float.IsNaN(sink) ? "!" : string.Empty)}");
    return ns;
}

Console.WriteLine($"Latency, n = {Fields} nonzeros, one thread:");
double generated = Time("generated [FmKernel(16)]", e => CtrKernel.Score(model, Row(indices, e), Vals(e)), 400_000);
double runtime = Time("runtime-k SIMD kernel", e => FmKernels.RuntimeSimd.Score(model, Row(indices, e), Vals(e)), 400_000);
double scalar = Time("runtime-k scalar O(kn)", e => FmKernels.RuntimeScalar.Score(model, Row(indices, e), Vals(e)), 100_000);
double naive = Time("naive O(k n^2), double", e => (float)Fm.ScoreNaive(model, Row(indices, e), Vals(e)), 5_000);
Console.WriteLine($"Generated is {runtime / generated:F1}x the runtime-k SIMD kernel, {scalar / generated:F1}x scalar, {naive / generated:F0}x naive.");

// 3. A batch on every core.
var output = new float[Examples];
Fm.ScoreBatch(model, offsets, indices, values, output, maxThreads: 0);
long t0 = Stopwatch.GetTimestamp();
for (int rep = 0; rep < 20; rep++)
{
    Fm.ScoreBatch(model, offsets, indices, values, output, maxThreads: 0);
}

Console.WriteLine($"Batch of {Examples:N0} on {Environment.ProcessorCount} cores: {Stopwatch.GetElapsedTime(t0).TotalNanoseconds / (20.0 * Examples):F1} ns/example; output[0] = {output[0]:F6}");
return worst < 1e-3 ? 0 : 1;

/// <summary>The generator fills this class with fixed-k = 16 kernels; it also registers them for Fm.Score.</summary>
[FmKernel(16)]
internal static partial class CtrKernel;
