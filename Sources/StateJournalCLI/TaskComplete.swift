import ArgumentParser
import StateJournal

/// `statejournal task complete ID [--commit SHA] [--file PATH]...`
struct TaskComplete: OneEventCommand, Exemplified {
    static let configuration = CommandConfiguration(commandName: "complete", abstract: "Mark a task completed.")

    static let examples = [
        "statejournal task complete task_1 --commit abc1234 --file db/schema.sql --actor agent-3",
    ]

    @ParentCommand var root: StateJournalCommand
    @Argument(help: "The task's id.") var id: String
    @Option(help: ArgumentHelp("The commit that completed it.", valueName: "sha")) var commit: String?
    @Option(name: .customLong("file"), help: ArgumentHelp("A file it changed (repeatable).", valueName: "path"))
    var files: [String] = []
    @Flag(help: "Complete it although another actor's live claim holds it (recorded in the event).") var force = false
    @OptionGroup var write: WriteOptions

    var event: OneEventWrite { .taskComplete(id: id, commit: commit, files: files, force: force) }
}
