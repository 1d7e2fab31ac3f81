using System.Reflection;
using Xunit;

namespace FmCodegen.Tests;

/// <summary>The package's public surface: no simple name twice (no CS0104 for a program that uses two of its
/// namespaces), utilities kept internal, and FmModel handing out nothing a caller can write.</summary>
public class PublicSurfaceTests
{
    private static readonly Type[] Exported = typeof(FmModel).Assembly.GetExportedTypes();

    [Fact]
    public void No_two_exported_types_share_a_simple_name()
    {
        // Type.Name keeps the generic arity (FmKernel and FmKernel`1 are different names to C# too)
        List<string> twice = Exported.GroupBy(t => t.Name)
            .Where(g => g.Count() > 1)
            .Select(g => $"{g.Key}: {string.Join(", ", g.Select(t => t.FullName))}")
            .ToList();
        Assert.True(twice.Count == 0, "exported more than once: " + string.Join("; ", twice));
        Assert.Contains(typeof(FmTask), Exported);
        Assert.Equal("FmCodegen", typeof(FmTask).Namespace);
    }

    [Theory]
    [InlineData("AtomicFile")]
    [InlineData("AtomicFileStream")]
    [InlineData("DataFile")]
    [InlineData("ChecksumState")]
    [InlineData("SparseTextWriter")]
    [InlineData("SparseScorer")]
    [InlineData("NativeModelFile")]
    [InlineData("LibFmModelFile")]
    [InlineData("XLearnModelFile")]
    [InlineData("FmBatch")]
    [InlineData("SyntheticFm")]
    public void Utilities_are_not_part_of_the_public_surface(string name)
    {
        Assert.DoesNotContain(Exported, t => t.Name == name);
    }

    [Theory]
    [InlineData("FmSimd")]
    [InlineData("FmErrors")]
    [InlineData("FfmErrors")]
    [InlineData("FfmCore")]
    [InlineData("FfmUpdate")]
    public void Types_only_generated_code_uses_are_hidden_from_completion(string name)
    {
        Type type = Assert.Single(Exported, t => t.Name == name);
        var hidden = type.GetCustomAttribute<System.ComponentModel.EditorBrowsableAttribute>();
        Assert.True(hidden?.State == System.ComponentModel.EditorBrowsableState.Never, $"{type.FullName} is not [EditorBrowsable(Never)]");
    }

    [Fact]
    public void FmModel_hands_out_nothing_a_caller_can_write()
    {
        const BindingFlags Public = BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static;
        IEnumerable<Type> handedOut = typeof(FmModel).GetProperties(Public).Select(p => p.PropertyType)
            .Concat(typeof(FmModel).GetMethods(Public).Select(m => m.ReturnType))
            .Concat(typeof(FmModel).GetFields(Public).Select(f => f.FieldType));
        foreach (Type type in handedOut)
        {
            Assert.False(type.IsArray, $"FmModel hands out an array ({type})");
            Type generic = type.IsGenericType ? type.GetGenericTypeDefinition() : type;
            Assert.DoesNotContain(generic, new[] { typeof(Memory<>), typeof(ReadOnlyMemory<>), typeof(Span<>), typeof(List<>), typeof(IList<>), typeof(ICollection<>) });
        }

        Assert.DoesNotContain(typeof(FmModel).GetProperties(Public), p => p.CanWrite);
    }

    [Fact]
    public void Weights_and_factors_are_copies_the_model_does_not_share()
    {
        float[] weights = [1f, 2f];
        float[] factors = [1f, 2f, 3f, 4f];
        FmModel model = FmModel.Create(0f, weights, factors, 2);
        weights[0] = 100f;
        factors[0] = 100f;
        Assert.Equal([1f, 2f], model.Weights.ToArray());
        Assert.Equal([1f, 2f, 3f, 4f], model.Factors.ToArray());
        float[] copy = model.Weights.ToArray();
        copy[1] = -1f;
        Assert.Equal(2f, model.Weight(1));
        Assert.Equal(2f, model.Weights[1]);
    }
}
