import ArgumentParser
import StateJournal

/// `statejournal note TEXT`
struct Note: WriteCommand, Exemplified {
    static let configuration = CommandConfiguration(
        commandName: "note", abstract: "Append a note.")

    static let examples = [
        "statejournal note \"tax tables frozen\"",
        "statejournal note -- \"-1 retries left\"   # text that starts with -",
    ]

    @ParentCommand var root: StateJournalCommand
    @Argument(help: "The note's text.") var text: String
    @OptionGroup var write: WriteOptions

    func run() throws { try perform("note", .noteAdded(text: text)) }
}
