import ArgumentParser
import StateJournal

/// `statejournal import FILE`
struct Import: GlobalCommand, Exemplified {
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

    static let examples = [
        "statejournal import STATE.md                    # adopt an earlier tool's file",
        "statejournal import history.jsonl --state copy/STATE.md",
    ]

    @ParentCommand var root: StateJournalCommand
    @Argument(help: "The STATE.md or export file (- for stdin).") var file: String
    @OptionGroup(title: "Write options") var flags: WriteFlags
    @OptionGroup(title: "Global options") var trailing: GlobalOptions<Trailing>

    func run() throws {
        let bytes = try InputFile.read(file)
        let manager = try global.manager(command: "import")
        let outcome: ImportOutcome
        do {
            outcome = try global.withStateDirectory {
                try manager.importHistory(bytes, source: file == "-" ? "stdin" : "'\(file)'", options: flags.options)
            }
        } catch let error as StateJournalError where error.durableSeq != nil {
            // Imported durably; only STATE.md could not be replaced: a success with a warning.
            let seq = error.durableSeq ?? 0
            guard let state = try? manager.currentFold(manager.makeStore()).state else { throw error }
            let isExport = bytes.first { ![9, 10, 13, 32].contains($0) } == UInt8(ascii: "{")
            if flags.json {
                Output.json(.obj(["kind": .string(isExport ? "export" : "state-file"), "events": .int(Int64(seq)), "seq": .int(Int64(seq)),
                                  "workflow_id": .string(state.workflowID), "tasks": .int(Int64(state.tasks.count)),
                                  "duplicate": .bool(false), "state_md_updated": .bool(false)]))
            } else {
                Output.stderr("imported \(seq) event\(seq == 1 ? "" : "s") (seq 1…\(seq)) into \(manager.statePath): workflow \(state.workflowID)")
            }
            warnStateMDBehind(manager, seq: seq, cause: error, key: flags.idempotencyKey)
            return
        }
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
