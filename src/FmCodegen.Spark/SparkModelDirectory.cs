using System.Globalization;
using System.Text.Json;
using FmCodegen.Data;
using FmCodegen.IO;
using Parquet;
using Parquet.Schema;

namespace FmCodegen.Spark;

/// <summary>
/// Reads a model that Spark MLlib saved with <c>FMClassificationModel.save</c> or <c>FMRegressionModel.save</c>:
/// a directory with <c>metadata/part-00000</c> (one JSON line: class, uid, paramMap, defaultParamMap) and
/// <c>data/*.parquet</c> (one row: <c>intercept</c> double, <c>linear</c> in Spark's vector encoding,
/// <c>factors</c> in Spark's matrix encoding, numFeatures x factorSize).
/// </summary>
/// <remarks>
/// Spark's vector encoding is a struct (type: 0 sparse, 1 dense; size; indices; values) and its matrix encoding a
/// struct (type: 0 sparse, 1 dense; numRows; numCols; colPtrs; rowIndices; values; isTransposed). Both encodings
/// of each are read. Spark scores with the same formula as FmCodegen (intercept + linear + pairwise), and the
/// classifier's probability is the logistic of that score, so the loaded model predicts what Spark predicts up to
/// the rounding of its doubles to floats.
/// </remarks>
public static class SparkModelDirectory
{
    /// <summary>The class name Spark records for a classifier.</summary>
    public const string ClassificationClass = "org.apache.spark.ml.classification.FMClassificationModel";

    /// <summary>The class name Spark records for a regressor.</summary>
    public const string RegressionClass = "org.apache.spark.ml.regression.FMRegressionModel";

    /// <summary>Largest number of parameters accepted (features x (k + 1)); the table must fit one array.</summary>
    private const long MaxParameters = int.MaxValue / 2;

    /// <summary>True when <paramref name="path"/> is a directory that has a <c>metadata</c> subdirectory.</summary>
    public static bool IsModelDirectory(string path) =>
        Directory.Exists(path) && Directory.Exists(Path.Combine(path, "metadata"));

    /// <summary>Loads a saved Spark FM model directory.</summary>
    /// <exception cref="ModelFileException">The directory is not a Spark FM model or its content is damaged; the
    /// message names the file and what is wrong.</exception>
    public static ModelFile Load(string path) => LoadAsync(path).AsTask().GetAwaiter().GetResult();

    /// <summary>Loads a saved Spark FM model directory.</summary>
    public static async ValueTask<ModelFile> LoadAsync(string path, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!Directory.Exists(path))
        {
            throw new ModelFileException(File.Exists(path)
                ? $"{path}: a Spark model is a directory (with metadata/ and data/), not a file"
                : $"{path}: the Spark model directory does not exist");
        }

        Metadata metadata = ReadMetadata(path);
        string dataFile = FindDataFile(path);
        Dictionary<string, object> row = await ReadSingleRowAsync(dataFile, cancellationToken).ConfigureAwait(false);
        return Build(metadata, row, dataFile);
    }

    private sealed record Metadata(FmTask Task, int FactorSize, bool FitIntercept, bool FitLinear, string Source);

    private static Metadata ReadMetadata(string directory)
    {
        string metadataDirectory = Path.Combine(directory, "metadata");
        string file = Path.Combine(metadataDirectory, "part-00000");
        if (!File.Exists(file))
        {
            throw new ModelFileException(Directory.Exists(metadataDirectory)
                ? $"{file}: missing; a Spark model's metadata/ holds its JSON in part-00000"
                : $"{directory}: no metadata/ directory; not a Spark model directory");
        }

        string firstLine;
        using (var reader = new StreamReader(file))
        {
            firstLine = reader.ReadLine() ?? "";
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(firstLine);
        }
        catch (JsonException e)
        {
            throw new ModelFileException($"{file}: line 1 is not JSON ({e.Message})", e);
        }

        using (document)
        {
            JsonElement root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new ModelFileException($"{file}: line 1 is not a JSON object");
            }

            string className = root.TryGetProperty("class", out JsonElement c) && c.ValueKind == JsonValueKind.String ? c.GetString()! : "";
            FmTask task = className switch
            {
                ClassificationClass => FmTask.BinaryClassification,
                RegressionClass => FmTask.Regression,
                "" => throw new ModelFileException($"{file}: no \"class\" field; not Spark model metadata"),
                _ => throw new ModelFileException($"{file}: the model class is {className}; only {ClassificationClass} and {RegressionClass} are Factorization Machines"),
            };

            int factorSize = (int)Param(root, "factorSize", file, 8, JsonValueKind.Number);
            if (factorSize < 1 || factorSize > FmModel.MaxEmbeddingSize)
            {
                throw new ModelFileException($"{file}: factorSize is {factorSize}; FmCodegen takes 1 to {FmModel.MaxEmbeddingSize}");
            }

            bool fitIntercept = Param(root, "fitIntercept", file, 1, JsonValueKind.True) != 0;
            bool fitLinear = Param(root, "fitLinear", file, 1, JsonValueKind.True) != 0;
            return new Metadata(task, factorSize, fitIntercept, fitLinear, file);
        }
    }

    /// <summary>A parameter from paramMap, else defaultParamMap, else Spark's default; numbers and booleans (as 0/1).</summary>
    private static long Param(JsonElement root, string name, string file, long sparkDefault, JsonValueKind kind)
    {
        foreach (string map in new[] { "paramMap", "defaultParamMap" })
        {
            if (root.TryGetProperty(map, out JsonElement m) && m.ValueKind == JsonValueKind.Object && m.TryGetProperty(name, out JsonElement value))
            {
                if (kind == JsonValueKind.Number)
                {
                    if (value.ValueKind == JsonValueKind.Number && value.TryGetInt32(out int number))
                    {
                        return number;
                    }
                }
                else if (value.ValueKind is JsonValueKind.True or JsonValueKind.False)
                {
                    return value.ValueKind == JsonValueKind.True ? 1 : 0;
                }

                throw new ModelFileException($"{file}: {map}.{name} is {value.GetRawText()}; expected {(kind == JsonValueKind.Number ? "an integer" : "true or false")}");
            }
        }

        return sparkDefault;
    }

    private static string FindDataFile(string directory)
    {
        string data = Path.Combine(directory, "data");
        if (!Directory.Exists(data))
        {
            throw new ModelFileException($"{directory}: no data/ directory; a Spark model keeps its parameters in data/*.parquet");
        }

        // Spark writes part-*.parquet plus _SUCCESS and .crc files; hidden and underscore files are not data.
        string[] files = Directory.GetFiles(data, "*.parquet")
            .Where(f => !Path.GetFileName(f).StartsWith('.') && !Path.GetFileName(f).StartsWith('_'))
            .Order(StringComparer.Ordinal)
            .ToArray();
        return files.Length switch
        {
            0 => throw new ModelFileException($"{data}: no .parquet file; a Spark FM model saves one"),
            1 => files[0],
            _ => throw new ModelFileException($"{data}: {files.Length} .parquet files; a Spark FM model saves its one row in one file"),
        };
    }

    /// <summary>The file's one row as nested dictionaries (a struct: name to value; a list: a <see cref="List{T}"/> of its
    /// values; a null: absent), read column by column through Parquet.Net's typed column reader. (Its object serializer
    /// compiles expression trees at run time, which a Native AOT build of the tool cannot do; the typed reader is
    /// instantiated here for each value type, so it works in every build.)</summary>
    private static async ValueTask<Dictionary<string, object>> ReadSingleRowAsync(string file, CancellationToken cancellationToken)
    {
        try
        {
            Stream stream = File.OpenRead(file);
            await using (stream.ConfigureAwait(false))
            {
                await CheckDeclaredSizeAsync(stream, file, cancellationToken).ConfigureAwait(false);
                stream.Position = 0;
                ParquetReader reader = await ParquetReader.CreateAsync(stream, leaveStreamOpen: true, cancellationToken: cancellationToken).ConfigureAwait(false);
                await using (reader.ConfigureAwait(false))
                {
                    long rows = reader.RowGroups.Sum(g => g.RowCount);
                    if (rows != 1)
                    {
                        throw new ModelFileException($"{file}: {rows} rows; a Spark FM model saves exactly one (intercept, linear, factors)");
                    }

                    ParquetRowGroupReader group = reader.RowGroups.First(g => g.RowCount == 1);
                    return await ReadStructAsync(group, reader.Schema.Fields, file, cancellationToken).ConfigureAwait(false);
                }
            }
        }
        catch (Exception e) when (e is not OperationCanceledException and not ModelFileException and not OutOfMemoryException)
        {
            throw new ModelFileException($"{file}: not a readable Parquet file ({e.Message})", e);
        }
    }

    private static async ValueTask<Dictionary<string, object>> ReadStructAsync(ParquetRowGroupReader group, IReadOnlyList<Field> fields, string file, CancellationToken cancellationToken)
    {
        var row = new Dictionary<string, object>(StringComparer.Ordinal);
        foreach (Field field in fields)
        {
            object? value = field switch
            {
                DataField data => await ReadColumnAsync(group, data, list: false, file, cancellationToken).ConfigureAwait(false),
                ListField { Item: DataField item } => await ReadColumnAsync(group, item, list: true, file, cancellationToken).ConfigureAwait(false),
                StructField nested => await ReadStructAsync(group, nested.Fields, file, cancellationToken).ConfigureAwait(false),
                _ => null, // maps and lists of structs: not in Spark's FM schema, left out (a missing field is named by Build)
            };
            if (value is not null)
            {
                row[field.Name] = value;
            }
        }

        return row;
    }

    /// <summary>One column of the one row: its value (null when the value is null or of a type Spark's FM data does
    /// not use), or for a list's element column the list of its values.</summary>
    private static ValueTask<object?> ReadColumnAsync(ParquetRowGroupReader group, DataField field, bool list, string file, CancellationToken cancellationToken)
    {
        Type type = Nullable.GetUnderlyingType(field.ClrType) ?? field.ClrType;
        return type == typeof(double) ? ReadAsync<double>()
            : type == typeof(float) ? ReadAsync<float>()
            : type == typeof(int) ? ReadAsync<int>()
            : type == typeof(long) ? ReadAsync<long>()
            : type == typeof(short) ? ReadAsync<short>()
            : type == typeof(sbyte) ? ReadAsync<sbyte>()
            : type == typeof(byte) ? ReadAsync<byte>()
            : type == typeof(bool) ? ReadAsync<bool>()
            : ValueTask.FromResult<object?>(null);

        ValueTask<object?> ReadAsync<T>()
            where T : struct => ReadTypedColumnAsync<T>(group, field, list, file, cancellationToken);
    }

    private static async ValueTask<object?> ReadTypedColumnAsync<T>(ParquetRowGroupReader group, DataField field, bool list, string file, CancellationToken cancellationToken)
        where T : struct
    {
        long declared = group.GetMetadata(field)?.MetaData?.NumValues ?? throw new ModelFileException($"{file}: no column chunk for {field.Path}");
        int count = checked((int)Math.Max(declared, 1)); // the sizes were checked against the memory budget
        var values = new T[count];
        int[]? definitions = field.MaxDefinitionLevel > 0 ? new int[count] : null;
        int[]? repetitions = field.MaxRepetitionLevel > 0 ? new int[count] : null;
        Memory<int>? definitionMemory = definitions is null ? default(Memory<int>?) : definitions, repetitionMemory = repetitions is null ? default(Memory<int>?) : repetitions;
        await group.ReadRawAsync<T>(field, values, definitionMemory, repetitionMemory, cancellationToken)
            .ConfigureAwait(false);
        int present = definitions is null ? (int)declared : definitions.Take((int)declared).Count(d => d == field.MaxDefinitionLevel);
        if (!list)
        {
            return declared == 1 && present == 1 ? values[0] : null;
        }

        // one row: every entry is that row's; entries below the element's full definition level are a null or empty
        // list (no element) or a null element, which Spark's FM data never has
        if (definitions is not null && field.IsNullable && definitions.Take((int)declared).Any(d => d == field.MaxDefinitionLevel - 1))
        {
            throw new ModelFileException($"{file}: {field.Path} holds a null element; Spark's vectors and matrices hold numbers");
        }

        return new List<T>(values.Take(present));
    }

    /// <summary>Bytes the column reader may hold per value (the value, its copy in the row's list, its levels).</summary>
    private const long BytesPerValue = 24;

    /// <summary>Checks the sizes the Parquet footer declares (values and uncompressed bytes over every column chunk)
    /// against the memory the process may use before anything is decompressed, so a small file that expands to
    /// gigabytes is refused with the size it needs.</summary>
    private static async ValueTask CheckDeclaredSizeAsync(Stream stream, string file, CancellationToken cancellationToken)
    {
        long values = 0, bytes = 0;
        ParquetReader reader = await ParquetReader.CreateAsync(stream, leaveStreamOpen: true, cancellationToken: cancellationToken).ConfigureAwait(false);
        await using (reader.ConfigureAwait(false))
        {
            foreach (Parquet.Meta.RowGroup group in reader.Metadata?.RowGroups ?? [])
            {
                foreach (Parquet.Meta.ColumnChunk chunk in group.Columns)
                {
                    if (chunk.MetaData is { } column)
                    {
                        if (column.NumValues < 0 || column.TotalUncompressedSize < 0)
                        {
                            throw new ModelFileException($"{file}: a column chunk declares {column.NumValues:N0} values in {column.TotalUncompressedSize:N0} bytes; the footer is damaged");
                        }

                        values = SaturatingAdd(values, column.NumValues);
                        bytes = SaturatingAdd(bytes, column.TotalUncompressedSize);
                    }
                }
            }
        }

        long needed = SaturatingAdd(bytes, values > long.MaxValue / BytesPerValue ? long.MaxValue : values * BytesPerValue);
        MemoryBudget.Ensure(needed, $"{file}: reading {values:N0} Parquet values ({MemoryBudget.Size(bytes)} uncompressed)",
            "use a machine (or container) with more memory; a Spark FM model of n features and k factors holds about n x (k + 1) values");

        static long SaturatingAdd(long a, long b) => a > long.MaxValue - b ? long.MaxValue : a + b;
    }

    private static ModelFile Build(Metadata metadata, Dictionary<string, object> row, string file)
    {
        double intercept = Number(Field(row, "intercept", file, ""), "intercept", file);
        IDictionary<string, object> linear = Struct(Field(row, "linear", file, ""), "linear", file);
        IDictionary<string, object> factors = Struct(Field(row, "factors", file, ""), "factors", file);

        int k = metadata.FactorSize;
        int numRows = checked((int)Number(Field(factors, "numRows", file, "factors."), "factors.numRows", file));
        int numCols = checked((int)Number(Field(factors, "numCols", file, "factors."), "factors.numCols", file));
        if (numCols != k)
        {
            throw new ModelFileException($"{file}: factors has {numCols} columns but the metadata's factorSize is {k}");
        }

        if (numRows < 0 || (long)numRows * (k + 1) > MaxParameters)
        {
            throw new ModelFileException($"{file}: factors declares {numRows:N0} rows of {k}; FmCodegen holds at most {MaxParameters / (k + 1):N0} features");
        }

        // the sizes are declared: check the model table, and the weights and factors read on the way, before allocating
        ModelLimits.CheckTable(numRows, k, file);
        MemoryBudget.Ensure((long)numRows * (k + 1) * sizeof(float), $"{file}: the linear vector and factors matrix ({numRows:N0} x {k})",
            "use a machine (or container) with more memory");
        float[] weights = ReadVector(linear, numRows, file);
        float[] table = ReadMatrix(factors, numRows, k, file);
        float bias = ToFloat(intercept, "intercept", file);
        if (!metadata.FitIntercept && bias != 0)
        {
            throw new ModelFileException($"{file}: the intercept is {intercept.ToString(CultureInfo.InvariantCulture)} but the metadata says fitIntercept false");
        }

        FmModel model;
        try
        {
            model = FmModel.Create(bias, weights, table, k);
        }
        catch (ArgumentException e)
        {
            throw new ModelFileException($"{file}: {e.Message}", e);
        }

        return new ModelFile(model, metadata.Task, HasBias: metadata.FitIntercept, HasLinear: metadata.FitLinear) { Format = ModelFormat.Spark };
    }

    /// <summary>Spark's vector: dense (type 1, values) or sparse (type 0, size, strictly increasing indices, values).</summary>
    private static float[] ReadVector(IDictionary<string, object> vector, int numFeatures, string file)
    {
        int type = checked((int)Number(Field(vector, "type", file, "linear."), "linear.type", file));
        double[] values = Doubles(vector, "values", "linear.values", file);
        var weights = new float[numFeatures];
        switch (type)
        {
            case 1:
                if (values.Length != numFeatures)
                {
                    throw new ModelFileException($"{file}: linear is dense with {values.Length:N0} values but factors has {numFeatures:N0} rows");
                }

                for (int i = 0; i < values.Length; i++)
                {
                    weights[i] = ToFloat(values[i], $"linear[{i}]", file);
                }

                return weights;
            case 0:
                int size = checked((int)Number(Field(vector, "size", file, "linear."), "linear.size", file));
                if (size != numFeatures)
                {
                    throw new ModelFileException($"{file}: linear is sparse of size {size:N0} but factors has {numFeatures:N0} rows");
                }

                int[] indices = Ints(vector, "indices", "linear.indices", file);
                if (indices.Length != values.Length)
                {
                    throw new ModelFileException($"{file}: linear is sparse with {indices.Length:N0} indices but {values.Length:N0} values");
                }

                for (int j = 0; j < indices.Length; j++)
                {
                    int i = indices[j];
                    if (i < 0 || i >= size || (j > 0 && i <= indices[j - 1]))
                    {
                        throw new ModelFileException($"{file}: linear.indices[{j}] is {i}; indices must rise strictly within 0..{size - 1}");
                    }

                    weights[i] = ToFloat(values[j], $"linear[{i}]", file);
                }

                return weights;
            default:
                throw new ModelFileException($"{file}: linear.type is {type}; Spark's vector types are 0 (sparse) and 1 (dense)");
        }
    }

    /// <summary>Spark's matrix, numRows x k, into a row-major float array: dense (column-major unless
    /// isTransposed) or sparse (CSC, or CSR when isTransposed).</summary>
    private static float[] ReadMatrix(IDictionary<string, object> matrix, int numRows, int k, string file)
    {
        int type = checked((int)Number(Field(matrix, "type", file, "factors."), "factors.type", file));
        bool transposed = Field(matrix, "isTransposed", file, "factors.") is bool b
            ? b
            : throw new ModelFileException($"{file}: factors.isTransposed is not a boolean");
        double[] values = Doubles(matrix, "values", "factors.values", file);
        var result = new float[(long)numRows * k];
        switch (type)
        {
            case 1:
                if (values.LongLength != (long)numRows * k)
                {
                    throw new ModelFileException($"{file}: factors is dense {numRows:N0} x {k} but holds {values.Length:N0} values");
                }

                for (int r = 0; r < numRows; r++)
                {
                    for (int c = 0; c < k; c++)
                    {
                        long at = transposed ? ((long)r * k) + c : ((long)c * numRows) + r;
                        result[((long)r * k) + c] = ToFloat(values[at], $"factors[{r}, {c}]", file);
                    }
                }

                return result;
            case 0:
                // Compressed columns (or rows when transposed): pointers over the major axis, indices on the minor.
                int major = transposed ? numRows : k, minor = transposed ? k : numRows;
                int[] pointers = Ints(matrix, "colPtrs", "factors.colPtrs", file);
                int[] minorIndices = Ints(matrix, "rowIndices", "factors.rowIndices", file);
                if (pointers.Length != major + 1 || pointers[0] != 0 || pointers[major] != values.Length || minorIndices.Length != values.Length)
                {
                    throw new ModelFileException($"{file}: factors is sparse {numRows:N0} x {k} but its colPtrs ({pointers.Length:N0}), rowIndices ({minorIndices.Length:N0}) and values ({values.Length:N0}) disagree");
                }

                for (int m = 0; m < major; m++)
                {
                    if (pointers[m + 1] < pointers[m])
                    {
                        throw new ModelFileException($"{file}: factors.colPtrs[{m + 1}] is below colPtrs[{m}]; the pointers must not fall");
                    }

                    for (int j = pointers[m]; j < pointers[m + 1]; j++)
                    {
                        int n = minorIndices[j];
                        if (n < 0 || n >= minor)
                        {
                            throw new ModelFileException($"{file}: factors.rowIndices[{j}] is {n}; outside 0..{minor - 1}");
                        }

                        (int r, int c) = transposed ? (m, n) : (n, m);
                        result[((long)r * k) + c] = ToFloat(values[j], $"factors[{r}, {c}]", file);
                    }
                }

                return result;
            default:
                throw new ModelFileException($"{file}: factors.type is {type}; Spark's matrix types are 0 (sparse) and 1 (dense)");
        }
    }

    private static object Field(IDictionary<string, object> row, string name, string file, string prefix) =>
        row.TryGetValue(name, out object? value) && value is not null
            ? value
            : throw new ModelFileException($"{file}: no {prefix}{name} value; Spark's FM data has intercept, linear and factors");

    private static IDictionary<string, object> Struct(object value, string name, string file) =>
        value as IDictionary<string, object> ?? throw new ModelFileException($"{file}: {name} is not a struct (Spark's vector/matrix encoding)");

    private static double Number(object value, string name, string file) => value switch
    {
        double d => d,
        float f => f,
        sbyte or byte or short or ushort or int or long => Convert.ToInt64(value, CultureInfo.InvariantCulture),
        _ => throw new ModelFileException($"{file}: {name} is a {value.GetType().Name}; expected a number"),
    };

    private static double[] Doubles(IDictionary<string, object> parent, string name, string label, string file) =>
        parent.TryGetValue(name, out object? value) switch
        {
            false => [],
            true when value is null => [],
            _ when value is IEnumerable<double> doubles => doubles.ToArray(),
            _ => throw new ModelFileException($"{file}: {label} is not a list of doubles"),
        };

    private static int[] Ints(IDictionary<string, object> parent, string name, string label, string file) =>
        parent.TryGetValue(name, out object? value) switch
        {
            false => [],
            true when value is null => [],
            _ when value is IEnumerable<int> ints => ints.ToArray(),
            _ => throw new ModelFileException($"{file}: {label} is not a list of integers"),
        };

    private static float ToFloat(double value, string what, string file)
    {
        float f = (float)value;
        return float.IsFinite(f)
            ? f
            : throw new ModelFileException($"{file}: {what} is {value.ToString("R", CultureInfo.InvariantCulture)}; a model must hold finite values within float range");
    }
}
