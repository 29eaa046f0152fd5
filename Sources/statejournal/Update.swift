import ArgumentParser
import StateJournal

/// `statejournal update --from FILE`
struct Update: GlobalCommand {
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

    @OptionGroup var trailing: GlobalOptions<Trailing>
    @ParentCommand var root: StateJournalCommand
    @OptionGroup var flags: WriteFlags
    @Option(help: ArgumentHelp("The update JSON file, or - for stdin.", valueName: "file")) var from: String

    func run() throws {
        let source = from == "-" ? "stdin" : "'\(from)'"
        let update = try StateUpdate.parse(try InputFile.read(from, limit: InputFile.eventInputLimit), source: source)
        let manager = global.manager(command: "update")
        reportWrite(try manager.update(update, options: flags.options), flags, manager)
    }
}
