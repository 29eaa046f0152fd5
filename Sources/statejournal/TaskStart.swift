import ArgumentParser
import StateJournal

/// `statejournal task start ID`
struct TaskStart: OneEventCommand {
    static let configuration = CommandConfiguration(commandName: "start", abstract: "Mark a pending or failed task in progress.")

    @OptionGroup var write: WriteOptions
    @ParentCommand var root: StateJournalCommand
    @Argument(help: "The task's id.") var id: String

    var event: OneEventWrite { .taskStart(id: id) }
}
