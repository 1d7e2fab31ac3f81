using System.CommandLine;
using System.CommandLine.Invocation;
using FmCodegen.Cli.Commands;

namespace FmCodegen.Cli;

/// <summary>The `fm` command line. Each verb lives in Commands/*.cs and is added here with one line.</summary>
public static class Program
{
    public static int Main(string[] args) => Run(args, Console.Out, Console.Error);

    /// <summary>Runs the tool with its output and errors going to the given writers (tests use this).</summary>
    public static int Run(string[] args, TextWriter output, TextWriter error)
    {
        var root = new RootCommand("fm: Factorization Machines for .NET (FmCodegen)");
        root.Subcommands.Add(PredictCommand.Create());
        root.Subcommands.Add(ConvertCommand.Create());
        root.Subcommands.Add(InfoCommand.Create());
        root.Subcommands.Add(TrainCommand.Create());
        root.Subcommands.Add(EvalCommand.Create());
        root.Subcommands.Add(LibFmCommand.Create());
        ParseResult parse = root.Parse(args);
        if (parse.Action is ParseErrorAction)
        {
            // the tool's own report: fm VERB: error: ... on stderr, no help dump on stdout
            return ParseErrors.Report(parse, error);
        }

        return parse.Invoke(new InvocationConfiguration { Output = output, Error = error });
    }
}
