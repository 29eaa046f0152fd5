import StateJournalEngine
// The earlier Python tool's operations, in Swift style (Docs/HISTORY.md, Library), and the
// fine-grained ones beside them. Each write is one event, checked against the
// current state under the lock; see ``StateManager/write(_:options:)``.
extension StateManager {
    // MARK: - Writing

    /// Starts a new workflow (`workflow.initialized`); an earlier one stays in
    /// the history.
    ///
    /// ```swift
    /// try manager.initialize(id: "wf_1", name: "Build",
    ///                        waves: [[.init(id: "t1", description: "Design")]],
    ///                        metadata: [MetadataEntry(key: "owner", value: "platform")])
    /// ```
    /// - Throws: `.badInput` for invalid or repeated ids; as ``write(_:options:)``.
    @discardableResult
    public func initialize(id: String, name: String, waves: [[Event.PlannedTask]], metadata: [MetadataEntry] = [],
                           options: WriteOptions = WriteOptions()) throws -> WriteOutcome {
        try write(.workflowInitialized(id: id, name: name, waves: waves, metadata: metadata), options: options)
    }

    /// Starts a new workflow from a ``WorkflowPlan`` (either JSON shape);
    /// `id` and `name` override the plan's `workflow_id` and `workflow_name`.
    ///
    /// - Throws: `.badInput` when neither gives an id or a name.
    @discardableResult
    package func initialize(_ plan: WorkflowPlan, id: String? = nil, name: String? = nil,
                           options: WriteOptions = WriteOptions()) throws -> WriteOutcome {
        guard let id = id ?? plan.workflowID else {
            throw StateJournalError.badInput("no workflow id: give --id ID, or 'workflow_id' in the plan")
        }
        guard let name = name ?? plan.name else {
            throw StateJournalError.badInput("no workflow name: give --name NAME, or 'workflow_name' in the plan")
        }
        return try initialize(id: id, name: name, waves: plan.waves, metadata: plan.metadata, options: options)
    }

    /// The earlier tool's bulk `update()`: the whole state at once, recorded
    /// as one `state.replaced` event. The new state is made from the state
    /// *under the lock* (notes appended to the notes there are then, `started`
    /// kept), so a note written concurrently is never lost. See
    /// ``StateUpdate`` for the meaning of each field.
    ///
    /// ```swift
    /// let update = try StateUpdate.parse(Array(jsonText.utf8), source: "update.json")
    /// try manager.update(update)
    /// ```
    /// - Throws: `.badInput` when the resulting state is invalid (a task in a
    ///   wave beyond `total_waves`, an invalid id); nothing is written.
    @discardableResult
    package func update(_ update: StateUpdate, options: WriteOptions = WriteOptions()) throws -> WriteOutcome {
        try writeDerived(options: options) { current, time in
            .stateReplaced(try update.image(over: current, at: time))
        }
    }

    /// Appends a note (`note.added`).
    @discardableResult
    package func addNote(_ text: String, options: WriteOptions = WriteOptions()) throws -> WriteOutcome {
        try write(.noteAdded(text: text), options: options)
    }

    /// Adds a pending task to a wave (`task.added`), after the tasks it
    /// depends on (each must exist).
    @discardableResult
    package func addTask(_ id: String, wave: Int, description: String = "", dependsOn: [String] = [],
                         options: WriteOptions = WriteOptions()) throws -> WriteOutcome {
        try write(.taskAdded(taskID: id, wave: wave, description: description, dependsOn: dependsOn), options: options)
    }

    /// Pending or failed → in progress (`task.started`).
    @discardableResult
    package func startTask(_ id: String, options: WriteOptions = WriteOptions()) throws -> WriteOutcome {
        try write(.taskStarted(taskID: id), options: options)
    }

    /// → completed, with an optional commit and files (`task.completed`).
    @discardableResult
    package func completeTask(_ id: String, commit: String? = nil, files: [String] = [],
                             options: WriteOptions = WriteOptions()) throws -> WriteOutcome {
        try write(.taskCompleted(taskID: id, commit: commit, files: files), options: options)
    }

    /// → failed, with the error (`task.failed`).
    @discardableResult
    package func failTask(_ id: String, error: String, options: WriteOptions = WriteOptions()) throws -> WriteOutcome {
        try write(.taskFailed(taskID: id, error: error), options: options)
    }

    /// Makes `wave` the current wave (`wave.set`; 0: none started yet).
    @discardableResult
    package func setWave(_ wave: Int, options: WriteOptions = WriteOptions()) throws -> WriteOutcome {
        try write(.waveSet(wave: wave), options: options)
    }

    /// Gives a metadata key a value (`metadata.set`).
    @discardableResult
    package func setMetadata(_ key: String, _ value: String, options: WriteOptions = WriteOptions()) throws -> WriteOutcome {
        try write(.metadataSet(key: key, value: value), options: options)
    }

    /// The earlier tool's `clear()`, made safe: it deleted STATE.md; here the
    /// journal is the source of truth and is never deleted. `clear` records a
    /// `state.replaced` event with the same workflow id, name and start time
    /// but no waves, tasks, notes or metadata, so STATE.md shows an empty
    /// workflow — and `restore` to the sequence number before it brings
    /// everything back. To start a different workflow, `initialize` directly.
    ///
    /// - Throws: `.notInitialized` when there is no workflow to clear.
    @discardableResult
    public func clear(options: WriteOptions = WriteOptions()) throws -> WriteOutcome {
        try writeDerived(options: options) { current, _ in
            guard let current else {
                throw StateJournalError(.notInitialized, "no workflow is initialized at '\(statePath)'; there is nothing to clear")
            }
            return .stateReplaced(StateImage(workflowID: current.workflowID, name: current.name, currentWave: 0, totalWaves: 0,
                                             started: current.started, tasks: [], notes: [], metadata: []))
        }
    }

    // MARK: - Reading

    /// What an orchestrator needs to resume (the earlier tool's
    /// `get_resume_info()`), or nil when no workflow was initialised here.
    package func resumeInfo() throws -> ResumeInfo? {
        try loadState().map(ResumeInfo.init)
    }

    /// Reads a STATE.md text (the earlier tool's `parse_state()`), including
    /// files the earlier tool wrote.
    ///
    /// - Throws: `.badInput` when the text is not a STATE.md, or lacks the
    ///   workflow ID or readable Started/Updated times (the message lists the
    ///   first problems with their line numbers).
    package static func parse(_ text: String) throws -> WorkflowState {
        let file = try MarkdownParser.parse(text)
        guard let state = file.state() else {
            let problems = MarkdownValidator.validate(text).prefix(3).map(\.description).joined(separator: "; ")
            throw StateJournalError.badInput("the file has a '# Workflow:' title but no workflow ID or no readable Started/Updated time"
                + (problems.isEmpty ? "" : " (\(problems))")
                + "; expected the header lines **Workflow ID:** `ID`, **Started:** YYYY-MM-DD HH:MM:SS and **Updated:** YYYY-MM-DD HH:MM:SS")
        }
        return state
    }

    /// Every problem of a STATE.md text, with line numbers (Docs/FORMAT.md, STATE.md); empty
    /// when it is valid.
    package static func validateMarkdown(_ text: String) -> [ValidationProblem] {
        MarkdownValidator.validate(text)
    }
}
