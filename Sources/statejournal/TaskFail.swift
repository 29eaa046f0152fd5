import ArgumentParser
import StateJournal

/// `statejournal task fail ID --error TEXT`
struct TaskFail: GlobalCommand {
    static let configuration = CommandConfiguration(commandName: "fail", abstract: "Mark a task failed, with the error.")

    @OptionGroup var trailing: GlobalOptions<Trailing>
    @ParentCommand var root: StateJournalCommand
    @OptionGroup var flags: WriteFlags
    @Argument(help: "The task's id.") var id: String
    @Option(help: ArgumentHelp("What went wrong.", valueName: "text")) var error: String

    func run() throws {
        try performWrite(global, flags, command: "task fail \(id)", .taskFailed(taskID: id, error: error))
    }
}
