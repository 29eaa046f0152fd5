import ArgumentParser
import StateJournal

/// `statejournal next [--limit N] [--json]`
struct Next: GlobalCommand, Exemplified {
    static let configuration = CommandConfiguration(
        commandName: "next",
        abstract: "List the ready tasks in plan order.",
        discussion: """
            A task is ready when it is pending, every task it depends on is completed, and its wave is the \
            current wave or an earlier one (wave 1 while none is current). Text: one task per line, \
            'ID<TAB>wave W<TAB>description'; none ready: nothing on stdout, the reason on stderr, exit 0.
            """)

    static let examples = [
        "statejournal next",
        "statejournal next --limit 3 --json",
    ]

    @ParentCommand var root: StateJournalCommand
    @Option(help: ArgumentHelp("List at most N tasks.", valueName: "N")) var limit: Int?
    @Flag(help: "Print JSON.") var json = false
    @OptionGroup(title: "Global options") var trailing: GlobalOptions<Trailing>

    func validate() throws {
        if let limit, limit < 1 { throw ValidationError("--limit must be 1 or more") }
    }

    func run() throws {
        let manager = try global.existingManager(command: "next")
        guard let state = try manager.loadState() else { throw CLIError.noWorkflow(at: manager.statePath) }
        let ready = state.readyTasks()
        let shown = limit.map { Array(ready.prefix($0)) } ?? ready
        if json {
            Output.json(.obj([
                "ready": .array(shown.map { $0.json(complete: true) }),
                "count": .int(Int64(ready.count)),
                "current_wave": .int(Int64(state.currentWave)),
            ]))
            return
        }
        if shown.isEmpty {
            Output.stderr(state.nothingClaimable(at: Timestamp.now()))
            return
        }
        Output.stdout(shown.map { "\($0.id)\twave \($0.wave)\t\(Terminal.oneLine($0.description, limit: 80))" }.joined(separator: "\n"))
    }
}
