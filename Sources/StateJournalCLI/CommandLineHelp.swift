import ArgumentParser
import StateJournal

/// A command that shows examples at the end of its help.
protocol Exemplified {
    /// Command lines, each optionally followed by `  # what it does`.
    static var examples: [String] { get }
}

/// Help, `--version` and usage errors: which command the arguments name,
/// "did you mean …?" for a misspelt one, and each command's examples.
enum CommandLineHelp {
    /// Global options that take a value (skipped when looking for the command).
    static let valueOptions: Set<String> = ["--state", "--actor", "--lock-timeout", "--store"]

    /// Where the arguments lead in the command tree.
    struct Resolution {
        /// The commands named, from the root (the root alone when none).
        var path: [any ParsableCommand.Type] = [StateJournalCommand.self]
        /// A word in a command's place that names none of its subcommands.
        var unknown: String?
        /// The words after `help` (nil when `help` was not given).
        var helpTopic: [String]?

        var leaf: any ParsableCommand.Type { path.last ?? StateJournalCommand.self }
        /// `statejournal task start`.
        var commandLine: String { (["statejournal"] + path.dropFirst().map(CommandLineHelp.name)).joined(separator: " ") }
    }

    static func name(_ command: any ParsableCommand.Type) -> String {
        command.configuration.commandName ?? String(describing: command).lowercased()
    }

    static func subcommands(of command: any ParsableCommand.Type) -> [any ParsableCommand.Type] {
        command.configuration.subcommands
    }

    /// Follows `words` (command names, skipping options) down the tree from the root.
    static func resolve(_ words: [String]) -> Resolution {
        var result = Resolution()
        var i = 0
        var topic: [String]?
        while i < words.count {
            let word = words[i]
            i += 1
            if word.hasPrefix("-") {
                if valueOptions.contains(word) { i += 1 }
                continue
            }
            if topic != nil { topic?.append(word); continue }
            let subs = subcommands(of: result.leaf)
            if subs.isEmpty { break }  // an operand of a leaf command
            if let sub = subs.first(where: { name($0) == word }) {
                result.path.append(sub)
            } else if result.path.count == 1, word == "help" {
                topic = []
            } else {
                result.unknown = word
                break
            }
        }
        if let topic {
            // `help a b`: the topic's own path.
            var inner = resolve(topic.filter { !$0.hasPrefix("-") })
            inner.helpTopic = topic
            return inner
        }
        return result
    }

    /// The names a command accepts after `parent`, for suggestions.
    static func names(under parent: any ParsableCommand.Type) -> [String] {
        subcommands(of: parent).map(name) + (parent == StateJournalCommand.self ? ["help"] : [])
    }

    /// The error for a word that is not a command: `'sho' is not a
    /// statejournal command` with the closest names.
    static func unknownCommand(_ resolution: Resolution, forHelp: Bool = false) -> CLIError {
        let word = resolution.unknown ?? ""
        let parent = resolution.leaf
        let whose = parent == StateJournalCommand.self ? "a statejournal command" : "a '\(resolution.commandLine)' subcommand"
        let guess = Suggestion.didYouMean(word, in: names(under: parent))
        let see = parent == StateJournalCommand.self
            ? "see 'statejournal help' for the commands" : "see '\(resolution.commandLine) --help' for its subcommands"
        return CLIError("usage", (forHelp ? "no help for '\(word)': it is not " : "'\(word)' is not ") + whose,
                        hint: guess.map { "\($0) (\(see))" } ?? see, status: 2,
                        usage: forHelp ? nil : StateJournalCommand.usageString(for: parent))
    }

    /// A usage error from argument parser, in the one error style: the
    /// command's usage line, a hint naming its help, "did you mean …?" for a
    /// misspelt command.
    static func usageError(_ error: any Error, status: Int32) -> CLIError {
        let resolution = resolve(Output.optionArguments)
        if resolution.unknown != nil { return unknownCommand(resolution) }
        var message = StateJournalCommand.message(for: error)
        // "Missing expected argument" → "missing expected argument" (messages are lower case).
        if let first = message.first, first.isUppercase, message.dropFirst().first?.isLowercase == true {
            message = first.lowercased() + message.dropFirst()
        }
        // Argument parser's own suggestion ("… Did you mean '--limit'?") becomes the hint.
        var hint = "see '\(resolution.commandLine) --help'"
        if let range = message.firstRange(of: ". Did you mean ") {
            hint = "did you mean " + message[range.upperBound...] + " (" + hint + ")"
            message = String(message[..<range.lowerBound])
        }
        if message.hasSuffix(".") { message.removeLast() }
        // "unknown option '--limt'": the command's closest options.
        // (Only when argument parser made no suggestion: one "did you mean".)
        if !hint.hasPrefix("did you mean"), message.hasPrefix("unknown option '"),
           let option = message.split(separator: "'").dropFirst().first,
           let guess = Suggestion.didYouMean(String(option), in: optionNames(of: resolution.leaf)) {
            hint = "\(guess) (\(hint))"
        }
        return CLIError("usage", message, hint: hint, status: status, usage: StateJournalCommand.usageString(for: resolution.leaf))
    }

    /// Help (`help`, `--help`, `-h`), `--version` and
    /// `--experimental-dump-help`: printed on stdout, 0 — or, for help about a
    /// command that does not exist, a usage error.
    static func answer(_ error: any Error) -> Int32 {
        let arguments = Output.optionArguments
        // The description of every command as JSON, which argument parser's
        // generate-manual plugin reads to write the man page (`make man`).
        if arguments.contains("--version") || arguments.contains("--experimental-dump-help") {
            Output.stdout(StateJournalCommand.fullMessage(for: error))
            return 0
        }
        let resolution = resolve(arguments)
        if resolution.unknown != nil { return Output.fail(unknownCommand(resolution, forHelp: resolution.helpTopic != nil)) }
        Output.stdout(help(for: resolution.leaf))
        return 0
    }

    /// The options `command` accepts, as its usage line names them.
    static func optionNames(of command: any ParsableCommand.Type) -> [String] {
        let usage = StateJournalCommand.usageString(for: command)
        var names: [String] = ["--help", "--version"]
        for word in usage.split(whereSeparator: { " []<>|()".contains($0) }) where word.hasPrefix("-") {
            names.append(String(word))
        }
        return names
    }

    /// The sections of a help screen in the order people look for them:
    /// what the command does, how to call it, its own arguments and options,
    /// then the write options and the global options every command shares.
    static let sectionOrder = ["OVERVIEW:", "USAGE:", "ARGUMENTS:", "OPTIONS:", "WRITE OPTIONS:", "GLOBAL OPTIONS:", "SUBCOMMANDS:"]

    /// A command's help: argument parser's screen with the command's own
    /// options first, then its examples.
    static func help(for command: any ParsableCommand.Type) -> String {
        let screen = command == StateJournalCommand.self
            ? StateJournalCommand.helpMessage() : StateJournalCommand.helpMessage(for: command)
        // Argument parser puts titled groups (write, global options) before
        // the command's own OPTIONS: reorder the sections.
        var sections: [(header: String, lines: [Substring])] = []
        for line in screen.split(separator: "\n", omittingEmptySubsequences: false) {
            if let header = sectionOrder.first(where: { line.hasPrefix($0) }) {
                sections.append((header, [line]))
            } else if sections.isEmpty {
                sections.append(("", [line]))
            } else {
                sections[sections.count - 1].lines.append(line)
            }
        }
        let ordered = sections.enumerated().sorted {
            (sectionOrder.firstIndex(of: $0.element.header) ?? -1, $0.offset) < (sectionOrder.firstIndex(of: $1.element.header) ?? -1, $1.offset)
        }
        var text = ordered.map { section in
            var lines = section.element.lines
            while lines.last?.isEmpty == true { lines.removeLast() }
            return lines.joined(separator: "\n")
        }.joined(separator: "\n\n")
        while text.hasSuffix("\n") { text.removeLast() }
        if let examples = (command as? any Exemplified.Type)?.examples, !examples.isEmpty {
            text += "\n\nEXAMPLES:\n" + examples.map { "  " + $0 }.joined(separator: "\n")
        }
        return text
    }
}
