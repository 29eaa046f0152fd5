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
        ProjectionFooter.signed(renderBody(state), seq: state.seq, event: state.eventIdentity)
    }

    /// STATE.md for `state` without its footer line (which changes with
    /// every event: its sequence number and checksum): what people compare.
    package static func renderBody(_ state: WorkflowState) -> String {
        var lines: [String] = []
        appendHeader(of: state, to: &lines)
        appendFreeSections(of: state, after: "header", to: &lines)
        let defaultWave = StateMarkdown.defaultWave(currentWave: state.currentWave)
        for section in StateFileSection.allCases {
            defer { appendFreeSections(of: state, after: section.place, to: &lines) }
            switch section {
            case .notes:
                appendSection(.notes, state.notes.map(noteLine), to: &lines)
            case .metadata:
                appendSection(.metadata, state.metadata.map(metadataLine), to: &lines)
            default:
                guard let status = section.status else { continue }
                appendTaskSection(section, state.tasks(withStatus: status), defaultWave: defaultWave, to: &lines)
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// The free sections placed after `place`: heading, blank line, the
    /// markdown verbatim, blank line.
    private static func appendFreeSections(of state: WorkflowState, after place: String, to lines: inout [String]) {
        for section in state.sections where section.after == place {
            lines += [StateMarkdown.sectionPrefix + section.name, ""]
                + section.markdown.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) + [""]
        }
    }

    private static func appendHeader(of state: WorkflowState, to lines: inout [String]) {
        lines += headerLines(of: state, completed: state.tasks.reduce(0) { $0 + ($1.status == .completed ? 1 : 0) },
                             tasks: state.tasks.count)
    }

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

    /// A section of plain lines (notes, metadata); nothing when `content` is empty.
    private static func appendSection(_ section: StateFileSection, _ content: [String], to lines: inout [String]) {
        guard !content.isEmpty else { return }
        lines += [section.heading(taskCount: 0), ""] + content + [""]
    }

    /// A section of tasks, grouped under `### Wave W` headers when the section
    /// always is (Pending) or when any of its tasks is not in the wave a
    /// reader assumes for a section without headers — so that every task's
    /// wave reads back exactly — except Failed, which is always flat.
    private static func appendTaskSection(_ section: StateFileSection, _ tasks: [WorkflowTask], defaultWave: Int,
                                          to lines: inout [String]) {
        guard !tasks.isEmpty else { return }
        lines += [section.heading(taskCount: tasks.count), ""]
        // Failed tasks are listed flat, never under wave headers, as the
        // earlier tool writes them (their waves do not read back from the
        // file; the journal keeps them).
        guard section != .failed, section.alwaysGroupsByWave || tasks.contains(where: { $0.wave != defaultWave }) else {
            lines += tasks.flatMap { taskLines($0, checkbox: section.checkbox) } + [""]
            return
        }
        // Tasks come in plan order, so each wave's tasks are consecutive.
        var start = tasks.startIndex
        while start < tasks.endIndex {
            let wave = tasks[start].wave
            let end = tasks[start...].firstIndex(where: { $0.wave != wave }) ?? tasks.endIndex
            lines.append(StateMarkdown.wavePrefix + String(wave))
            lines += tasks[start..<end].flatMap { taskLines($0, checkbox: section.checkbox) } + [""]
            start = end
        }
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
            var shown = task.files.prefix(StateMarkdown.filesShown).map { MarkdownEscaping.escape($0, as: .fileName) }
                .joined(separator: ", ")
            let hidden = task.files.count - StateMarkdown.filesShown
            if hidden > 0 { shown += " (+\(hidden) more)" }
            lines.append(indent + StateMarkdown.labelled(StateMarkdown.filesLabel, shown))
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
