using System.CommandLine;

namespace FmCodegen.Cli;

/// <summary>The `fm` command line. Each verb lives in Commands/*.cs and is added here with one line.</summary>
public static class Program
{
    public static int Main(string[] args)
    {
        var root = new RootCommand("fm: Factorization Machines for .NET (FmCodegen)");
        // verbs: one line each, e.g. root.Subcommands.Add(PredictCommand.Create());
        return root.Parse(args).Invoke();
    }
}
