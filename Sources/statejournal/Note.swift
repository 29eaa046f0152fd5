import ArgumentParser
import StateJournal

/// `statejournal note TEXT`
struct Note: OneEventCommand {
    static let configuration = CommandConfiguration(
        commandName: "note", abstract: "Append a note.")

    @OptionGroup var write: WriteOptions
    @ParentCommand var root: StateJournalCommand
    @Argument(help: "The note's text.") var text: String

    var event: OneEventWrite { .note(text: text) }
}
