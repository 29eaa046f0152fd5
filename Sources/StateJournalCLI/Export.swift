import ArgumentParser
import StateJournal

/// `statejournal export`
struct Export: GlobalCommand, Exemplified {
    static let configuration = CommandConfiguration(
        commandName: "export", abstract: "Print every event as JSON Lines, oldest first.")

    static let examples = [
        "statejournal export > history.jsonl",
        "statejournal import history.jsonl --state copy/STATE.md   # a copy with the same history",
    ]

    @ParentCommand var root: StateJournalCommand
    @OptionGroup(title: "Global options") var trailing: GlobalOptions<Trailing>

    func run() throws {
        let manager = try global.existingManager(command: "export")
        var out = LineBuffer()
        for event in try manager.events() { out.append(event.json().compactString) }
        out.flush()
    }
}
