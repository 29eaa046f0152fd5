/// Dependencies, readiness and claims (Docs/AGENTS.md): which tasks can be
/// worked on now, and who may claim one.
///
/// A task is *ready* when it is pending, every task it depends on is
/// completed, and its wave is at most ``readyWave``. A claim without a task
/// id takes the first task in plan order that is ready or whose claim's
/// lease has expired; a named task may be claimed when its dependencies are
/// completed and nobody else holds it (see ``claimRefusal(_:for:at:force:)``).
extension WorkflowState {
    /// The latest wave whose tasks can be ready: the current wave, or wave 1
    /// while no wave is current.
    package var readyWave: Int { max(currentWave, 1) }

    /// The tasks `task` depends on that are not completed, in its order.
    package func unfinishedDependencies(of task: WorkflowTask) -> [String] {
        task.dependsOn.filter { self.task($0)?.status != .completed }
    }

    /// Whether `task` is ready: pending, every dependency completed, its wave
    /// at most ``readyWave``.
    public func isReady(_ task: WorkflowTask) -> Bool {
        task.status == .pending && task.wave <= readyWave && unfinishedDependencies(of: task).isEmpty
    }

    /// The ready tasks in plan order, at most `limit` of them (nil: all).
    public func readyTasks(limit: Int? = nil) -> [WorkflowTask] {
        var out: [WorkflowTask] = []
        for task in tasks where isReady(task) {
            if let limit, out.count >= limit { break }
            out.append(task)
        }
        return out
    }

    /// The task a claim without an id takes at `time`: the first in plan
    /// order that is ready, or in progress with a claim whose lease expired
    /// before `time` (its wave and dependencies as for a ready task).
    package func firstClaimable(at time: Timestamp) -> WorkflowTask? {
        tasks.first { task in
            if isReady(task) { return true }
            return task.status == .inProgress && task.owner != nil && !task.isClaimed(at: time)
                && task.wave <= readyWave && unfinishedDependencies(of: task).isEmpty
        }
    }

    /// Why `owner` may not claim `task` at `time` (a ``StateJournalError/Code/conflict``
    /// error naming the holder and the expiry), or nil when it may. `force`
    /// overrides another actor's claim, never a completed task or
    /// unfinished dependencies.
    package func claimRefusal(_ task: WorkflowTask, for owner: String, at time: Timestamp, force: Bool) -> StateJournalError? {
        if task.status == .completed {
            return StateJournalError(.conflict, "task '\(task.id)' is completed; there is nothing to claim")
        }
        let waiting = unfinishedDependencies(of: task)
        if !waiting.isEmpty {
            let list = waiting.map { "'\($0)' (\(self.task($0)?.status.rawValue ?? "unknown"))" }.joined(separator: ", ")
            return StateJournalError(.conflict, "task '\(task.id)' is not ready: it waits for \(list) — "
                + "claim it once \(waiting.count == 1 ? "that task is" : "those tasks are") completed")
        }
        guard task.status == .inProgress, !force else { return nil }
        guard let holder = task.owner else {
            return StateJournalError(.conflict, "task '\(task.id)' is in progress without a claim (started with 'task start') — "
                + "complete or fail it, or pass --force to claim it")
        }
        if holder != owner, task.isClaimed(at: time) {
            return StateJournalError(.conflict, "task '\(task.id)' is claimed by \(Self.describeClaim(task)) — "
                + Self.waitAdvice(task) + ", or pass --force to take it over (recorded in the event)")
        }
        return nil
    }

    /// Why a claim without an id finds nothing at `time`: what the tasks
    /// that are not completed wait for.
    package func nothingClaimable(at time: Timestamp) -> String {
        let open = tasks.filter { $0.status != .completed }
        guard !open.isEmpty else {
            return tasks.isEmpty ? "no task is ready: the workflow has no tasks" : "no task is ready: every task is completed"
        }
        var held = 0, blocked = 0, later = 0, failed = 0, unclaimed = 0
        var soonest: Timestamp?
        for task in open {
            switch task.status {
            case .failed: failed += 1
            case .inProgress:
                if task.owner == nil { unclaimed += 1 } else {
                    held += 1
                    if let expiry = task.leaseExpires { soonest = min(soonest ?? expiry, expiry) }
                }
            default:
                if task.wave > readyWave { later += 1 } else { blocked += 1 }
            }
        }
        var parts: [String] = []
        if held > 0 {
            parts.append("\(held) claimed" + (soonest.map { " (the first lease ends \($0.rfc3339))" } ?? ""))
        }
        if unclaimed > 0 { parts.append("\(unclaimed) in progress without a claim") }
        if blocked > 0 { parts.append("\(blocked) waiting for dependencies") }
        if later > 0 { parts.append("\(later) in waves after wave \(readyWave)") }
        if failed > 0 { parts.append("\(failed) failed") }
        return "no task is ready: " + parts.joined(separator: ", ")
    }
}
