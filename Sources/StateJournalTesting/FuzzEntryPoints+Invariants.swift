import Logging
import StateJournal
import StateJournalEngine
import StateJournalModel

extension FuzzEntryPoints {
    // MARK: Invariants of a state

    /// What every read command does with a state: STATE.md, `show --json`,
    /// `resume-info --json`. None may crash, whatever the state.
    /// Also: the STATE.md is valid and parses, and the JSON of `show` and
    /// `resume-info` parses back.
    package static func renderProblems(_ state: WorkflowState) -> [String] {
        var broken: [String] = []
        let text = MarkdownRenderer.render(state)
        let problems = MarkdownValidator.validate(text)
        if !problems.isEmpty {
            broken.append("the STATE.md rendered for a folded state is not valid: \(problems.prefix(3).map(\.description))")
        }
        do { _ = try MarkdownParser.parse(text) } catch {
            broken.append("the STATE.md rendered for a folded state cannot be parsed: \(error)")
        }
        if (try? JSON.parse(state.json().encoded())) == nil { broken.append("the state's JSON (show --json) does not parse") }
        if (try? JSON.parse(ResumeInfo(state).json().encoded())) == nil { broken.append("resume-info's JSON does not parse") }
        return broken
    }

    /// A state the fold accepts (checked as `payload`, a replacement, when
    /// given) renders to a STATE.md that is valid and reads back the same.
    package static func projectionProblems(of state: WorkflowState, as what: String, of payload: Event.Payload?) -> [String] {
        // Only a state the fold accepts must render well: a file of the
        // earlier tool may hold what the fold refuses (a task id with a
        // space), and import refuses it before anything is rendered.
        if let payload {
            let event = Event(seq: max(state.seq, 1), time: state.updated, actor: "fuzz", pid: 1, payload: payload)
            guard (try? WorkflowState.applying(event, to: nil)) != nil else { return [] }
        }
        var broken = renderProblems(state)
        if !broken.isEmpty { return broken }
        let text = MarkdownRenderer.render(state)
        let problems = MarkdownValidator.validate(text)
        if !problems.isEmpty {
            broken.append("the STATE.md rendered for a \(what) state is not valid: \(problems.prefix(3).map(\.description))")
        }
        guard let file = try? MarkdownParser.parse(text), let back = file.state() else {
            broken.append("the STATE.md rendered for a \(what) state cannot be read back")
            return broken
        }
        broken += differences(state, back, truncated: file.filesTruncated).map { "\(what) state round trip: \($0)" }
        return broken
    }

    /// How `back` (read from STATE.md) differs from `state`, beyond what
    /// STATE.md does not show: times below the second, files after the third,
    /// failed tasks' waves.
    package static func differences(_ state: WorkflowState, _ back: WorkflowState, truncated: [String: Int]) -> [String] {
        var out: [String] = []
        func check<T: Equatable>(_ name: String, _ a: T, _ b: T) { if a != b { out.append("\(name): \(a) became \(b)") } }
        check("workflow id", state.workflowID, back.workflowID)
        check("name", state.name, back.name)
        check("current wave", state.currentWave, back.currentWave)
        check("total waves", state.totalWaves, back.totalWaves)
        check("started", state.started.localDateTime, back.started.localDateTime)
        check("updated", state.updated.localDateTime, back.updated.localDateTime)
        check("seq", state.seq, back.seq)
        check("notes", state.notes, back.notes)
        check("metadata", state.metadata, back.metadata)
        // Free sections: name and markdown (the place reads back as the shown
        // section before it, and the order as the file shows them).
        check("sections", state.sections.map { [$0.name, $0.markdown] }.sorted { $0[0] < $1[0] },
              back.sections.map { [$0.name, $0.markdown] }.sorted { $0[0] < $1[0] })
        check("task count", state.tasks.count, back.tasks.count)
        for task in state.tasks {
            guard let other = back.task(task.id) else { out.append("task \(task.id) is missing"); continue }
            var expected = task
            expected.files = Array(task.files.prefix(StateMarkdown.filesShown))
            // Failed tasks are listed flat, as the earlier tool writes them: their wave is not in the file.
            if task.status == .failed { expected.wave = other.wave }
            // A lease's end is shown to the second, in local time.
            if let a = task.leaseExpires, let b = other.leaseExpires, a.localDateTime == b.localDateTime {
                expected.leaseExpires = other.leaseExpires
            }
            check("task \(task.id)", expected, other)
            check("task \(task.id) hidden files", max(task.files.count - StateMarkdown.filesShown, 0), truncated[task.id] ?? 0)
        }
        return out
    }
}
