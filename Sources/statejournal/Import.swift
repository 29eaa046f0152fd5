import ArgumentParser
import StateJournal

/// `statejournal import FILE`
struct Import: GlobalCommand {
    static let configuration = CommandConfiguration(
        commandName: "import",
        abstract: "Start a new journal from a STATE.md file or an export.",
        discussion: """
            FILE (- for stdin) is told apart by content. A STATE.md (StateJournal's or the earlier \
            tool's) becomes one state.replaced event stamped with the file's Updated time. An export \
            (JSON Lines, as 'statejournal export' prints) is written event for event: the same seq, \
            time, actor, pid and payload, so history and state are the same. A journal that exists \
            already at --state is never touched (exit 2). An existing STATE.md at --state is kept as \
            STATE.md.backup. --expect-seq 0 requires an empty journal (exit 4 otherwise); with \
            --idempotency-key a retry of an import that was written succeeds and writes nothing.
            """)

    @OptionGroup var trailing: GlobalOptions<Trailing>
    @ParentCommand var root: StateJournalCommand
    @OptionGroup var flags: WriteFlags
    @Argument(help: "The STATE.md or export file (- for stdin).") var file: String

    func run() throws {
        let bytes = try InputFile.read(file)
        let manager = global.manager(command: "import")
        let outcome = try manager.importHistory(bytes, source: file == "-" ? "stdin" : "'\(file)'", options: flags.options)
        let last = outcome.events.last?.seq ?? 0
        if flags.json {
            Output.json(outcome.json())
        } else {
            let what = outcome.kind == .export
                ? "\(outcome.events.count) event\(outcome.events.count == 1 ? "" : "s") (seq 1…\(last)) from an export"
                : "a STATE.md file as seq 1 (state.replaced)"
            Output.stderr((outcome.wasDuplicate ? "already imported: " : "imported ") + "\(what) into \(manager.statePath): workflow \(outcome.state.workflowID), "
                + "\(outcome.state.tasks.count) task\(outcome.state.tasks.count == 1 ? "" : "s")")
        }
    }
}
