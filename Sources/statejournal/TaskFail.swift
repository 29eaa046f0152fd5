import ArgumentParser
import StateJournal

/// `statejournal task fail ID --error TEXT`
struct TaskFail: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "fail", abstract: "Mark a task failed, with the error.")

    @OptionGroup var write: WriteOptions
    @Argument(help: "The task's id.") var id: String
    @Option(help: ArgumentHelp("What went wrong.", valueName: "text")) var error: String

    func run() throws { try write.perform("task fail \(id)", .taskFailed(taskID: id, error: error)) }
}
