import ArgumentParser
import StateJournal

/// `statejournal blame [--json]`
struct Blame: GlobalCommand, Exemplified {
    static let configuration = CommandConfiguration(
        commandName: "blame",
        abstract: "For each task, the event, actor and time of its last change.",
        discussion: """
            Tasks of the current state, in plan order. A bulk update or restore counts as a change \
            only for the tasks it made different. --json prints an array of \
            {"task_id", "seq", "type", "actor", "time"} (time in UTC, RFC 3339).
            """)

    static let examples = [
        "statejournal blame",
        "statejournal blame --json",
    ]

    @ParentCommand var root: StateJournalCommand
    @Flag(help: "Print a JSON array.") var json = false
    @OptionGroup(title: "Global options") var trailing: GlobalOptions<Trailing>

    func run() throws {
        let manager = try global.existingManager(command: "blame")
        let entries = try manager.blame()
        if json {
            Output.stdout(JSON.array(entries.map { $0.json() }).prettyString())
            return
        }
        guard !entries.isEmpty else {
            Output.stderr("no tasks in the workflow at '\(manager.statePath)'; nothing to blame")
            return
        }
        let zones = Set(entries.map { TimeArgument.zoneMarker($0.time) })
        let oneZone = zones.count == 1 ? zones.first : nil
        var table = TextTable("TASK", "SEQ", oneZone.map { "TIME (\($0))" } ?? "TIME", "ACTOR", "TYPE")
        for entry in entries {
            let time = entry.time.localDateTime + (oneZone == nil ? " " + TimeArgument.zoneMarker(entry.time) : "")
            table.add(.init(entry.taskID), .init(String(entry.seq), .dim), .init(time),
                      .init(Terminal.oneLine(entry.actor, limit: 40)), .init(entry.type, .cyan))
        }
        Output.stdout(table.lines().joined(separator: "\n"))
    }
}
