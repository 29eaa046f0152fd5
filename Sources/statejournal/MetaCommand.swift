import ArgumentParser
import StateJournal

/// `statejournal meta set KEY VALUE`
struct MetaCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "meta", abstract: "Set workflow metadata.",
                                                    subcommands: [MetaSet.self])
}

struct MetaSet: OneEventCommand {
    static let configuration = CommandConfiguration(commandName: "set", abstract: "Give a metadata key a value.")

    @OptionGroup var write: WriteOptions
    @ParentCommand var root: StateJournalCommand
    @Argument(help: "The key.") var key: String
    @Argument(help: "The value.") var value: String

    var event: OneEventWrite { .metaSet(key: key, value: value) }
}
