using FmCodegen.Kernels;
using Xunit;

namespace FmCodegen.Tests;

public class FmModelTests
{
    [Fact]
    public void Create_keeps_the_parameters_as_given()
    {
        float[] weights = [0.5f, -1f, 2f];
        float[] factors = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
        FmModel model = FmModel.Create(0.25f, weights, factors, 4);
        Assert.Equal(0.25f, model.Bias);
        Assert.Equal(3, model.NumFeatures);
        Assert.Equal(4, model.EmbeddingSize);
        Assert.Equal(weights, model.Weights.ToArray());
        Assert.Equal(factors, model.Factors.ToArray());
        Assert.Equal([5f, 6, 7, 8], model.FactorRow(1).ToArray());
        Assert.Equal(0f, model.Weight(3));
        Assert.Equal(new float[4], model.FactorRow(99).ToArray());
    }

    [Fact]
    public void Rows_are_64_byte_aligned_and_the_unseen_row_is_zero()
    {
        FmModel model = FmModel.Create(0f, [1f, 2f], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32], 16);
        Assert.Equal(32, model.RowStride);
        unsafe
        {
            fixed (float* p = model.RowTable)
            {
                Assert.Equal(0, (long)p % 64);
            }
        }

        Assert.Equal(2f, model.RowTable[32 + 16]);
        Assert.True(model.RowTable.Slice(2 * 32, 32).IndexOfAnyExcept(0f) < 0);
    }

    [Theory]
    [InlineData(1, 2)]
    [InlineData(4, 8)]
    [InlineData(8, 16)]
    [InlineData(15, 16)]
    [InlineData(16, 32)]
    [InlineData(32, 48)]
    [InlineData(64, 80)]
    [InlineData(100, 112)]
    public void The_row_stride_fits_the_factors_and_the_weight_in_the_fewest_cache_lines(int k, int stride) =>
        Assert.Equal(stride, FmLayout.RowStride(k));

    [Fact]
    public void Shapes_that_disagree_are_refused_with_the_counts()
    {
        var error = Assert.Throws<ArgumentException>(() => FmModel.Create(0f, [1f, 2f], [1f, 2f, 3f], 2));
        Assert.Contains("2 weights x 2 = 4 values, but 3 were given", error.Message, StringComparison.Ordinal);
        var size = Assert.Throws<ArgumentOutOfRangeException>(() => FmModel.Create(0f, [1f], [], 0));
        Assert.Contains("between 1 and", size.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Values_that_are_not_finite_are_refused_and_located()
    {
        Assert.Contains("bias", Assert.Throws<ArgumentException>(() => FmModel.Create(float.NaN, [1f], [1f], 1)).Message, StringComparison.Ordinal);
        Assert.Contains("weights[1]", Assert.Throws<ArgumentException>(() => FmModel.Create(0f, [1f, float.PositiveInfinity], [1f, 1f], 1)).Message, StringComparison.Ordinal);
        var error = Assert.Throws<ArgumentException>(() => FmModel.Create(0f, [1f, 1f], [1f, 1f, 1f, float.NaN], 2));
        Assert.Contains("factors[3] (feature 1, factor 1)", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Models_are_equal_by_value()
    {
        FmModel a = FmModel.Create(1f, [1f, 2f], [1f, 2f, 3f, 4f], 2);
        FmModel b = FmModel.Create(1f, [1f, 2f], [1f, 2f, 3f, 4f], 2);
        FmModel c = FmModel.Create(1f, [1f, 2f], [1f, 2f, 3f, 5f], 2);
        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
        Assert.Equal(a.GetHashCode(), b.GetHashCode());
        Assert.Contains("EmbeddingSize = 2", a.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void A_kernel_for_another_k_refuses_the_model()
    {
        FmModel model = FmModel.Create(0f, [1f], new float[8], 8);
        var error = Assert.Throws<ArgumentException>(() => BuiltInKernel16.Score(model, [0], [1f]));
        Assert.Contains("k = 16", error.Message, StringComparison.Ordinal);
    }
}
