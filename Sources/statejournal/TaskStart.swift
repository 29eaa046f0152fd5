import ArgumentParser
import StateJournal

/// `statejournal task start ID`
struct TaskStart: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "start", abstract: "Mark a pending or failed task in progress.")

    @OptionGroup var write: WriteOptions
    @Argument(help: "The task's id.") var id: String

    func run() throws { try write.perform("task start \(id)", .taskStarted(taskID: id)) }
}
