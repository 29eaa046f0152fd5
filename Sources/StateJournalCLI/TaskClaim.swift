import ArgumentParser
import StateJournal

/// `statejournal task claim [ID] [--lease DURATION|none] [--force] [--json]`
struct TaskClaim: WriteCommand, Exemplified {
    static let configuration = CommandConfiguration(
        commandName: "claim",
        abstract: "Claim a task for the actor, with a lease: the named one, or the first ready one.",
        discussion: """
            Without ID: the first task in plan order that is ready (pending, its dependencies completed, \
            its wave at most the current one) or whose claim's lease has expired. Prints the task's id on \
            stdout. Exit 4, with the reason, when nothing is ready or the task cannot be claimed \
            (--json: {"claimed": null, "reason": "…"} on stdout). See Docs/AGENTS.md.
            """)

    static let examples = [
        "statejournal task claim --actor agent-3                 # the next ready task, 15 minutes",
        "statejournal task claim task_2 --lease 1h --actor agent-3",
        "statejournal task claim --lease none --json --actor agent-3",
    ]

    @ParentCommand var root: StateJournalCommand
    @Argument(help: "The task to claim (default: the first ready one).") var id: String?
    @Option(help: ArgumentHelp("How long the claim holds without a heartbeat: 30s, 15m, 2h, 1d, 1h30m, or none (default: 15m).",
                               valueName: "duration"))
    var lease: String = "15m"
    @Flag(help: "Take the task over although another actor's live claim holds it (recorded in the event).") var force = false
    @OptionGroup var write: WriteOptions

    func run() throws {
        let duration = try LeaseDuration(parsing: lease)
        let manager = try global.existingManager(command: "task claim" + (id.map { " " + $0 } ?? ""))
        let outcome: ClaimOutcome
        do {
            outcome = try manager.claim(id, lease: duration, force: force, options: flags.options)
        } catch let error as StateJournalError where error.code == .conflict && flags.json {
            Output.json(ClaimOutcome.refusalJSON(error.message))
            throw ExitCode(4)
        } catch let error as StateJournalError where error.durableSeq != nil {
            // Claimed, but STATE.md could not be rewritten: the claim stands.
            try recordWrite(manager, flags) { throw error }
            return
        }
        reportClaim(outcome, manager: manager, json: flags.json)
    }
}

/// What `task claim` and `task heartbeat` print: the task's id on stdout
/// (JSON: the event, `claimed` — the task — and `duplicate`), the event on
/// stderr.
func reportClaim(_ outcome: ClaimOutcome, manager: StateManager, json: Bool) {
    if json {
        Output.json(outcome.json())
        return
    }
    Output.stdout(outcome.task.id)
    let what = outcome.write.wasDuplicate ? "already recorded as" : "recorded"
    var detail = "\(outcome.task.id) by \(outcome.task.owner ?? manager.configuration.actor), "
        + Event.leaseText(outcome.task.leaseExpires)
    if let previous = outcome.previousOwner { detail += ", from \(previous)" }
    Output.stderr("\(outcome.write.event.payload.typeName) \(what) seq \(outcome.write.event.seq) in \(manager.statePath) (\(detail))")
}

/// `statejournal task heartbeat ID [--lease DURATION|none]`
struct TaskHeartbeat: WriteCommand, Exemplified {
    static let configuration = CommandConfiguration(
        commandName: "heartbeat",
        abstract: "Extend the lease of a task the actor has claimed.",
        discussion: "The lease then ends DURATION after now. Exit 4 when the task is not claimed, or claimed by another actor.")

    static let examples = [
        "statejournal task heartbeat task_2 --actor agent-3",
        "statejournal task heartbeat task_2 --lease 1h --actor agent-3",
    ]

    @ParentCommand var root: StateJournalCommand
    @Argument(help: "The task's id.") var id: String
    @Option(help: ArgumentHelp("The new lease, from now (default: 15m).", valueName: "duration")) var lease: String = "15m"
    @OptionGroup var write: WriteOptions

    func run() throws {
        let duration = try LeaseDuration(parsing: lease)
        let manager = try global.existingManager(command: "task heartbeat \(id)")
        let outcome: ClaimOutcome
        do {
            outcome = try manager.heartbeat(id, lease: duration, options: flags.options)
        } catch let error as StateJournalError where error.durableSeq != nil {
            try recordWrite(manager, flags) { throw error }
            return
        }
        if flags.json {
            reportClaim(outcome, manager: manager, json: true)
        } else {
            reportWrite(outcome.write, flags, manager, extra: " (\(Event.leaseText(outcome.task.leaseExpires)))")
        }
    }
}

/// `statejournal task release ID [--force]`
struct TaskRelease: WriteCommand, Exemplified {
    static let configuration = CommandConfiguration(
        commandName: "release",
        abstract: "Give a claimed task back: pending again, without an owner.",
        discussion: "Exit 4 when the task is not claimed, or another actor's live claim holds it (unless --force).")

    static let examples = [
        "statejournal task release task_2 --actor agent-3",
    ]

    @ParentCommand var root: StateJournalCommand
    @Argument(help: "The task's id.") var id: String
    @Flag(help: "Release it although another actor's live claim holds it (recorded in the event).") var force = false
    @OptionGroup var write: WriteOptions

    func run() throws {
        let manager = try global.existingManager(command: "task release \(id)")
        try recordWrite(manager, flags) { try manager.release(id, force: force, options: flags.options) }
    }
}
