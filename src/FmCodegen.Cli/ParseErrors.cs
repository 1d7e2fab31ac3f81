using System.CommandLine;
using System.CommandLine.Parsing;

namespace FmCodegen.Cli;

/// <summary>
/// The tool's own report of a command line that does not parse: one <c>fm VERB: error: ...</c> line per mistake on
/// stderr, naming the flag (a missing required option, an unknown option with the nearest known one, a value of the
/// wrong type), then where the options are listed; exit code 1 and nothing on stdout. System.CommandLine's default
/// (its message, then the whole help on stdout) is not used.
/// </summary>
internal static class ParseErrors
{
    public static int Report(ParseResult parse, TextWriter error)
    {
        Command command = parse.CommandResult.Command;
        bool root = command is RootCommand;
        string prefix = root ? "fm" : $"fm {command.Name}";
        foreach (string message in Messages(parse))
        {
            error.WriteLine($"{prefix}: error: {message}");
        }

        error.WriteLine(root ? "Run 'fm --help' for the verbs." : $"Run 'fm {command.Name} --help' for its options.");
        return CliRunner.UserErrorExitCode;
    }

    internal static List<string> Messages(ParseResult parse)
    {
        Command command = parse.CommandResult.Command;
        bool root = command is RootCommand;
        var messages = new List<string>();
        var explained = new List<string>();

        foreach (string token in parse.UnmatchedTokens)
        {
            explained.Add(token);
            if (root && !token.StartsWith('-'))
            {
                string verbs = string.Join(", ", command.Subcommands.Select(c => c.Name));
                string suggestion = Suggest(token, command.Subcommands.Select(c => c.Name));
                messages.Add($"'{token}' is not a verb{(suggestion.Length > 0 ? $" ({suggestion.TrimStart(';', ' ')})" : "")}; the verbs are {verbs}.");
                return messages; // what follows a wrong verb means nothing yet
            }
            else if (token.StartsWith('-'))
            {
                IEnumerable<string> names = command.Options.SelectMany(o => o.Aliases.Prepend(o.Name)).Where(n => n.StartsWith("--", StringComparison.Ordinal));
                messages.Add($"unknown option '{token}'{Suggest(token, names)}.");
            }
            else
            {
                messages.Add($"unexpected argument '{token}' (every value follows its option, e.g. --model FILE).");
            }
        }

        if (root && parse.UnmatchedTokens.Count == 0 && parse.Tokens.Count == 0)
        {
            messages.Add($"give a verb: {string.Join(", ", command.Subcommands.Select(c => c.Name))}.");
            return messages;
        }

        foreach (Option option in command.Options.Where(o => o.Required && parse.GetResult(o)?.IdentifierToken is null))
        {
            explained.Add(option.Name);
            messages.Add($"{option.Name} {HelpName(option)} is required: {Lower(option.Description)}");
        }

        foreach (ParseError e in parse.Errors)
        {
            Option? option = e.SymbolResult switch
            {
                OptionResult o => o.Option,
                ArgumentResult { Parent: OptionResult o } => o.Option,
                _ => null,
            };
            if (option is not null)
            {
                OptionResult? result = parse.GetResult(option);
                if (result?.IdentifierToken is null)
                {
                    continue; // a required option not given: said above
                }

                string? given = result.Tokens.Count > 0 ? result.Tokens[^1].Value : null;
                string message = given is null
                    ? $"{option.Name} needs a value ({HelpName(option)})."
                    : $"{option.Name} takes {Expected(option)}; got '{given}'.";
                if (!messages.Contains(message))
                {
                    messages.Add(message);
                }

                continue;
            }

            // already said in the tool's words: an unmatched token, or (at the root) the missing verb
            if (explained.Any(t => e.Message.Contains($"'{t}'", StringComparison.Ordinal)) || (root && messages.Count > 0))
            {
                continue;
            }

            messages.Add(e.Message);
        }

        return messages;
    }

    private static string HelpName(Option option) => option.HelpName ?? "VALUE";

    private static string Lower(string? description) =>
        string.IsNullOrEmpty(description) ? "give it." : char.ToLowerInvariant(description[0]) + description[1..];

    private static string Expected(Option option)
    {
        Type type = Nullable.GetUnderlyingType(option.ValueType) ?? option.ValueType;
        return type == typeof(int) ? $"a whole number ({HelpName(option)})"
            : type == typeof(float) || type == typeof(double) ? $"a number ({HelpName(option)})"
            : type == typeof(bool) ? "true or false (or nothing)"
            : HelpName(option);
    }

    /// <summary>"; did you mean --lr?" for the closest name within a few edits, else "".</summary>
    internal static string Suggest(string token, IEnumerable<string> candidates)
    {
        string typed = token.Split('=', 2)[0];
        string? best = null;
        int bestDistance = int.MaxValue;
        foreach (string candidate in candidates.Distinct())
        {
            int distance = candidate.StartsWith(typed, StringComparison.Ordinal) && typed.Length >= 4 ? 1 : Distance(typed, candidate);
            if (distance < bestDistance)
            {
                (best, bestDistance) = (candidate, distance);
            }
        }

        int allowed = Math.Max(2, typed.TrimStart('-').Length / 3);
        return best is not null && bestDistance <= allowed ? $"; did you mean {best}?" : "";
    }

    private static int Distance(string a, string b)
    {
        int[] previous = new int[b.Length + 1];
        int[] current = new int[b.Length + 1];
        for (int j = 0; j <= b.Length; j++)
        {
            previous[j] = j;
        }

        for (int i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (int j = 1; j <= b.Length; j++)
            {
                int cost = a[i - 1] == b[j - 1] ? 0 : 1;
                current[j] = Math.Min(Math.Min(current[j - 1] + 1, previous[j] + 1), previous[j - 1] + cost);
            }

            (previous, current) = (current, previous);
        }

        return previous[b.Length];
    }
}
