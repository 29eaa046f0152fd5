import ArgumentParser
import StateJournal

/// `statejournal export`
struct Export: GlobalCommand {
    static let configuration = CommandConfiguration(
        commandName: "export", abstract: "Print every event as JSON Lines, oldest first.")

    @OptionGroup var trailing: GlobalOptions<Trailing>
    @ParentCommand var root: StateJournalCommand

    func run() throws {
        let manager = global.manager(command: "export")
        var out = LineBuffer()
        for event in try manager.events() { out.append(event.json().compactString) }
        out.flush()
    }
}
