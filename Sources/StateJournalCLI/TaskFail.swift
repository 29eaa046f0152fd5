import ArgumentParser
import StateJournal

/// `statejournal task fail ID --error TEXT`
struct TaskFail: OneEventCommand, Exemplified {
    static let configuration = CommandConfiguration(commandName: "fail", abstract: "Mark a task failed, with the error.")

    static let examples = [
        "statejournal task fail task_2 --error \"migration timed out\"",
    ]

    @ParentCommand var root: StateJournalCommand
    @Argument(help: "The task's id.") var id: String
    @Option(help: ArgumentHelp("What went wrong.", valueName: "text")) var error: String
    @Flag(help: "Fail it although another actor's live claim holds it (recorded in the event).") var force = false
    @OptionGroup var write: WriteOptions

    var event: OneEventWrite { .taskFail(id: id, error: error, force: force) }
}
