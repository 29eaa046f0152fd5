import ArgumentParser
import StateJournal

/// `statejournal task start ID`
struct TaskStart: GlobalCommand {
    static let configuration = CommandConfiguration(commandName: "start", abstract: "Mark a pending or failed task in progress.")

    @OptionGroup var trailing: GlobalOptions<Trailing>
    @ParentCommand var root: StateJournalCommand
    @OptionGroup var flags: WriteFlags
    @Argument(help: "The task's id.") var id: String

    func run() throws {
        try performWrite(global, flags, command: "task start \(id)", .taskStarted(taskID: id))
    }
}
