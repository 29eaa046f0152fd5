import ArgumentParser
import StateJournal

/// `statejournal task start ID`
struct TaskStart: OneEventCommand, Exemplified {
    static let configuration = CommandConfiguration(commandName: "start", abstract: "Mark a pending or failed task in progress.")

    static let examples = [
        "statejournal task start task_1 --actor agent-3",
        "statejournal task start task_1 --idempotency-key start-task_1 --json",
    ]

    @ParentCommand var root: StateJournalCommand
    @Argument(help: "The task's id.") var id: String
    @OptionGroup var write: WriteOptions

    var event: OneEventWrite { .taskStart(id: id) }
}
