namespace FmCodegen.IO;

/// <summary>The field-aware model file formats FmCodegen reads (and, for native and xLearn, writes).</summary>
public enum FfmModelFormat
{
    /// <summary>FmCodegen's binary FFM format (see <see cref="NativeFfmModelFile"/>).</summary>
    Native,

    /// <summary>libffm's binary model (<c>ffm-train</c>), read only.</summary>
    LibFfm,

    /// <summary>xLearn's FFM text model (<c>xlearn_train -s 2 -t FILE</c>).</summary>
    XLearn,

    /// <summary>An ML.NET FieldAwareFactorizationMachine model zip (<c>mlContext.Model.Save</c>), read only.</summary>
    MlNet,
}

/// <summary>A feature column of an ML.NET model: its name and width (slots). Field f of libffm data is column f.</summary>
public sealed record FfmColumn(string Name, int Width);

/// <summary>
/// A field-aware model as read from (or to be written to) a file: the <see cref="FfmModel"/> and what the file says
/// around it.
/// </summary>
/// <param name="Model">The parameters (with the normalisation the model scores with).</param>
/// <param name="Format">The file format it came from.</param>
/// <param name="Task">What the model predicts, when the file says.</param>
/// <param name="HasBias">False when the format has no bias (libffm, ML.NET).</param>
/// <param name="HasLinear">False when the format has no linear weights (libffm).</param>
/// <param name="ChecksumVerified">Whether the file carried a checksum that was verified.</param>
/// <param name="Columns">ML.NET models: the feature columns in field order; feature ids of field f are then offset by
/// the widths of columns 0 .. f - 1 (<see cref="MapFeatures"/>). Null for the other formats.</param>
public sealed record FfmModelFile(
    FfmModel Model,
    FfmModelFormat Format,
    FmTask? Task = null,
    bool HasBias = true,
    bool HasLinear = true,
    bool ChecksumVerified = false,
    IReadOnlyList<FfmColumn>? Columns = null)
{
    /// <summary>
    /// Maps libffm data (field, index within the field) onto the model's feature ids in place: with ML.NET's columns,
    /// feature = (widths of the earlier columns) + index, and an index at or beyond its column's width, or a field
    /// beyond the columns, becomes an unseen feature. Without columns the indices stay as they are.
    /// </summary>
    public void MapFeatures(ReadOnlySpan<int> fields, Span<int> indices)
    {
        if (Columns is null)
        {
            return;
        }

        if (fields.Length != indices.Length)
        {
            throw new ArgumentException("fields and indices must have the same length.");
        }

        var offsets = new int[Columns.Count];
        int total = 0;
        for (int c = 0; c < offsets.Length; c++)
        {
            offsets[c] = total;
            total += Columns[c].Width;
        }

        int unseen = Model.NumFeatures;
        for (int a = 0; a < indices.Length; a++)
        {
            int f = fields[a];
            int j = indices[a];
            indices[a] = (uint)f < (uint)offsets.Length && (uint)j < (uint)Columns[f].Width ? offsets[f] + j : unseen;
        }
    }
}
