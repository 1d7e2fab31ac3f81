using BenchmarkDotNet.Running;

namespace FmCodegen.Training.Benchmarks;

/// <summary>dotnet run --project benchmarks/FmCodegen.Training.Benchmarks -c Release [-- --filter *Solver*]</summary>
public static class Program
{
    public static void Main(string[] args) => BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
}
