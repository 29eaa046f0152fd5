import ArgumentParser
import StateJournal

/// `statejournal log [--by ACTOR] [--task ID] [--type T] [--since TIME] [--until TIME] [--json]`
struct Log: GlobalCommand {
    static let configuration = CommandConfiguration(
        commandName: "log", abstract: "Print the audit trail, one event a line, oldest first.",
        discussion: """
            A table for people (local times; colour on a terminal), or JSON Lines with --json \
            (seq, time in UTC, actor, pid, type and the payload's fields). --since and --until are inclusive.
            """)

    @ParentCommand var root: StateJournalCommand
    @Option(help: ArgumentHelp("Only events by this actor.", valueName: "actor")) var by: String?
    @Option(help: ArgumentHelp("Only events about this task.", valueName: "id")) var task: String?
    @Option(help: ArgumentHelp("Only events of this type, e.g. task.completed.", valueName: "type")) var type: String?
    @Option(help: ArgumentHelp("Only events at or after TIME.", valueName: "time")) var since: String?
    @Option(help: ArgumentHelp("Only events at or before TIME.", valueName: "time")) var until: String?
    @Flag(help: "Print JSON Lines.") var json = false
    @OptionGroup(title: "Global options") var trailing: GlobalOptions<Trailing>

    func validate() throws {
        for (name, value) in [("--since", since), ("--until", until)] {
            if let value, Timestamp(parsing: value) == nil {
                throw ValidationError("\(name) '\(value)' is not a time; use RFC 3339 (2026-11-20T10:00:00Z) or 'YYYY-MM-DD HH:MM:SS'")
            }
        }
        if let type, !Event.Payload.allTypeNames.contains(type) {
            throw ValidationError("unknown event type '\(type)'; one of: \(Event.Payload.allTypeNames.joined(separator: ", "))")
        }
    }

    func run() throws {
        let filter = EventFilter(actor: by, taskID: task, type: type,
                                 since: since.flatMap(Timestamp.init(parsing:)), until: until.flatMap(Timestamp.init(parsing:)))
        let manager = try global.existingManager(command: "log")
        let events = try manager.events(matching: filter)
        if json {
            var out = LineBuffer()
            for event in events { out.append(event.json().compactString) }
            out.flush()
            return
        }
        guard !events.isEmpty else {
            Output.stderr("no events match")
            return
        }
        var table = TextTable("SEQ", "TIME", "ACTOR", "TYPE", "TASK / SUMMARY")
        for event in events {
            table.add(.init(String(event.seq), .dim), .init(event.time.localDateTime), .init(event.actor),
                      .init(event.payload.typeName, event.typeStyle), .init(event.summary))
        }
        Output.stdout(table.lines().joined(separator: "\n"))
    }
}
