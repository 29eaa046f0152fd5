import ArgumentParser
import StateJournal

/// `statejournal migrate --to URL|PATH`
struct Migrate: GlobalCommand, Exemplified {
    static let configuration = CommandConfiguration(
        commandName: "migrate",
        abstract: "Copy the journal, with its whole history, to a PostgreSQL server or back to files.",
        discussion: """
            Copies every event of the journal the global options name (the files beside --state, or \
            --store/STATEJOURNAL_STORE) into an empty journal at the target: a postgres:// URL (the \
            password from PGPASSWORD or ~/.pgpass), or the path of a STATE.md whose journal is to be \
            made beside it. The copy is one transaction (one durable append for files): an interrupted \
            migrate leaves the target empty, and running it again starts over. Every event is then read \
            back from the target and compared with the source, checksum and content; the source is \
            never changed. Stop the writers first: events written during the copy stay in the source \
            only (migrate says how many it copied).
            """)

    static let examples = [
        "PGPASSWORD=… statejournal migrate --to 'postgres://agents@db.internal:5432/work?workflow=wf_1'",
        "statejournal --store 'postgres://agents@db.internal/work?workflow=wf_1' migrate --to back/STATE.md",
    ]

    @Option(help: ArgumentHelp("Where to copy the journal: postgres://USER@HOST:PORT/DB?workflow=NAME, or a STATE.md path.",
                               valueName: "url-or-path"))
    var to: String

    @Flag(help: "Print the result as JSON.") var json = false

    @ParentCommand var root: StateJournalCommand
    @OptionGroup(title: "Global options") var trailing: GlobalOptions<Trailing>

    func run() throws {
        let source = try global.existingManager(command: "migrate")
        let events = try source.events()
        guard !events.isEmpty else {
            throw StateJournalError.badInput("the journal at \(source.makeStore().location) holds no events; nothing to migrate")
        }
        var settings = global.settings
        if StoreOpener.isPostgresURL(to) {
            settings.store = to
        } else {
            guard settings.storeURL != nil || !isSameFile(to, settings.statePath) else {
                throw StateJournalError.badInput("--to names the journal migrate reads from; give another STATE.md path")
            }
            settings.store = nil
            settings.filesOnly = true
            settings.state = to
        }
        let target = try settings.manager(command: "migrate")
        let sourceName = source.makeStore().location
        let (state, _) = try settings.withStateDirectory {
            try target.appendHistory(events, source: "the journal at \(sourceName)", options: .init(expectSeq: 0))
        }
        // Event by event: what the target holds is what the source held.
        let copied = try target.events()
        guard copied.count == events.count else {
            throw StateJournalError(.corruption, "the target holds \(copied.count) events after the copy, the source \(events.count); do not use the target")
        }
        for (a, b) in zip(events, copied) where a != b || a.identity != b.identity {
            throw StateJournalError(.corruption, "event seq \(a.seq) differs between the source and the target after the copy; do not use the target")
        }
        let targetName = target.makeStore().location
        if json {
            Output.stdout(JSON.obj(["migrated": .int(Int64(events.count)), "last_seq": .int(Int64(state.seq)),
                                    "from": .string(sourceName), "to": .string(targetName)]).compactString)
        } else {
            Output.stdout("migrated \(events.count) events (seq 1…\(state.seq)) from \(sourceName) to \(targetName); every event verified")
        }
    }

    private func isSameFile(_ a: String, _ b: String) -> Bool {
        a == b || (a.hasPrefix("./") ? String(a.dropFirst(2)) : a) == (b.hasPrefix("./") ? String(b.dropFirst(2)) : b)
    }
}
