import ArgumentParser
import StateJournal

/// `statejournal completion bash|zsh|fish`
struct Completion: ParsableCommand, Exemplified {
    static let configuration = CommandConfiguration(
        commandName: "completion",
        abstract: "Print a shell completion script (bash, zsh or fish).",
        discussion: """
            Commands, subcommands and options complete; so do file arguments. Install it once, \
            as in the examples (or put the script where your shell loads completions from).
            """)

    static let examples = [
        "source <(statejournal completion bash)                               # bash, this shell; add it to ~/.bashrc to keep it",
        "statejournal completion zsh > \"${fpath[1]}/_statejournal\"           # zsh, then start a new shell",
        "statejournal completion fish > ~/.config/fish/completions/statejournal.fish",
    ]

    static let shells = ["bash", "zsh", "fish"]

    @Argument(help: ArgumentHelp("The shell: bash, zsh or fish.", valueName: "shell")) var shell: String

    func validate() throws {
        guard Self.shells.contains(shell) else {
            let guess = Suggestion.didYouMean(shell, in: Self.shells).map { "; \($0)" } ?? ""
            throw ValidationError("unknown shell '\(shell)'\(guess) (one of: bash, zsh, fish)")
        }
    }

    func run() throws {
        let kind: CompletionShell = shell == "zsh" ? .zsh : shell == "fish" ? .fish : .bash
        Output.stdout(StateJournalCommand.completionScript(for: kind))
    }
}
