import ArgumentParser
import StateJournal

/// `statejournal log [-n N] [--reverse] [--oneline] [--by ACTOR] [--task ID] [--type T] [--since TIME] [--until TIME] [--json] [--no-pager]`
struct Log: GlobalCommand, Exemplified {
    static let configuration = CommandConfiguration(
        commandName: "log", abstract: "Print the audit trail, one event a line, oldest first.",
        discussion: """
            A table for people (local times, the zone in the TIME header; colour and a pager on a \
            terminal), one line an event with --oneline, or JSON Lines with --json (seq, time in UTC, \
            actor, pid, type and the payload's fields). --since and --until are inclusive and take \
            RFC 3339, 'YYYY-MM-DD HH:MM:SS', a date (2026-11-29: from its start, or --until its end), \
            a time ago (30m, 2h, 1d, 1w, '3 days ago'), today, yesterday or now. -n N keeps the N \
            newest events that match.
            """)

    static let examples = [
        "statejournal log -n 10                   # the last ten events",
        "statejournal log --by agent-3 --since 2h",
        "statejournal log --task task_1 --oneline --reverse",
    ]

    @ParentCommand var root: StateJournalCommand
    @Option(name: [.customShort("n"), .customLong("limit")], help: ArgumentHelp("Only the N newest matching events.", valueName: "N"))
    var limit: Int?
    @Flag(help: "Newest first.") var reverse = false
    @Flag(help: "One line an event: seq, type and summary.") var oneline = false
    @Option(help: ArgumentHelp("Only events by this actor.", valueName: "actor")) var by: String?
    @Option(help: ArgumentHelp("Only events about this task.", valueName: "id")) var task: String?
    @Option(help: ArgumentHelp("Only events of this type, e.g. task.completed.", valueName: "type")) var type: String?
    @Option(help: ArgumentHelp("Only events at or after TIME (e.g. 2h, yesterday, 2026-11-29).", valueName: "time")) var since: String?
    @Option(help: ArgumentHelp("Only events at or before TIME.", valueName: "time")) var until: String?
    @Flag(help: "Print JSON Lines.") var json = false
    @Flag(name: .customLong("no-pager"), help: "Do not page the output on a terminal.") var noPager = false
    @OptionGroup(title: "Global options") var trailing: GlobalOptions<Trailing>

    func validate() throws {
        for (name, value, role) in [("--since", since, TimeArgument.Role.start), ("--until", until, .end)] {
            if let value, TimeArgument.parse(value, as: role) == nil {
                throw ValidationError("\(name) '\(value)' is not a time; use \(TimeArgument.forms)")
            }
        }
        if let type, !Event.Payload.allTypeNames.contains(type) {
            let guess = Suggestion.didYouMean(type, in: Event.Payload.allTypeNames).map { "; \($0)" } ?? ""
            throw ValidationError("unknown event type '\(type)'\(guess) (one of: \(Event.Payload.allTypeNames.joined(separator: ", ")))")
        }
        if let limit, limit < 0 { throw ValidationError("-n/--limit must be 0 or more") }
        if oneline && json { throw ValidationError("give --oneline or --json, not both") }
    }

    func run() throws {
        let now = Timestamp.now()
        let filter = EventFilter(actor: by, taskID: task, type: type,
                                 since: since.flatMap { TimeArgument.parse($0, as: .start, now: now) },
                                 until: until.flatMap { TimeArgument.parse($0, as: .end, now: now) })
        let manager = try global.existingManager(command: "log")
        var events: [Event] = []
        if let limit, by == nil, task == nil, type == nil, since == nil, until == nil {
            // -n without filters: only the tail of the journal is read.
            events = try manager.lastEvents(limit)
        } else {
            // -n: a window of the newest matches, never the whole history in memory.
            try manager.forEachEvent(matching: filter) { event in
                events.append(event)
                if let limit, events.count > max(2 * limit, 1024) { events.removeFirst(events.count - limit) }
            }
            if let limit { events = Array(events.suffix(limit)) }
        }
        if reverse { events.reverse() }
        if json {
            var out = LineBuffer()
            for event in events { out.append(event.json().compactString) }
            out.flush()
            return
        }
        guard !events.isEmpty else {
            var why = "no events match"
            if let task, let state = try? manager.loadState(), state.task(task) == nil {
                why += "; the workflow has no task '\(task)'"
                if let guess = Suggestion.didYouMean(task, in: state.tasks.lazy.map(\.id)) { why += " (\(guess))" }
            }
            Output.stderr(why)
            return
        }
        let lines = oneline ? events.map(onelineText) : eventTable(events)
        let pager = Pager.start(disabled: noPager)
        var out = LineBuffer()
        for line in lines { out.append(line) }
        out.flush()
        pager?.finish()
    }

    private func onelineText(_ event: Event) -> String {
        Terminal.paint(String(event.seq), .dim) + " " + Terminal.paint(event.payload.typeName, event.typeStyle) + " " + event.summary
            + (event.via == nil ? "" : " (" + event.viaLabel + ")")
    }
}

/// The table of events `log` and `status` print: local times, with the time
/// zone in the TIME header (or after each time, when the events span a
/// change of zone, e.g. summer time).
func eventTable(_ events: [Event]) -> [String] {
    let zones = Set(events.map { TimeArgument.zoneMarker($0.time) })
    let oneZone = zones.count == 1 ? zones.first : nil
    var table = TextTable("SEQ", oneZone.map { "TIME (\($0))" } ?? "TIME", "ACTOR", "TYPE", "TASK / SUMMARY")
    for event in events {
        let time = event.time.localDateTime + (oneZone == nil ? " " + TimeArgument.zoneMarker(event.time) : "")
        table.add(.init(String(event.seq), .dim), .init(time), .init(Terminal.oneLine(event.actor, limit: 40) + (event.via == nil ? "" : " (" + event.viaLabel + ")")),
                  .init(event.payload.typeName, event.typeStyle), .init(event.summary))
    }
    return table.lines()
}
