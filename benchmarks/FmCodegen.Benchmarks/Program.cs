using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Running;

// dotnet run -c Release --project benchmarks/FmCodegen.Benchmarks -- --filter '*'   (add --job short for a quick pass)
BenchmarkSwitcher.FromAssembly(typeof(FmCodegen.Benchmarks.Workload).Assembly)
    .Run(args, DefaultConfig.Instance.WithOption(ConfigOptions.JoinSummary, false));
