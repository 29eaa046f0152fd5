import ArgumentParser
import StateJournal

/// `statejournal note TEXT`
struct Note: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "note", abstract: "Append a note.")

    @OptionGroup var write: WriteOptions
    @Argument(help: "The note's text.") var text: String

    func run() throws { try write.perform("note", .noteAdded(text: text)) }
}
