import ArgumentParser
import StateJournal

/// `statejournal compact`
struct Compact: GlobalCommand, Exemplified {
    static let configuration = CommandConfiguration(
        commandName: "compact",
        abstract: "Fold now: seal and compress the active segment, write a snapshot, rewrite STATE.md.")

    static let examples = [
        "statejournal compact",
    ]

    @ParentCommand var root: StateJournalCommand
    @Flag(help: "Print the result as JSON.") var json = false
    @OptionGroup(title: "Global options") var trailing: GlobalOptions<Trailing>

    func run() throws {
        let manager = try global.existingManager(command: "compact")
        let seq = try manager.compact()
        if json {
            Output.json(.obj(["seq": .int(Int64(seq))]))
        } else {
            Output.stderr("compacted \(manager.statePath) at seq \(seq)")
        }
    }
}
