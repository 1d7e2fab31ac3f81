using System.Text;

namespace FmCodegen.Data.Tests;

/// <summary>What a loaded dataset holds per nonzero: no value array for binary data, each part of the load dropped
/// once copied (counted by the bytes the loading thread allocates, which do not depend on timing).</summary>
public class MemoryAccountingTests
{
    private static string BinaryRows(int rows, int perRow, string? lateValue = null)
    {
        var text = new StringBuilder();
        for (int r = 0; r < rows; r++)
        {
            text.Append(r % 2);
            for (int j = 0; j < perRow; j++)
            {
                text.Append(' ').Append((r * 7 + j * 13) % 5000).Append(':').Append(r == rows - 2 && j == 1 && lateValue is not null ? lateValue : "1");
            }

            text.Append('\n');
        }

        return text.ToString();
    }

    [Fact]
    public void BinaryDataStoresNoValuesAndReadsAsOnes()
    {
        SparseDataset d = TestFiles.Parse("1 0:1 3:1\n0 2:1\n1\n");
        Assert.True(d.UnitValues);
        Assert.Equal([1f, 1f], d.RowValues(0).ToArray());
        Assert.Equal([1f], d.RowValues(1).ToArray());
        Assert.True(d.RowValues(2).IsEmpty);
        Assert.Equal([1f, 1f, 1f], d.Values.ToArray());
        Assert.True(d.ContentEquals(SparseDataset.Create(d.Labels, d.Offsets, d.Indices, [1f, 1f, 1f])));

        SparseDataset real = TestFiles.Parse("1 0:1 3:0.5\n");
        Assert.False(real.UnitValues);
        Assert.Equal([1f, 0.5f], real.RowValues(0).ToArray());
        Assert.False(real.ContentEquals(d));

        // Create drops an array of ones too; -1 and 1.0000001 are not ones
        Assert.True(SparseDataset.Create([1f], [0, 2], [4, 5], [1f, 1f]).UnitValues);
        Assert.False(SparseDataset.Create([1f], [0, 2], [4, 5], [1f, -1f]).UnitValues);
        Assert.False(SparseDataset.Create([1f], [0, 1], [4], [1.0000001f]).UnitValues);
    }

    [Fact]
    public void AValueOtherThanOneInALateBlockKeepsTheOnesBeforeIt()
    {
        // 40,000 rows: the reader's blocks hold 32,768, so the 2.5 comes in the second block, after a block of ones
        using var folder = new TempFolder();
        string path = folder.Write("late.libfm", BinaryRows(40_000, 3, lateValue: "2.5"));
        SparseDataset d = SparseDataset.Load(path);
        Assert.False(d.UnitValues);
        Assert.Equal(120_000, d.NonZeros);
        Assert.Equal(2.5f, d.RowValues(39_998)[1]);
        Assert.Equal(119_999, d.Values.ToArray().Count(v => v == 1f));
    }

    [Fact]
    public void LoadingBinaryDataAllocatesItsIndicesAndRowsOnceAndNoValues()
    {
        // what 200,000 more rows of 10 nonzeros cost: the dataset's arrays once (indices, labels, offsets: 9.6 MB),
        // sized from the first block and the file's length with 5% to spare, never grown, copied or trimmed, and
        // never a value array; the reader's buffers are a fixed cost either way
        using var folder = new TempFolder();
        const int rows = 200_000, perRow = 10;
        string small = folder.Write("small.libfm", BinaryRows(rows, perRow));
        string large = folder.Write("large.libfm", BinaryRows(2 * rows, perRow));
        SparseDataset.Load(small); // warm up: the JIT's allocations are not the dataset's

        long smallBytes = Allocated(small), largeBytes = Allocated(large);
        long held = ((long)rows * perRow * 4) + ((long)rows * 8);
        Assert.InRange(largeBytes - smallBytes, held, held * 11 / 10);

        // the smaller of two loads: a one-off allocation of the runtime's (a method recompiled at a higher tier while
        // the load runs) adds to one measurement, never to both
        static long Allocated(string path) => Math.Min(Once(path), Once(path));

        static long Once(string path)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            Assert.True(SparseDataset.Load(path).UnitValues);
            return GC.GetAllocatedBytesForCurrentThread() - before;
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void RowsLongerThanTheFirstBlockForetoldGrowTheArraysAndReadTheSame(bool gzip)
    {
        // the arrays are sized from the first block (32,768 rows of one nonzero); the rows after it hold 40, so the
        // estimate falls short and the arrays grow; a gzip file has no length to scale by and grows from the start
        using var folder = new TempFolder();
        var text = new StringBuilder();
        var labels = new List<float>();
        var offsets = new List<int> { 0 };
        var indices = new List<int>();
        for (int r = 0; r < 50_000; r++)
        {
            int count = r < 32_768 ? 1 : 40;
            text.Append(r % 3 - 1);
            labels.Add(r % 3 - 1);
            for (int j = 0; j < count; j++)
            {
                int index = (r * 31 + j * 17) % 100_003;
                text.Append(' ').Append(index).Append(":1");
                indices.Add(index);
            }

            text.Append('\n');
            offsets.Add(indices.Count);
        }

        string path = folder.File(gzip ? "long.libfm.gz" : "long.libfm");
        byte[] bytes = Encoding.ASCII.GetBytes(text.ToString());
        File.WriteAllBytes(path, gzip ? ReliabilityTests.Gzip(bytes) : bytes);
        SparseDataset d = SparseDataset.Load(path);
        SparseDataset expected = SparseDataset.Create(labels.ToArray(), offsets.ToArray(), indices.ToArray(), Enumerable.Repeat(1f, indices.Count).ToArray());
        Assert.Equal(50_000, d.Count);
        Assert.Equal(indices.Count, d.NonZeros);
        Assert.True(d.ContentEquals(expected));
        Assert.Equal(indices.Count, d.Values.Length);
        Assert.Throws<IndexOutOfRangeException>(() => d.RowIndices(50_000).Length);
    }

    [Fact]
    public void AFileTooLargeForTheMemoryIsRefusedFromItsFirstBlockWithTheProjectedSize()
    {
        // 100,000 rows of 10 nonzeros (8.8 MB of arrays): the first block, scaled to the file's length, already
        // shows that the dataset will not fit in 4 MB, so the reader stops there with the projected size
        using var folder = new TempFolder();
        string path = folder.Write("big.libfm", BinaryRows(100_000, 10));
        using (MemoryBudget.WithLimit(4 << 20))
        {
            var e = Assert.Throws<InsufficientMemoryException>(() => SparseDataset.Load(path));
            Assert.Contains("big.libfm: reading about 10", e.Message, StringComparison.Ordinal);
            Assert.Contains("the first 4,096 rows, up to line 4,096, scaled to the file's length", e.Message, StringComparison.Ordinal);
            Assert.Contains("stream the file in blocks", e.Message, StringComparison.Ordinal);
        }

        Assert.Equal(100_000, SparseDataset.Load(path).Count);
    }

    [Theory]
    [InlineData(1000)]
    [InlineData((int)(LargeArrays.PopulateThreshold / 4) - 1)]
    [InlineData((int)(LargeArrays.PopulateThreshold / 4))]
    [InlineData((int)(LargeArrays.PopulateThreshold / 4) + 1023)]
    [InlineData((int)(LargeArrays.HugePageThreshold / 4) - 1)]
    [InlineData((int)(LargeArrays.HugePageThreshold / 4) + 777)]
    public void LargeArraysHoldWhatIsWrittenWhileTheirNeighboursKeepTheirs(int length)
    {
        // the arrays' pages are mapped ahead of the writes from PopulateThreshold on (and advised for huge pages from
        // HugePageThreshold): whole pages inside each array only, so arrays allocated around it keep their content
        int[] before = new int[length];
        before.AsSpan().Fill(-7);
        int[] array = LargeArrays.Uninitialized<int>(length);
        ushort[] shorts = LargeArrays.Uninitialized<ushort>(length);
        int[] after = new int[length];
        after.AsSpan().Fill(-9);
        Assert.Equal(length, array.Length);
        Assert.Equal(length, shorts.Length);
        for (int i = 0; i < length; i++)
        {
            array[i] = i * 3;
            shorts[i] = (ushort)i;
        }

        for (int i = 0; i < length; i++)
        {
            Assert.Equal(i * 3, array[i]);
            Assert.Equal((ushort)i, shorts[i]);
        }

        Assert.All(before, v => Assert.Equal(-7, v));
        Assert.All(after, v => Assert.Equal(-9, v));
    }
}
