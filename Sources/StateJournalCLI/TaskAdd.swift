import ArgumentParser
import StateJournal

/// `statejournal task add ID --wave N --description TEXT`
struct TaskAdd: OneEventCommand, Exemplified {
    static let configuration = CommandConfiguration(commandName: "add", abstract: "Add a pending task to a wave.")

    static let examples = [
        "statejournal task add task_4 --wave 2 --description \"Smoke test\"",
        "statejournal task add task_5 --wave 2 --after task_3 --after task_4",
    ]

    @ParentCommand var root: StateJournalCommand
    @Argument(help: "The new task's id.") var id: String
    @Option(help: ArgumentHelp("The wave (from 1).", valueName: "N")) var wave: Int
    @Option(help: ArgumentHelp("What the task does.", valueName: "text")) var description: String = ""
    @Option(help: ArgumentHelp("A task it depends on (repeatable, or comma-separated): it is ready only once they are completed.",
                               valueName: "id"))
    var after: [String] = []
    @OptionGroup var write: WriteOptions

    var event: OneEventWrite {
        .taskAdd(id: id, wave: wave, description: description,
                 after: after.flatMap { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) })
    }
}
