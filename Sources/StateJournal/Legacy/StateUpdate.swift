import StateJournalEngine
/// The earlier tool's bulk `update()`: the whole state at once.
///
/// JSON shape (`update --from FILE`):
/// ```json
/// {"workflow_id": "wf_1", "workflow_name": "Build", "wave_id": 2, "total_waves": 3,
///  "completed_tasks": [{"task_id": "a", "description": "…", "wave_id": 1, "commit_hash": "abc",
///                       "result": {"success": true, "files_modified": ["x.py"]}}],
///  "current_wave_tasks": [{"agent_id": "b", "prompt": "…", "result": {"error": "boom"}}],
///  "pending_waves": [[{"task_id": "c", "task": "…"}]],
///  "commit_hash": "def", "notes": ["…"], "metadata": {"k": "v"}}
/// ```
///
/// With the earlier tool's meaning:
/// - the task list and the metadata are replaced; notes are appended to the
///   ones there are; `started` is kept (it is the update's time when there is
///   no workflow yet); `wave_id` becomes the current wave;
/// - `completed_tasks` are completed, in their `wave_id` (the current wave
///   when they have none — the tool's 0 is not a wave), with their own
///   `commit_hash` and `error`;
/// - `current_wave_tasks` are in wave `wave_id`: completed when
///   `result.success`, failed when `result.error`, else in progress; a
///   completed one without its own `commit_hash` gets the wave's;
///   its error is its own `error`, else `result.error`;
/// - `pending_waves[i]` holds the pending tasks of wave `wave_id + 1 + i`;
/// - files are `result.files_modified`, else `result.files_created`;
/// - a task's id is `task_id`, else `agent_id` (pending tasks without either
///   get `wave{W}_task{N}`, as in the tool); its description `description`,
///   else `task`, else the first 100 characters of `prompt`;
/// - a task listed twice keeps its first place and its last entry (the
///   tool kept tasks in a dictionary).
///
/// `workflow_id` and `workflow_name` may be left out when a workflow exists:
/// they are then kept.
package struct StateUpdate: Sendable, Equatable {
    package var workflowID: String?
    package var workflowName: String?
    /// `wave_id`: the current wave.
    package var currentWave: Int
    package var totalWaves: Int
    /// Every task, in plan order (by wave, then as listed).
    package var tasks: [WorkflowTask]
    /// Appended to the notes there are.
    package var notes: [String]
    /// Replaces the metadata.
    package var metadata: [MetadataEntry]

    package init(workflowID: String? = nil, workflowName: String? = nil, currentWave: Int, totalWaves: Int,
                tasks: [WorkflowTask], notes: [String] = [], metadata: [MetadataEntry] = []) {
        self.workflowID = workflowID
        self.workflowName = workflowName
        self.currentWave = currentWave
        self.totalWaves = totalWaves
        self.tasks = tasks
        self.notes = notes
        self.metadata = metadata
    }

    package static let expected = #"expected the earlier tool's update() shape: {"workflow_id": "…", "workflow_name": "…", "wave_id": N, "total_waves": N, "#
        + #""completed_tasks": [{"task_id": "…", …}], "current_wave_tasks": [{"task_id": "…", "result": {"success": true}}], "#
        + #""pending_waves": [[{"task_id": "…"}]], "commit_hash": "…", "notes": ["…"], "metadata": {…}}"#

    /// Parses an update from JSON text; `source` names it in messages.
    /// - Throws: `.badInput` saying what is wrong and what was expected.
    package static func parse(_ bytes: [UInt8], source: String) throws(StateJournalError) -> StateUpdate {
        let json: JSON
        do {
            json = try JSON.parse(bytes)
        } catch {
            throw .badInput("the update in \(source) is not valid JSON (\(error)); \(expected)")
        }
        return try parse(json, source: source)
    }

    /// Reads an update from a parsed JSON value.
    package static func parse(_ json: JSON, source: String = "the update") throws(StateJournalError) -> StateUpdate {
        func bad(_ what: String) -> StateJournalError { .badInput("the update in \(source): \(what); \(expected)") }
        guard json.objectValue != nil else { throw bad("the top level must be an object") }
        guard let wave = try LegacyFields.int(json["wave_id"], "'wave_id'", bad) else { throw bad("'wave_id' (the current wave) is missing") }
        guard let total = try LegacyFields.int(json["total_waves"], "'total_waves'", bad) else { throw bad("'total_waves' is missing") }
        guard wave <= total else { throw bad("'wave_id' \(wave) is beyond 'total_waves' \(total)") }
        let waveCommit = LegacyFields.text(json["commit_hash"])

        func list(_ key: String) throws(StateJournalError) -> [JSON] {
            guard let value = json[key], !value.isNull else { return [] }
            guard let items = value.arrayValue else { throw bad("'\(key)' must be an array of task objects") }
            return items
        }

        var tasks = TaskList()
        for (i, task) in try list("completed_tasks").enumerated() {
            let what = "task \(i + 1) of 'completed_tasks'"
            guard task.objectValue != nil else { throw bad("\(what) must be an object") }
            guard let id = LegacyFields.taskID(task) else { throw bad("\(what) has no 'task_id' or 'agent_id'") }
            let ownWave = try LegacyFields.int(task["wave_id"] ?? task["wave"], "'wave_id' of \(what)", bad)
            tasks.put(WorkflowTask(id: id, description: LegacyFields.description(task), status: .completed,
                                   wave: ownWave.flatMap { $0 > 0 ? $0 : nil } ?? max(wave, 1),
                                   commit: LegacyFields.text(task["commit_hash"]),
                                   files: try files(task, what, bad), error: LegacyFields.anyText(task["error"]),
                                   dependsOn: try dependencies(task, what, bad)))
        }
        for (i, task) in try list("current_wave_tasks").enumerated() {
            let what = "task \(i + 1) of 'current_wave_tasks'"
            guard task.objectValue != nil else { throw bad("\(what) must be an object") }
            guard let id = LegacyFields.taskID(task) else { throw bad("\(what) has no 'task_id' or 'agent_id'") }
            let result = task["result"]
            if let result, !result.isNull, result.objectValue == nil { throw bad("'result' of \(what) must be an object") }
            let status: TaskStatus
            if LegacyFields.isTruthy(result?["success"]) {
                status = .completed
            } else if LegacyFields.isTruthy(result?["error"]) {
                status = .failed
            } else {
                status = .inProgress
            }
            var commit = LegacyFields.text(task["commit_hash"])
            if status == .completed && commit == nil { commit = waveCommit }
            let error = LegacyFields.isTruthy(task["error"]) ? LegacyFields.anyText(task["error"]) : LegacyFields.anyText(result?["error"])
            tasks.put(WorkflowTask(id: id, description: LegacyFields.description(task), status: status, wave: wave,
                                   commit: commit, files: try files(task, what, bad), error: error,
                                   dependsOn: try dependencies(task, what, bad)))
        }
        if let pendingValue = json["pending_waves"], !pendingValue.isNull {
            guard let pending = pendingValue.arrayValue else { throw bad("'pending_waves' must be an array of waves (arrays of tasks)") }
            for (i, waveTasks) in pending.enumerated() {
                let number = wave + 1 + i
                guard let items = waveTasks.arrayValue else { throw bad("pending wave \(i + 1) (wave \(number)) must be an array of tasks") }
                for (t, task) in items.enumerated() {
                    guard task.objectValue != nil else { throw bad("task \(t + 1) of pending wave \(i + 1) must be an object") }
                    let id = LegacyFields.taskID(task) ?? "wave\(number)_task\(tasks.count + 1)"
                    tasks.put(WorkflowTask(id: id, description: LegacyFields.description(task), status: .pending, wave: number,
                                           dependsOn: try dependencies(task, "task \(t + 1) of pending wave \(i + 1)", bad)))
                }
            }
        }
        let notes: [String]
        if let single = json["notes"]?.stringValue {
            notes = [single]
        } else {
            notes = try LegacyFields.strings(json["notes"], "'notes'", bad) ?? []
        }
        return StateUpdate(workflowID: LegacyFields.text(json["workflow_id"]),
                           workflowName: LegacyFields.anyText(json["workflow_name"]),
                           currentWave: wave, totalWaves: total, tasks: tasks.inPlanOrder, notes: notes,
                           metadata: try LegacyFields.metadata(json["metadata"], bad))
    }

    /// `depends_on`: the ids of the tasks it waits for.
    private static func dependencies(_ task: JSON, _ what: String, _ bad: (String) -> StateJournalError) throws(StateJournalError) -> [String] {
        try LegacyFields.strings(task["depends_on"], "'depends_on' of \(what)", bad) ?? []
    }

    /// `result.files_modified`, else `result.files_created`, else none.
    private static func files(_ task: JSON, _ what: String, _ bad: (String) -> StateJournalError) throws(StateJournalError) -> [String] {
        guard let result = task["result"], result.objectValue != nil else { return [] }
        if let modified = try LegacyFields.strings(result["files_modified"], "'result.files_modified' of \(what)", bad) {
            return modified
        }
        return try LegacyFields.strings(result["files_created"], "'result.files_created' of \(what)", bad) ?? []
    }

    /// The whole state this update makes, over `current` (nil: no workflow
    /// yet), written at `time`.
    /// - Throws: `.badInput` when there is no workflow yet and the update has
    ///   no `workflow_id` or `workflow_name`.
    package func image(over current: WorkflowState?, at time: Timestamp) throws(StateJournalError) -> StateImage {
        guard let id = workflowID ?? current?.workflowID else {
            throw .badInput("the update has no 'workflow_id' and no workflow exists yet; give 'workflow_id' and 'workflow_name'")
        }
        // A task in progress before and after keeps its claim (owner, lease).
        var tasks = tasks
        if let current {
            for i in tasks.indices where tasks[i].status == .inProgress {
                if let before = current.task(tasks[i].id), before.status == .inProgress {
                    tasks[i].owner = before.owner
                    tasks[i].leaseExpires = before.leaseExpires
                }
            }
        }
        return StateImage(workflowID: id, name: workflowName ?? current?.name ?? id, currentWave: currentWave,
                          totalWaves: totalWaves, started: current?.started ?? time, tasks: tasks,
                          notes: (current?.notes ?? []) + notes, metadata: metadata)
    }
}

/// Tasks keyed by id in first-seen order, a later entry replacing an earlier
/// one in place (the earlier tool's dictionary).
private struct TaskList {
    private var tasks: [WorkflowTask] = []
    private var index: [String: Int] = [:]

    package var count: Int { tasks.count }

    package mutating func put(_ task: WorkflowTask) {
        if let i = index[task.id] {
            tasks[i] = task
        } else {
            index[task.id] = tasks.count
            tasks.append(task)
        }
    }

    /// Stable by wave: plan order.
    package var inPlanOrder: [WorkflowTask] {
        tasks.enumerated().sorted { ($0.element.wave, $0.offset) < ($1.element.wave, $1.offset) }.map(\.element)
    }
}
