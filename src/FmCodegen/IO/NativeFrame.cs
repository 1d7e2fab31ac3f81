using System.Buffers.Binary;
using System.IO.Hashing;

namespace FmCodegen.IO;

/// <summary>
/// The frame FmCodegen's two binary model formats share (<see cref="NativeModelFile"/> for FM models and sample sets,
/// <see cref="NativeFfmModelFile"/> for field-aware models): an 8-byte magic that starts a 64-byte header whose last 4
/// bytes are the CRC-32 (IEEE) of the 60 before them, then the data, then an 8-byte trailer: the CRC-32 of every byte
/// before it and a 4-byte end marker. The formats differ only in the header fields between the magic and the header
/// checksum and in the data; checking and writing the frame is done here once.
/// </summary>
internal static class NativeFrame
{
    /// <summary>The header's size in bytes, the header checksum included.</summary>
    public const int HeaderSize = 64;

    /// <summary>The trailer's size in bytes: the data checksum and the end marker.</summary>
    public const int TrailerSize = 8;

    /// <summary>Stores the header's checksum in its last 4 bytes, starts <paramref name="crc"/> with the header and writes it.</summary>
    public static void WriteHeader(Span<byte> header, Crc32 crc, Stream stream)
    {
        BinaryPrimitives.WriteUInt32LittleEndian(header[60..], Crc32.HashToUInt32(header[..60]));
        crc.Append(header);
        stream.Write(header);
    }

    /// <summary>Writes the trailer: the checksum of everything written so far, then the end marker.</summary>
    public static void WriteTrailer(Crc32 crc, ReadOnlySpan<byte> endMarker, Stream stream)
    {
        Span<byte> trailer = stackalloc byte[TrailerSize];
        BinaryPrimitives.WriteUInt32LittleEndian(trailer, crc.GetCurrentHashAsUInt32());
        endMarker.CopyTo(trailer[4..]);
        stream.Write(trailer);
    }

    /// <summary>Reads the header into <paramref name="header"/> (64 bytes) and checks, in this order, the magic, that
    /// the whole header is there, that its version (bytes 8 to 11) is one this build reads, and its checksum.
    /// Returns the version. <paramref name="formatName"/> is how errors name the format (e.g. "an FmCodegen native
    /// model"), <paramref name="magicText"/> how they spell the magic.</summary>
    public static int ReadHeader(Stream stream, Span<byte> header, ReadOnlySpan<byte> magic, string formatName, string magicText,
        int minVersion, int maxVersion, string source)
    {
        int got = stream.ReadAtLeast(header, HeaderSize, throwOnEndOfStream: false);
        if (got >= magic.Length ? !header[..magic.Length].SequenceEqual(magic) : !header[..got].SequenceEqual(magic[..got]))
        {
            throw Fail(source, $"not {formatName} (the first bytes are not the magic '{magicText}')");
        }

        if (got < HeaderSize)
        {
            throw Fail(source, $"the file is truncated: it ends after {got} bytes, inside the {HeaderSize}-byte header");
        }

        int version = BinaryPrimitives.ReadInt32LittleEndian(header[8..]);
        if (version < minVersion || version > maxVersion)
        {
            throw Fail(source, minVersion == maxVersion
                ? $"format version {version} is not supported (this build reads version {minVersion})"
                : $"format version {version} is not supported (this build reads versions {minVersion} to {maxVersion})");
        }

        if (Crc32.HashToUInt32(header[..60]) != BinaryPrimitives.ReadUInt32LittleEndian(header[60..]))
        {
            throw Fail(source, "the header is damaged (its CRC-32 checksum does not match)");
        }

        return version;
    }

    /// <summary>Checks a file's length, when known (not -1), against the <paramref name="expected"/> length its header
    /// declares, before any memory is allocated for its data. <paramref name="contents"/> says what the header declares,
    /// e.g. "a model of 10 features with k = 4 takes".</summary>
    public static void CheckLength(long length, long expected, string contents, string source)
    {
        if (length >= 0 && length != expected)
        {
            throw Fail(source, length < expected
                ? $"the file is truncated: {length:N0} bytes, but {contents} {expected:N0}"
                : $"the file has {length - expected:N0} bytes of garbage after the model ({length:N0} bytes, expected {expected:N0})");
        }
    }

    /// <summary>Reads and checks the trailer once the data is read into <paramref name="crc"/>: the stored checksum,
    /// then the end marker; when the length was not known up front (<paramref name="lengthKnown"/> false, a gzip
    /// stream), also that nothing follows.</summary>
    public static void ReadTrailer(Stream stream, Crc32 crc, ReadOnlySpan<byte> endMarker, bool lengthKnown, string source)
    {
        Span<byte> trailer = stackalloc byte[TrailerSize];
        if (stream.ReadAtLeast(trailer, TrailerSize, throwOnEndOfStream: false) < TrailerSize)
        {
            throw Fail(source, "the file is truncated: the checksum at its end is missing");
        }

        if (BinaryPrimitives.ReadUInt32LittleEndian(trailer) != crc.GetCurrentHashAsUInt32())
        {
            throw Fail(source, "the file is damaged: the CRC-32 checksum of its content does not match the stored one");
        }

        if (!trailer[4..].SequenceEqual(endMarker))
        {
            throw Fail(source, "the file is damaged: the end marker is wrong");
        }

        if (!lengthKnown && stream.ReadByte() >= 0)
        {
            throw Fail(source, "the file has garbage after the model");
        }
    }

    /// <summary>The error for a model file that is not what it should be, naming the file.</summary>
    public static ModelFileException Fail(string source, string what) => new($"{source}: {what}.");
}
