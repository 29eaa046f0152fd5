import ArgumentParser
import StateJournal

/// `statejournal task fail ID --error TEXT`
struct TaskFail: WriteCommand, Exemplified {
    static let configuration = CommandConfiguration(commandName: "fail", abstract: "Mark a task failed, with the error.")

    static let examples = [
        "statejournal task fail task_2 --error \"migration timed out\"",
    ]

    @ParentCommand var root: StateJournalCommand
    @Argument(help: "The task's id.") var id: String
    @Option(help: ArgumentHelp("What went wrong.", valueName: "text")) var error: String
    @OptionGroup var write: WriteOptions

    func run() throws { try perform("task fail \(id)", .taskFailed(taskID: id, error: error)) }
}
