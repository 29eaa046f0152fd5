import ArgumentParser
import StateJournal

/// `statejournal note TEXT`
struct Note: GlobalCommand {
    static let configuration = CommandConfiguration(
        commandName: "note", abstract: "Append a note.")

    @OptionGroup var trailing: GlobalOptions<Trailing>
    @ParentCommand var root: StateJournalCommand
    @OptionGroup var flags: WriteFlags
    @Argument(help: "The note's text.") var text: String

    func run() throws {
        try performWrite(global, flags, command: "note", .noteAdded(text: text))
    }
}
