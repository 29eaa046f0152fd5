import StateJournalEngine
/// Who last changed a task, and with which event.
public struct BlameEntry: Sendable, Equatable {
    /// The task.
    public let taskID: String
    /// The sequence number of the last event that changed the task.
    public let seq: UInt64
    /// The event type, e.g. `task.completed`.
    public let type: String
    /// Who wrote that event.
    public let actor: String
    /// When it was written.
    public let time: Timestamp

    package init(taskID: String, seq: UInt64, type: String, actor: String, time: Timestamp) {
        self.taskID = taskID
        self.seq = seq
        self.type = type
        self.actor = actor
        self.time = time
    }

    /// `{"task_id", "seq", "type", "actor", "time"}` (Docs/CLI.md, blame: `blame --json`).
    package func json() -> JSON {
        .obj([
            "task_id": .string(taskID),
            "seq": .int(Int64(seq)),
            "type": .string(type),
            "actor": .string(actor),
            "time": .string(time.rfc3339),
        ])
    }
}

extension StateManager {
    /// For each task of the current state, in plan order, the last event
    /// that changed it.
    ///
    /// A task event (`task.added`, `task.started`, …) changes its task; a
    /// `workflow.initialized` changes every task it plans; a `state.replaced`
    /// or `state.restored` changes only the tasks it adds or makes different
    /// (an `update` that leaves a task as it was does not take the blame).
    ///
    /// One pass over the journal; the per-event work is proportional to the
    /// event's own size.
    public func blame() throws -> [BlameEntry] {
        try reading { store, _ in
            var last: [String: Event] = [:]
            // Only a replacement needs the state before it (kept by reference:
            // a replacement does not change it); other events apply in place.
            let folded = try fold(store, from: .firstEvent, keepingBefore: { event in
                switch event.payload {
                case .stateReplaced, .stateRestored: return true
                default: return false
                }
            }) { step in
                let event = step.event
                switch event.payload {
                case .workflowInitialized:
                    last = [:]
                    for id in event.payload.taskIDs { last[id] = event }
                case .stateReplaced(let image), .stateRestored(_, let image):
                    let sameWorkflow = step.before?.workflowID == image.workflowID
                    for task in image.tasks where !sameWorkflow || step.before?.task(task.id) != task {
                        last[task.id] = event
                    }
                default:
                    for id in event.payload.taskIDs { last[id] = event }
                }
            }
            guard let state = folded.state else { return [] }
            return state.tasks.compactMap { task in
                last[task.id].map {
                    BlameEntry(taskID: task.id, seq: $0.seq, type: $0.payload.typeName, actor: $0.actor, time: $0.time)
                }
            }
        }
    }
}
