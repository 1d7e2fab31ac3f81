using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using FmCodegen.Kernels;

namespace FmCodegen.IO;

/// <summary>
/// libffm's binary model (<c>ffm-train</c>): int32 n, int32 m, int32 k, one byte normalisation (a 13-byte header),
/// then for each feature j and field f (j outer) k_aligned weights and k_aligned AdaGrad sums, interleaved in blocks
/// of kALIGN (4 in libffm's default SSE build, 1 without SSE; k_aligned = k rounded up to kALIGN). The file does not
/// say which kALIGN wrote it: the length tells when k is not a multiple of 4; otherwise the AdaGrad sums, which
/// start at 1 and only grow, tell which interleaving the file has. libffm has no bias and no linear term.
/// </summary>
public static class LibFfmModelFile
{
    private const int HeaderSize = 13;

    /// <summary>Loads a libffm binary model. <paramref name="alignment"/> (4 or 1) forces the interleaving.</summary>
    /// <exception cref="ModelFileException">The file is not a libffm model, or is truncated.</exception>
    public static FfmModelFile Load(string path, int? alignment = null)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        return Read(stream, stream.Length, path, alignment);
    }

    /// <summary>True when a file of <paramref name="length"/> bytes starting with <paramref name="head"/> has the
    /// shape of a libffm model (a plausible header and a matching length).</summary>
    public static bool LooksLike(ReadOnlySpan<byte> head, long length) =>
        head.Length >= HeaderSize && TryHeader(head, out int n, out int m, out int k, out _) && (Size(n, m, k, 4) == length || Size(n, m, k, 1) == length);

    /// <summary>Reads a libffm model of <paramref name="length"/> bytes.</summary>
    public static FfmModelFile Read(Stream stream, long length, string sourceName, int? alignment = null)
    {
        if (alignment is not (null or 1 or 4))
        {
            throw new ArgumentOutOfRangeException(nameof(alignment), alignment, "libffm's kALIGN is 4 (SSE build) or 1.");
        }

        Span<byte> header = stackalloc byte[HeaderSize];
        if (length < HeaderSize || stream.ReadAtLeast(header, HeaderSize, throwOnEndOfStream: false) < HeaderSize)
        {
            throw new ModelFileException($"{sourceName}: {length} bytes, shorter than libffm's 13-byte header (n, m, k, normalisation); not a libffm model");
        }

        if (!TryHeader(header, out int n, out int m, out int k, out bool normalization))
        {
            throw new ModelFileException(
                $"{sourceName}: the libffm header says n = {BinaryPrimitives.ReadInt32LittleEndian(header)}, m = {BinaryPrimitives.ReadInt32LittleEndian(header[4..])}, k = {BinaryPrimitives.ReadInt32LittleEndian(header[8..])}, normalisation byte {header[12]}; expected n >= 0, 1 <= m, 1 <= k <= {FfmLayout.MaxEmbeddingSize} and a byte 0 or 1");
        }

        long size4 = Size(n, m, k, 4), size1 = Size(n, m, k, 1);
        if (length != size4 && length != size1)
        {
            throw new ModelFileException(
                $"{sourceName}: the header says n = {n:N0} features, m = {m} fields, k = {k}, so the file must be {(size4 == size1 ? $"{size4:N0} bytes" : $"{size4:N0} bytes (kALIGN 4) or {size1:N0} bytes (kALIGN 1)")}; it is {length:N0} bytes (truncated or not a libffm model)");
        }

        if (alignment is int forced && Size(n, m, k, forced) != length)
        {
            throw new ModelFileException($"{sourceName}: a kALIGN {forced} model of n = {n:N0}, m = {m}, k = {k} is {Size(n, m, k, forced):N0} bytes; this file is {length:N0}");
        }

        // sizes are checked: stream the (feature, field) blocks; only the model table is allocated
        ModelLimits.CheckFfmTable(n, m, k, sourceName);
        int blockFloats = 2 * (length == size4 ? (k + 3) / 4 * 4 : k);
        float[] block = new float[blockFloats];
        int align = alignment ?? (size4 != size1 ? (length == size4 ? 4 : 1) : DetectAlignment(stream, (long)n * m, k, block, sourceName));
        var table = new FfmTable(n, m, k);
        ReadBlocks(stream, table, blockFloats, align);
        FfmModel model = FfmModel.FromParts(0f, new float[n + 1], table, normalization ? FfmNormalization.LibFfm : FfmNormalization.None, sourceName);
        return new FfmModelFile(model, FfmModelFormat.LibFfm, FmTask.BinaryClassification, HasBias: false, HasLinear: false);
    }

    /// <summary>The bytes read at once: whole blocks, up to about this many.</summary>
    private const int ChunkBytes = 1 << 16;

    /// <summary>Reads the n x m blocks (j outer) into the table, many blocks per read, each weight converted in
    /// place from its little-endian bytes.</summary>
    private static unsafe void ReadBlocks(Stream stream, FfmTable table, int blockFloats, int align)
    {
        int k = table.EmbeddingSize, fields = table.NumFields;
        int blockBytes = blockFloats * sizeof(float);
        long remaining = (long)table.NumFeatures * fields;
        byte[] chunk = new byte[Math.Max(1, ChunkBytes / blockBytes) * blockBytes];
        ref float origin = ref table.Origin;
        int j = 0, f = 0;
        fixed (byte* start = chunk)
        {
            while (remaining > 0)
            {
                int blocks = (int)Math.Min(remaining, chunk.Length / blockBytes);
                stream.ReadExactly(chunk, 0, blocks * blockBytes);
                for (int b = 0; b < blocks; b++)
                {
                    byte* source = start + ((nint)b * blockBytes);
                    ref float target = ref Unsafe.Add(ref origin, ((nint)j * table.RowStride) + ((nint)f * table.BlockStride));
                    for (int c = 0; c < k; c++)
                    {
                        int bits = Unsafe.ReadUnaligned<int>(source + (WeightPosition(c, align) * sizeof(float)));
                        Unsafe.Add(ref target, c) = BitConverter.Int32BitsToSingle(BitConverter.IsLittleEndian ? bits : BinaryPrimitives.ReverseEndianness(bits));
                    }

                    if (++f == fields)
                    {
                        f = 0;
                        j++;
                    }
                }

                remaining -= blocks;
            }
        }
    }

    /// <summary>Where weight c sits in a (feature, field) block: blocks of kALIGN weights then kALIGN sums.</summary>
    private static int WeightPosition(int c, int align) => ((c / align) * 2 * align) + (c % align);

    private static void ReadBlock(Stream stream, Span<byte> bytes, Span<float> block)
    {
        stream.ReadExactly(bytes);
        if (!BitConverter.IsLittleEndian)
        {
            Span<int> bits = MemoryMarshal.Cast<float, int>(block);
            BinaryPrimitives.ReverseEndianness(bits, bits);
        }
    }

    /// <summary>When k is a multiple of 4 both layouts have one length; the AdaGrad sums (at least 1) decide. Reads
    /// blocks until one reading fails, then rewinds to the data.</summary>
    private static int DetectAlignment(Stream stream, long blocks, int k, float[] block, string sourceName)
    {
        bool fits4 = true, fits1 = true;
        Span<byte> bytes = MemoryMarshal.AsBytes(block.AsSpan());
        for (long b = 0; b < blocks && fits4 == fits1; b++)
        {
            ReadBlock(stream, bytes, block);
            fits4 &= SumsAtLeastOne(block, k, 4);
            fits1 &= SumsAtLeastOne(block, k, 1);
        }

        stream.Seek(HeaderSize, SeekOrigin.Begin);
        if (fits4 != fits1)
        {
            return fits4 ? 4 : 1;
        }

        throw new ModelFileException(fits4
            ? $"{sourceName}: cannot tell whether libffm wrote this model with kALIGN 4 (SSE build) or 1: both readings are consistent; give the alignment explicitly"
            : $"{sourceName}: neither libffm layout (kALIGN 4 or 1) has AdaGrad sums of at least 1 where libffm writes them; the file is damaged or not a libffm model");
    }

    private static bool SumsAtLeastOne(ReadOnlySpan<float> block, int k, int align)
    {
        for (int c = 0; c < k; c++)
        {
            if (!(block[WeightPosition(c, align) + align] >= 1f))
            {
                return false;
            }
        }

        return true;
    }

    private static bool TryHeader(ReadOnlySpan<byte> header, out int n, out int m, out int k, out bool normalization)
    {
        n = BinaryPrimitives.ReadInt32LittleEndian(header);
        m = BinaryPrimitives.ReadInt32LittleEndian(header[4..]);
        k = BinaryPrimitives.ReadInt32LittleEndian(header[8..]);
        normalization = header[12] == 1;
        return n >= 0 && m >= 1 && m <= 1 << 20 && k >= 1 && k <= FfmLayout.MaxEmbeddingSize && header[12] <= 1;
    }

    private static long Size(int n, int m, int k, int align)
    {
        long aligned = (k + align - 1) / align * align;
        return HeaderSize + ((long)n * m * aligned * 2 * sizeof(float));
    }
}
