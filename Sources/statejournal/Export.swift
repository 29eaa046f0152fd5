import ArgumentParser
import StateJournal

/// `statejournal export`
struct Export: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print every event as JSON Lines, oldest first.")

    @OptionGroup var global: GlobalOptions

    func run() throws {
        for event in try global.manager(command: "export").events() { Output.json(event.json()) }
    }
}
