using FmCodegen.Kernels;

namespace FmCodegen.Data;

/// <summary>
/// Scores CSR blocks under a model (with the model's scoring rule, xLearn's instance normalisation included) and
/// counts the nonzeros whose feature the model does not know (they contribute nothing). Not thread-safe itself; it
/// may use several cores per call.
/// </summary>
internal sealed class SparseScorer
{
    private readonly FmModel _model;
    private readonly FmKernel _kernel;
    private readonly CompactFmModel? _compact;

    /// <param name="model">The model.</param>
    /// <param name="maxThreads">1 scores on the calling thread; more splits rows across cores; 0 or less: all cores.</param>
    public SparseScorer(FmModel model, int maxThreads = 1)
    {
        ArgumentNullException.ThrowIfNull(model);
        _model = model;
        _kernel = FmKernels.For(model.EmbeddingSize);
        MaxThreads = maxThreads;
        // a hashed model (its present rows at most half its index space): batches score from the compact table of
        // those rows through the bitmap-and-rank id map, with the same bits; measured faster than the dense table
        // whose scattered rows each sit on their own page (docs/scale.md, HashedTableBenchmarks)
        _compact = model.Order == 2 && model.PresentRows is { } present && present.Length <= model.NumFeatures / 2
            ? CompactFmModel.From(model)
            : null;
    }

    /// <summary>True when batches score from the compact table of a hashed model's present rows.</summary>
    public bool Compact => _compact is not null;

    public int MaxThreads { get; }

    /// <summary>The nonzeros seen so far whose index is at or beyond the model's feature count.</summary>
    public long UnknownNonZeros { get; private set; }

    /// <summary>The rows seen so far with at least one unknown feature.</summary>
    public long RowsWithUnknown { get; private set; }

    /// <summary>The largest unknown index seen, or -1.</summary>
    public int MaxUnknownIndex { get; private set; } = -1;

    /// <summary>The rows scored so far.</summary>
    public long Rows { get; private set; }

    /// <summary>Writes the raw score of every row of a CSR batch into <paramref name="output"/> (one per row).</summary>
    public void Score(ReadOnlySpan<int> offsets, ReadOnlySpan<int> indices, ReadOnlySpan<float> values, Span<float> output)
    {
        FmErrors.CheckBatch(offsets, indices, values, output);
        CountUnknown(offsets, indices);
        Rows += output.Length;
        if (_compact is not null)
        {
            _compact.ScoreBatch(offsets, indices, values, output, MaxThreads);
        }
        else
        {
            _kernel.ScoreBatch(_model, offsets, indices, values, output, MaxThreads);
        }
    }

    /// <summary>Scores the rows of a block read by <see cref="SparseTextReader"/>.</summary>
    /// <exception cref="DataFormatException">A row's score is not finite (its values overflow float arithmetic with
    /// this model, e.g. 3e38 times a weight above 1); the message names the file and line of the row.</exception>
    public void Score(SparseBlock block, Span<float> output)
    {
        ArgumentNullException.ThrowIfNull(block);
        Span<float> scores = output[..block.Count];
        Score(block.Offsets, block.Indices, block.Values, scores);
        for (int r = 0; r < scores.Length; r++)
        {
            if (!float.IsFinite(scores[r]))
            {
                throw NotFinite(block, r, scores[r]);
            }
        }
    }

    private static DataFormatException NotFinite(SparseBlock block, int row, float score) =>
        new(block.SourceName.Length > 0 ? block.SourceName : "(data)", block.LineOf(row), 0, string.Empty,
            $"the score of this row is {(float.IsNaN(score) ? "NaN" : score > 0 ? "+infinity" : "-infinity")}: its values overflow float arithmetic with this model (values this large cannot be scored; scale them down)");

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private void CountUnknown(ReadOnlySpan<int> offsets, ReadOnlySpan<int> indices)
    {
        int limit = _model.NumFeatures;
        int first = offsets[0];
        int last = offsets[^1];
        // one vectorised pass over the nonzeros; the per-row count only runs when some are unknown
        if (indices[first..last].IndexOfAnyInRange(limit, int.MaxValue) < 0)
        {
            return;
        }

        for (int r = 0; r + 1 < offsets.Length; r++)
        {
            int unknownHere = 0;
            for (int j = offsets[r]; j < offsets[r + 1]; j++)
            {
                int index = indices[j];
                if (index >= limit)
                {
                    unknownHere++;
                    MaxUnknownIndex = Math.Max(MaxUnknownIndex, index);
                }
            }

            if (unknownHere > 0)
            {
                UnknownNonZeros += unknownHere;
                RowsWithUnknown++;
            }
        }
    }
}
