import ArgumentParser
import StateJournal

/// `statejournal undo [--dry-run]`
struct Undo: GlobalCommand, Exemplified {
    static let configuration = CommandConfiguration(
        commandName: "undo",
        abstract: "Undo the last event: restore the state before it, as a new event.",
        discussion: """
            Nothing is deleted: the undo is a state.restored event, so 'undo' again undoes the undo \
            (like a revert of a revert). If another write lands while undo looks, nothing is written \
            (exit 4); run it again. --dry-run prints the change to STATE.md and writes nothing.
            """)

    static let examples = [
        "statejournal undo --dry-run      # what undoing the last event would change",
        "statejournal undo                # undo it",
    ]

    @ParentCommand var root: StateJournalCommand
    @Flag(name: .customLong("dry-run"), help: "Print the change without writing.") var dryRun = false
    @OptionGroup(title: "Write options") var flags: WriteFlags
    @OptionGroup(title: "Global options") var trailing: GlobalOptions<Trailing>

    func run() throws {
        let manager = try global.existingManager(command: "undo")
        if dryRun {
            let plan = try manager.planUndo()
            let undone = plan.undone
            if flags.json {
                var json = plan.restore.json()
                if case .object(var members) = json {
                    members.insert(.init("undone", undone.json()), at: 1)
                    json = .object(members)
                }
                Output.json(json)
            } else {
                reportDryRun(plan.restore.diff) { changed in
                    "dry run: undoing seq \(undone.seq) (\(undone.payload.typeName) \(undone.summary)) would restore the state of seq "
                        + "\(plan.restore.targetSeq) and change \(changed) line\(changed == 1 ? "" : "s") of \(manager.statePath); nothing was written"
                }
            }
            return
        }
        try recordWrite(manager, flags, extra: { outcome in
            guard case .stateRestored(let from, _) = outcome.event.payload else { return "" }
            return " (undid seq \(from + 1): the state of seq \(from))"
        }) { try manager.undo(options: flags.options) }
    }
}
