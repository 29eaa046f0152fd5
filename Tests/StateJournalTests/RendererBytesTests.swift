import Foundation
import Testing
@testable import StateJournal
@testable import StateJournalEngine

/// The renderer writes STATE.md straight into a byte buffer (issue 12:
/// rendering 200 tasks was a quarter of a command's instructions). These
/// tests hold it to the file as it was rendered before, line by line from
/// the line functions ``StepDiffer`` still uses: the same bytes for every
/// state — random histories of every event type, and states with every
/// escape, detail line, free section and grouping.
@Suite struct RendererBytesTests {
    /// STATE.md's body as the renderer built it before: a list of lines
    /// from the line functions, joined with line feeds.
    static func bodyByLines(_ state: WorkflowState) -> String {
        var lines = MarkdownRenderer.headerLines(of: state, completed: state.tasks.filter { $0.status == .completed }.count,
                                                 tasks: state.tasks.count)
        func free(_ place: String) {
            for section in state.sections where section.after == place {
                lines += [StateMarkdown.sectionPrefix + section.name, ""]
                    + section.markdown.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) + [""]
            }
        }
        free("header")
        let defaultWave = StateMarkdown.defaultWave(currentWave: state.currentWave)
        for section in StateFileSection.allCases {
            defer { free(section.place) }
            switch section {
            case .notes, .metadata:
                let content = section == .notes ? state.notes.map(MarkdownRenderer.noteLine) : state.metadata.map(MarkdownRenderer.metadataLine)
                if !content.isEmpty { lines += [section.heading(taskCount: 0), ""] + content + [""] }
            default:
                guard let status = section.status else { continue }
                let tasks = state.tasks(withStatus: status)
                guard !tasks.isEmpty else { continue }
                lines += [section.heading(taskCount: tasks.count), ""]
                guard section != .failed, section.alwaysGroupsByWave || tasks.contains(where: { $0.wave != defaultWave }) else {
                    lines += tasks.flatMap { MarkdownRenderer.taskLines($0, checkbox: section.checkbox) } + [""]
                    continue
                }
                var start = tasks.startIndex
                while start < tasks.endIndex {
                    let wave = tasks[start].wave
                    let end = tasks[start...].firstIndex(where: { $0.wave != wave }) ?? tasks.endIndex
                    lines.append(StateMarkdown.wavePrefix + String(wave))
                    lines += tasks[start..<end].flatMap { MarkdownRenderer.taskLines($0, checkbox: section.checkbox) } + [""]
                    start = end
                }
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    static func expectSameBytes(_ state: WorkflowState, _ what: String) {
        let body = bodyByLines(state)
        #expect(MarkdownRenderer.renderBody(state) == body, "\(what)")
        let signed = ProjectionFooter.signed(body, seq: state.seq, event: state.eventIdentity)
        #expect(MarkdownRenderer.render(state) == signed, "\(what)")
        #expect(MarkdownRenderer.renderBytes(state) == Array(signed.utf8), "\(what)")
        // Into a reused buffer that held something longer.
        var buffer = Array(repeating: UInt8(ascii: "x"), count: signed.utf8.count + 100)
        MarkdownRenderer.render(state, into: &buffer)
        #expect(buffer == Array(signed.utf8), "\(what)")
    }

    @Test(arguments: [1, 2, 3, 4, 5, 6, 7, 8] as [UInt64])
    func randomHistoriesRenderTheBytesTheLinesGave(_ seed: UInt64) throws {
        var state: WorkflowState?
        for event in StepDifferTests.history(seed: seed, count: 400) {
            try WorkflowState.apply(event, to: &state)
            Self.expectSameBytes(try #require(state), "seed \(seed), event \(event.seq) (\(event.payload.typeName))")
        }
    }

    /// Text that needs every kind of escape, in every field that is escaped,
    /// and every detail line, grouping and free-section place.
    @Test func everyEscapeDetailAndPlaceRendersTheBytesTheLinesGave() {
        let texts = ["plain", "", "snake_case ok", "_lead", "trail_", "a*b [c] <d> #e |f| &g ~h `i` \\j",
                     "  spaced  ", "tab\tinside\t", "line\nbreak", "ctl\u{01}\u{7F}\u{85}\u{2028}", "- list", "+ plus",
                     "12. numbered", "3) paren", "ünïcødé ✅", "a,b(c)d", "-", "1", " ", "x_"]
        let t0 = Timestamp(microseconds: 1_800_000_000_000_000)
        var tasks: [WorkflowTask] = []
        for (i, text) in texts.enumerated() {
            let status: TaskStatus = [.pending, .inProgress, .completed, .failed][i % 4]
            tasks.append(WorkflowTask(id: "t\(i)", description: text, status: status, wave: 1 + i % 3,
                                      commit: i % 2 == 0 ? "abc\(i)" : nil,
                                      files: Array(texts.prefix(i % 6)).map { $0.isEmpty ? "f" : $0 },
                                      error: status == .failed ? text : nil,
                                      dependsOn: i > 2 && i % 3 == 0 ? ["t0", "t1"] : [],
                                      owner: status == .inProgress ? text : nil,
                                      leaseExpires: status == .inProgress && i % 2 == 1 ? Timestamp(microseconds: t0.microseconds + 3_600_000_000) : nil))
        }
        let places = ["header"] + StateFileSection.allCases.map(\.place)
        let sections = places.enumerated().map { i, place in
            FreeSection(name: "Free \(i)", after: place, markdown: i % 2 == 0 ? "one line" : "two\n\nparagraphs\n- and a list")
        }
        for currentWave in [0, 1, 2, 3] {
            for withSections in [false, true] {
                let state = WorkflowState(workflowID: "wf", name: texts[5], currentWave: currentWave, totalWaves: 3, started: t0,
                                          updated: Timestamp(microseconds: t0.microseconds + 1), tasks: tasks, notes: texts,
                                          metadata: texts.enumerated().map { MetadataEntry(key: "k\($0.offset)", value: $0.element) },
                                          sections: withSections ? sections : [], seq: 42)
                Self.expectSameBytes(state, "wave \(currentWave), sections \(withSections)")
            }
        }
        // No waves, no tasks: no progress line, no task sections.
        let empty = WorkflowState(workflowID: "wf", name: "", totalWaves: 0, started: t0, updated: t0, seq: 1)
        Self.expectSameBytes(empty, "empty")
    }
}
