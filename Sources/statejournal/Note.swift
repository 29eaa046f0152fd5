import ArgumentParser
import StateJournal

/// `statejournal note TEXT`
struct Note: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "note", abstract: "Append a note.")

    @OptionGroup var global: GlobalOptions
    @OptionGroup var flags: WriteFlags
    @Argument(help: "The note's text.") var text: String

    func run() throws {
        try performWrite(global, flags, command: "note", .noteAdded(text: text))
    }
}
