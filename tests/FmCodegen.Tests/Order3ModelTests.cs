using FmCodegen.Kernels;
using Xunit;

namespace FmCodegen.Tests;

public class Order3ModelTests
{
    [Fact]
    public void Create_keeps_both_tables_as_given_and_lays_them_in_one_row()
    {
        float[] weights = [0.5f, -1f];
        float[] factors = [1, 2, 3, 4, 5, 6, 7, 8, 10, 20, 30, 40, 50, 60, 70, 80];
        FmModel model = FmModel.Create(0.25f, weights, factors, 4, order: 3);
        Assert.Equal(3, model.Order);
        Assert.Equal(factors, model.Factors.ToArray());
        Assert.Equal([5f, 6, 7, 8], model.FactorRow(1).ToArray());
        Assert.Equal([5f, 6, 7, 8], model.FactorRow(1, 2).ToArray());
        Assert.Equal([50f, 60, 70, 80], model.FactorRow(1, 3).ToArray());
        Assert.Equal(new float[4], model.FactorRow(7, 3).ToArray());
        Assert.Equal(FmLayout.RowStride(4, 3), model.RowStride);
        int third = FmLayout.Order3Offset(4);
        Assert.Equal(-1f, model.RowTable[model.RowStride + 4]);
        Assert.Equal(50f, model.RowTable[model.RowStride + third]);
        Assert.True(model.RowTable.Slice(2 * model.RowStride, model.RowStride).IndexOfAnyExcept(0f) < 0);
        Assert.Equal(model, FmModel.Create(0.25f, weights, factors, 4, order: 3));
        Assert.NotEqual(model, FmModel.Create(0.25f, weights, factors.AsSpan(0, 8), 4));
    }

    [Theory]
    [InlineData(1, 2, 4)]
    [InlineData(4, 8, 16)]
    [InlineData(8, 16, 32)]
    [InlineData(16, 32, 48)]
    [InlineData(32, 48, 80)]
    [InlineData(64, 80, 144)]
    public void An_order_3_row_is_the_order_2_row_then_the_order_3_factors(int k, int offset, int stride)
    {
        Assert.Equal(offset, FmLayout.Order3Offset(k));
        Assert.Equal(stride, FmLayout.RowStride(k, 3));
        Assert.Equal(FmLayout.RowStride(k), FmLayout.RowStride(k, 2));
    }

    [Fact]
    public void Bad_shapes_orders_and_values_are_refused_and_named()
    {
        var shape = Assert.Throws<ArgumentException>(() => FmModel.Create(0f, [1f, 2f], new float[8], 4, order: 3));
        Assert.Contains("order-3 table", shape.Message, StringComparison.Ordinal);
        var order = Assert.Throws<ArgumentOutOfRangeException>(() => FmModel.Create(0f, [1f], new float[4], 4, order: 4));
        Assert.Contains("must be 2 (pairs) or 3", order.Message, StringComparison.Ordinal);
        float[] factors = new float[16];
        factors[13] = float.NaN;
        var nan = Assert.Throws<ArgumentException>(() => FmModel.Create(0f, [1f, 2f], factors, 4, order: 3));
        Assert.Contains("factors[13] (order-3 table, feature 1, factor 1)", nan.Message, StringComparison.Ordinal);
        FmModel model = FmModel.Create(0f, [1f], new float[2], 1, order: 3);
        Assert.Throws<NotSupportedException>(() => model.WithInstanceNormalization(true));
        Assert.Throws<ArgumentOutOfRangeException>(() => FmModel.Create(0f, [1f], new float[1], 1).FactorRow(0, 3));
    }

    [Fact]
    public void Order_2_entries_score_an_order_3_model_with_its_order_3_kernel()
    {
        FmModel model = Order3Properties.RandomModel(16, 12, seed: 5);
        int[] indices = [0, 3, 5, 11, 2];
        float[] values = [1f, 0.5f, -2f, 1f, 0.25f];
        float expected = FmOrder3Kernels.RuntimeScalar.Score(model, indices, values);
        Assert.Equal(expected, FmKernels.RuntimeSimd.Score(model, indices, values));
        Assert.Equal(expected, FmKernels.For(16).Score(model, indices, values));
        var output = new float[1];
        FmKernels.RuntimeScalar.ScoreBatch(model, [0, 5], indices, values, output);
        Assert.Equal(expected, output[0]);
        FmModel order2 = ScoreProperties.RandomModel(16, 12, seed: 5);
        Assert.Equal(Fm.Score(order2, indices, values), FmOrder3Kernels.RuntimeSimd.Score(order2, indices, values));
    }

    [Fact]
    public void Order_3_sums_are_s_then_p1_then_p2()
    {
        FmModel model = Order3Properties.RandomModel(5, 6, seed: 2);
        int[] indices = [0, 2, 4];
        float[] values = [1f, 2f, -1f];
        var sums = new float[15];
        FmOrder3Kernels.RuntimeSimd.InteractionWithSums(FmRows.Of(model), indices, values, sums);
        for (int f = 0; f < 5; f++)
        {
            double s = 0, p1 = 0, p2 = 0;
            for (int j = 0; j < 3; j++)
            {
                s += model.FactorRow(indices[j])[f] * values[j];
                float t = model.FactorRow(indices[j], 3)[f] * values[j];
                p1 += t;
                p2 += t * t;
            }

            Assert.Equal(s, sums[f], 5);
            Assert.Equal(p1, sums[5 + f], 5);
            Assert.Equal(p2, sums[10 + f], 5);
        }

        var scalar = new float[15];
        FmOrder3Kernels.RuntimeScalar.InteractionWithSums(FmRows.Of(model), indices, values, scalar);
        Assert.Equal(scalar, sums);
        Assert.Throws<ArgumentException>(() => FmOrder3Kernels.RuntimeSimd.InteractionWithSums(FmRows.Of(model), indices, values, new float[14]));
    }
}
