import StateJournalEngine

/// A three-way merge of an edit of STATE.md into the journal
/// (Docs/GUARANTEES.md, "An edit of STATE.md").
///
/// - *base*: the state at the seq the edited file's footer names — what
///   the editor saw;
/// - *edit*: the edited file, parsed;
/// - *current*: the journal's state now (later than base when others wrote
///   since).
///
/// Every difference between base and edit becomes a payload to apply on
/// top of current — unless the journal changed the same item since base in
/// another way: then the journal wins and the edit's value is a
/// ``Conflict``. What no event can express (a task removed, the workflow
/// id changed, a task made pending again) is a conflict too, so that
/// nothing the editor typed is dropped silently.
///
/// ```swift
/// let merge = EditMerge(base: base, edit: try MarkdownParser.parse(text), current: current)
/// for payload in merge.payloads { /* check against the fold, append */ }
/// ```
package struct EditMerge {
    /// A part of the edit that was not recorded.
    package struct Conflict: Sendable, Equatable {
        /// What it concerns, e.g. `task task_1: status`.
        package var item: String
        /// The edit's value.
        package var edit: String
        /// The journal's value, which stands.
        package var journal: String
        /// Why the edit's value was not recorded.
        package var reason: String
    }

    /// In the order they are to be applied.
    package private(set) var payloads: [Event.Payload] = []
    package private(set) var conflicts: [Conflict] = []

    package init(base: WorkflowState, edit: ParsedStateFile, current: WorkflowState) {
        mergeHeader(base, edit, current)
        mergeTasks(base, edit, current)
        mergeNotes(base.notes, edit.notes, current.notes)
        mergeMetadata(base, edit, current)
        mergeSections(base, edit, current)
    }

    private mutating func conflict(_ item: String, edit: String, journal: String,
                                   reason: String = "the journal changed it since the edit's base") {
        conflicts.append(Conflict(item: item, edit: edit, journal: journal, reason: reason))
    }

    /// The three-way rule for one value: nil when the edit did not change
    /// it (or the journal already has the edit's value), the edit's value
    /// when only the edit changed it; a conflict when both did, differently.
    private mutating func merged<T>(_ item: String, base: T, edit: T, current: T, same: (T, T) -> Bool,
                                    show: (T) -> String) -> T? {
        if same(edit, base) || same(edit, current) { return nil }
        if same(current, base) { return edit }
        conflict(item, edit: show(edit), journal: show(current))
        return nil
    }

    private mutating func merged(_ item: String, base: String, edit: String, current: String) -> String? {
        merged(item, base: base, edit: edit, current: current, same: Self.sameText, show: Self.quoted)
    }

    /// Text the same but for white space at its ends (editors add and strip it).
    static func sameText(_ a: String, _ b: String) -> Bool { trimmed(a) == trimmed(b) }
    static func sameText(_ a: String?, _ b: String?) -> Bool { a.map(trimmed) == b.map(trimmed) }

    static func trimmed(_ text: String) -> String {
        var scalars = Substring(text)
        while let c = scalars.first, c == " " || c == "\t" || c == "\n" || c == "\r" { scalars = scalars.dropFirst() }
        while let c = scalars.last, c == " " || c == "\t" || c == "\n" || c == "\r" { scalars = scalars.dropLast() }
        return String(scalars)
    }

    static func quoted(_ text: String?) -> String { text.map { "“\($0)”" } ?? "(none)" }

    // MARK: Header

    private mutating func mergeHeader(_ base: WorkflowState, _ edit: ParsedStateFile, _ current: WorkflowState) {
        if edit.workflowID != base.workflowID {
            conflict("workflow id", edit: edit.workflowID, journal: current.workflowID,
                     reason: "no event changes a workflow's id; start another workflow with 'init'")
        }
        if edit.totalWaves != base.totalWaves {
            conflict("total waves", edit: String(edit.totalWaves), journal: String(current.totalWaves),
                     reason: "no event changes the number of waves; use 'update' or 'init'")
        }
        if let name = merged("title", base: base.name, edit: edit.name, current: current.name) {
            payloads.append(.workflowRenamed(name: Self.trimmed(name)))
        }
        if let wave = merged("current wave", base: base.currentWave, edit: edit.currentWave, current: current.currentWave,
                             same: ==, show: { String($0) }) {
            payloads.append(.waveSet(wave: wave))
        }
    }

    // MARK: Tasks

    /// A task's status as the edit says it. The section it is listed in
    /// says one thing and its checkbox may say another: a ticked box
    /// (`[x]` under Pending) or a line moved to another section with its
    /// old box. Whichever differs from `base` (the status before the edit)
    /// is the change; the checkbox when both do.
    static func status(of task: WorkflowTask, checkbox: Character?, base: TaskStatus?) -> TaskStatus {
        guard let checkbox, let section = StateFileSection.allCases.first(where: { $0.status == task.status }),
              Character(checkbox.lowercased()) != section.checkbox
        else { return task.status }
        let ticked: TaskStatus
        switch Character(checkbox.lowercased()) {
        case "x": ticked = .completed
        case "~": ticked = .inProgress
        default: ticked = task.status == .failed ? .failed : (base == .failed ? .failed : .pending)
        }
        return ticked != base ? ticked : task.status
    }

    /// The files the edit gives a task whose file list STATE.md shows
    /// cut to three (`a, b, c (+N more)`): the hidden ones are kept.
    static func files(of task: WorkflowTask, hidden: Int?, base: WorkflowTask?) -> [String] {
        guard let hidden, let base, base.files.count > StateMarkdown.filesShown else { return task.files }
        let rest = Array(base.files.dropFirst(StateMarkdown.filesShown))
        return hidden == rest.count ? task.files + rest : task.files
    }

    private mutating func mergeTasks(_ base: WorkflowState, _ edit: ParsedStateFile, _ current: WorkflowState) {
        var seen = Set<String>()
        for var task in edit.tasks where seen.insert(task.id).inserted {
            task.status = Self.status(of: task, checkbox: edit.checkboxes[task.id], base: base.task(task.id)?.status)
            task.files = Self.files(of: task, hidden: edit.filesTruncated[task.id], base: base.task(task.id))
            if let was = base.task(task.id) {
                if let now = current.task(task.id) {
                    mergeUnrecorded(task, base: was, current: now, waveShown: edit.wavesShown.contains(task.id))
                }
                mergeTask(task, base: was, current: current.task(task.id))
            } else if let now = current.task(task.id) {
                if !Self.sameTask(now, task) {
                    conflict("task \(task.id)", edit: Self.describe(task), journal: Self.describe(now),
                             reason: "the journal added a task with this id since the edit's base")
                }
            } else {
                addTask(task)
            }
        }
        for task in base.tasks where !seen.contains(task.id) {
            conflict("task \(task.id)", edit: "(removed)", journal: current.task(task.id).map(Self.describe) ?? "(none)",
                     reason: "no event removes a task; it stays")
        }
    }

    /// What an edit of a task may change that no event records from an
    /// edit — its dependencies, its wave, its claim (owner, lease) — kept
    /// as conflicts saying how to make the change. The wave only where the
    /// file shows it (under a `### Wave W` heading, never the flat Failed
    /// list); the lease at the precision STATE.md shows it (the second, in
    /// local time). An owner or lease line dropped from a task the edit
    /// completes or fails is no change: that ends the claim anyway.
    private mutating func mergeUnrecorded(_ task: WorkflowTask, base: WorkflowTask, current: WorkflowTask,
                                          waveShown: Bool) {
        let id = task.id
        func list(_ ids: [String]) -> String { ids.isEmpty ? "(none)" : ids.joined(separator: ", ") }
        if Set(task.dependsOn) != Set(base.dependsOn), Set(task.dependsOn) != Set(current.dependsOn) {
            conflict("task \(id): dependencies", edit: list(task.dependsOn), journal: list(current.dependsOn),
                     reason: "no event records dependencies from an edit; dependencies are changed with `update`")
        }
        if waveShown, task.wave != base.wave, task.wave != current.wave {
            conflict("task \(id): wave", edit: "wave \(task.wave)", journal: "wave \(current.wave)",
                     reason: "no event moves a task to another wave from an edit; waves are changed with `update`")
        }
        let ends = task.status == .completed || task.status == .failed
        if !(ends && task.owner == nil), !Self.sameText(task.owner, base.owner), !Self.sameText(task.owner, current.owner) {
            conflict("task \(id): owner", edit: task.owner ?? "(none)", journal: current.owner ?? "(none)",
                     reason: "no event records a claim from an edit; claims change with `task claim`/`task release`")
        }
        let shown = { (t: Timestamp?) in t?.localDateTime }
        if !(ends && task.leaseExpires == nil), shown(task.leaseExpires) != shown(base.leaseExpires),
           shown(task.leaseExpires) != shown(current.leaseExpires) {
            conflict("task \(id): lease", edit: shown(task.leaseExpires) ?? "(none)",
                     journal: shown(current.leaseExpires) ?? "(none)",
                     reason: "no event records a lease from an edit; leases change with `task claim`/`task heartbeat`/`task release`")
        }
    }

    static func sameTask(_ a: WorkflowTask, _ b: WorkflowTask) -> Bool {
        a.status == b.status && sameText(a.description, b.description) && a.commit == b.commit && a.files == b.files
            && sameText(a.error, b.error)
    }

    static func describe(_ task: WorkflowTask) -> String {
        var text = "\(task.status.rawValue), wave \(task.wave)"
        if !task.description.isEmpty { text += ", “\(task.description)”" }
        if let commit = task.commit { text += ", commit \(commit)" }
        if !task.files.isEmpty { text += ", files \(task.files.joined(separator: ", "))" }
        if let error = task.error { text += ", error “\(error)”" }
        return text
    }

    /// A task only the edit has: `task.added`, then its status and details.
    private mutating func addTask(_ task: WorkflowTask) {
        payloads.append(.taskAdded(taskID: task.id, wave: task.wave, description: Self.trimmed(task.description),
                                   dependsOn: task.dependsOn))
        var after = WorkflowTask(id: task.id, description: Self.trimmed(task.description), wave: task.wave, dependsOn: task.dependsOn)
        statusChange(to: task.status, id: task.id, commit: task.commit, files: task.files, error: task.error, task: &after)
        if after.commit != task.commit || after.files != task.files || !Self.sameText(after.error, task.error) {
            payloads.append(.taskEdited(taskID: task.id, description: after.description, commit: task.commit,
                                        files: task.files, error: task.error))
        }
    }

    /// The payload that takes a task to `status`, applied to `task` as the fold would.
    private mutating func statusChange(to status: TaskStatus, id: String, commit: String?, files: [String], error: String?,
                                       task: inout WorkflowTask) {
        switch status {
        case .pending:
            return
        case .inProgress:
            payloads.append(.taskStarted(taskID: id))
            task.error = nil
        case .completed:
            payloads.append(.taskCompleted(taskID: id, commit: commit, files: files))
            task.commit = commit
            task.files = files
            task.error = nil
        case .failed:
            let error = error.map(Self.trimmed) ?? "marked failed in STATE.md"
            payloads.append(.taskFailed(taskID: id, error: error))
            task.error = error
        }
        task.status = status
    }

    private mutating func mergeTask(_ task: WorkflowTask, base: WorkflowTask, current: WorkflowTask?) {
        let id = task.id
        guard let current else {
            conflict("task \(id)", edit: Self.describe(task), journal: "(none)",
                     reason: "the journal no longer has this task (a restore or another workflow since the edit's base)")
            return
        }
        var wanted = current
        var changed = false
        if let text = merged("task \(id): description", base: base.description, edit: task.description,
                             current: current.description) {
            wanted.description = Self.trimmed(text)
            changed = true
        }
        if let commit = merged("task \(id): commit", base: base.commit, edit: task.commit, current: current.commit,
                               same: ==, show: { $0 ?? "(none)" }) {
            wanted.commit = commit
            changed = true
        }
        if let files = merged("task \(id): files", base: base.files, edit: task.files, current: current.files,
                              same: ==, show: { $0.isEmpty ? "(none)" : $0.joined(separator: ", ") }) {
            wanted.files = files
            changed = true
        }
        if let error = merged("task \(id): error", base: base.error, edit: task.error, current: current.error,
                              same: Self.sameText, show: Self.quoted) {
            wanted.error = error.map(Self.trimmed)
            changed = true
        }
        var after = current
        if let status = merged("task \(id): status", base: base.status, edit: task.status, current: current.status,
                               same: ==, show: { $0.rawValue }) {
            if status == .pending {
                conflict("task \(id): status", edit: "pending", journal: current.status.rawValue,
                         reason: "no event makes a task pending again; use 'restore' or 'update'")
            } else {
                statusChange(to: status, id: id, commit: wanted.commit, files: wanted.files, error: wanted.error, task: &after)
            }
        }
        guard changed else { return }
        if after.description != wanted.description || after.commit != wanted.commit || after.files != wanted.files
            || after.error != wanted.error {
            payloads.append(.taskEdited(taskID: id, description: wanted.description, commit: wanted.commit,
                                        files: wanted.files, error: wanted.error))
        }
    }

    // MARK: Notes

    /// Notes as multisets: each one the edit removed is removed (if the
    /// journal still has it), each one it added is appended (unless the
    /// journal added the same since).
    private mutating func mergeNotes(_ base: [String], _ edit: [String], _ current: [String]) {
        func counts(_ notes: [String]) -> [String: Int] { notes.reduce(into: [:]) { $0[Self.trimmed($1), default: 0] += 1 } }
        let b = counts(base), e = counts(edit), c = counts(current)
        var removing: [String: Int] = [:]
        for note in base where removing[Self.trimmed(note)] == nil {
            let key = Self.trimmed(note)
            let removed = (b[key] ?? 0) - (e[key] ?? 0)
            guard removed > 0 else { continue }
            removing[key] = min(removed, c[key] ?? 0)
        }
        for note in current {
            let key = Self.trimmed(note)
            if let n = removing[key], n > 0 {
                payloads.append(.noteRemoved(text: note))
                removing[key] = n - 1
            }
        }
        var adding: [String: Int] = [:]
        for note in edit {
            let key = Self.trimmed(note)
            if adding[key] == nil {
                let added = (e[key] ?? 0) - (b[key] ?? 0)
                let journalAdded = max(0, (c[key] ?? 0) - (b[key] ?? 0))
                adding[key] = max(0, added - journalAdded)
            }
            if let n = adding[key], n > 0 {
                payloads.append(.noteAdded(text: key))
                adding[key] = n - 1
            }
        }
    }

    // MARK: Metadata

    private mutating func mergeMetadata(_ base: WorkflowState, _ edit: ParsedStateFile, _ current: WorkflowState) {
        var editValues: [String: String] = [:]
        var keys: [String] = []
        for entry in edit.metadata {
            if let earlier = editValues[entry.key] {
                // One value per key: the last one typed is merged.
                if !Self.sameText(earlier, entry.value) {
                    conflict("metadata \(entry.key)", edit: Self.quoted(earlier),
                             journal: Self.quoted(current.metadataValue(entry.key)),
                             reason: "the key is typed more than once; a key has one value, the last one typed is merged")
                }
            } else {
                keys.append(entry.key)
            }
            editValues[entry.key] = entry.value
        }
        for key in keys {
            if let value = merged("metadata \(key)", base: base.metadataValue(key), edit: editValues[key],
                                  current: current.metadataValue(key), same: Self.sameText, show: Self.quoted), let value {
                payloads.append(.metadataSet(key: key, value: Self.trimmed(value)))
            }
        }
        for entry in base.metadata where editValues[entry.key] == nil {
            let now = current.metadataValue(entry.key)
            if now == entry.value {
                payloads.append(.metadataRemoved(key: entry.key))
            } else if now != nil {
                conflict("metadata \(entry.key)", edit: "(removed)", journal: Self.quoted(now))
            }
        }
    }

    // MARK: Sections

    /// Where a section of `state` shows: after the last section at or
    /// before its place that `state` shows (`header` when none).
    static func shownPlace(_ place: String, in state: WorkflowState) -> String {
        let places = FreeSection.places
        guard var i = places.firstIndex(of: place) else { return place }
        while i > 0 {
            let kind = StateFileSection.allCases.first { $0.place == places[i] }
            let shown: Bool
            switch kind {
            case .notes?: shown = !state.notes.isEmpty
            case .metadata?: shown = !state.metadata.isEmpty
            case let section?: shown = state.tasks.contains { $0.status == section.status }
            case nil: shown = true
            }
            if shown { return places[i] }
            i -= 1
        }
        return "header"
    }

    static func sameMarkdown(_ a: String, _ b: String) -> Bool {
        func lines(_ text: String) -> [String] {
            text.split(separator: "\n", omittingEmptySubsequences: false).map { line in
                var line = Substring(line)
                while let c = line.last, c == " " || c == "\t" || c == "\r" { line = line.dropLast() }
                return String(line)
            }
        }
        return lines(a) == lines(b)
    }

    private mutating func mergeSections(_ base: WorkflowState, _ edit: ParsedStateFile, _ current: WorkflowState) {
        func find(_ name: String, _ state: WorkflowState) -> FreeSection? { state.sections.first { $0.name == name } }
        for section in edit.sections {
            let was = find(section.name, base)
            let now = find(section.name, current)
            let item = "section ## \(section.name)"
            guard let was else {
                if let now {
                    if !Self.sameMarkdown(now.markdown, section.markdown) {
                        conflict(item, edit: section.markdown, journal: now.markdown,
                                 reason: "the journal added a section with this name since the edit's base")
                    }
                } else {
                    payloads.append(.sectionSet(section))
                }
                continue
            }
            let moved = Self.shownPlace(section.after, in: base) != Self.shownPlace(was.after, in: base)
            guard moved || !Self.sameMarkdown(section.markdown, was.markdown) else { continue }
            guard let now else {
                conflict(item, edit: section.markdown, journal: "(removed)")
                continue
            }
            if Self.sameMarkdown(now.markdown, section.markdown) && (!moved || now.after == section.after) { continue }
            if now == was {
                payloads.append(.sectionSet(FreeSection(name: section.name, after: moved ? section.after : now.after,
                                                        markdown: section.markdown)))
            } else {
                conflict(item, edit: section.markdown, journal: now.markdown)
            }
        }
        for section in base.sections where !edit.sections.contains(where: { $0.name == section.name }) {
            guard let now = find(section.name, current) else { continue }
            if Self.sameMarkdown(now.markdown, section.markdown) {
                payloads.append(.sectionSet(FreeSection(name: section.name, after: now.after, markdown: "")))
            } else {
                conflict("section ## \(section.name)", edit: "(removed)", journal: now.markdown)
            }
        }
    }
}
