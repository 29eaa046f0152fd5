import ArgumentParser
import StateJournal

/// `statejournal note TEXT`
struct Note: WriteCommand {
    static let configuration = CommandConfiguration(
        commandName: "note", abstract: "Append a note.")

    @ParentCommand var root: StateJournalCommand
    @Argument(help: "The note's text.") var text: String
    @OptionGroup var write: WriteOptions

    func run() throws { try perform("note", .noteAdded(text: text)) }
}
