/// The fold from events to state: a pure function, and the one place where
/// an event is checked against the state it applies to.
///
/// Writers call ``WorkflowState/applying(_:to:)`` under the lock *before* the
/// event is appended, so an event that would be refused is never written;
/// readers call it again while replaying.
///
/// Replaying many events should use ``WorkflowState/apply(_:to:)``, which
/// changes the state in place: `applying` returns a new value, so a task
/// event copies the whole task list (the caller still holds the old one),
/// making a replay cost events × tasks instead of events.
extension WorkflowState {
    /// The state after `event`, or a ``StateJournalError/Code/badInput`` error
    /// that says why `event` cannot apply to `state` (`nil`: no workflow yet).
    package static func applying(_ event: Event, to state: WorkflowState?) throws(StateJournalError) -> WorkflowState {
        var next = state
        try apply(event, to: &next)
        guard let next else { throw StateJournalError(.notInitialized, "no workflow is initialized here") }  // apply sets one
        return next
    }

    /// Applies `event` to `state` in place, without copying it: the cost is
    /// the event's, not the state's. On error `state` is left as it was.
    package static func apply(_ event: Event, to state: inout WorkflowState?) throws(StateJournalError) {
        if var replacement = try replacement(for: event) {
            replacement.eventIdentity = event.identity
            state = replacement
            return
        }
        guard var next = state.take() else {
            throw StateJournalError(.notInitialized,
                "no workflow is initialized here; run 'statejournal init --id ID --name NAME --plan FILE' first")
        }
        do {
            try next.change(by: event)
        } catch {
            state = next  // every check comes before any change
            throw error
        }
        state = next
    }

    /// The new state of an event that starts over (initialise, replace,
    /// restore); nil for the other events.
    private static func replacement(for event: Event) throws(StateJournalError) -> WorkflowState? {
        if case .workflowInitialized(let id, let name, let waves, let metadata) = event.payload {
            try Identifier.check(id, as: "workflow id")
            // The plan's tasks are appended wave by wave (plan order) to the
            // state's own index, which also finds repeated ids and the
            // dependencies: no second index of the plan.
            var state = WorkflowState(workflowID: id, name: name, currentWave: 0, totalWaves: waves.count,
                                      started: event.time, updated: event.time, metadata: metadata, seq: event.seq)
            state.reserveTasks(waves.reduce(0) { $0 + $1.count })
            var dependencies = false
            for (w, wave) in waves.enumerated() {
                for planned in wave {
                    try Identifier.check(planned.id, as: "task id")
                    guard state.appendNewTask(WorkflowTask(id: planned.id, description: planned.description, wave: w + 1,
                                                           dependsOn: planned.dependsOn)) else {
                        throw .badInput("task id '\(planned.id)' appears twice in the plan; task ids must be unique")
                    }
                    if !planned.dependsOn.isEmpty { dependencies = true }
                }
            }
            if dependencies { try checkDependencies(of: state.tasks, position: { state.taskPosition($0) }, cycles: true, in: "the plan") }
            try checkMetadata(metadata)
            return state
        }
        if case .stateReplaced(let image) = event.payload {
            try check(image)
            return image.state(seq: event.seq, updated: event.time)
        }
        if case .stateRestored(_, let image) = event.payload {
            try check(image)
            return image.state(seq: event.seq, updated: event.time)
        }
        return nil
    }

    /// Checks `event` against this state, then applies it; nothing changes
    /// when a check fails.
    private mutating func change(by event: Event) throws(StateJournalError) {
        switch event.payload {
        case .taskAdded(let taskID, let wave, let description, let dependsOn):
            try Identifier.check(taskID, as: "task id")
            if task(taskID) != nil {
                throw .badInput("task '\(taskID)' exists already; choose another id")
            }
            try Self.checkWave(wave, in: self, allowZero: false)
            let added = WorkflowTask(id: taskID, description: description, wave: wave, dependsOn: dependsOn)
            // A new task cannot close a cycle: no task depends on it yet.
            if !dependsOn.isEmpty {
                try Self.checkDependencies(of: [added], position: { taskPosition($0) }, cycles: false, in: "task '\(taskID)'")
            }
            insertTask(added)
        case .taskStarted(let taskID):
            let i = try Self.existingTask(taskID, in: self)
            guard tasks[i].status == .pending || tasks[i].status == .failed else {
                throw Self.refusedTransition(tasks[i], to: .inProgress)
            }
            updateTask(at: i) { $0.status = .inProgress; $0.error = nil; $0.owner = nil; $0.leaseExpires = nil }
        case .taskCompleted(let taskID, let commit, let files, let force):
            let i = try Self.existingTask(taskID, in: self)
            guard tasks[i].status != .completed else { throw Self.refusedTransition(tasks[i], to: .completed) }
            if let commit { try Identifier.check(commit, as: "commit") }
            try Self.checkNotHeld(tasks[i], by: event, action: "complete", force: force)
            updateTask(at: i) {
                $0.status = .completed
                $0.commit = commit
                $0.files = files
                $0.error = nil
                $0.owner = nil
                $0.leaseExpires = nil
            }
        case .taskFailed(let taskID, let error, let force):
            let i = try Self.existingTask(taskID, in: self)
            guard tasks[i].status == .pending || tasks[i].status == .inProgress else {
                throw Self.refusedTransition(tasks[i], to: .failed)
            }
            try Self.checkNotHeld(tasks[i], by: event, action: "fail", force: force)
            updateTask(at: i) { $0.status = .failed; $0.error = error; $0.owner = nil; $0.leaseExpires = nil }
        case .taskClaimed(let taskID, let owner, let leaseExpires, _, let force):
            let i = try Self.existingTask(taskID, in: self)
            guard !owner.isEmpty else { throw .badInput("the claim's owner is empty; give the actor that claims the task") }
            try Self.checkLeaseEnd(leaseExpires)
            if let refusal = claimRefusal(tasks[i], for: owner, at: event.time, force: force) { throw refusal }
            updateTask(at: i) {
                $0.status = .inProgress
                $0.error = nil
                $0.owner = owner
                $0.leaseExpires = leaseExpires
            }
        case .taskLeaseRenewed(let taskID, let owner, let leaseExpires):
            let i = try Self.existingTask(taskID, in: self)
            guard tasks[i].status == .inProgress, let holder = tasks[i].owner else {
                throw StateJournalError(.conflict, "task '\(taskID)' is \(tasks[i].status.rawValue) and not claimed, "
                    + "so there is no lease to renew — claim it with 'task claim \(taskID)'")
            }
            guard holder == owner else {
                throw StateJournalError(.conflict, "task '\(taskID)' is claimed by \(Self.describeClaim(tasks[i])); only its owner can renew the lease")
            }
            try Self.checkLeaseEnd(leaseExpires)
            updateTask(at: i) { $0.leaseExpires = leaseExpires }
        case .taskReleased(let taskID, _, let force):
            let i = try Self.existingTask(taskID, in: self)
            guard tasks[i].status == .inProgress, tasks[i].owner != nil else {
                throw StateJournalError(.conflict, "task '\(taskID)' is \(tasks[i].status.rawValue) and not claimed; there is nothing to release")
            }
            try Self.checkNotHeld(tasks[i], by: event, action: "release", force: force)
            updateTask(at: i) { $0.status = .pending; $0.owner = nil; $0.leaseExpires = nil }
        case .waveSet(let wave):
            try Self.checkWave(wave, in: self, allowZero: true)
            currentWave = wave
        case .noteAdded(let text):
            guard !text.isEmpty else { throw .badInput("the note is empty; give the text to record") }
            notes.append(text)
        case .metadataSet(let key, let value):
            try Self.checkMetadata([MetadataEntry(key: key, value: value)])
            setMetadata(key, value)
        case .taskEdited(let taskID, let description, let commit, let files, let error):
            let i = try Self.existingTask(taskID, in: self)
            if let commit { try Identifier.check(commit, as: "commit") }
            updateTask(at: i) {
                $0.description = description
                $0.commit = commit
                $0.files = files
                $0.error = error
            }
        case .noteRemoved(let text):
            guard let index = notes.firstIndex(of: text) else {
                throw .badInput("there is no note '\(text)' to remove")
            }
            notes.remove(at: index)
        case .metadataRemoved(let key):
            guard metadataValue(key) != nil else {
                throw .badInput("there is no metadata key '\(key)' to remove")
            }
            removeMetadata(key)
        case .workflowRenamed(let name):
            self.name = name
        case .sectionSet(let section):
            try Self.checkSection(section)
            if let i = sections.firstIndex(where: { $0.name == section.name }) {
                if section.markdown.isEmpty { sections.remove(at: i) } else { sections[i] = section }
            } else if !section.markdown.isEmpty {
                sections.append(section)
            } else {
                throw .badInput("there is no section '\(section.name)' to remove")
            }
        case .workflowInitialized, .stateReplaced, .stateRestored:
            break // replacements, handled by apply(_:to:)
        }
        seq = event.seq
        eventIdentity = event.identity
        updated = event.time
    }

    /// Refuses `action` on a task another actor holds by a live claim
    /// (decided at the event's own time), unless forced.
    private static func checkNotHeld(_ task: WorkflowTask, by event: Event, action: String, force: Bool) throws(StateJournalError) {
        guard !force, let owner = task.owner, owner != event.actor, task.isClaimed(at: event.time) else { return }
        throw StateJournalError(.conflict, "task '\(task.id)' is claimed by \(describeClaim(task)); "
            + "only its owner can \(action) it — \(waitAdvice(task)), or pass --force to override (recorded in the event)")
    }

    /// What to do about another actor's claim: wait for its lease, or —
    /// without expiry — ask its owner.
    package static func waitAdvice(_ task: WorkflowTask) -> String {
        task.leaseExpires == nil ? "ask \(task.owner ?? "its owner") to release it" : "wait for the lease to expire"
    }

    /// `agent-3 until 2026-11-30T05:15:00.000000Z`, or `agent-3 (no expiry)`.
    package static func describeClaim(_ task: WorkflowTask) -> String {
        let owner = task.owner ?? "nobody"
        guard let expiry = task.leaseExpires else { return "\(owner) (no expiry)" }
        return "\(owner) until \(expiry.rfc3339)"
    }

    /// Where the task `id` is in `state.tasks` (one lookup: the event's
    /// checks and its change both use the position); the error names the
    /// task meant when there is none.
    private static func existingTask(_ id: String, in state: WorkflowState) throws(StateJournalError) -> Int {
        guard let position = state.taskPosition(id) else {
            if let guess = Suggestion.didYouMean(id, in: state.tasks.lazy.map(\.id)) {
                throw .badInput("unknown task '\(id)' in workflow '\(state.workflowID)' — \(guess)")
            }
            let known = state.tasks.prefix(5).map(\.id).joined(separator: ", ")
            throw .badInput("unknown task '\(id)' in workflow '\(state.workflowID)'"
                + (known.isEmpty ? "; it has no tasks yet — add one with 'task add'" : " — known tasks include: \(known)"))
        }
        return position
    }

    private static func refusedTransition(_ task: WorkflowTask, to target: TaskStatus) -> StateJournalError {
        let hint: String
        switch task.status {
        case .completed: hint = "a completed task changes only through 'update' or 'restore'"
        case .inProgress: hint = "an in-progress task can be completed or failed"
        case .failed: hint = "a failed task can be started again or completed"
        case .pending: hint = "a pending task can be started, completed or failed"
        }
        return .badInput("task '\(task.id)' is \(task.status.rawValue) and cannot become \(target.rawValue); \(hint)")
    }

    private static func checkWave(_ wave: Int, in state: WorkflowState, allowZero: Bool) throws(StateJournalError) {
        let low = allowZero ? 0 : 1
        guard wave >= low && wave <= state.totalWaves else {
            throw .badInput("wave \(wave) is out of range; this workflow has waves \(low)…\(state.totalWaves)")
        }
    }

    /// The titles of STATE.md's own sections: a free section may not take one.
    private static let reservedSectionTitles = ["Completed", "In Progress", "Pending", "Failed", "Notes", "Metadata"]

    /// A free section renders back as itself: a one-line name that is not one
    /// of the format's own sections, a known place, and no line that would
    /// start another section or look like the footer.
    package static func checkSection(_ section: FreeSection) throws(StateJournalError) {
        let name = section.name
        guard !name.isEmpty, !name.contains(where: { $0.isNewline }), name.trimmingBlanks == name else {
            throw .badInput("a section name must be one line of text without white space at its ends")
        }
        var bare = Substring(String(String.UnicodeScalarView(name.unicodeScalars.filter { $0 != "\u{FE0F}" })))
        if let space = bare.firstIndex(of: " "), bare[bare.startIndex..<space].unicodeScalars.allSatisfy({ $0.properties.isEmojiPresentation || $0.properties.isEmoji && $0.value > 0xff }) {
            bare = bare[bare.index(after: space)...]
        }
        for title in reservedSectionTitles where bare == title || bare.hasPrefix(title + " (") {
            throw .badInput("'## \(name)' is one of STATE.md's own sections, not a free section")
        }
        guard FreeSection.places.contains(section.after) else {
            throw .badInput("a section cannot follow '\(section.after)'; one of: \(FreeSection.places.joined(separator: ", "))")
        }
        for line in section.markdown.split(separator: "\n", omittingEmptySubsequences: false)
        where line.hasPrefix("## ") || line.hasPrefix("<!-- statejournal") {
            throw .badInput("the markdown of section '\(name)' has a line '\(line.prefix(40))' that would start another section")
        }
    }

    /// Refuses a lease end the journal could not write and read back (after year 9999).
    package static func checkLeaseEnd(_ end: Timestamp?) throws(StateJournalError) {
        guard let end, end < Timestamp.earliest || Timestamp.latest < end else { return }
        throw .badInput("the lease would end outside the years 1–9999; give a shorter lease, or 'none' for no expiry")
    }

    /// Refuses dependencies on unknown tasks, on the task itself, repeated
    /// ones and cycles (`where`: what the message names), among `tasks`.
    package static func checkDependencies(of tasks: [WorkflowTask], in place: String) throws(StateJournalError) {
        guard tasks.contains(where: { !$0.dependsOn.isEmpty }) else { return }
        var index: [String: Int] = [:]
        for (i, task) in tasks.enumerated() { index[task.id] = i }
        try checkDependencies(of: tasks, position: { index[$0] }, cycles: true, in: place)
    }

    /// Refuses dependencies of `tasks` on tasks `position` does not know,
    /// on the task itself, repeated ones and, with `cycles`, cycles among
    /// `tasks` (`position` then gives each one's index in `tasks`).
    private static func checkDependencies(of tasks: [WorkflowTask], position: (String) -> Int?, cycles: Bool,
                                          in place: String) throws(StateJournalError) {
        var any = false
        for task in tasks where !task.dependsOn.isEmpty {
            any = true
            var seen = Set<String>()
            for dependency in task.dependsOn {
                guard dependency != task.id else {
                    throw .badInput("task '\(task.id)' depends on itself; remove it from its depends_on")
                }
                guard position(dependency) != nil else {
                    throw .badInput("task '\(task.id)' depends on '\(dependency)', which is not a task of \(place == "the plan" ? "the plan" : "the workflow"); "
                        + "give the id of an existing task")
                }
                guard seen.insert(dependency).inserted else {
                    throw .badInput("task '\(task.id)' lists '\(dependency)' twice in its depends_on; list each dependency once")
                }
            }
        }
        guard any, cycles else { return }
        // Depth-first search with an explicit stack (a chain of dependencies
        // may be as long as the plan): `path` is the chain being followed,
        // each with the index of the next dependency to look at.
        var state = [UInt8](repeating: 0, count: tasks.count)  // 0 new, 1 on the path, 2 done
        var path: [(task: Int, next: Int)] = []
        for root in tasks.indices where state[root] == 0 {
            state[root] = 1
            path.append((root, 0))
            while let top = path.last {
                let dependencies = tasks[top.task].dependsOn
                guard top.next < dependencies.count else {
                    state[top.task] = 2
                    path.removeLast()
                    continue
                }
                path[path.count - 1].next += 1
                guard let j = position(dependencies[top.next]) else { continue }
                if state[j] == 1 {
                    let start = path.firstIndex { $0.task == j } ?? 0
                    let cycle = (path[start...].map(\.task) + [j]).map { tasks[$0].id }.joined(separator: " → ")
                    throw .badInput("the dependencies in \(place) form a cycle: \(cycle); a task cannot wait for itself")
                }
                if state[j] == 0 {
                    state[j] = 1
                    path.append((j, 0))
                }
            }
        }
    }

    private static func checkMetadata(_ entries: [MetadataEntry]) throws(StateJournalError) {
        for entry in entries where entry.key.isEmpty {
            _ = entry
            throw .badInput("a metadata key is empty; give a non-empty key")
        }
    }

    /// Checks a whole state (replace, restore, a snapshot's) as the fold does.
    package static func check(_ image: StateImage) throws(StateJournalError) {
        try Identifier.check(image.workflowID, as: "workflow id")
        var seen = Set<String>()
        for task in image.tasks {
            try Identifier.check(task.id, as: "task id")
            guard seen.insert(task.id).inserted else {
                throw .badInput("task id '\(task.id)' appears twice; task ids must be unique")
            }
            guard task.wave >= 1 && task.wave <= max(image.totalWaves, 1) else {
                throw .badInput("task '\(task.id)' is in wave \(task.wave), outside 1…\(image.totalWaves)")
            }
            if let commit = task.commit { try Identifier.check(commit, as: "commit") }
        }
        var names = Set<String>()
        for section in image.sections {
            try checkSection(section)
            guard !section.markdown.isEmpty, names.insert(section.name).inserted else {
                throw .badInput("section '\(section.name)' is empty or appears twice")
            }
        }
        try checkDependencies(of: image.tasks, in: "the state")
        guard image.currentWave >= 0 && image.currentWave <= image.totalWaves else {
            throw .badInput("current wave \(image.currentWave) is outside 0…\(image.totalWaves)")
        }
        try checkMetadata(image.metadata)
    }
}

extension String {
    /// Without spaces and tabs at either end.
    fileprivate var trimmingBlanks: String {
        var scalars = Substring(self)
        while let c = scalars.first, c == " " || c == "\t" { scalars = scalars.dropFirst() }
        while let c = scalars.last, c == " " || c == "\t" { scalars = scalars.dropLast() }
        return String(scalars)
    }
}
