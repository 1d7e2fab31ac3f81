// Stand-alone loops timing FFM AdaGrad pair-update variants and the k = 4 pair sum (see run.sh). The variants that
// leave out the square root or the division are not updates: they show what bounds the loop.
#pragma warning disable
using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

// frappe rows: features j, fields f
var lines = File.ReadAllLines(args[0]);
var rowOff = new List<int> { 0 }; var feats = new List<int>(); var flds = new List<int>();
int n = 0, m = 0;
foreach (var l in lines) { var p = l.Split(' '); for (int i = 1; i < p.Length; i++) { var q = p[i].Split(':'); int f = int.Parse(q[0]), j = int.Parse(q[1]); feats.Add(j); flds.Add(f); n = Math.Max(n, j + 1); m = Math.Max(m, f + 1); } rowOff.Add(feats.Count); }
int stride = 4, blockStride = 8, rowStride = m * blockStride;
var rows = feats.Select(j => j * rowStride).ToArray(); var blocks = flds.Select(f => f * blockStride).ToArray();
var x = Enumerable.Repeat(1f / MathF.Sqrt(10), feats.Count).ToArray();
var offs = rowOff.ToArray();
float[] table = GC.AllocateArray<float>((n + 1) * rowStride + 64, pinned: true);
void Init() { var r = new Random(1); for (int i = 0; i < table.Length; i++) table[i] = (i / 4) % 2 == 0 ? (float)r.NextDouble() * 0.5f : 1f; }
var variants = new (string, Action<int, int>)[]
{
    ("kernel-style sqrt+div", (s, c) => Upd.Run<Upd.SqrtDiv>(table, rows, blocks, x, s, c)),
    ("whole-block sqrt+div", (s, c) => Upd.RunP(table, rows, blocks, x, s, c, 0)),
    ("whole-block, no sqrt", (s, c) => Upd.RunP(table, rows, blocks, x, s, c, 1)),
    ("whole-block, no div", (s, c) => Upd.RunP(table, rows, blocks, x, s, c, 2)),
    ("whole-block, neither", (s, c) => Upd.RunP(table, rows, blocks, x, s, c, 3)),
    ("rsqrt 3 Newton", (s, c) => Upd.Run<Upd.R3>(table, rows, blocks, x, s, c)),
    ("rsqrt 2 Newton", (s, c) => Upd.Run<Upd.R2>(table, rows, blocks, x, s, c)),
    ("2 pairs/512, rsqrt 2", (s, c) => Upd.Run2<Upd.R2>(table, rows, blocks, x, s, c)),
    ("2 pairs/512, sqrt+div", (s, c) => Upd.Run2<Upd.SqrtDiv>(table, rows, blocks, x, s, c)),
    ("2 pairs/512 permutes", (s, c) => Upd.RunZ(table, rows, blocks, x, s, c)),
    ("Twice sqrt+div (prod)", (s, c) => Upd.RunT<Upd.SqrtDiv>(table, rows, blocks, x, s, c)),
    ("Twice rsqrt 2 (3-op)", (s, c) => Upd.RunT<Upd.N2>(table, rows, blocks, x, s, c)),
    ("Twice rsqrt halley+1", (s, c) => Upd.RunT<Upd.H1>(table, rows, blocks, x, s, c)),
    ("Twice rsqrt 1 (inexact)", (s, c) => Upd.RunT<Upd.N1>(table, rows, blocks, x, s, c)),
    ("Twice neither (bound)", (s, c) => Upd.RunT<Upd.None>(table, rows, blocks, x, s, c)),
    ("Step256 rsqrt 2 (3-op)", (s, c) => Upd.RunS<Upd.N2>(table, rows, blocks, x, s, c)),
    ("Step256 sqrt+div", (s, c) => Upd.RunS<Upd.SqrtDiv>(table, rows, blocks, x, s, c)),
    ("pairsum", (s, c) => Upd.Sink += FmCodegen.Kernels.FfmPairs.PairSumTwoRows4(ref table[0], ref rows[s], ref blocks[s], ref x[s], c, 4)),
};
if (args.Length > 1) variants = variants.Where(v => args[1].Split(',').Any(f => v.Item1.Contains(f))).ToArray();
var best = new double[variants.Length]; Array.Fill(best, 1e9);
for (int rep = 0; rep < 7; rep++)
  for (int v = 0; v < variants.Length; v++)
  {
    Init();
    var sw = Stopwatch.StartNew();
    for (int e = 0; e < 20; e++) for (int r = 0; r + 1 < offs.Length; r++) variants[v].Item2(offs[r], offs[r + 1] - offs[r]);
    best[v] = Math.Min(best[v], sw.Elapsed.TotalSeconds);
    if (rep == 6) { double cs = 0; foreach (var t in table) cs += t; Console.WriteLine($"{variants[v].Item1,-24} {best[v]:F3} s per 577,200 rows  table checksum {cs:R}"); }
  }

static class Upd
{
    public static float Sink;
    public interface IStep { static abstract Vector256<float> Scale(Vector256<float> h); static abstract Vector512<float> Scale(Vector512<float> h); }
    public struct SqrtDiv : IStep { public static Vector256<float> Scale(Vector256<float> h) => Vector256<float>.One / Vector256.Sqrt(h); public static Vector512<float> Scale(Vector512<float> h) => Vector512<float>.One / Vector512.Sqrt(h); }
    public struct R3 : IStep {
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Scale(Vector256<float> h) { var y = (Vector256.Create(0x5F375A86) - Vector256.ShiftRightLogical(h.AsInt32(), 1)).AsSingle(); var hf = Vector256.Create(0.5f) * h; var th = Vector256.Create(1.5f);
            y *= Vector256.FusedMultiplyAdd(-(hf * y), y, th); y *= Vector256.FusedMultiplyAdd(-(hf * y), y, th); y *= Vector256.FusedMultiplyAdd(-(hf * y), y, th); return y; }
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Scale(Vector512<float> h) { var y = (Vector512.Create(0x5F375A86) - Vector512.ShiftRightLogical(h.AsInt32(), 1)).AsSingle(); var hf = Vector512.Create(0.5f) * h; var th = Vector512.Create(1.5f);
            y *= Vector512.FusedMultiplyAdd(-(hf * y), y, th); y *= Vector512.FusedMultiplyAdd(-(hf * y), y, th); y *= Vector512.FusedMultiplyAdd(-(hf * y), y, th); return y; } }
    public struct R2 : IStep {
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Scale(Vector256<float> h) { var y = (Vector256.Create(0x5F375A86) - Vector256.ShiftRightLogical(h.AsInt32(), 1)).AsSingle(); var hf = Vector256.Create(0.5f) * h; var th = Vector256.Create(1.5f);
            y *= Vector256.FusedMultiplyAdd(-(hf * y), y, th); y *= Vector256.FusedMultiplyAdd(-(hf * y), y, th); return y; }
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Scale(Vector512<float> h) { var y = (Vector512.Create(0x5F375A86) - Vector512.ShiftRightLogical(h.AsInt32(), 1)).AsSingle(); var hf = Vector512.Create(0.5f) * h; var th = Vector512.Create(1.5f);
            y *= Vector512.FusedMultiplyAdd(-(hf * y), y, th); y *= Vector512.FusedMultiplyAdd(-(hf * y), y, th); return y; } }

    public struct None : IStep { public static Vector256<float> Scale(Vector256<float> h) => h; public static Vector512<float> Scale(Vector512<float> h) => h; }
    // y = magic - (h >> 1); step: t = hh * y; r = 0.5 - t * y (fma); y = y + y * r (fma), hh = 0.5 h
    public struct N2 : IStep {
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Scale(Vector256<float> h) { var y = (Vector256.Create(0x5F375A86) - Vector256.ShiftRightLogical(h.AsInt32(), 1)).AsSingle(); var hh = Vector256.Create(0.5f) * h; var half = Vector256.Create(0.5f);
            y = Vector256.FusedMultiplyAdd(y, Vector256.FusedMultiplyAdd(-(hh * y), y, half), y); y = Vector256.FusedMultiplyAdd(y, Vector256.FusedMultiplyAdd(-(hh * y), y, half), y); return y; }
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Scale(Vector512<float> h) { var y = (Vector512.Create(0x5F375A86) - Vector512.ShiftRightLogical(h.AsInt32(), 1)).AsSingle(); var hh = Vector512.Create(0.5f) * h; var half = Vector512.Create(0.5f);
            y = Vector512.FusedMultiplyAdd(y, Vector512.FusedMultiplyAdd(-(hh * y), y, half), y); y = Vector512.FusedMultiplyAdd(y, Vector512.FusedMultiplyAdd(-(hh * y), y, half), y); return y; } }
    public struct N1 : IStep {
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Scale(Vector256<float> h) { var y = (Vector256.Create(0x5F375A86) - Vector256.ShiftRightLogical(h.AsInt32(), 1)).AsSingle(); var hh = Vector256.Create(0.5f) * h; var half = Vector256.Create(0.5f);
            y = Vector256.FusedMultiplyAdd(y, Vector256.FusedMultiplyAdd(-(hh * y), y, half), y); return y; }
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Scale(Vector512<float> h) { var y = (Vector512.Create(0x5F375A86) - Vector512.ShiftRightLogical(h.AsInt32(), 1)).AsSingle(); var hh = Vector512.Create(0.5f) * h; var half = Vector512.Create(0.5f);
            y = Vector512.FusedMultiplyAdd(y, Vector512.FusedMultiplyAdd(-(hh * y), y, half), y); return y; } }
    // third-order step: r = 1 - h y^2; y = y (1 + r/2 + 3 r^2/8) = y + y r (1/2 + 3/8 r); then one Newton step
    public struct H1 : IStep {
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector256<float> Scale(Vector256<float> h) { var y = (Vector256.Create(0x5F375A86) - Vector256.ShiftRightLogical(h.AsInt32(), 1)).AsSingle(); var one = Vector256.Create(1f);
            var r = Vector256.FusedMultiplyAdd(-(h * y), y, one); y = Vector256.FusedMultiplyAdd(y * r, Vector256.FusedMultiplyAdd(r, Vector256.Create(0.375f), Vector256.Create(0.5f)), y);
            var hh = Vector256.Create(0.5f) * h; y = Vector256.FusedMultiplyAdd(y, Vector256.FusedMultiplyAdd(-(hh * y), y, Vector256.Create(0.5f)), y); return y; }
        [MethodImpl(MethodImplOptions.AggressiveInlining)] public static Vector512<float> Scale(Vector512<float> h) { var y = (Vector512.Create(0x5F375A86) - Vector512.ShiftRightLogical(h.AsInt32(), 1)).AsSingle(); var one = Vector512.Create(1f);
            var r = Vector512.FusedMultiplyAdd(-(h * y), y, one); y = Vector512.FusedMultiplyAdd(y * r, Vector512.FusedMultiplyAdd(r, Vector512.Create(0.375f), Vector512.Create(0.5f)), y);
            var hh = Vector512.Create(0.5f) * h; y = Vector512.FusedMultiplyAdd(y, Vector512.FusedMultiplyAdd(-(hh * y), y, Vector512.Create(0.5f)), y); return y; } }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector512<float> Up<T>(Vector512<float> ab, Vector512<float> g, Vector512<float> h, Vector512<float> ev) where T : struct, IStep =>
        typeof(T) == typeof(SqrtDiv) ? ab - (ev * g / Vector512.Sqrt(h)) : ab - ((ev * g) * T.Scale(h));
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static Vector256<float> Up<T>(Vector256<float> ab, Vector256<float> g, Vector256<float> h, Vector256<float> ev) where T : struct, IStep =>
        typeof(T) == typeof(SqrtDiv) ? ab - (ev * g / Vector256.Sqrt(h)) : ab - ((ev * g) * T.Scale(h));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    static void Step<T>(ref float first, ref float second, Vector256<float> t, Vector256<float> etas, Vector256<float> lambdas) where T : struct, IStep
    {
        Vector256<float> p = Vector256.LoadUnsafe(ref first), q = Vector256.LoadUnsafe(ref second);
        Vector256<float> ab = System.Runtime.Intrinsics.X86.Avx.Permute2x128(p, q, 0x20);
        Vector256<float> ba = System.Runtime.Intrinsics.X86.Avx.Permute2x128(q, p, 0x20);
        Vector256<float> sums = System.Runtime.Intrinsics.X86.Avx.Permute2x128(p, q, 0x31);
        Vector256<float> g = Vector256.FusedMultiplyAdd(t, ba, lambdas * ab);
        Vector256<float> h = Vector256.FusedMultiplyAdd(g, g, sums);
        Vector256<float> updated = Up<T>(ab, g, h, etas);
        System.Runtime.Intrinsics.X86.Avx.Permute2x128(updated, h, 0x20).StoreUnsafe(ref first);
        System.Runtime.Intrinsics.X86.Avx.Permute2x128(updated, h, 0x31).StoreUnsafe(ref second);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void RunS<T>(float[] table, int[] rowsA, int[] blocksA, float[] xA, int s, int count) where T : struct, IStep
    {
        ref float tab = ref table[0]; ref int rows = ref rowsA[s]; ref int blocks = ref blocksA[s]; ref float x = ref xA[s];
        float kappa = 0.01f, eta = 0.2f, lambda = 2e-5f;
        Vector256<float> etas = Vector256.Create(eta), lambdas = Vector256.Create(lambda);
        for (int a = 0; a < count; a++)
        {
            ref float rowA = ref Unsafe.Add(ref tab, Unsafe.Add(ref rows, a)); int blockA = Unsafe.Add(ref blocks, a); float xa = Unsafe.Add(ref x, a);
            for (int b = a + 1; b < count; b++)
                Step<T>(ref Unsafe.Add(ref rowA, Unsafe.Add(ref blocks, b)), ref Unsafe.Add(ref tab, Unsafe.Add(ref rows, b) + blockA), Vector256.Create(kappa * (xa * Unsafe.Add(ref x, b))), etas, lambdas);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void RunT<T>(float[] table, int[] rowsA, int[] blocksA, float[] xA, int s, int count) where T : struct, IStep
    {
        ref float tab = ref table[0]; ref int rows = ref rowsA[s]; ref int blocks = ref blocksA[s]; ref float x = ref xA[s];
        float kappa = 0.01f, eta = 0.2f, lambda = 2e-5f;
        Vector256<float> etas = Vector256.Create(eta), lambdas = Vector256.Create(lambda);
        Vector512<float> etas2 = Vector512.Create(eta), lambdas2 = Vector512.Create(lambda);
        Vector512<int> spread = Vector512.Create(0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1);
        for (int a = 0; a < count; a++)
        {
            int rowA = Unsafe.Add(ref rows, a), blockA = Unsafe.Add(ref blocks, a);
            float xa = Unsafe.Add(ref x, a);
            int b = a + 1;
            for (; b + 1 < count; b += 2)
            {
                Vector128<float> xb = Vector128.CreateScalarUnsafe(Unsafe.ReadUnaligned<double>(ref Unsafe.As<float, byte>(ref Unsafe.Add(ref x, b)))).AsSingle();
                Vector128<float> t = Vector128.Create(kappa) * (Vector128.Create(xa) * xb);
                Vector512<float> ts = System.Runtime.Intrinsics.X86.Avx512F.PermuteVar16x32(t.ToVector256Unsafe().ToVector512Unsafe(), spread);
                int p1 = rowA + Unsafe.Add(ref blocks, b), q1 = rowA + Unsafe.Add(ref blocks, b + 1);
                int p2 = Unsafe.Add(ref rows, b) + blockA, q2 = Unsafe.Add(ref rows, b + 1) + blockA;
                if (q1 == p1 || q1 == p2 || q2 == p1 || q2 == p2)
                {
                    Step<T>(ref Unsafe.Add(ref tab, p1), ref Unsafe.Add(ref tab, p2), Vector256.Create(ts.ToScalar()), etas, lambdas);
                    Step<T>(ref Unsafe.Add(ref tab, q1), ref Unsafe.Add(ref tab, q2), Vector256.Create(ts.GetElement(4)), etas, lambdas);
                    continue;
                }
                Vector512<float> xv = Vector512.Create(Vector256.LoadUnsafe(ref tab, (nuint)(uint)p1), Vector256.LoadUnsafe(ref tab, (nuint)(uint)q1));
                Vector512<float> yv = Vector512.Create(Vector256.LoadUnsafe(ref tab, (nuint)(uint)p2), Vector256.LoadUnsafe(ref tab, (nuint)(uint)q2));
                Vector512<float> ab = System.Runtime.Intrinsics.X86.Avx512F.Shuffle4x128(xv, yv, 0x88);
                Vector512<float> ba = System.Runtime.Intrinsics.X86.Avx512F.Shuffle4x128(yv, xv, 0x88);
                Vector512<float> sums = System.Runtime.Intrinsics.X86.Avx512F.Shuffle4x128(xv, yv, 0xDD);
                Vector512<float> g = Vector512.FusedMultiplyAdd(ts, ba, lambdas2 * ab);
                Vector512<float> h = Vector512.FusedMultiplyAdd(g, g, sums);
                Vector512<float> updated = Up<T>(ab, g, h, etas2);
                Vector512<float> xs = System.Runtime.Intrinsics.X86.Avx512F.PermuteVar16x32x2(updated, Vector512.Create(0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23), h);
                Vector512<float> ys = System.Runtime.Intrinsics.X86.Avx512F.PermuteVar16x32x2(updated, Vector512.Create(8, 9, 10, 11, 24, 25, 26, 27, 12, 13, 14, 15, 28, 29, 30, 31), h);
                xs.GetLower().StoreUnsafe(ref tab, (nuint)(uint)p1);
                xs.GetUpper().StoreUnsafe(ref tab, (nuint)(uint)q1);
                ys.GetLower().StoreUnsafe(ref tab, (nuint)(uint)p2);
                ys.GetUpper().StoreUnsafe(ref tab, (nuint)(uint)q2);
            }
            if (b < count)
                Step<T>(ref Unsafe.Add(ref tab, rowA + Unsafe.Add(ref blocks, b)), ref Unsafe.Add(ref tab, Unsafe.Add(ref rows, b) + blockA), Vector256.Create(kappa * (xa * Unsafe.Add(ref x, b))), etas, lambdas);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run<T>(float[] table, int[] rowsA, int[] blocksA, float[] xA, int s, int count) where T : struct, IStep
    {
        ref float tab = ref table[0]; ref int rows = ref rowsA[s]; ref int blocks = ref blocksA[s]; ref float x = ref xA[s];
        float kappa = 0.01f, eta = 0.2f, lambda = 2e-5f;
        for (int a = 0; a < count; a++)
        {
            int rowA = Unsafe.Add(ref rows, a), blockA = Unsafe.Add(ref blocks, a); float xa = Unsafe.Add(ref x, a);
            for (int b = a + 1; b < count; b++)
            {
                float t = kappa * (xa * Unsafe.Add(ref x, b));
                ref float w1 = ref Unsafe.Add(ref tab, rowA + Unsafe.Add(ref blocks, b));
                ref float w2 = ref Unsafe.Add(ref tab, Unsafe.Add(ref rows, b) + blockA);
                Vector128<float> av = Vector128.LoadUnsafe(ref w1), bv = Vector128.LoadUnsafe(ref w2);
                Vector256<float> ab = Vector256.Create(av, bv), ba = Vector256.Create(bv, av);
                Vector256<float> g = Vector256.FusedMultiplyAdd(Vector256.Create(t), ba, Vector256.Create(lambda) * ab);
                Vector256<float> h = Vector256.FusedMultiplyAdd(g, g, Vector256.Create(Vector128.LoadUnsafe(ref w1, 4), Vector128.LoadUnsafe(ref w2, 4)));
                Vector256<float> up = typeof(T) == typeof(SqrtDiv) ? ab - (Vector256.Create(eta) * g / Vector256.Sqrt(h)) : Vector256.FusedMultiplyAdd(-(Vector256.Create(eta) * g), T.Scale(h), ab);
                h.GetLower().StoreUnsafe(ref w1, 4); up.GetLower().StoreUnsafe(ref w1); h.GetUpper().StoreUnsafe(ref w2, 4); up.GetUpper().StoreUnsafe(ref w2);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void RunP(float[] table, int[] rowsA, int[] blocksA, float[] xA, int s, int count, int variant)
    {
        ref float tab = ref table[0]; ref int rows = ref rowsA[s]; ref int blocks = ref blocksA[s]; ref float x = ref xA[s];
        float kappa = 0.01f, eta = 0.2f, lambda = 2e-5f;
        var ev = Vector256.Create(eta); var lv = Vector256.Create(lambda);
        for (int a = 0; a < count; a++)
        {
            int rowA = Unsafe.Add(ref rows, a), blockA = Unsafe.Add(ref blocks, a); float xa = Unsafe.Add(ref x, a);
            for (int b = a + 1; b < count; b++)
            {
                float t = kappa * (xa * Unsafe.Add(ref x, b));
                ref float w1 = ref Unsafe.Add(ref tab, rowA + Unsafe.Add(ref blocks, b));
                ref float w2 = ref Unsafe.Add(ref tab, Unsafe.Add(ref rows, b) + blockA);
                Vector256<float> B1 = Vector256.LoadUnsafe(ref w1), B2 = Vector256.LoadUnsafe(ref w2);
                Vector256<float> ab = System.Runtime.Intrinsics.X86.Avx.Permute2x128(B1, B2, 0x20);
                Vector256<float> ba = System.Runtime.Intrinsics.X86.Avx.Permute2x128(B2, B1, 0x20);
                Vector256<float> G = System.Runtime.Intrinsics.X86.Avx.Permute2x128(B1, B2, 0x31);
                Vector256<float> g = Vector256.FusedMultiplyAdd(Vector256.Create(t), ba, lv * ab);
                Vector256<float> h = Vector256.FusedMultiplyAdd(g, g, G);
                Vector256<float> up = variant == 0 ? ab - (ev * g / Vector256.Sqrt(h)) : variant == 1 ? ab - (ev * g / h) : variant == 2 ? ab - (ev * g * Vector256.Sqrt(h)) : ab - (ev * g * h);
                System.Runtime.Intrinsics.X86.Avx.Permute2x128(up, h, 0x20).StoreUnsafe(ref w1);
                System.Runtime.Intrinsics.X86.Avx.Permute2x128(up, h, 0x31).StoreUnsafe(ref w2);
            }
        }
    }

    static readonly Vector512<int> IdxW = Vector512.Create(0, 1, 2, 3, 16, 17, 18, 19, 8, 9, 10, 11, 24, 25, 26, 27);
    static readonly Vector512<int> IdxWs = Vector512.Create(16, 17, 18, 19, 0, 1, 2, 3, 24, 25, 26, 27, 8, 9, 10, 11);
    static readonly Vector512<int> IdxG = Vector512.Create(4, 5, 6, 7, 20, 21, 22, 23, 12, 13, 14, 15, 28, 29, 30, 31);
    // X' = [upP1 | hP1 | upQ1 | hQ1] from (up, h): up lanes 0-3, h lanes 0-3, up 8-11, h 8-11
    static readonly Vector512<int> IdxX = Vector512.Create(0, 1, 2, 3, 16, 17, 18, 19, 8, 9, 10, 11, 24, 25, 26, 27);
    static readonly Vector512<int> IdxY = Vector512.Create(4, 5, 6, 7, 20, 21, 22, 23, 12, 13, 14, 15, 28, 29, 30, 31);
    static readonly Vector512<int> IdxT = Vector512.Create(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void RunZ(float[] table, int[] rowsA, int[] blocksA, float[] xA, int s, int count)
    {
        ref float tab = ref table[0]; ref int rows = ref rowsA[s]; ref int blocks = ref blocksA[s]; ref float x = ref xA[s];
        float kappa = 0.01f, eta = 0.2f, lambda = 2e-5f;
        var ev = Vector512.Create(eta); var lv = Vector512.Create(lambda);
        var ev2 = Vector256.Create(eta); var lv2 = Vector256.Create(lambda);
        Vector512<int> iw = IdxW, iws = IdxWs, ig = IdxG, ix = IdxX, iy = IdxY, it = IdxT;
        for (int a = 0; a < count; a++)
        {
            int rowA = Unsafe.Add(ref rows, a), blockA = Unsafe.Add(ref blocks, a); float xa = Unsafe.Add(ref x, a);
            float kxa = kappa * xa;
            int b = a + 1;
            for (; b + 1 < count; b += 2)
            {
                ref float p1 = ref Unsafe.Add(ref tab, rowA + Unsafe.Add(ref blocks, b));
                ref float q1 = ref Unsafe.Add(ref tab, rowA + Unsafe.Add(ref blocks, b + 1));
                ref float p2 = ref Unsafe.Add(ref tab, Unsafe.Add(ref rows, b) + blockA);
                ref float q2 = ref Unsafe.Add(ref tab, Unsafe.Add(ref rows, b + 1) + blockA);
                // t = kappa * (xa * xb): two lanes then spread
                Vector128<float> xb = Vector128.CreateScalarUnsafe(Unsafe.ReadUnaligned<double>(ref Unsafe.As<float, byte>(ref Unsafe.Add(ref x, b)))).AsSingle();
                Vector128<float> tt = Vector128.Create(kappa) * (Vector128.Create(xa) * xb);
                Vector512<float> tv = System.Runtime.Intrinsics.X86.Avx512F.PermuteVar16x32(tt.ToVector256Unsafe().ToVector512Unsafe(), it);
                Vector512<float> X = Vector512.Create(Vector256.LoadUnsafe(ref p1), Vector256.LoadUnsafe(ref q1));
                Vector512<float> Y = Vector512.Create(Vector256.LoadUnsafe(ref p2), Vector256.LoadUnsafe(ref q2));
                Vector512<float> W = System.Runtime.Intrinsics.X86.Avx512F.PermuteVar16x32x2(X, iw, Y);
                Vector512<float> Ws = System.Runtime.Intrinsics.X86.Avx512F.PermuteVar16x32x2(X, iws, Y);
                Vector512<float> G = System.Runtime.Intrinsics.X86.Avx512F.PermuteVar16x32x2(X, ig, Y);
                Vector512<float> g = Vector512.FusedMultiplyAdd(tv, Ws, lv * W);
                Vector512<float> h = Vector512.FusedMultiplyAdd(g, g, G);
                Vector512<float> up = W - (ev * g / Vector512.Sqrt(h));
                Vector512<float> X2 = System.Runtime.Intrinsics.X86.Avx512F.PermuteVar16x32x2(up, ix, h);
                Vector512<float> Y2 = System.Runtime.Intrinsics.X86.Avx512F.PermuteVar16x32x2(up, iy, h);
                X2.GetLower().StoreUnsafe(ref p1); X2.GetUpper().StoreUnsafe(ref q1);
                Y2.GetLower().StoreUnsafe(ref p2); Y2.GetUpper().StoreUnsafe(ref q2);
            }
            for (; b < count; b++)
            {
                float t = kappa * (xa * Unsafe.Add(ref x, b));
                ref float w1 = ref Unsafe.Add(ref tab, rowA + Unsafe.Add(ref blocks, b));
                ref float w2 = ref Unsafe.Add(ref tab, Unsafe.Add(ref rows, b) + blockA);
                Vector256<float> B1 = Vector256.LoadUnsafe(ref w1), B2 = Vector256.LoadUnsafe(ref w2);
                Vector256<float> ab = System.Runtime.Intrinsics.X86.Avx.Permute2x128(B1, B2, 0x20);
                Vector256<float> ba = System.Runtime.Intrinsics.X86.Avx.Permute2x128(B2, B1, 0x20);
                Vector256<float> G = System.Runtime.Intrinsics.X86.Avx.Permute2x128(B1, B2, 0x31);
                Vector256<float> g = Vector256.FusedMultiplyAdd(Vector256.Create(t), ba, lv2 * ab);
                Vector256<float> h = Vector256.FusedMultiplyAdd(g, g, G);
                Vector256<float> up = ab - (ev2 * g / Vector256.Sqrt(h));
                System.Runtime.Intrinsics.X86.Avx.Permute2x128(up, h, 0x20).StoreUnsafe(ref w1);
                System.Runtime.Intrinsics.X86.Avx.Permute2x128(up, h, 0x31).StoreUnsafe(ref w2);
            }
        }
    }

    // two pairs per 512-bit vector: pair list first, then pairs two at a time
    [ThreadStatic] static int[]? s_p;
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Run2<T>(float[] table, int[] rowsA, int[] blocksA, float[] xA, int s, int count) where T : struct, IStep
    {
        ref float tab = ref table[0]; ref int rows = ref rowsA[s]; ref int blocks = ref blocksA[s]; ref float x = ref xA[s];
        float kappa = 0.01f, eta = 0.2f, lambda = 2e-5f;
        var ev = Vector512.Create(eta); var lv = Vector512.Create(lambda);
        Span<int> o1 = stackalloc int[count * count]; Span<int> o2 = stackalloc int[count * count]; Span<float> ts = stackalloc float[count * count];
        int np = 0;
        for (int a = 0; a < count; a++)
        {
            int rowA = Unsafe.Add(ref rows, a), blockA = Unsafe.Add(ref blocks, a); float xa = Unsafe.Add(ref x, a);
            for (int b = a + 1; b < count; b++) { o1[np] = rowA + Unsafe.Add(ref blocks, b); o2[np] = Unsafe.Add(ref rows, b) + blockA; ts[np] = kappa * (xa * Unsafe.Add(ref x, b)); np++; }
        }
        int p = 0;
        for (; p + 1 < np; p += 2)
        {
            ref float w1 = ref Unsafe.Add(ref tab, o1[p]); ref float w2 = ref Unsafe.Add(ref tab, o2[p]);
            ref float w3 = ref Unsafe.Add(ref tab, o1[p + 1]); ref float w4 = ref Unsafe.Add(ref tab, o2[p + 1]);
            Vector128<float> a1 = Vector128.LoadUnsafe(ref w1), b1 = Vector128.LoadUnsafe(ref w2), a2 = Vector128.LoadUnsafe(ref w3), b2 = Vector128.LoadUnsafe(ref w4);
            Vector512<float> ab = Vector512.Create(Vector256.Create(a1, b1), Vector256.Create(a2, b2)), ba = Vector512.Create(Vector256.Create(b1, a1), Vector256.Create(b2, a2));
            Vector512<float> tv = Vector512.Create(Vector256.Create(ts[p]), Vector256.Create(ts[p + 1]));
            Vector512<float> g = Vector512.FusedMultiplyAdd(tv, ba, lv * ab);
            Vector512<float> hs = Vector512.Create(Vector256.Create(Vector128.LoadUnsafe(ref w1, 4), Vector128.LoadUnsafe(ref w2, 4)), Vector256.Create(Vector128.LoadUnsafe(ref w3, 4), Vector128.LoadUnsafe(ref w4, 4)));
            Vector512<float> h = Vector512.FusedMultiplyAdd(g, g, hs);
            Vector512<float> up = typeof(T) == typeof(SqrtDiv) ? ab - (ev * g / Vector512.Sqrt(h)) : Vector512.FusedMultiplyAdd(-(ev * g), T.Scale(h), ab);
            h.GetLower().GetLower().StoreUnsafe(ref w1, 4); up.GetLower().GetLower().StoreUnsafe(ref w1);
            h.GetLower().GetUpper().StoreUnsafe(ref w2, 4); up.GetLower().GetUpper().StoreUnsafe(ref w2);
            h.GetUpper().GetLower().StoreUnsafe(ref w3, 4); up.GetUpper().GetLower().StoreUnsafe(ref w3);
            h.GetUpper().GetUpper().StoreUnsafe(ref w4, 4); up.GetUpper().GetUpper().StoreUnsafe(ref w4);
        }
        for (; p < np; p++)
        {
            ref float w1 = ref Unsafe.Add(ref tab, o1[p]); ref float w2 = ref Unsafe.Add(ref tab, o2[p]);
            Vector128<float> av = Vector128.LoadUnsafe(ref w1), bv = Vector128.LoadUnsafe(ref w2);
            Vector256<float> ab = Vector256.Create(av, bv), ba = Vector256.Create(bv, av);
            Vector256<float> g = Vector256.FusedMultiplyAdd(Vector256.Create(ts[p]), ba, Vector256.Create(lambda) * ab);
            Vector256<float> h = Vector256.FusedMultiplyAdd(g, g, Vector256.Create(Vector128.LoadUnsafe(ref w1, 4), Vector128.LoadUnsafe(ref w2, 4)));
            Vector256<float> up = typeof(T) == typeof(SqrtDiv) ? ab - (Vector256.Create(eta) * g / Vector256.Sqrt(h)) : Vector256.FusedMultiplyAdd(-(Vector256.Create(eta) * g), T.Scale(h), ab);
            h.GetLower().StoreUnsafe(ref w1, 4); up.GetLower().StoreUnsafe(ref w1); h.GetUpper().StoreUnsafe(ref w2, 4); up.GetUpper().StoreUnsafe(ref w2);
        }
    }
}
