import ArgumentParser
import StateJournal

/// `statejournal clear`
struct Clear: GlobalCommand, Exemplified {
    static let configuration = CommandConfiguration(
        commandName: "clear",
        abstract: "Empty the workflow: no waves, tasks, notes or metadata (the earlier tool's clear()).",
        discussion: """
            The workflow keeps its id, name and start time; STATE.md shows it empty. Nothing is deleted: \
            the clear is a state.replaced event, and 'restore --seq N' (N the event before it) brings \
            everything back.
            """)

    static let examples = [
        "statejournal clear",
        "statejournal restore --seq 7     # back to the state before the clear (seq 8)",
    ]

    @ParentCommand var root: StateJournalCommand
    @OptionGroup(title: "Write options") var flags: WriteFlags
    @OptionGroup(title: "Global options") var trailing: GlobalOptions<Trailing>

    func run() throws {
        let manager = try global.existingManager(command: "clear")
        try recordWrite(manager, flags) { try manager.clear(options: flags.options) }
    }
}
