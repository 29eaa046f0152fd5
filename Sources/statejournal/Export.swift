import ArgumentParser
import StateJournal

/// `statejournal export`
struct Export: GlobalCommand {
    static let configuration = CommandConfiguration(
        commandName: "export", abstract: "Print every event as JSON Lines, oldest first.")

    @ParentCommand var root: StateJournalCommand
    @OptionGroup(title: "Global options") var trailing: GlobalOptions<Trailing>

    func run() throws {
        let manager = try global.existingManager(command: "export")
        var out = LineBuffer()
        for event in try manager.events() { out.append(event.json().compactString) }
        out.flush()
    }
}
