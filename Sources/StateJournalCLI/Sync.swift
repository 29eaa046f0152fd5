import ArgumentParser
import StateJournal

/// `statejournal sync`
struct Sync: GlobalCommand, Exemplified {
    static let configuration = CommandConfiguration(
        commandName: "sync",
        abstract: "Record an edit of STATE.md as events, then render STATE.md from the journal.",
        discussion: """
            Every command does this first; sync does it explicitly and says what it recorded. \
            The parts of the edit the journal changed differently since (or no event can express) \
            are kept in STATE.md.conflict-<UTC>, with the whole edited file.
            """)

    static let examples = [
        "statejournal sync --dry-run",
        "statejournal sync --json",
    ]

    @ParentCommand var root: StateJournalCommand
    @Flag(help: "Show the events it would record; write nothing.") var dryRun = false
    @Flag(help: "Print the result as JSON.") var json = false
    @OptionGroup(title: "Global options") var trailing: GlobalOptions<Trailing>

    func run() throws {
        let manager = try global.existingManager(command: "sync")
        let sync = try manager.syncEdits(dryRun: dryRun)
        if json {
            Output.json(.obj([
                "edited": .bool(sync != nil),
                "dry_run": .bool(dryRun),
                "base_seq": sync.map { .int(Int64($0.baseSeq)) } ?? .null,
                "events": .array((sync?.events ?? []).map { $0.json() }),
                "conflicts": .array((sync?.conflicts ?? []).map {
                    .obj(["item": .string($0.item), "edit": .string($0.edit), "journal": .string($0.journal), "reason": .string($0.reason)])
                }),
                "unread_lines": .array((sync?.unreadLines ?? []).map { .obj(["line": .int(Int64($0.line)), "text": .string($0.text)]) }),
                "conflict_file": sync?.conflictFile.map { .string($0) } ?? .null,
            ]))
            return
        }
        guard let sync else {
            Output.stderr("\(manager.statePath) holds no edit; it shows the journal")
            return
        }
        let verb = dryRun ? "would record" : "recorded"
        if sync.events.isEmpty {
            Output.stderr("\(manager.statePath) was edited (from seq \(sync.baseSeq)); \(verb) no event")
        } else {
            Output.stderr("\(manager.statePath) was edited (from seq \(sync.baseSeq)); \(verb) \(sync.events.count) event\(sync.events.count == 1 ? "" : "s"):")
            for event in sync.events { Output.stdout("\(event.seq) \(event.payload.typeName) \(event.summary)") }
        }
        for conflict in sync.conflicts {
            Output.stderr("not recorded: \(conflict.item): the edit says \(conflict.edit), the journal \(conflict.journal) (\(conflict.reason))")
        }
        for line in sync.unreadLines { Output.stderr("not understood: line \(line.line): \(line.text)") }
        if let file = sync.conflictFile { Output.warning("parts of the edit were not recorded; they are kept in \(file)") }
    }
}
