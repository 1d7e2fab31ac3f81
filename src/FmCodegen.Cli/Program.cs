using System.CommandLine;
using System.Diagnostics;
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
        ArgumentNullException.ThrowIfNull(args);
        var root = new RootCommand("fm: Factorization Machines for .NET (FmCodegen)");

        // a run that names its verb first (fm predict ...) builds that verb's command alone: the parse of its
        // arguments never looks at the other verbs, and building them all (some hundred options and their types)
        // is a good part of the start of a short run; anything else (help, version, a typo) gets every verb
        int verb = args.Length == 0 ? -1 : Array.IndexOf(VerbNames, args[0]);
        for (int v = 0; v < VerbNames.Length; v++)
        {
            if (verb < 0 || v == verb)
            {
                root.Subcommands.Add(CreateVerb(v));
            }
        }

        ParseResult parse = root.Parse(args);
        if (parse.Action is ParseErrorAction)
        {
            // the tool's own report: fm VERB: error: ... on stderr, no help dump on stdout
            return ParseErrors.Report(parse, error);
        }

        return parse.Invoke(new InvocationConfiguration { Output = output, Error = error });
    }

    /// <summary>The verbs, in the order help lists them (<see cref="CreateVerb"/> builds each).</summary>
    private static readonly string[] VerbNames = ["predict", "convert", "info", "train", "eval", "libfm"];

    private static Command CreateVerb(int verb)
    {
        Command command = verb switch
        {
            0 => PredictCommand.Create(),
            1 => ConvertCommand.Create(),
            2 => InfoCommand.Create(),
            3 => TrainCommand.Create(),
            4 => EvalCommand.Create(),
            _ => LibFmCommand.Create(),
        };
        Debug.Assert(command.Name == VerbNames[verb], "VerbNames lists each verb under its command's name");
        return command;
    }
}
