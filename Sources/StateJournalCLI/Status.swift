import ArgumentParser
import StateJournal

/// `statejournal status [-n N] [--json]`
struct Status: GlobalCommand, Exemplified {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "A summary for people: the wave, task counts, who is working on what, the last events.",
        discussion: """
            Progress counts completed tasks over all tasks. An in-progress task's owner is the actor \
            that claimed it (task claim), else the actor of the last event that changed it (as blame \
            finds it). --json prints the same as one object.
            """)

    static let examples = [
        "statejournal status",
        "statejournal status -n 10 --json",
    ]

    @ParentCommand var root: StateJournalCommand
    @Option(name: [.customShort("n"), .customLong("events")], help: ArgumentHelp("Show the last N events (default: 5).", valueName: "N"))
    var events: Int = 5
    @Flag(help: "Print JSON.") var json = false
    @OptionGroup(title: "Global options") var trailing: GlobalOptions<Trailing>

    func validate() throws {
        if events < 0 { throw ValidationError("-n/--events must be 0 or more") }
    }

    func run() throws {
        let manager = try global.existingManager(command: "status")
        guard let state = try manager.loadState() else { throw CLIError.noWorkflow(at: manager.statePath) }
        var owners: [String: BlameEntry] = [:]
        let inProgress = state.tasks(withStatus: .inProgress)
        if !inProgress.isEmpty {
            let wanted = Set(inProgress.map(\.id))
            for entry in try manager.blame() where wanted.contains(entry.taskID) { owners[entry.taskID] = entry }
        }
        let last = try manager.lastEvents(events)
        let counts = Dictionary(grouping: state.tasks, by: \.status).mapValues(\.count)
        func count(_ status: TaskStatus) -> Int { counts[status] ?? 0 }
        let total = state.tasks.count
        let percent = Progress.percent(count(.completed), of: total)
        let failed = state.tasks(withStatus: .failed)

        if json {
            Output.stdout(JSON.obj([
                "workflow_id": .string(state.workflowID),
                "workflow_name": .string(state.name),
                "current_wave": .int(Int64(state.currentWave)),
                "total_waves": .int(Int64(state.totalWaves)),
                "seq": .int(Int64(state.seq)),
                "updated": .string(state.updated.rfc3339),
                "tasks": .obj([
                    "total": .int(Int64(total)), "completed": .int(Int64(count(.completed))),
                    "in_progress": .int(Int64(count(.inProgress))), "pending": .int(Int64(count(.pending))),
                    "failed": .int(Int64(count(.failed))),
                ]),
                "percent_completed": .int(Int64(percent)),
                "in_progress": .array(inProgress.map { task in
                    let owner = owners[task.id]
                    return .obj(["task_id": .string(task.id), "wave": .int(Int64(task.wave)), "description": .string(task.description),
                                 "actor": (task.owner ?? owner?.actor).map { .string($0) } ?? .null,
                                 "since": owner.map { .string($0.time.rfc3339) } ?? .null,
                                 "lease_expires": task.leaseExpires.map { .string($0.rfc3339) } ?? .null])
                }),
                "failed": .array(failed.map { .obj(["task_id": .string($0.id), "wave": .int(Int64($0.wave)), "error": .string($0.error ?? "")]) }),
                "last_events": .array(last.map { $0.json() }),
            ]).prettyString())
            return
        }
        let now = Timestamp.now()
        var out: [String] = []
        out.append(Terminal.paint(Terminal.oneLine(state.name), .bold) + " (\(state.workflowID))")
        out.append("wave \(state.currentWave) of \(state.totalWaves) · seq \(state.seq) · updated \(state.updated.localDateTime) "
                   + "\(TimeArgument.zoneMarker(state.updated)) (\(TimeArgument.ago(state.updated, now: now)))")
        var parts = ["\(count(.completed)) of \(total) task\(total == 1 ? "" : "s") completed (\(percent)%)"]
        let open = [(count(.inProgress), "in progress"), (count(.pending), "pending"), (count(.failed), "failed")]
            .filter { $0.0 > 0 }.map { "\($0.0) \($0.1)" }
        if !open.isEmpty { parts.append(open.joined(separator: ", ")) }
        out.append("progress: " + parts.joined(separator: "; "))
        if !inProgress.isEmpty {
            out.append("")
            out.append(Terminal.paint("In progress", .yellow))
            var table = TextTable("TASK", "WAVE", "OWNER", "SINCE", "DESCRIPTION")
            for task in inProgress {
                let owner = owners[task.id]
                let expired = task.owner != nil && !task.isClaimed(at: now) ? " (lease expired)" : ""
                table.add(.init(task.id), .init(String(task.wave)), .init((task.owner ?? owner?.actor ?? "?") + expired),
                          .init(owner.map { TimeArgument.ago($0.time, now: now) } ?? "?"), .init(Terminal.oneLine(task.description, limit: 50)))
            }
            out += table.lines().map { "  " + $0 }
        }
        if !failed.isEmpty {
            out.append("")
            out.append(Terminal.paint("Failed", .red))
            var table = TextTable("TASK", "WAVE", "ERROR")
            for task in failed { table.add(.init(task.id), .init(String(task.wave)), .init(Terminal.oneLine(task.error ?? "", limit: 60))) }
            out += table.lines().map { "  " + $0 }
        }
        if !last.isEmpty {
            out.append("")
            out.append(Terminal.paint("Last events", .bold))
            out += eventTable(last).map { "  " + $0 }
        }
        Output.stdout(out.joined(separator: "\n"))
    }
}
