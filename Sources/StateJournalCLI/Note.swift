import ArgumentParser
import StateJournal

/// `statejournal note TEXT`
struct Note: OneEventCommand, Exemplified {
    static let configuration = CommandConfiguration(
        commandName: "note", abstract: "Append a note.")

    static let examples = [
        "statejournal note \"tax tables frozen\"",
        "statejournal note -- \"-1 retries left\"   # text that starts with -",
    ]

    @ParentCommand var root: StateJournalCommand
    @Argument(help: "The note's text.") var text: String
    @OptionGroup var write: WriteOptions

    var event: OneEventWrite { .note(text: text) }
}
