import StateJournalEngine
/// The plan of a new workflow: `init --plan FILE` and
/// ``StateManager/initialize(_:id:name:options:)``.
///
/// Two JSON shapes are read:
/// - StateJournal's: `{"waves": [[{"task_id": "t1", "description": "…"}]], "metadata": {"k": "v"}}`;
/// - the earlier tool's `initialize()` arguments: `{"workflow_id": "…",
///   "workflow_name": "…", "total_waves": 3, "all_waves": [[…]], "metadata": {…}}`.
///
/// In both, a task's id is `task_id`, else `agent_id`, else `wave{W}_task{N}`
/// (N counting every task so far, as the earlier tool did); its description
/// is `description`, else `task`, else the first 100 characters of `prompt`.
/// `total_waves` larger than the waves listed adds empty waves. Metadata
/// values that are not strings are kept as text (`3`, `True`, JSON).
package struct WorkflowPlan: Sendable, Equatable {
    /// From the plan's `workflow_id`, if it has one.
    package var workflowID: String?
    /// From the plan's `workflow_name`, if it has one.
    package var name: String?
    package var waves: [[Event.PlannedTask]]
    package var metadata: [MetadataEntry]

    package init(workflowID: String? = nil, name: String? = nil, waves: [[Event.PlannedTask]], metadata: [MetadataEntry] = []) {
        self.workflowID = workflowID
        self.name = name
        self.waves = waves
        self.metadata = metadata
    }

    package static let expected = #"expected {"waves": [[{"task_id": "…", "description": "…"}]], "metadata": {"key": "value"}} "#
        + #"or the earlier tool's {"workflow_id": "…", "workflow_name": "…", "total_waves": N, "all_waves": [[…]], "metadata": {…}}"#

    /// Parses a plan from JSON text; `source` names it in messages.
    /// - Throws: `.badInput` saying what is wrong and what was expected.
    package static func parse(_ bytes: [UInt8], source: String) throws(StateJournalError) -> WorkflowPlan {
        let json: JSON
        do {
            json = try JSON.parse(bytes)
        } catch {
            throw .badInput("the plan in \(source) is not valid JSON (\(error)); \(expected)")
        }
        return try parse(json, source: source)
    }

    /// The keys a plan's top level may have.
    package static let planKeys = ["waves", "all_waves", "metadata", "workflow_id", "workflow_name", "total_waves"]
    /// The keys a planned task may have.
    package static let taskKeys = ["task_id", "agent_id", "description", "task", "prompt", "depends_on"]

    /// Parses a plan, checking it more closely than the earlier tool did
    /// (`init --plan`): an unknown key (`"id"` for `"task_id"`) is refused
    /// unless `lenient`, when it is ignored with a warning; a task without
    /// `task_id` or `agent_id` keeps the earlier tool's generated id
    /// (`wave1_task1`) with a warning.
    ///
    /// - Returns: the plan and the warnings, one sentence each.
    /// - Throws: `.badInput` as ``parse(_:source:)``, and for unknown keys
    ///   unless `lenient`.
    package static func parse(_ bytes: [UInt8], source: String, lenient: Bool) throws(StateJournalError) -> (plan: WorkflowPlan, warnings: [String]) {
        let plan = try parse(bytes, source: source)
        guard let json = try? JSON.parse(bytes) else { return (plan, []) }
        var warnings: [String] = []
        var unknown: [String] = []
        func check(_ object: JSON, _ known: [String], _ what: String) {
            for member in object.objectValue ?? [] where !known.contains(member.key) {
                var text = "\(what) has an unknown key '\(member.key)'"
                let guess = known.filter { $0.hasSuffix("_" + member.key) }.first.map { "did you mean '\($0)'?" }
                    ?? Suggestion.didYouMean(member.key, in: known)
                if let guess { text += " (\(guess))" }
                unknown.append(text)
            }
        }
        check(json, planKeys, "the top level")
        var count = 0
        for (w, wave) in ((json["waves"] ?? json["all_waves"])?.arrayValue ?? []).enumerated() {
            for (t, task) in (wave.arrayValue ?? []).enumerated() {
                let what = "task \(t + 1) of wave \(w + 1)"
                check(task, taskKeys, what)
                if LegacyFields.taskID(task) == nil {
                    warnings.append("\(what) has no 'task_id' (or 'agent_id'): it was named 'wave\(w + 1)_task\(count + 1)', as the earlier tool did")
                }
                count += 1
            }
        }
        if !unknown.isEmpty {
            guard lenient else {
                let shown = unknown.prefix(3).joined(separator: "; ") + (unknown.count > 3 ? "; and \(unknown.count - 3) more" : "")
                throw .badInput("the plan in \(source): \(shown); a task's keys are \(taskKeys.joined(separator: ", ")) — "
                    + "fix the plan, or give --lenient to ignore unknown keys (see 'statejournal init --example')")
            }
            warnings = unknown.map { $0 + ": ignored (--lenient)" } + warnings
        }
        return (plan, warnings)
    }

    /// Reads a plan from a parsed JSON value.
    package static func parse(_ json: JSON, source: String = "the plan") throws(StateJournalError) -> WorkflowPlan {
        func bad(_ what: String) -> StateJournalError { .badInput("the plan in \(source): \(what); \(expected)") }
        guard json.objectValue != nil else { throw bad("the top level must be an object") }
        guard let wavesJSON = (json["waves"] ?? json["all_waves"])?.arrayValue else {
            throw bad("'waves' (or 'all_waves') must be an array of waves")
        }
        var waves: [[Event.PlannedTask]] = []
        var count = 0
        for (w, wave) in wavesJSON.enumerated() {
            guard let tasks = wave.arrayValue else { throw bad("wave \(w + 1) must be an array of tasks") }
            var planned: [Event.PlannedTask] = []
            for (t, task) in tasks.enumerated() {
                guard task.objectValue != nil else { throw bad("task \(t + 1) of wave \(w + 1) must be an object") }
                let id = LegacyFields.taskID(task) ?? "wave\(w + 1)_task\(count + 1)"
                let dependsOn = try LegacyFields.strings(task["depends_on"], "'depends_on' of task '\(id)'", bad) ?? []
                planned.append(Event.PlannedTask(id: id, description: LegacyFields.description(task), dependsOn: dependsOn))
                count += 1
            }
            waves.append(planned)
        }
        if let total = try LegacyFields.int(json["total_waves"], "'total_waves'", bad) {
            guard total >= waves.count else {
                throw bad("'total_waves' is \(total) but \(waves.count) waves are listed; give at least as many waves as are listed")
            }
            waves += Array(repeating: [], count: total - waves.count)
        }
        let id = LegacyFields.text(json["workflow_id"])
        let name = LegacyFields.anyText(json["workflow_name"])
        return WorkflowPlan(workflowID: id, name: name, waves: waves, metadata: try LegacyFields.metadata(json["metadata"], bad))
    }
}
