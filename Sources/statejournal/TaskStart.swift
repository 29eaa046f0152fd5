import ArgumentParser
import StateJournal

/// `statejournal task start ID`
struct TaskStart: WriteCommand {
    static let configuration = CommandConfiguration(commandName: "start", abstract: "Mark a pending or failed task in progress.")

    @ParentCommand var root: StateJournalCommand
    @Argument(help: "The task's id.") var id: String
    @OptionGroup var write: WriteOptions

    func run() throws { try perform("task start \(id)", .taskStarted(taskID: id)) }
}
