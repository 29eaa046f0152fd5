import ArgumentParser
import StateJournal

/// `statejournal meta set KEY VALUE`
struct MetaCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "meta", abstract: "Set workflow metadata.",
                                                    subcommands: [MetaSet.self])
}

struct MetaSet: GlobalCommand {
    static let configuration = CommandConfiguration(commandName: "set", abstract: "Give a metadata key a value.")

    @OptionGroup var trailing: GlobalOptions<Trailing>
    @ParentCommand var root: StateJournalCommand
    @OptionGroup var flags: WriteFlags
    @Argument(help: "The key.") var key: String
    @Argument(help: "The value.") var value: String

    func run() throws {
        try performWrite(global, flags, command: "meta set \(key)", .metadataSet(key: key, value: value))
    }
}
