using System.Text;
using FmCodegen.Data;
using FmCodegen.Kernels;

namespace FmCodegen.IO;

/// <summary>Shared pieces of the text model readers and writers.</summary>
internal static class TextModelParts
{
    /// <summary>Opens a model file (gzip detected); a gzip file too short to be complete is a <see cref="ModelFileException"/>.</summary>
    public static Stream OpenModel(string path)
    {
        try
        {
            return DataFile.OpenRead(path);
        }
        catch (InvalidDataException e)
        {
            throw new ModelFileException(e.Message, e);
        }
    }

    /// <summary>Growable float storage (weights, factors) for readers that learn the size at the end.</summary>
    internal sealed class FloatList
    {
        private float[] _items = new float[1024];

        public int Count { get; private set; }

        /// <summary>The file being read, named when the numbers outgrow the memory budget.</summary>
        public string? Source { get; init; }

        public Span<float> Items => _items.AsSpan(0, Count);

        public void Clear() => Count = 0;

        public void Add(float value)
        {
            if (Count == _items.Length)
            {
                Grow();
            }

            _items[Count++] = value;
        }

        private void Grow()
        {
            if (_items.Length >= Array.MaxLength)
            {
                throw new InsufficientMemoryException($"A model file holds more than {Array.MaxLength:N0} numbers in one section, more than one .NET array holds.");
            }

            long size = Math.Min(Array.MaxLength, (long)_items.Length * 2);
            MemoryBudget.Ensure(size * sizeof(float), Source is null ? $"Reading a model of more than {Count:N0} numbers" : $"{Source}: reading a model of more than {Count:N0} numbers", "use a machine with more memory");
            Array.Resize(ref _items, (int)size);
        }
    }

    /// <summary>Parses the numbers of a line from <paramref name="position"/> on (space or tab separated) into
    /// <paramref name="into"/>; returns how many. Throws a located error for a token that is not a finite number.</summary>
    public static int ParseNumbers(ReadOnlySpan<byte> line, int position, FloatList into, string source, long lineNumber)
    {
        int count = 0;
        int p = position;
        while (true)
        {
            while (p < line.Length && line[p] is (byte)' ' or (byte)'\t')
            {
                p++;
            }

            if (p >= line.Length)
            {
                return count;
            }

            int start = p;
            p = NumberText.ParseFloat(line, p, colonEnds: false, out float value);
            if (p < 0 || (p < line.Length && line[p] == (byte)'#'))
            {
                throw Error(source, lineNumber, line, start, $"'{DataFormatException.TokenAt(line, start)}' is not a number");
            }

            if (!float.IsFinite(value))
            {
                throw Error(source, lineNumber, line, start, $"'{DataFormatException.TokenAt(line, start)}' is not finite; a model must hold finite values");
            }

            into.Add(value);
            count++;
        }
    }

    public static ModelFileException Error(string source, long lineNumber, ReadOnlySpan<byte> line, int position, string reason)
    {
        DataFormatException located = DataFormatException.At(source, lineNumber, line, position, reason);
        return new ModelFileException(located.Message, located);
    }

    public static ModelFileException Error(string source, long lineNumber, string reason) =>
        new($"{source}:{lineNumber}: {reason}");

    /// <summary>Builds the model from features x k factors and n weights (or none), checking values as it goes.</summary>
    public static FmModel Build(float bias, ReadOnlySpan<float> weights, ReadOnlySpan<float> factors, int numFeatures, int k, string source)
    {
        ModelLimits.CheckTable(numFeatures, k, source);
        var table = new AlignedTable(numFeatures, k);
        for (int i = 0; i < numFeatures; i++)
        {
            if (factors.Length > 0)
            {
                factors.Slice(i * k, k).CopyTo(table.Factors(i));
            }
            else
            {
                table.Factors(i).Clear();
            }

            table.Weight(i) = weights.IsEmpty ? 0f : weights[i];
        }

        try
        {
            return FmModel.FromTable(bias, table, source);
        }
        catch (InvalidDataException e)
        {
            throw new ModelFileException(e.Message, e);
        }
    }

    /// <summary>Buffered UTF-8 output of numbers and text.</summary>
    internal sealed class Utf8Output(Stream stream)
    {
        private readonly byte[] _buffer = new byte[1 << 16];
        private int _used;

        public void Text(string text)
        {
            Room(Encoding.UTF8.GetMaxByteCount(text.Length));
            _used += Encoding.UTF8.GetBytes(text, _buffer.AsSpan(_used));
        }

        public void Float(float value)
        {
            Room(32);
            _used += NumberText.FormatFloat(value, _buffer.AsSpan(_used));
        }

        public void Int(int value)
        {
            Room(16);
            _used += NumberText.FormatInt(value, _buffer.AsSpan(_used));
        }

        public void Byte(byte value)
        {
            Room(1);
            _buffer[_used++] = value;
        }

        public void Flush()
        {
            stream.Write(_buffer, 0, _used);
            _used = 0;
        }

        private void Room(int bytes)
        {
            if (_used + bytes > _buffer.Length)
            {
                Flush();
            }
        }
    }
}
