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
    ("pairsum", (s, c) => Upd.Sink += FmCodegen.Kernels.FfmPairs.PairSumTwoRows4(ref table[0], ref rows[s], ref blocks[s], ref x[s], c, 4)),
};
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
