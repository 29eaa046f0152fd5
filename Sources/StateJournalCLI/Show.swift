import ArgumentParser
import StateJournal

/// `statejournal show [--seq N | --at TIME] [--json]`
struct Show: GlobalCommand, Exemplified {
    static let configuration = CommandConfiguration(
        commandName: "show", abstract: "Print the state now, or as it was after event N or at a time.")

    static let examples = [
        "statejournal show --json",
        "statejournal show --seq 12",
        "statejournal show --at yesterday",
    ]

    @ParentCommand var root: StateJournalCommand
    @Option(help: ArgumentHelp("The state right after event N.", valueName: "N")) var seq: UInt64?
    @Option(help: ArgumentHelp("The state at TIME (RFC 3339, YYYY-MM-DD HH:MM:SS local, a date, 2h, yesterday…).", valueName: "time"))
    var at: String?
    @Flag(help: "Print JSON instead of markdown.") var json = false
    @OptionGroup(title: "Global options") var trailing: GlobalOptions<Trailing>

    func validate() throws {
        if seq != nil && at != nil { throw ValidationError("give --seq or --at, not both") }
        if let at, TimeArgument.parse(at, as: .start) == nil {
            throw ValidationError("--at '\(at)' is not a time; use \(TimeArgument.forms)")
        }
    }

    func run() throws {
        let manager = try global.existingManager(command: "show")
        let state: WorkflowState?
        if let seq {
            state = try manager.state(atSeq: seq)
        } else if let at, let time = TimeArgument.parse(at, as: .start) {
            state = try manager.state(at: time)
        } else {
            state = try manager.loadState()
        }
        guard let state else {
            throw StateJournalError(.notInitialized, "no workflow at '\(manager.statePath)'; run 'statejournal init' first (or 'statejournal import')")
        }
        if json {
            Output.stdout(state.json().prettyString())
        } else {
            Output.stdout(MarkdownRenderer.render(state))
        }
    }
}
