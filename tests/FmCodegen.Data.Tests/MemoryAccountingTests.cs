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
    public void LoadingBinaryDataAllocatesTwiceItsIndicesAndRowsAndNoValues()
    {
        // what 200,000 more rows of 10 nonzeros cost: the parsed parts once and the joined arrays once (indices,
        // labels, offsets: 2 x 9.6 MB), never a value array; the reader's buffers are a fixed cost either way
        using var folder = new TempFolder();
        const int rows = 200_000, perRow = 10;
        string small = folder.Write("small.libfm", BinaryRows(rows, perRow));
        string large = folder.Write("large.libfm", BinaryRows(2 * rows, perRow));
        SparseDataset.Load(small); // warm up: the JIT's allocations are not the dataset's

        long smallBytes = Allocated(small), largeBytes = Allocated(large);
        long held = ((long)rows * perRow * 4) + ((long)rows * 8);
        Assert.InRange(largeBytes - smallBytes, 2 * held, 2 * held * 11 / 10);

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
}
