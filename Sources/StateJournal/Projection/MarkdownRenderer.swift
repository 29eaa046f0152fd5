import StateJournalEngine
/// Renders a ``WorkflowState`` as STATE.md (Docs/FORMAT.md, STATE.md).
///
/// The output keeps the earlier tool's format, so tools and people that read
/// those files keep working, and adds:
/// - every task, whatever its status or wave;
/// - user text escaped (see ``MarkdownParser`` for the inverse), so that it
///   renders as literal text and can never add, remove or change a line of
///   the structure;
/// - a last line `<!-- statejournal v1 seq=N event=xxxxxxxx crc32c=xxxxxxxx -->`
///   holding the journal position the file reflects (the last event's
///   sequence number and identity) and the CRC-32C of every byte before
///   that line, so that a damaged or hand-edited file is detected.
///
/// Layout: the header, then each non-empty section as its heading, a blank
/// line, its content and a blank line; wave groups within a section are
/// separated by one blank line; the footer is the last line, ended by `\n`.
/// No line ends in white space. Rendering is deterministic: the same state
/// gives the same bytes (times are shown in the local time zone).
///
/// ```swift
/// let markdown = MarkdownRenderer.render(state)
/// ```
package enum MarkdownRenderer {
    /// The complete STATE.md text for `state`, footer included.
    package static func render(_ state: WorkflowState) -> String {
        String(decoding: renderBytes(state), as: UTF8.self)
    }

    /// ``render(_:)`` as UTF-8 bytes, written straight into one buffer.
    package static func renderBytes(_ state: WorkflowState) -> [UInt8] {
        var out: [UInt8] = []
        render(state, into: &out)
        return out
    }

    /// Replaces the contents of `out` with ``render(_:)``'s bytes, keeping
    /// its capacity (a writer renders into the same buffer write after write).
    package static func render(_ state: WorkflowState, into out: inout [UInt8]) {
        out.removeAll(keepingCapacity: true)
        // About 60 bytes a task; grown as needed.
        out.reserveCapacity(1024 + 64 * state.tasks.count)
        appendBody(state, to: &out)
        let crc = out.withUnsafeBytes { CRC32C.update(0, $0) }
        appendUTF8(ProjectionFooter.line(seq: state.seq, event: state.eventIdentity, crc32c: crc), to: &out)
        out.append(newline)
    }

    /// STATE.md for `state` without its footer line (which changes with
    /// every event: its sequence number and checksum): what people compare.
    package static func renderBody(_ state: WorkflowState) -> String {
        var out: [UInt8] = []
        appendBody(state, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    // MARK: Bytes
    //
    // The body, line by line, each line followed by a line feed. The line
    // functions below (``headerLines(of:completed:tasks:)``,
    // ``taskLines(_:checkbox:)``, ``noteLine(_:)``, ``metadataLine(_:)``)
    // build the same lines as strings, for ``StepDiffer``; the tests check
    // that both give the same bytes.

    private static let newline = UInt8(ascii: "\n")

    private static func appendBody(_ state: WorkflowState, to out: inout [UInt8]) {
        // Tasks are looked at in place, by index: `for task in state.tasks`
        // copies each one (retaining every string and array in it), and a
        // render walks the tasks once per section.
        var completed = 0
        for i in state.tasks.indices where state.tasks[i].status == .completed { completed += 1 }
        for line in headerLines(of: state, completed: completed, tasks: state.tasks.count) { appendLine(line, to: &out) }
        appendFreeSections(of: state, after: "header", to: &out)
        let defaultWave = StateMarkdown.defaultWave(currentWave: state.currentWave)
        for section in StateFileSection.allCases {
            switch section {
            case .notes:
                if !state.notes.isEmpty {
                    appendLine(section.heading(taskCount: 0), to: &out)
                    out.append(newline)
                    for note in state.notes { appendLine(noteLine(note), to: &out) }
                    out.append(newline)
                }
            case .metadata:
                if !state.metadata.isEmpty {
                    appendLine(section.heading(taskCount: 0), to: &out)
                    out.append(newline)
                    for entry in state.metadata { appendLine(metadataLine(entry), to: &out) }
                    out.append(newline)
                }
            default:
                if let status = section.status {
                    appendTaskSection(section, status: status, of: state, defaultWave: defaultWave, to: &out)
                }
            }
            appendFreeSections(of: state, after: section.place, to: &out)
        }
    }

    private static func appendLine(_ line: String, to out: inout [UInt8]) {
        appendUTF8(line, to: &out)
        out.append(newline)
    }

    /// The bytes of a literal, copied at once.
    private static func appendLiteral(_ text: StaticString, to out: inout [UInt8]) {
        out.append(contentsOf: UnsafeBufferPointer(start: text.utf8Start, count: text.utf8CodeUnitCount))
    }

    /// The bytes of `text`, copied at once (not one by one through its view).
    private static func appendUTF8(_ text: String, to out: inout [UInt8]) {
        if text.utf8.withContiguousStorageIfAvailable({ out.append(contentsOf: $0) }) != nil { return }
        out.append(contentsOf: text.utf8)
    }

    /// `text` escaped (``MarkdownEscaping/escape(_:as:)``).
    private static func appendEscaped(_ text: String, to out: inout [UInt8]) {
        appendUTF8(MarkdownEscaping.escape(text), to: &out)
    }

    /// `label`, then a space and `text` escaped unless it is empty (``StateMarkdown/labelled(_:_:)``).
    private static func appendLabelled(_ label: String, escaping text: String, to out: inout [UInt8]) {
        appendUTF8(label, to: &out)
        if !text.isEmpty {
            out.append(UInt8(ascii: " "))
            appendEscaped(text, to: &out)
        }
        out.append(newline)
    }

    private static func appendFreeSections(of state: WorkflowState, after place: String, to out: inout [UInt8]) {
        for section in state.sections where section.after == place {
            appendLine(StateMarkdown.sectionPrefix + section.name, to: &out)
            out.append(newline)
            appendUTF8(section.markdown, to: &out)
            out.append(newline)
            out.append(newline)
        }
    }

    /// A section of tasks, grouped under `### Wave W` headers when the section
    /// always is (Pending) or when any of its tasks is not in the wave a
    /// reader assumes for a section without headers — so that every task's
    /// wave reads back exactly — except Failed, which is always flat. The
    /// tasks are taken from `state` in plan order, without an array of them.
    private static func appendTaskSection(_ section: StateFileSection, status: TaskStatus, of state: WorkflowState,
                                          defaultWave: Int, to out: inout [UInt8]) {
        var count = 0
        var grouped = section.alwaysGroupsByWave
        for i in state.tasks.indices where state.tasks[i].status == status {
            count += 1
            if state.tasks[i].wave != defaultWave { grouped = true }
        }
        guard count > 0 else { return }
        appendLine(section.heading(taskCount: count), to: &out)
        out.append(newline)
        let checkbox = section.checkbox.asciiValue ?? UInt8(ascii: " ")
        // Failed tasks are listed flat, never under wave headers, as the
        // earlier tool writes them (their waves do not read back from the
        // file; the journal keeps them).
        guard section != .failed, grouped else {
            for i in state.tasks.indices where state.tasks[i].status == status {
                appendTaskLines(state.tasks[i], checkbox: checkbox, to: &out)
            }
            out.append(newline)
            return
        }
        // Tasks come in plan order, so each wave's tasks are consecutive.
        var wave: Int?
        for i in state.tasks.indices where state.tasks[i].status == status {
            let taskWave = state.tasks[i].wave
            if taskWave != wave {
                if wave != nil { out.append(newline) }
                wave = taskWave
                appendUTF8(StateMarkdown.wavePrefix, to: &out)
                appendUTF8(String(taskWave), to: &out)
                out.append(newline)
            }
            appendTaskLines(state.tasks[i], checkbox: checkbox, to: &out)
        }
        out.append(newline)
    }

    /// ``taskLines(_:checkbox:)`` for bytes.
    private static func appendTaskLines(_ task: WorkflowTask, checkbox: UInt8, to out: inout [UInt8]) {
        appendLiteral("- [", to: &out)
        out.append(checkbox)
        appendLiteral("] **", to: &out)
        appendUTF8(task.id, to: &out)
        appendLiteral("**", to: &out)
        if !task.description.isEmpty {
            appendLiteral(": ", to: &out)
            appendEscaped(task.description, to: &out)
        }
        out.append(newline)
        let indent = StateMarkdown.detailIndent
        if !task.dependsOn.isEmpty {
            appendLine(indent + StateMarkdown.labelled(StateMarkdown.dependsOnLabel, task.dependsOn.joined(separator: ", ")), to: &out)
        }
        if let owner = task.owner {
            appendUTF8(indent, to: &out)
            appendLabelled(StateMarkdown.ownerLabel, escaping: owner, to: &out)
        }
        if let expiry = task.leaseExpires {
            appendLine(indent + StateMarkdown.labelled(StateMarkdown.leaseLabel, expiry.localDateTime), to: &out)
        }
        if let commit = task.commit {
            appendUTF8(indent, to: &out)
            appendUTF8(StateMarkdown.commitLabel, to: &out)
            appendLiteral(" `", to: &out)
            appendUTF8(commit, to: &out)
            out.append(UInt8(ascii: "`"))
            out.append(newline)
        }
        if !task.files.isEmpty {
            appendLine(indent + StateMarkdown.labelled(StateMarkdown.filesLabel, filesShown(task.files)), to: &out)
        }
        if let error = task.error {
            appendUTF8(indent, to: &out)
            appendLabelled(StateMarkdown.errorLabel, escaping: error, to: &out)
        }
    }

    /// What the `Files:` line shows of `files`.
    private static func filesShown(_ files: [String]) -> String {
        var shown = files.prefix(StateMarkdown.filesShown).map { MarkdownEscaping.escape($0, as: .fileName) }
            .joined(separator: ", ")
        let hidden = files.count - StateMarkdown.filesShown
        if hidden > 0 { shown += " (+\(hidden) more)" }
        return shown
    }

    // MARK: Lines (for StepDiffer)

    /// The header: title, workflow ID, status, times, rule and (when there
    /// are waves) the progress line, each followed by what follows it;
    /// `completed` of `tasks` are the progress line's counts (so that a
    /// caller that keeps them need not count the tasks).
    package static func headerLines(of state: WorkflowState, completed: Int, tasks: Int) -> [String] {
        var lines = [
            StateMarkdown.labelled(StateMarkdown.titlePrefix, MarkdownEscaping.escape(state.name)),
            "",
            "\(StateMarkdown.workflowIDLabel) `\(state.workflowID)`",
            "\(StateMarkdown.statusLabel) Wave \(state.currentWave)/\(state.totalWaves)",
            "\(StateMarkdown.startedLabel) \(state.started.localDateTime)",
            "\(StateMarkdown.updatedLabel) \(state.updated.localDateTime)",
            "",
            StateMarkdown.rule,
            "",
        ]
        if state.totalWaves > 0 {
            lines += [StateMarkdown.progressLine(completed: completed, total: tasks), ""]
        }
        return lines
    }

    /// `- [x] **ID**: description` and the task's detail lines.
    package static func taskLines(_ task: WorkflowTask, checkbox: Character) -> [String] {
        var head = "- [\(checkbox)] **\(task.id)**"
        if !task.description.isEmpty { head += ": " + MarkdownEscaping.escape(task.description) }
        var lines = [head]
        let indent = StateMarkdown.detailIndent
        // Dependencies and claims: lines the earlier tool's parser skips
        // (it reads only Commit, Files and Error).
        if !task.dependsOn.isEmpty {
            lines.append(indent + StateMarkdown.labelled(StateMarkdown.dependsOnLabel, task.dependsOn.joined(separator: ", ")))
        }
        if let owner = task.owner {
            lines.append(indent + StateMarkdown.labelled(StateMarkdown.ownerLabel, MarkdownEscaping.escape(owner)))
        }
        if let expiry = task.leaseExpires {
            lines.append(indent + StateMarkdown.labelled(StateMarkdown.leaseLabel, expiry.localDateTime))
        }
        if let commit = task.commit {
            lines.append("\(indent)\(StateMarkdown.commitLabel) `\(commit)`")
        }
        if !task.files.isEmpty {
            lines.append(indent + StateMarkdown.labelled(StateMarkdown.filesLabel, filesShown(task.files)))
        }
        if let error = task.error {
            lines.append(indent + StateMarkdown.labelled(StateMarkdown.errorLabel, MarkdownEscaping.escape(error)))
        }
        return lines
    }

    /// `- text`.
    package static func noteLine(_ note: String) -> String {
        StateMarkdown.labelled("-", MarkdownEscaping.escape(note, as: .listItem))
    }

    /// `- **key:** value`.
    package static func metadataLine(_ entry: MetadataEntry) -> String {
        StateMarkdown.labelled("- **\(MarkdownEscaping.escape(entry.key)):**", MarkdownEscaping.escape(entry.value))
    }
}
