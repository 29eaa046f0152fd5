import ArgumentParser
import StateJournal

/// `statejournal task complete ID [--commit SHA] [--file PATH]...`
struct TaskComplete: OneEventCommand {
    static let configuration = CommandConfiguration(commandName: "complete", abstract: "Mark a task completed.")

    @OptionGroup var write: WriteOptions
    @ParentCommand var root: StateJournalCommand
    @Argument(help: "The task's id.") var id: String
    @Option(help: ArgumentHelp("The commit that completed it.", valueName: "sha")) var commit: String?
    @Option(name: .customLong("file"), help: ArgumentHelp("A file it changed (repeatable).", valueName: "path"))
    var files: [String] = []

    var event: OneEventWrite { .taskComplete(id: id, commit: commit, files: files) }
}
