using System.Runtime.InteropServices;
using BenchmarkDotNet.Attributes;
using FmCodegen.Kernels;

namespace FmCodegen.Benchmarks;

/// <summary>
/// Field-aware layouts and loop orders, k = 4, frappe's shape (10 one-hot fields over 5,382 features, a few hundred
/// values per field for the first two fields and a handful for the others), one thread:
/// <list type="bullet">
/// <item>the pair sum of one compacted example through the generated kernel, with the library's feature-major rows
/// (feature j's 10 field blocks side by side) against field-major tables (one table per field, as
/// [field][feature][k]: the same kernel, other offsets), and through the runtime-k kernel;</item>
/// <item>libffm's AdaGrad step on every pair of the example (blocks followed by their sums, as training keeps them);</item>
/// <item>a training pass (pair sum, then the pair updates) over 524,288 rows (63 MB of nonzeros) visited through a
/// shuffled permutation in place, against the same rows copied once in that order and visited in 32-row blocks
/// (what <c>FfmTrainer</c> does): the cost of a cache miss per row.</item>
/// </list>
/// Times are per example.
/// </summary>
[MemoryDiagnoser(displayGenColumns: false)]
public class FfmLayoutBenchmarks
{
    private const int Pool = 4096;
    private const int Fields = 10;
    private const int Features = 5382;
    private const int K = 4;
    private const int Rows = 1 << 19;
    private static readonly int[] FieldStart = [0, 957, 5039, 5046, 5049, 5052, 5054, 5057, 5071, 5080, 5382];

    private FfmTable _featureMajor = null!;
    private float[] _fieldMajor = null!;
    private FfmTable _training = null!;
    private int[] _rows = null!;
    private int[] _blocks = null!;
    private int[] _fieldRows = null!;
    private int[] _fieldBlocks = null!;
    private int[] _trainRows = null!;
    private int[] _trainBlocks = null!;
    private float[] _x = null!;
    private int[] _dataFeatures = null!;
    private int[] _dataFields = null!;
    private int[] _shuffled = null!;
    private int[] _copyFeatures = null!;
    private int[] _copyFields = null!;
    private int[] _blockOrder = null!;
    private int[] _scratchRows = null!;
    private int[] _scratchBlocks = null!;

    [GlobalSetup]
    public void Setup()
    {
        var rng = new Random(7);
        _featureMajor = new FfmTable(Features, Fields, K);
        _training = new FfmTable(Features, Fields, K, 2 * FfmLayout.FieldStride(K));
        int stride = _featureMajor.FieldStride;
        _fieldMajor = new float[(Fields * Features * stride) + 16];
        for (int j = 0; j < Features; j++)
        {
            for (int f = 0; f < Fields; f++)
            {
                Span<float> block = _featureMajor.Block(j, f);
                Span<float> train = _training.WholeBlock(j, f);
                for (int c = 0; c < K; c++)
                {
                    block[c] = (float)(rng.NextDouble() * 0.5);
                    train[c] = block[c];
                    train[stride + c] = 1f;
                    _fieldMajor[(((f * Features) + j) * stride) + c] = block[c];
                }
            }
        }

        _rows = new int[Pool * Fields];
        _blocks = new int[Pool * Fields];
        _fieldRows = new int[Pool * Fields];
        _fieldBlocks = new int[Pool * Fields];
        _trainRows = new int[Pool * Fields];
        _trainBlocks = new int[Pool * Fields];
        _x = new float[Rows * Fields];
        Array.Fill(_x, 1f / MathF.Sqrt(Fields));
        for (int e = 0; e < Pool; e++)
        {
            for (int f = 0; f < Fields; f++)
            {
                int j = Draw(rng, f), at = (e * Fields) + f;
                _rows[at] = j * _featureMajor.RowStride;
                _blocks[at] = f * _featureMajor.BlockStride;
                _fieldRows[at] = j * stride;
                _fieldBlocks[at] = f * Features * stride;
                _trainRows[at] = j * _training.RowStride;
                _trainBlocks[at] = f * _training.BlockStride;
            }
        }

        _dataFeatures = new int[Rows * Fields];
        _dataFields = new int[Rows * Fields];
        for (int r = 0; r < Rows; r++)
        {
            for (int f = 0; f < Fields; f++)
            {
                _dataFeatures[(r * Fields) + f] = Draw(rng, f);
                _dataFields[(r * Fields) + f] = f;
            }
        }

        _shuffled = Enumerable.Range(0, Rows).ToArray();
        rng.Shuffle(_shuffled);
        _copyFeatures = new int[Rows * Fields];
        _copyFields = new int[Rows * Fields];
        for (int i = 0; i < Rows; i++)
        {
            Array.Copy(_dataFeatures, _shuffled[i] * Fields, _copyFeatures, i * Fields, Fields);
            Array.Copy(_dataFields, _shuffled[i] * Fields, _copyFields, i * Fields, Fields);
        }

        _blockOrder = Enumerable.Range(0, Rows / 32).ToArray();
        rng.Shuffle(_blockOrder);
        _scratchRows = new int[Fields];
        _scratchBlocks = new int[Fields];
    }

    /// <summary>Skewed within a field, as frappe's users and items: the square of a uniform draw.</summary>
    private static int Draw(Random rng, int field)
    {
        double u = rng.NextDouble();
        return FieldStart[field] + (int)(u * u * (FieldStart[field + 1] - FieldStart[field]));
    }

    [Benchmark(Baseline = true, Description = "pair sum, feature-major rows (library)", OperationsPerInvoke = Pool)]
    public float FeatureMajor() => Sum<BuiltInFfmKernel4.Kernel>(ref _featureMajor.Origin, _rows, _blocks);

    [Benchmark(Description = "pair sum, field-major tables", OperationsPerInvoke = Pool)]
    public float FieldMajor() => Sum<BuiltInFfmKernel4.Kernel>(ref MemoryMarshal.GetArrayDataReference(_fieldMajor), _fieldRows, _fieldBlocks);

    [Benchmark(Description = "pair sum, runtime-k kernel", OperationsPerInvoke = Pool)]
    public float RuntimeK() => Sum<RuntimeFfmKernel>(ref _featureMajor.Origin, _rows, _blocks);

    [Benchmark(Description = "AdaGrad step on every pair (sums after each block)", OperationsPerInvoke = Pool)]
    public void Update()
    {
        ref float table = ref _training.Origin;
        for (int e = 0; e < Pool; e++)
        {
            int at = e * Fields;
            BuiltInFfmKernel4.Kernel.UpdatePairsAdaGrad(ref table, ref _trainRows[at], ref _trainBlocks[at], ref _x[at], Fields, K, 4, 1e-3f, 0.2f, 2e-5f);
        }
    }

    [Benchmark(Description = "training pass, rows shuffled in place", OperationsPerInvoke = Rows)]
    public float PassShuffledInPlace()
    {
        float total = 0;
        foreach (int r in _shuffled)
        {
            total += TrainRow(_dataFeatures, _dataFields, r * Fields);
        }

        return total;
    }

    [Benchmark(Description = "training pass, rows copied in that order, 32-row blocks shuffled (library)", OperationsPerInvoke = Rows)]
    public float PassBlocked()
    {
        float total = 0;
        foreach (int block in _blockOrder)
        {
            for (int r = block * 32; r < (block + 1) * 32; r++)
            {
                total += TrainRow(_copyFeatures, _copyFields, r * Fields);
            }
        }

        return total;
    }

    private float TrainRow(int[] features, int[] fields, int start)
    {
        int[] rows = _scratchRows, blocks = _scratchBlocks;
        int rowStride = _training.RowStride, blockStride = _training.BlockStride;
        for (int a = 0; a < Fields; a++)
        {
            rows[a] = features[start + a] * rowStride;
            blocks[a] = fields[start + a] * blockStride;
        }

        ref float table = ref _training.Origin;
        float pairs = BuiltInFfmKernel4.Kernel.PairSum(ref table, ref rows[0], ref blocks[0], ref _x[start], Fields, K, 4);
        BuiltInFfmKernel4.Kernel.UpdatePairsAdaGrad(ref table, ref rows[0], ref blocks[0], ref _x[start], Fields, K, 4, 1e-4f * MathF.Sign(pairs), 0.2f, 2e-5f);
        return pairs;
    }

    private float Sum<TKernel>(ref float table, int[] rows, int[] blocks) where TKernel : struct, IFfmKernel
    {
        float sum = 0;
        for (int e = 0; e < Pool; e++)
        {
            int at = e * Fields;
            sum += TKernel.PairSum(ref table, ref rows[at], ref blocks[at], ref _x[at], Fields, K, 4);
        }

        return sum;
    }
}
