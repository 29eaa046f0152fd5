import ArgumentParser
import StateJournal

/// `statejournal meta set KEY VALUE`
struct MetaCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "meta", abstract: "Set workflow metadata.",
                                                    subcommands: [MetaSet.self])
}

struct MetaSet: OneEventCommand, Exemplified {
    static let configuration = CommandConfiguration(commandName: "set", abstract: "Give a metadata key a value.")

    static let examples = [
        "statejournal meta set branch main",
    ]

    @ParentCommand var root: StateJournalCommand
    @Argument(help: "The key.") var key: String
    @Argument(help: "The value.") var value: String
    @OptionGroup var write: WriteOptions

    var event: OneEventWrite { .metaSet(key: key, value: value) }
}
