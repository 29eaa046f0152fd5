import ArgumentParser
import StateJournal

/// `statejournal restore (--seq N | --at TIME) [--dry-run]`
struct Restore: GlobalCommand, Exemplified {
    static let configuration = CommandConfiguration(
        commandName: "restore",
        abstract: "Make the state as it was after event N, or at TIME, the current state.",
        discussion: """
            The restore is a new state.restored event, so it can itself be undone: restore the seq \
            before it. The last event, or a time at or after it, is the current state already and is \
            refused (exit 2), as are seq 0, a seq beyond the last event and a time before the first. \
            --dry-run prints the change to STATE.md as a line diff and writes nothing.
            """)

    static let examples = [
        "statejournal restore --seq 12 --dry-run",
        "statejournal restore --at \"2026-11-20 10:00:00\"",
    ]

    @ParentCommand var root: StateJournalCommand
    @Option(help: ArgumentHelp("Restore the state right after event N.", valueName: "N")) var seq: UInt64?
    @Option(help: ArgumentHelp("Restore the state at TIME (RFC 3339, YYYY-MM-DD HH:MM:SS local, a date, 2h, yesterday…).", valueName: "time"))
    var at: String?
    @Flag(name: .customLong("dry-run"), help: "Print the change without writing.") var dryRun = false
    @OptionGroup(title: "Write options") var flags: WriteFlags
    @OptionGroup(title: "Global options") var trailing: GlobalOptions<Trailing>

    func validate() throws {
        if (seq == nil) == (at == nil) { throw ValidationError("give either --seq N or --at TIME") }
        if let at, TimeArgument.parse(at, as: .start) == nil {
            throw ValidationError("--at '\(at)' is not a time; use \(TimeArgument.forms)")
        }
    }

    var point: HistoryPoint {
        if let seq { return .seq(seq) }
        return .time(at.flatMap { TimeArgument.parse($0, as: .start) } ?? Timestamp(microseconds: 0))
    }

    func run() throws {
        let manager = try global.existingManager(command: "restore \(point)")
        if dryRun {
            let plan = try manager.planRestore(point)
            let diff = plan.diff
            if flags.json {
                Output.json(plan.json())
            } else {
                reportDryRun(diff) { changed in
                    "dry run: restoring the state of seq \(plan.targetSeq) (\(plan.target.updated.localDateTime)) over seq \(plan.currentSeq) "
                        + "would change \(changed) line\(changed == 1 ? "" : "s") of \(manager.statePath); nothing was written"
                }
            }
            return
        }
        try recordWrite(manager, flags, extra: { outcome in
            if case .stateRestored(let from, _) = outcome.event.payload { return " (the state of seq \(from))" }
            return ""
        }) { try manager.restore(point, options: flags.options) }
    }
}
