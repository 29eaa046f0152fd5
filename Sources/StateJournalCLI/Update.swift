import ArgumentParser
import StateJournal

/// `statejournal update --from FILE`
struct Update: GlobalCommand, Exemplified {
    static let configuration = CommandConfiguration(
        commandName: "update",
        abstract: "Replace the whole state at once, from the earlier tool's update() JSON.",
        discussion: """
            FILE (- for stdin) holds {"workflow_id", "workflow_name", "wave_id", "total_waves", \
            "completed_tasks", "current_wave_tasks", "pending_waves", "commit_hash", "notes", "metadata"}. \
            Tasks and metadata are replaced, notes appended, the start time kept. Current-wave tasks are \
            completed when result.success, failed when result.error, else in progress; pending_waves[i] \
            is wave wave_id+1+i. Recorded as one state.replaced event.
            """)

    static let examples = [
        "statejournal update --from update.json",
        "python3 make_update.py | statejournal update --from - --idempotency-key u-17",
    ]

    @ParentCommand var root: StateJournalCommand
    @Option(help: ArgumentHelp("The update JSON file, or - for stdin.", valueName: "file")) var from: String
    @OptionGroup(title: "Write options") var flags: WriteFlags
    @OptionGroup(title: "Global options") var trailing: GlobalOptions<Trailing>

    func run() throws {
        let source = from == "-" ? "stdin" : "'\(from)'"
        let update = try StateUpdate.parse(try InputFile.read(from, limit: InputFile.eventInputLimit), source: source)
        let manager = try global.manager(command: "update")
        try recordWrite(manager, flags) { try manager.update(update, options: flags.options) }
    }
}
