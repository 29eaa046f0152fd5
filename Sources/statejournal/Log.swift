import ArgumentParser
import StateJournal

/// `statejournal log [--by ACTOR] [--task ID] [--type T] [--since TIME] [--until TIME] [--json]`
struct Log: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the audit trail, one event a line, oldest first.")

    @OptionGroup var global: GlobalOptions
    @Option(help: ArgumentHelp("Only events by this actor.", valueName: "actor")) var by: String?
    @Option(help: ArgumentHelp("Only events about this task.", valueName: "id")) var task: String?
    @Option(help: ArgumentHelp("Only events of this type, e.g. task.completed.", valueName: "type")) var type: String?
    @Option(help: ArgumentHelp("Only events at or after TIME.", valueName: "time")) var since: String?
    @Option(help: ArgumentHelp("Only events at or before TIME.", valueName: "time")) var until: String?
    @Flag(help: "Print JSON Lines.") var json = false

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
        let manager = global.manager(command: "log")
        for event in try manager.events(matching: filter) {
            if json {
                Output.json(event.json())
            } else {
                let task = event.payload.taskIDs.count == 1 ? event.payload.taskIDs[0] : ""
                Output.stdout("\(event.seq)\t\(event.time.localDateTime)\t\(event.actor)\t\(event.payload.typeName)\t\(task)")
            }
        }
    }
}
