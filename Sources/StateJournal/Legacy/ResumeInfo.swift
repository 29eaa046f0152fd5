import StateJournalEngine
/// What an orchestrator needs to resume a workflow, as the earlier tool's
/// `get_resume_info()` gave it (Docs/CLI.md, resume-info: `resume-info --json`).
package struct ResumeInfo: Sendable, Equatable {
    package var workflowID: String
    package var workflowName: String
    package var currentWave: Int
    /// The current wave when any task has failed, else the next one
    /// (`current_wave + 1`, as the earlier tool computed it — past
    /// `total_waves` when every wave is done).
    package var resumeWave: Int
    package var totalWaves: Int
    package var completedTasks: [String]
    package var failedTasks: [String]
    package var pendingTasks: [String]
    package var inProgressTasks: [String]
    package var started: Timestamp
    package var updated: Timestamp
    /// The journal position the information reflects.
    package var seq: UInt64

    package init(_ state: WorkflowState) {
        workflowID = state.workflowID
        workflowName = state.name
        currentWave = state.currentWave
        totalWaves = state.totalWaves
        completedTasks = state.tasks(withStatus: .completed).map(\.id)
        failedTasks = state.tasks(withStatus: .failed).map(\.id)
        pendingTasks = state.tasks(withStatus: .pending).map(\.id)
        inProgressTasks = state.tasks(withStatus: .inProgress).map(\.id)
        resumeWave = failedTasks.isEmpty && state.currentWave < Int.max ? state.currentWave + 1 : state.currentWave
        started = state.started
        updated = state.updated
        seq = state.seq
    }

    /// The earlier tool's keys; `started_at` and `updated_at` in its format
    /// (local time, ISO 8601 without a zone: `2026-11-27T02:50:27`), plus
    /// `seq`.
    package func json() -> JSON {
        func ids(_ list: [String]) -> JSON { .array(list.map { .string($0) }) }
        return .obj([
            "workflow_id": .string(workflowID),
            "workflow_name": .string(workflowName),
            "current_wave": .int(Int64(currentWave)),
            "resume_wave": .int(Int64(resumeWave)),
            "total_waves": .int(Int64(totalWaves)),
            "completed_tasks": ids(completedTasks),
            "failed_tasks": ids(failedTasks),
            "pending_tasks": ids(pendingTasks),
            "in_progress_tasks": ids(inProgressTasks),
            "started_at": .string(started.localISO8601),
            "updated_at": .string(updated.localISO8601),
            "seq": .int(Int64(seq)),
        ])
    }
}

extension Timestamp {
    /// Local time to the second with a `T`: what Python's naive
    /// `datetime.isoformat()` printed for the earlier tool.
    package var localISO8601: String {
        var text = localDateTime
        if let space = text.firstIndex(of: " ") { text.replaceSubrange(space...space, with: "T") }
        return text
    }
}
