namespace FmCodegen.Data;

/// <summary>The text layouts of sparse data that FmCodegen reads and writes.</summary>
public enum SparseFormat
{
    /// <summary>libFM / libSVM: <c>label index:value index:value ...</c></summary>
    LibFm,

    /// <summary>libffm: <c>label field:index:value field:index:value ...</c></summary>
    LibFfm,
}
