import ArgumentParser
import StateJournal

/// `statejournal task fail ID --error TEXT`
struct TaskFail: WriteCommand {
    static let configuration = CommandConfiguration(commandName: "fail", abstract: "Mark a task failed, with the error.")

    @OptionGroup var write: WriteOptions
    @ParentCommand var root: StateJournalCommand
    @Argument(help: "The task's id.") var id: String
    @Option(help: ArgumentHelp("What went wrong.", valueName: "text")) var error: String

    func run() throws { try perform("task fail \(id)", .taskFailed(taskID: id, error: error)) }
}
