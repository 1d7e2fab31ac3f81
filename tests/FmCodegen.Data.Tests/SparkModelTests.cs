using System.Globalization;
using FmCodegen.Cli;
using FmCodegen.IO;
using FmCodegen.Spark;
using Parquet.Schema;
using Parquet.Serialization;

namespace FmCodegen.Data.Tests;

/// <summary>
/// Spark MLlib FM model directories, built here to Spark's saved schema: metadata/part-00000 (DefaultParamsWriter's
/// JSON line) and data/part-*.parquet with one row (intercept: double; linear: VectorUDT's struct; factors:
/// MatrixUDT's struct), as FMClassificationModel / FMRegressionModel write them.
/// </summary>
public class SparkModelTests
{
    /// <summary>A Spark vector: dense (values) or sparse (size, indices, values).</summary>
    internal sealed record SparkVector(bool Dense, int Size, int[] Indices, double[] Values)
    {
        public static SparkVector OfDense(double[] values) => new(true, values.Length, [], values);

        public static SparkVector OfSparse(int size, int[] indices, double[] values) => new(false, size, indices, values);
    }

    /// <summary>A Spark matrix: dense (values, column-major unless transposed) or sparse (CSC, CSR if transposed).</summary>
    internal sealed record SparkMatrix(bool Dense, int NumRows, int NumCols, int[] ColPtrs, int[] RowIndices, double[] Values, bool IsTransposed)
    {
        /// <summary>Spark's own factors: DenseMatrix(numFeatures, factorSize, rowMajorValues, isTransposed = true).</summary>
        public static SparkMatrix RowMajor(double[,] v) => new(true, v.GetLength(0), v.GetLength(1), [], [],
            [.. Enumerable.Range(0, v.GetLength(0)).SelectMany(r => Enumerable.Range(0, v.GetLength(1)).Select(c => v[r, c]))], true);

        public static SparkMatrix ColumnMajor(double[,] v) => new(true, v.GetLength(0), v.GetLength(1), [], [],
            [.. Enumerable.Range(0, v.GetLength(1)).SelectMany(c => Enumerable.Range(0, v.GetLength(0)).Select(r => v[r, c]))], false);

        /// <summary>Compressed sparse columns of the nonzeros.</summary>
        public static SparkMatrix SparseColumns(double[,] v)
        {
            var pointers = new List<int> { 0 };
            var rows = new List<int>();
            var values = new List<double>();
            for (int c = 0; c < v.GetLength(1); c++)
            {
                for (int r = 0; r < v.GetLength(0); r++)
                {
                    if (v[r, c] != 0)
                    {
                        rows.Add(r);
                        values.Add(v[r, c]);
                    }
                }

                pointers.Add(values.Count);
            }

            return new(false, v.GetLength(0), v.GetLength(1), [.. pointers], [.. rows], [.. values], false);
        }
    }

    /// <summary>Writes a model directory as Spark's MLWriter lays it out.</summary>
    internal static void WriteSparkModel(string directory, string className, string paramMapJson, double intercept, SparkVector linear, SparkMatrix factors)
    {
        string metadata = Path.Combine(directory, "metadata");
        string data = Path.Combine(directory, "data");
        Directory.CreateDirectory(metadata);
        Directory.CreateDirectory(data);
        string uid = className.EndsWith("FMClassificationModel", StringComparison.Ordinal) ? "FMClassifier_5c1e0a3b7f11" : "FMRegressor_8a2d4c6e9b01";
        File.WriteAllText(Path.Combine(metadata, "part-00000"),
            $"{{\"class\":\"{className}\",\"timestamp\":1733050000000,\"sparkVersion\":\"3.5.3\",\"uid\":\"{uid}\",\"paramMap\":{paramMapJson},\"defaultParamMap\":{{\"factorSize\":8,\"fitIntercept\":true,\"fitLinear\":true,\"regParam\":0.0,\"miniBatchFraction\":1.0,\"initStd\":0.01,\"maxIter\":100,\"stepSize\":1.0,\"tol\":1.0E-6,\"solver\":\"adamW\",\"featuresCol\":\"features\",\"labelCol\":\"label\",\"predictionCol\":\"prediction\"}}}}\n");
        File.WriteAllText(Path.Combine(metadata, "_SUCCESS"), "");
        File.WriteAllText(Path.Combine(data, "_SUCCESS"), "");

        // VectorUDT.sqlType and MatrixUDT.sqlType; ByteType is stored as a signed 8-bit INT32.
        static StructField Vector(string name) => new(name,
            new DataField<sbyte>("type"), new DataField<int?>("size"),
            new ListField("indices", new DataField<int>("element")), new ListField("values", new DataField<double>("element")));
        var schema = new ParquetSchema(
            new DataField<double>("intercept"),
            Vector("linear"),
            new StructField("factors",
                new DataField<sbyte>("type"), new DataField<int>("numRows"), new DataField<int>("numCols"),
                new ListField("colPtrs", new DataField<int>("element")), new ListField("rowIndices", new DataField<int>("element")),
                new ListField("values", new DataField<double>("element")), new DataField<bool>("isTransposed")));

        var linearRow = new Dictionary<string, object?>
        {
            ["type"] = (sbyte)(linear.Dense ? 1 : 0),
            ["size"] = linear.Dense ? null : linear.Size,
            ["indices"] = linear.Dense ? null : linear.Indices.ToList(),
            ["values"] = linear.Values.ToList(),
        };
        var factorsRow = new Dictionary<string, object?>
        {
            ["type"] = (sbyte)(factors.Dense ? 1 : 0),
            ["numRows"] = factors.NumRows,
            ["numCols"] = factors.NumCols,
            ["colPtrs"] = factors.Dense ? null : factors.ColPtrs.ToList(),
            ["rowIndices"] = factors.Dense ? null : factors.RowIndices.ToList(),
            ["values"] = factors.Values.ToList(),
            ["isTransposed"] = factors.IsTransposed,
        };
        var row = new Dictionary<string, object?> { ["intercept"] = intercept, ["linear"] = linearRow, ["factors"] = factorsRow };
        string file = Path.Combine(data, "part-00000-0b8f2c1e-5d7a-4c3b-9e6f-1a2b3c4d5e6f-c000.snappy.parquet");
        using FileStream stream = File.Create(file);
        ParquetSerializer.SerializeUntypedAsync([row!], schema, stream).GetAwaiter().GetResult();
    }

    private static double[,] RandomFactors(int n, int k, int seed, double zeroFraction = 0)
    {
        var random = new Random(seed);
        var v = new double[n, k];
        for (int i = 0; i < n; i++)
        {
            for (int f = 0; f < k; f++)
            {
                v[i, f] = random.NextDouble() < zeroFraction ? 0 : (random.NextDouble() - 0.5) * 0.4;
            }
        }

        return v;
    }

    /// <summary>Spark's FM prediction in double: intercept + linear . x + 1/2 sum_f ((sum v x)^2 - sum v^2 x^2).</summary>
    private static double SparkScore(double intercept, double[] w, double[,] v, int[] idx, float[] val)
    {
        double score = intercept;
        for (int j = 0; j < idx.Length; j++)
        {
            score += w[idx[j]] * val[j];
        }

        for (int f = 0; f < v.GetLength(1); f++)
        {
            double sum = 0, squares = 0;
            for (int j = 0; j < idx.Length; j++)
            {
                double t = v[idx[j], f] * val[j];
                sum += t;
                squares += t * t;
            }

            score += 0.5 * ((sum * sum) - squares);
        }

        return score;
    }

    private static void AssertScoresMatchSpark(FmModel model, double intercept, double[] w, double[,] v, int seed)
    {
        var random = new Random(seed);
        int n = w.Length;
        for (int example = 0; example < 50; example++)
        {
            int[] idx = [.. Enumerable.Range(0, n).OrderBy(_ => random.Next()).Take(1 + random.Next(Math.Min(n, 12)))];
            float[] val = [.. idx.Select(_ => (float)(random.NextDouble() * 2))];
            double expected = SparkScore(intercept, w, v, idx, val);
            Assert.InRange(FmCodegen.Fm.Score(model, idx, val) - expected, -1e-4, 1e-4);
        }
    }

    [Fact]
    public void ClassifierWithDenseVectorAndSparksRowMajorFactorsLoadsAndScoresAsSpark()
    {
        using var folder = new TempFolder();
        const int n = 40, k = 8;
        var random = new Random(3);
        double[] w = [.. Enumerable.Range(0, n).Select(_ => random.NextDouble() - 0.5)];
        double[,] v = RandomFactors(n, k, 4);
        string dir = folder.File("fm-classifier");
        WriteSparkModel(dir, SparkModelDirectory.ClassificationClass, "{\"factorSize\":8,\"maxIter\":50}", -0.375, SparkVector.OfDense(w), SparkMatrix.RowMajor(v));

        Assert.True(SparkModelDirectory.IsModelDirectory(dir));
        ModelFile file = SparkModelDirectory.Load(dir);
        Assert.Equal(ModelFormat.Spark, file.Format);
        Assert.Equal(FmTask.BinaryClassification, file.Task);
        Assert.True(file.HasBias && file.HasLinear);
        Assert.Equal(n, file.Model.NumFeatures);
        Assert.Equal(k, file.Model.EmbeddingSize);
        Assert.Equal(-0.375f, file.Model.Bias);
        for (int i = 0; i < n; i++)
        {
            Assert.Equal((float)w[i], file.Model.Weight(i));
            for (int f = 0; f < k; f++)
            {
                Assert.Equal((float)v[i, f], file.Model.FactorRow(i)[f]);
            }
        }

        AssertScoresMatchSpark(file.Model, -0.375, w, v, 5);
    }

    [Fact]
    public void DeclaredSizesAreCheckedAgainstTheMemoryBudgetBeforeAllocating()
    {
        using var folder = new TempFolder();

        // a tiny directory declaring 10 million features (sparse encodings without nonzeros): the model table
        // (640 MB for k = 8) is refused from the declared size, before the vector, matrix or table is allocated
        string bomb = folder.File("declared-bomb");
        const int declared = 10_000_000;
        WriteSparkModel(bomb, SparkModelDirectory.RegressionClass, "{\"factorSize\":8}", 0.5,
            SparkVector.OfSparse(declared, [], []), new SparkMatrix(false, declared, 8, new int[9], [], [], false));
        Assert.InRange(new FileInfo(Directory.GetFiles(Path.Combine(bomb, "data"), "*.parquet").Single()).Length, 1, 64 << 10);
        using (MemoryBudget.WithLimit(256L << 20))
        {
            var e = Assert.Throws<InsufficientMemoryException>(() => SparkModelDirectory.Load(bomb));
            Assert.Contains("10,000,000 features", e.Message, StringComparison.Ordinal);
            Assert.Contains("may use 256 MB", e.Message, StringComparison.Ordinal);
            Assert.Contains(bomb, e.Message, StringComparison.Ordinal);
        }

        // the values the Parquet footer declares are checked before the file is decompressed
        string dense = folder.File("dense");
        const int n = 20_000;
        WriteSparkModel(dense, SparkModelDirectory.ClassificationClass, "{\"factorSize\":8}", 0.5,
            SparkVector.OfDense(new double[n]), SparkMatrix.RowMajor(RandomFactors(n, 8, 9)));
        using (MemoryBudget.WithLimit(2L << 20))
        {
            var e = Assert.Throws<InsufficientMemoryException>(() => SparkModelDirectory.Load(dense));
            Assert.Contains("Parquet values", e.Message, StringComparison.Ordinal);
            Assert.Contains(".parquet", e.Message, StringComparison.Ordinal);
        }

        Assert.Equal(n, SparkModelDirectory.Load(dense).Model.NumFeatures);
    }

    [Fact]
    public void RegressorWithoutLinearOrInterceptReadsSparksEmptySparseVectorAndDefaults()
    {
        using var folder = new TempFolder();
        const int n = 25, k = 4;
        double[,] v = RandomFactors(n, k, 6);
        string dir = folder.File("fm-regressor");
        // fitLinear false: Spark saves Vectors.sparse(numFeatures, empty); fitIntercept false: intercept 0.
        WriteSparkModel(dir, SparkModelDirectory.RegressionClass, "{\"factorSize\":4,\"fitLinear\":false,\"fitIntercept\":false}", 0.0,
            SparkVector.OfSparse(n, [], []), SparkMatrix.RowMajor(v));

        ModelFile file = SparkModelDirectory.Load(dir);
        Assert.Equal(FmTask.Regression, file.Task);
        Assert.False(file.HasBias);
        Assert.False(file.HasLinear);
        Assert.Equal(n, file.Model.NumFeatures);
        Assert.All(file.Model.Weights.ToArray(), x => Assert.Equal(0f, x));
        AssertScoresMatchSpark(file.Model, 0, new double[n], v, 7);
    }

    [Fact]
    public void SparseLinearColumnMajorAndSparseMatrixEncodingsGiveTheSameModel()
    {
        using var folder = new TempFolder();
        const int n = 30, k = 5;
        double[,] v = RandomFactors(n, k, 8, zeroFraction: 0.4);
        int[] indices = [1, 4, 9, 17, 29];
        double[] values = [0.25, -1.5, 0.125, 2.0, -0.75];
        var w = new double[n];
        for (int j = 0; j < indices.Length; j++)
        {
            w[indices[j]] = values[j];
        }

        var models = new List<FmModel>();
        foreach (SparkMatrix factors in new[] { SparkMatrix.RowMajor(v), SparkMatrix.ColumnMajor(v), SparkMatrix.SparseColumns(v) })
        {
            string dir = folder.File("m" + models.Count);
            WriteSparkModel(dir, SparkModelDirectory.RegressionClass, "{\"factorSize\":5}", 1.5, SparkVector.OfSparse(n, indices, values), factors);
            models.Add(SparkModelDirectory.Load(dir).Model);
        }

        Assert.Equal(models[0], models[1]);
        Assert.Equal(models[0], models[2]);
        AssertScoresMatchSpark(models[0], 1.5, w, v, 9);
    }

    [Fact]
    public void FactorSizeComesFromDefaultParamMapWhenNotSet()
    {
        using var folder = new TempFolder();
        string dir = folder.File("defaults");
        WriteSparkModel(dir, SparkModelDirectory.ClassificationClass, "{}", 0.5, SparkVector.OfDense([1, 2, 3]), SparkMatrix.RowMajor(RandomFactors(3, 8, 1)));
        ModelFile file = SparkModelDirectory.Load(dir);
        Assert.Equal(8, file.Model.EmbeddingSize);
        Assert.True(file.HasBias && file.HasLinear);
    }

    public static TheoryData<string, string> DamagedModels() => new()
    {
        { "class", "org.apache.spark.ml.classification.LogisticRegressionModel" },
        { "factorSize", "factors has 8 columns but the metadata's factorSize is 6" },
        { "linearSize", "linear is dense with 4 values but factors has 3 rows" },
        { "indices", "linear.indices[1] is 0; indices must rise strictly" },
        { "nan", "factors[1, 2] is NaN" },
        { "overflow", "linear[0] is 1E+300" },
        { "missingData", "no data/ directory" },
        { "twoFiles", "2 .parquet files" },
        { "notParquet", "not a readable Parquet file" },
        { "badJson", "line 1 is not JSON" },
    };

    [Theory]
    [MemberData(nameof(DamagedModels))]
    public void DamagedDirectoriesAreRefusedNamingTheFileAndTheFault(string fault, string expected)
    {
        using var folder = new TempFolder();
        string dir = folder.File(fault);
        double[,] v = RandomFactors(3, 8, 2);
        string className = fault == "class" ? "org.apache.spark.ml.classification.LogisticRegressionModel" : SparkModelDirectory.ClassificationClass;
        string paramMap = fault == "factorSize" ? "{\"factorSize\":6}" : "{\"factorSize\":8}";
        SparkVector linear = fault switch
        {
            "linearSize" => SparkVector.OfDense([1, 2, 3, 4]),
            "indices" => SparkVector.OfSparse(3, [2, 0], [1, 1]),
            "overflow" => SparkVector.OfDense([1e300, 0, 0]),
            _ => SparkVector.OfDense([1, 2, 3]),
        };
        if (fault == "nan")
        {
            v[1, 2] = double.NaN;
        }

        WriteSparkModel(dir, className, paramMap, 0.25, linear, SparkMatrix.RowMajor(v));
        string data = Path.Combine(dir, "data");
        string parquet = Directory.GetFiles(data, "*.parquet").Single();
        switch (fault)
        {
            case "missingData":
                Directory.Delete(data, recursive: true);
                break;
            case "twoFiles":
                File.Copy(parquet, Path.Combine(data, "part-00001-copy.parquet"));
                break;
            case "notParquet":
                File.WriteAllBytes(parquet, File.ReadAllBytes(parquet)[..^20]);
                break;
            case "badJson":
                File.WriteAllText(Path.Combine(dir, "metadata", "part-00000"), "{\"class\": \n");
                break;
        }

        ModelFileException e = Assert.Throws<ModelFileException>(() => SparkModelDirectory.Load(dir));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
        Assert.Contains(dir, e.Message, StringComparison.Ordinal);
    }

    private static (int Code, string Output, string Error) Fm(params string[] args)
    {
        using var output = new StringWriter(CultureInfo.InvariantCulture);
        using var error = new StringWriter(CultureInfo.InvariantCulture);
        int code = Program.Run(args, output, error);
        return (code, output.ToString(), error.ToString());
    }

    [Fact]
    public void CliDetectsTheDirectoryAndPredictsConvertsAndDescribesIt()
    {
        using var folder = new TempFolder();
        const int n = 12, k = 4;
        var random = new Random(11);
        double[] w = [.. Enumerable.Range(0, n).Select(_ => random.NextDouble() - 0.5)];
        double[,] v = RandomFactors(n, k, 12);
        string dir = folder.File("spark-model");
        WriteSparkModel(dir, SparkModelDirectory.ClassificationClass, "{\"factorSize\":4}", 0.125, SparkVector.OfDense(w), SparkMatrix.RowMajor(v));
        string data = folder.Write("d.libfm", "1 0:1 3:0.5 11:2\n0 2:1 5:1\n1 7:1.5 8:1 9:0.25\n");

        var info = Fm("info", "--model", dir);
        Assert.Equal(0, info.Code);
        Assert.Contains("format     spark", info.Output, StringComparison.Ordinal);
        Assert.Contains("task       classification", info.Output, StringComparison.Ordinal);

        string predictions = folder.File("p.txt");
        var predict = Fm("predict", "--model", dir, "--model-format", "spark", "--input", data, "--output", predictions, "--probability");
        Assert.Equal(0, predict.Code);
        int[][] rows = [[0, 3, 11], [2, 5], [7, 8, 9]];
        float[][] vals = [[1, 0.5f, 2], [1, 1], [1.5f, 1, 0.25f]];
        string[] lines = File.ReadAllLines(predictions);
        for (int r = 0; r < rows.Length; r++)
        {
            double p = 1 / (1 + Math.Exp(-SparkScore(0.125, w, v, rows[r], vals[r])));
            Assert.InRange(double.Parse(lines[r], CultureInfo.InvariantCulture) - p, -1e-5, 1e-5);
        }

        string native = folder.File("m.fmb");
        var convert = Fm("convert", "--model", dir, "--to", "native", "--output", native);
        Assert.Equal(0, convert.Code);
        Assert.Contains("spark -> native", convert.Error, StringComparison.Ordinal);
        ModelFile converted = ModelFiles.Load(native);
        Assert.Equal(SparkModelDirectory.Load(dir).Model, converted.Model);
        Assert.Equal(FmTask.BinaryClassification, converted.Task);

        var refused = Fm("convert", "--model", native, "--to", "spark", "--output", folder.File("x"));
        Assert.NotEqual(0, refused.Code);
        Assert.Contains("read, not written", refused.Error, StringComparison.Ordinal);

        var notSpark = Fm("info", "--model", folder.Path);
        Assert.NotEqual(0, notSpark.Code);
        Assert.Contains("is a folder without metadata/", notSpark.Error, StringComparison.Ordinal);
    }
}
