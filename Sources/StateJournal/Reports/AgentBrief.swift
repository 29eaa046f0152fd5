import StateJournalEngine

/// What an agent needs in its prompt (`brief`): the workflow, the current
/// wave, the actor's own claims, the next ready tasks, failures and the
/// last few events — a few lines instead of the whole state.
package struct AgentBrief: Sendable {
    /// The state the brief describes.
    package let state: WorkflowState
    /// Whose brief it is (the manager's actor).
    package let actor: String
    /// The clock the leases were judged by (a read takes no lock: the time
    /// of the read, not of an event).
    package let time: Timestamp
    /// The tasks `actor` holds a claim on, live or expired, in plan order.
    package let claimed: [WorkflowTask]
    /// The first ready tasks in plan order.
    package let ready: [WorkflowTask]
    /// How many tasks are ready in all.
    package let readyCount: Int
    /// The failed tasks in plan order.
    package let failed: [WorkflowTask]
    /// The last events, oldest first.
    package let recent: [Event]

    /// Completed tasks.
    package var completedCount: Int { state.tasks.reduce(0) { $0 + ($1.status == .completed ? 1 : 0) } }

    /// `brief --json`.
    package func json() -> JSON {
        .obj([
            "workflow_id": .string(state.workflowID),
            "workflow_name": .string(state.name),
            "current_wave": .int(Int64(state.currentWave)),
            "total_waves": .int(Int64(state.totalWaves)),
            "seq": .int(Int64(state.seq)),
            "actor": .string(actor),
            "time": .string(time.rfc3339),
            "tasks": .obj(["total": .int(Int64(state.tasks.count)), "completed": .int(Int64(completedCount)),
                           "ready": .int(Int64(readyCount))]),
            "claimed": .array(claimed.map { task in
                .obj(["task_id": .string(task.id), "description": .string(task.description),
                      "lease_expires": task.leaseExpires.map { .string($0.rfc3339) } ?? .null,
                      "expired": .bool(!task.isClaimed(at: time))])
            }),
            "ready": .array(ready.map { .obj(["task_id": .string($0.id), "wave": .int(Int64($0.wave)), "description": .string($0.description)]) }),
            "failed": .array(failed.map { .obj(["task_id": .string($0.id), "error": .string($0.error ?? "")]) }),
            "last_events": .array(recent.map { $0.json() }),
        ])
    }
}

extension StateManager {
    /// The brief of `actor` (nil: this manager's actor): at most `ready`
    /// ready tasks, `failures` failed ones and the last `events` events.
    ///
    /// - Throws: `.notInitialized` when there is no workflow; as ``loadState()``.
    package func brief(actor: String? = nil, ready: Int = 4, failures: Int = 3, events: Int = 3) throws -> AgentBrief {
        guard let state = try loadState() else { throw Self.noWorkflow(statePath) }
        let actor = actor ?? configuration.actor
        let readyTasks = state.readyTasks()
        return AgentBrief(state: state, actor: actor, time: Timestamp.now(),
                     claimed: state.tasks.filter { $0.status == .inProgress && $0.owner == actor },
                     ready: Array(readyTasks.prefix(ready)), readyCount: readyTasks.count,
                     failed: Array(state.tasks(withStatus: .failed).prefix(failures)),
                     recent: try lastEvents(events))
    }
}
