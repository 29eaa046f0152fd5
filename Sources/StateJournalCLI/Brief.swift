import ArgumentParser
import StateJournal

/// `statejournal brief [--json]`
struct Brief: GlobalCommand, Exemplified {
    static let configuration = CommandConfiguration(
        commandName: "brief",
        abstract: "What an agent needs in its prompt, in at most about 20 lines.",
        discussion: """
            The workflow and its wave, how to work (claim, heartbeat, complete), the actor's own claims and \
            their leases, the next ready tasks, failures and the last events. Leases are judged by this \
            machine's clock at the time of the read.
            """)

    static let examples = [
        "statejournal brief --actor agent-3",
        "statejournal brief --json --actor agent-3",
    ]

    @ParentCommand var root: StateJournalCommand
    @Flag(help: "Print JSON.") var json = false
    @OptionGroup(title: "Global options") var trailing: GlobalOptions<Trailing>

    func run() throws {
        let manager = try global.existingManager(command: "brief")
        let brief = try manager.brief()
        if json {
            Output.stdout(brief.json().prettyString())
        } else {
            Output.stdout(BriefText.lines(brief).joined(separator: "\n"))
        }
    }
}

/// The text of `brief` (also what the MCP server can return).
enum BriefText {
    /// At most 19 lines: 2, then claims 1 + 3, ready 1 + 4, failures 1 + 3, events 1 + 3.
    static func lines(_ brief: AgentBrief) -> [String] {
        let state = brief.state
        let me = brief.actor
        var out: [String] = []
        out.append("Workflow \(state.workflowID) “\(Terminal.oneLine(state.name, limit: 60))”: wave \(state.currentWave) of \(state.totalWaves), "
                   + "\(brief.completedCount) of \(state.tasks.count) tasks completed, \(brief.readyCount) ready (seq \(state.seq)).")
        out.append("You are \(me). Loop: 'statejournal task claim --actor \(me)' (prints the task id; exit 4: nothing ready) → do the task → "
                   + "'statejournal task complete ID --commit SHA --actor \(me)' (or 'task fail ID --error TEXT', 'task release ID'); "
                   + "renew long work with 'task heartbeat ID --actor \(me)' before the lease ends.")
        if brief.claimed.isEmpty {
            out.append("Your claims: none.")
        } else {
            out.append("Your claims (\(brief.claimed.count)):")
            for task in brief.claimed.prefix(3) {
                let lease = task.leaseExpires.map { expiry in
                    task.isClaimed(at: brief.time) ? "lease until \(expiry.localDateTime)" : "lease EXPIRED at \(expiry.localDateTime) — heartbeat now or others may take it"
                } ?? "no expiry"
                out.append("  \(task.id) (\(lease))" + (task.description.isEmpty ? "" : ": " + Terminal.oneLine(task.description, limit: 60)))
            }
        }
        if brief.ready.isEmpty {
            let reason = state.nothingClaimable(at: brief.time)
            let prefix = "no task is ready: "
            out.append("Ready: none — " + (reason.hasPrefix(prefix) ? String(reason.dropFirst(prefix.count)) : reason))
        } else {
            out.append("Ready (\(brief.readyCount)):")
            for task in brief.ready {
                out.append("  \(task.id) (wave \(task.wave))" + (task.description.isEmpty ? "" : ": " + Terminal.oneLine(task.description, limit: 70)))
            }
        }
        if !brief.failed.isEmpty {
            out.append("Failed:")
            for task in brief.failed { out.append("  \(task.id): \(Terminal.oneLine(task.error ?? "", limit: 70))") }
        }
        if !brief.recent.isEmpty {
            out.append("Last events:")
            for event in brief.recent {
                out.append("  \(event.seq) \(event.time.localDateTime) \(Terminal.oneLine(event.actor, limit: 30)) \(event.payload.typeName) \(event.summary)")
            }
        }
        return out
    }
}
