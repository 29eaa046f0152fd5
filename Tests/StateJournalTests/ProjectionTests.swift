import Foundation
import Testing
@testable import StateJournal
@testable import StateJournalEngine

/// STATE.md: rendering, parsing (including the earlier tool's files) and validation.
@Suite struct ProjectionTests {
    // MARK: Fixtures and helpers

    static let fixtureRoot = packageRoot + "/Fixtures/seed-format"
    static let fixtures: [String] = ((try? FileManager.default.contentsOfDirectory(atPath: fixtureRoot)) ?? []).sorted()
    static let t0 = Timestamp(microseconds: 1_800_000_000_000_000)

    func fixtureText(_ name: String, _ file: String = "STATE.md") throws -> String {
        try #require(readText(Self.fixtureRoot + "/" + name + "/" + file), "cannot read \(name)/\(file)")
    }

    func lines(_ text: String) -> [Substring] {
        text.split(separator: "\n", omittingEmptySubsequences: false)
    }

    func state(name: String = "Flow", currentWave: Int = 1, totalWaves: Int = 2, tasks: [WorkflowTask],
               notes: [String] = [], metadata: [MetadataEntry] = [], seq: UInt64 = 42) -> WorkflowState {
        WorkflowState(workflowID: "wf_1", name: name, currentWave: currentWave, totalWaves: totalWaves,
                      started: Self.t0, updated: Timestamp(microseconds: Self.t0.microseconds + 61_000_000),
                      tasks: tasks, notes: notes, metadata: metadata, seq: seq)
    }

    /// A state with `text` in every piece of user text and every section present.
    func hostileState(_ text: String) -> WorkflowState {
        state(name: text, tasks: [
            WorkflowTask(id: "t1", description: text, status: .completed, wave: 1, commit: "abc123",
                         files: [text, "plain.txt", text + "2"]),
            WorkflowTask(id: "t2", description: text, status: .inProgress, wave: 1),
            WorkflowTask(id: "t4", description: text, status: .failed, wave: 1, error: text),
            WorkflowTask(id: "t3", description: text, status: .pending, wave: 2),
        ], notes: [text, "plain"],
           metadata: [MetadataEntry(key: text, value: text), MetadataEntry(key: "k", value: text)])
    }

    /// How many lines start with each structural prefix.
    func structure(_ text: String) -> [String: Int] {
        var counts: [String: Int] = ["total": lines(text).count]
        for line in lines(text) {
            for prefix in ["# ", "## ", "### ", "- [", "  - ", "- ", "**", "---", "<!--"] where line.hasPrefix(prefix) {
                counts[prefix, default: 0] += 1
            }
        }
        return counts
    }

    // MARK: Fixtures of the earlier tool

    @Test func fixturesAreFound() {
        #expect(Self.fixtures.count >= 5)
    }

    @Test(arguments: fixtures)
    func fixtureParsesToItsExpectedJSON(_ name: String) throws {
        let file = try MarkdownParser.parse(try fixtureText(name))
        let expected = try JSON.parse(try fixtureText(name, "expected.json"))
        #expect(file.workflowID == expected["workflow_id"]?.stringValue)
        #expect(file.name == expected["workflow_name"]?.stringValue)
        #expect(Int64(file.currentWave) == expected["current_wave"]?.intValue)
        #expect(Int64(file.totalWaves) == expected["total_waves"]?.intValue)
        #expect(file.started == expected["started"]?.stringValue)
        #expect(file.updated == expected["updated"]?.stringValue)
        #expect(file.footer == nil)

        let tasks = try #require(expected["tasks"]?.arrayValue)
        #expect(file.tasks.count == tasks.count)
        for (task, want) in zip(file.tasks, tasks) {
            #expect(task.id == want["task_id"]?.stringValue)
            #expect(task.description == want["description"]?.stringValue, "task \(task.id)")
            #expect(task.status.rawValue == want["status"]?.stringValue, "task \(task.id)")
            #expect(Int64(task.wave) == want["wave"]?.intValue, "task \(task.id)")
            #expect(task.commit == want["commit"]?.stringValue, "task \(task.id)")
            #expect(task.files == want["files"]?.arrayValue?.compactMap(\.stringValue), "task \(task.id)")
            #expect(task.error == want["error"]?.stringValue, "task \(task.id)")
        }
        #expect(file.notes == expected["notes"]?.arrayValue?.compactMap(\.stringValue))
        let metadata = try #require(expected["metadata"]?.objectValue)
        #expect(file.metadata == metadata.map { MetadataEntry(key: $0.key, value: $0.value.stringValue ?? "?") })
    }

    @Test(arguments: fixtures)
    func fixtureValidatesWithoutProblems(_ name: String) throws {
        #expect(MarkdownValidator.validate(try fixtureText(name)) == [])
    }

    @Test(arguments: fixtures)
    func fixtureRoundTripsThroughTheRenderer(_ name: String) throws {
        let original = try MarkdownParser.parse(try fixtureText(name))
        let state = try #require(original.state())
        let rendered = MarkdownRenderer.render(state)
        let reparsed = try MarkdownParser.parse(rendered)
        #expect(reparsed.tasks == original.tasks)
        #expect(reparsed.notes == original.notes)
        #expect(reparsed.metadata == original.metadata)
        #expect(reparsed.name == original.name)
        #expect(reparsed.workflowID == original.workflowID)
        #expect(reparsed.started == original.started && reparsed.updated == original.updated)
        #expect(reparsed.footer?.matchesContent == true)
        #expect(MarkdownValidator.validate(rendered) == [])
        #expect(try #require(reparsed.state()) == state)
        #expect(MarkdownRenderer.render(try #require(reparsed.state())) == rendered)
    }

    /// The header reads back line for line, except the progress bar: the
    /// earlier tool drew waves (C/T), StateJournal draws completed tasks over
    /// all tasks (issue 17; the earlier tool's readers ignore the bar).
    @Test(arguments: fixtures)
    func renderedHeaderMatchesTheFixtureAndProgressCountsTasks(_ name: String) throws {
        let text = try fixtureText(name)
        let state = try #require(try MarkdownParser.parse(text).state())
        let rendered = MarkdownRenderer.render(state)
        let header = { (text: String) in self.lines(text).prefix { !$0.hasPrefix("## ") }.filter { !$0.hasPrefix("**Progress:**") } }
        #expect(Array(header(rendered)) == Array(header(text)))
        let completed = state.tasks.filter { $0.status == .completed }.count
        #expect(lines(rendered).contains(Substring(StateMarkdown.progressLine(completed: completed, total: state.tasks.count))))
    }

    @Test func fixtureProgressByTasks() throws {
        // 06-complete: every task done, 100% as before; 08-many-tasks: wave
        // 3/8 drew 37%, 59 of its 200 listed tasks are done: 29%.
        for (name, percent) in [("06-complete", "100%"), ("08-many-tasks", "29%"), ("01-initialized", "0%")] {
            let state = try #require(try MarkdownParser.parse(try fixtureText(name)).state())
            #expect(StateMarkdown.progressLine(of: state).hasSuffix(" " + percent), "\(name)")
        }
    }

    @Test(arguments: fixtures)
    func fixtureWithCRLFLineEndingsReadsTheSame(_ name: String) throws {
        let text = try fixtureText(name)
        let crlf = text.replacingOccurrences(of: "\n", with: "\r\n")
        #expect(try MarkdownParser.parse(crlf) == MarkdownParser.parse(text))
        #expect(MarkdownValidator.validate(crlf) == [])
    }

    @Test func headingsAreReadLeniently() {
        #expect(StateFileSection.heading("✅ Completed (1 tasks)") == .section(.completed, count: 1))
        #expect(StateFileSection.heading("✅\u{FE0F} Completed (2 tasks)") == .section(.completed, count: 2))
        #expect(StateFileSection.heading("In Progress (0 tasks)") == .section(.inProgress, count: 0))
        #expect(StateFileSection.heading("📋 Pending (two tasks)") == .malformedCount(.pending))
        #expect(StateFileSection.heading("Notes") == .section(.notes, count: nil))
        #expect(StateFileSection.heading("Notes (2 tasks)") == .unknown)
        #expect(StateFileSection.heading("Completedness") == .unknown)
    }

    @Test func earlierToolFilesTruncationIsRecorded() throws {
        let file = try MarkdownParser.parse(try fixtureText("02-mid-progress"))
        #expect(file.filesTruncated == ["a1": 2])
    }

    // MARK: Rendering

    @Test func headerHasTheSpecifiedLayout() {
        let text = MarkdownRenderer.render(state(name: "Build", tasks: [
            WorkflowTask(id: "a", description: "A", status: .completed, wave: 1),
            WorkflowTask(id: "b", description: "B", status: .pending, wave: 2),
        ]))
        let head = lines(text).prefix(11).map(String.init)
        #expect(head == [
            "# Workflow: Build", "", "**Workflow ID:** `wf_1`", "**Status:** Wave 1/2",
            "**Started:** \(Self.t0.localDateTime)",
            "**Updated:** \(Timestamp(microseconds: Self.t0.microseconds + 61_000_000).localDateTime)",
            "", "---", "", "**Progress:** `██████████░░░░░░░░░░` 50%", "",
        ])
    }

    /// The bar is completed tasks over all tasks (issue 17; Docs/FORMAT.md), whatever
    /// the wave: the earlier tool's waves ratio said 100% at the last wave
    /// with tasks still open, and 33% at wave 1 of 3 with nothing done.
    @Test(arguments: [
        // (completed, other tasks, current wave, total waves, filled, percent)
        (0, 3, 1, 3, 0, 0), (1, 2, 1, 3, 6, 33), (2, 2, 3, 4, 10, 50), (3, 5, 1, 8, 7, 37), (2, 0, 1, 2, 20, 100),
        (1, 2, 3, 3, 6, 33), (0, 0, 2, 2, 0, 0),
    ])
    func progressBarShowsFloorOfCompletedOverAllTasks(_ completed: Int, _ others: Int, _ current: Int, _ total: Int,
                                                       _ filled: Int, _ percent: Int) {
        let statuses: [TaskStatus] = [.pending, .inProgress, .failed]
        let tasks = (0..<completed).map { WorkflowTask(id: "c\($0)", description: "", status: .completed, wave: 1) }
            + (0..<others).map { WorkflowTask(id: "o\($0)", description: "", status: statuses[$0 % 3], wave: 1) }
        let text = MarkdownRenderer.render(state(currentWave: current, totalWaves: total, tasks: tasks))
        let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: 20 - filled)
        #expect(lines(text).contains("**Progress:** `\(bar)` \(percent)%"))
        #expect(MarkdownValidator.validate(text) == [])
    }

    /// At the last wave with a task in progress and one pending, the file
    /// does not say 100% (the report).
    @Test func lastWaveWithOpenTasksIsNotFinished() {
        let text = MarkdownRenderer.render(state(currentWave: 3, totalWaves: 3, tasks: [
            WorkflowTask(id: "a", description: "", status: .completed, wave: 1),
            WorkflowTask(id: "b", description: "", status: .inProgress, wave: 3),
            WorkflowTask(id: "c", description: "", status: .pending, wave: 3),
        ]))
        #expect(lines(text).contains("**Progress:** `██████░░░░░░░░░░░░░░` 33%"))
        #expect(!text.contains("100%"))
    }

    @Test func noProgressLineWithoutWaves() {
        let text = MarkdownRenderer.render(state(currentWave: 0, totalWaves: 0, tasks: []))
        #expect(!text.contains("**Progress:**"))
        #expect(MarkdownValidator.validate(text) == [])
    }

    @Test func oneTaskIsSingular() {
        let text = MarkdownRenderer.render(state(tasks: [
            WorkflowTask(id: "a", description: "A", status: .completed, wave: 1),
            WorkflowTask(id: "b", description: "B", status: .pending, wave: 2),
            WorkflowTask(id: "c", description: "C", status: .pending, wave: 2),
        ]))
        #expect(lines(text).contains("## ✅ Completed (1 task)"))
        #expect(lines(text).contains("## 📋 Pending (2 tasks)"))
    }

    @Test func sectionsComeInOrderWithBlankLinesAround() throws {
        let text = MarkdownRenderer.render(state(tasks: [
            WorkflowTask(id: "a", description: "A", status: .completed, wave: 1, commit: "c1", files: ["x.swift"]),
            WorkflowTask(id: "b", description: "B", status: .completed, wave: 2),
            WorkflowTask(id: "d", description: "D", status: .inProgress, wave: 1),
            WorkflowTask(id: "f", description: "F", status: .failed, wave: 1, error: "boom"),
            WorkflowTask(id: "e", description: "", status: .pending, wave: 2),
        ], notes: ["n"], metadata: [MetadataEntry(key: "k", value: "v")]))
        let body = lines(text).dropFirst(11).map(String.init)
        #expect(body == [
            "## ✅ Completed (2 tasks)", "",
            "### Wave 1", "- [x] **a**: A", "  - Commit: `c1`", "  - Files: x.swift", "",
            "### Wave 2", "- [x] **b**: B", "",
            "## 🔄 In Progress (1 task)", "", "- [~] **d**: D", "",
            "## 📋 Pending (1 task)", "", "### Wave 2", "- [ ] **e**", "",
            "## ❌ Failed (1 task)", "", "- [ ] **f**: F", "  - Error: boom", "",
            "## Notes", "", "- n", "",
            "## Metadata", "", "- **k:** v", "",
            try #require(lines(text).dropLast().last.map(String.init)), "",
        ])
    }

    @Test func footerIsTheLastLineAndChecksumsEverythingBeforeIt() throws {
        let text = MarkdownRenderer.render(state(tasks: [WorkflowTask(id: "a", description: "A", wave: 1)], seq: 7))
        #expect(text.hasSuffix(" -->\n"))
        let body = try #require(text.dropLast().lastIndex(of: "\n").map { text[...$0] })
        let footer = String(text.dropFirst(body.count).dropLast())
        let crc = CRC32C.checksum(body.utf8)
        #expect(footer == "<!-- statejournal v1 seq=7 crc32c=\(StateMarkdown.hex8(crc)) -->")
        let parsed = try MarkdownParser.parse(text)
        #expect(parsed.footer == ParsedStateFile.Footer(seq: 7, crc32c: crc, matchesContent: true))
        #expect(parsed.state()?.seq == 7)
    }

    @Test func filesShowTheFirstThreeAndHowManyMore() throws {
        let files = ["a.swift", "b.swift", "c.swift", "d.swift", "e.swift"]
        let text = MarkdownRenderer.render(state(tasks: [
            WorkflowTask(id: "five", description: "", status: .completed, wave: 1, files: files),
            WorkflowTask(id: "four", description: "", status: .completed, wave: 1, files: Array(files.prefix(4))),
            WorkflowTask(id: "three", description: "", status: .completed, wave: 1, files: Array(files.prefix(3))),
        ]))
        #expect(lines(text).contains("  - Files: a.swift, b.swift, c.swift (+2 more)"))
        #expect(lines(text).contains("  - Files: a.swift, b.swift, c.swift (+1 more)"))
        #expect(lines(text).contains("  - Files: a.swift, b.swift, c.swift"))
        let parsed = try MarkdownParser.parse(text)
        #expect(parsed.tasks.map(\.files) == Array(repeating: Array(files.prefix(3)), count: 3))
        #expect(parsed.filesTruncated == ["five": 2, "four": 1])
    }

    @Test func emptyDescriptionHasNoColon() throws {
        let text = MarkdownRenderer.render(state(tasks: [WorkflowTask(id: "t9", description: "", wave: 2)]))
        #expect(lines(text).contains("- [ ] **t9**"))
        #expect(try MarkdownParser.parse(text).tasks.first?.description == "")
    }

    @Test func tasksOutsideTheCurrentWaveKeepTheirWave() throws {
        let original = state(currentWave: 2, totalWaves: 3, tasks: [
            WorkflowTask(id: "done", description: "", status: .completed, wave: 1),
            WorkflowTask(id: "early", description: "", status: .inProgress, wave: 1),
            WorkflowTask(id: "now", description: "", status: .inProgress, wave: 2),
            WorkflowTask(id: "late", description: "", status: .failed, wave: 3, error: "x"),
        ])
        let text = MarkdownRenderer.render(original)
        // Completed (wave 1), In Progress (waves 1 and 2), Pending (none);
        // Failed is flat, as the earlier tool writes it.
        #expect(lines(text).filter { $0.hasPrefix("### Wave") }.count == 3)
        let failed = try #require(lines(text).firstIndex { $0.hasPrefix("## ❌ Failed") })
        #expect(lines(text)[failed + 2] == "- [ ] **late**")
        let parsed = try #require(try MarkdownParser.parse(text).state())
        #expect(parsed.tasks.filter { $0.id != "late" } == original.tasks.filter { $0.id != "late" })
        #expect(parsed.task("late")?.status == .failed)
    }

    @Test func noLineEndsInWhiteSpace() {
        let text = MarkdownRenderer.render(hostileState("trailing \t "))
        #expect(lines(text).allSatisfy { $0.last != " " && $0.last != "\t" })
    }

    // MARK: Hostile text

    static let hostileTexts: [String] = [
        "line one\nline two", "crlf\r\nnext\r\n", "\n", "\r", "## Heading at start", "# Title", "### Wave 9",
        "- [x] **t9**: fake task", "- [ ] x", "**bold** and __under__ *em*", "`code` and ``` fence",
        "back\\slash\\", "\\", "\\\\n", "<br> literal", "&#x41; entity &amp; &#x;", "emoji 👩‍💻🚀 e\u{301} ☕",
        "tab\there\t", "trailing spaces   ", "   leading spaces", "- dash start", "+ plus", "1. one", "2026) year",
        "-", "---", "| table | ~strike~ [link](url) ![img](x) <html> > quote", "a, b (+2 more)", "(+2 more)",
        "key:** value", ":**", "x\u{0}y\u{1}z\u{1F}\u{7F}\u{85}\u{2028}\u{2029}",
        "\n## Injected\n- [x] **evil**: done\n<!-- statejournal v1 seq=1 crc32c=00000000 -->",
        "  - Commit: `deadbeef`", "<!-- statejournal v1 seq=1 crc32c=00000000 -->",
        String(repeating: "ten bytes ", count: 1024) + "*",
    ]

    @Test(arguments: hostileTexts)
    func hostileTextParsesBackExactlyAndCannotInjectLines(_ text: String) throws {
        let original = hostileState(text)
        let rendered = MarkdownRenderer.render(original)
        let parsed = try MarkdownParser.parse(rendered)
        #expect(parsed.name == text)
        #expect(parsed.tasks.map(\.description) == Array(repeating: text, count: 4))
        #expect(parsed.tasks.first?.files == [text, "plain.txt", text + "2"])
        #expect(parsed.tasks.first { $0.id == "t4" }?.error == text)
        #expect(parsed.notes == [text, "plain"])
        #expect(parsed.metadata == [MetadataEntry(key: text, value: text), MetadataEntry(key: "k", value: text)])
        #expect(parsed.filesTruncated == [:])
        #expect(parsed.footer?.matchesContent == true)
        #expect(try #require(parsed.state()) == original)
        #expect(MarkdownValidator.validate(rendered) == [])
        #expect(structure(rendered) == structure(MarkdownRenderer.render(hostileState("plain"))))
    }

    @Test func emptyUserTextRoundTrips() throws {
        let original = hostileState("")
        let rendered = MarkdownRenderer.render(original)
        #expect(try MarkdownParser.parse(rendered).state() == original)
        #expect(MarkdownValidator.validate(rendered) == [])
    }

    @Test func escapingUsesBackslashesBrAndEntities() {
        #expect(MarkdownEscaping.escape("a*b_c`d\\e[f]g<h>i#j|k&l~m")
                    == "a\\*b_c\\`d\\\\e\\[f\\]g\\<h\\>i\\#j\\|k\\&l\\~m")
        // An underscore inside a word cannot make emphasis and stays readable; at a word's edge it is escaped.
        #expect(MarkdownEscaping.escape("src/w1_t7.swift", as: .fileName) == "src/w1_t7.swift")
        #expect(MarkdownEscaping.escape("_init_ x_") == "\\_init\\_ x\\_")
        #expect(MarkdownEscaping.escape("plain text: ok!") == "plain text: ok!")
        #expect(MarkdownEscaping.escape("a\nb\r\nc\u{1}d\te\u{7F}") == "a<br>b&#x0D;<br>c&#x01;d\te&#x7F;")
        #expect(MarkdownEscaping.escape("a, b (1)", as: .fileName) == "a\\, b \\(1\\)")
        #expect(MarkdownEscaping.escape("- x ", as: .listItem) == "\\- x&#x20;")
        #expect(MarkdownEscaping.escape("12. x", as: .listItem) == "12\\. x")
        #expect(MarkdownEscaping.unescape("\\*<br>&#x41;&#x1F680;&#xZZ;") == "*\nA🚀&#xZZ;")
    }

    // MARK: Parsing errors

    @Test func textWithoutTitleIsNotAStateFile() {
        let error = #expect(throws: StateJournalError.self) {
            try MarkdownParser.parse("\nJust some notes\n- [x] **a**: b\n")
        }
        #expect(error?.code == .badInput)
        #expect(error?.message.hasPrefix("line 2:") == true)
    }

    // MARK: Validation

    /// A valid file in the earlier tool's format (no footer), line by line.
    static let validLines = [
        "# Workflow: Demo",                                     // 1
        "",
        "**Workflow ID:** `wf`",                                // 3
        "**Status:** Wave 1/2",                                 // 4
        "**Started:** 2026-11-27 02:50:27",                     // 5
        "**Updated:** 2026-11-27 02:50:27",                     // 6
        "",
        "---",                                                  // 8
        "",
        "**Progress:** `██████████░░░░░░░░░░` 50%",             // 10
        "",
        "## ✅ Completed (2 tasks)",                            // 12
        "",
        "- [x] **a**: First",                                   // 14
        "- [x] **b**: Second",                                  // 15
        "  - Commit: `abc1234`",                                // 16
        "",
        "## 📋 Pending (1 task)",                               // 18
        "",
        "### Wave 2",                                           // 20
        "- [ ] **c**: Third",                                   // 21
        "",
        "## Notes",                                             // 23
        "",
        "- a note",                                             // 25
    ]

    func problems(replacing line: Int, with replacement: String?) -> [ValidationProblem] {
        var edited = Self.validLines
        if let replacement { edited[line - 1] = replacement } else { edited.remove(at: line - 1) }
        return MarkdownValidator.validate(edited.joined(separator: "\n") + "\n")
    }

    func expectProblems(_ problems: [ValidationProblem], atLines expected: [Int], mentioning words: String,
                        sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(problems.map(\.line) == expected, "\(problems)", sourceLocation: sourceLocation)
        #expect(problems.first?.message.contains(words) == true, "\(problems)", sourceLocation: sourceLocation)
    }

    @Test func baselineIsValid() {
        #expect(MarkdownValidator.validate(Self.validLines.joined(separator: "\n")) == [])
    }

    @Test func missingTitleIsReportedOnTheFirstLine() {
        expectProblems(problems(replacing: 1, with: "Demo"), atLines: [1], mentioning: "missing title")
        expectProblems(problems(replacing: 1, with: "# Demo"), atLines: [1], mentioning: "missing title")
    }

    @Test func missingWorkflowIDIsReportedWhereTheHeaderEnds() {
        // Without line 3 the `---` moves to line 7.
        expectProblems(problems(replacing: 3, with: nil), atLines: [7], mentioning: "**Workflow ID:**")
        expectProblems(problems(replacing: 3, with: "**Workflow ID:** wf"), atLines: [3], mentioning: "workflow ID")
    }

    @Test func badStatusLineIsReported() {
        expectProblems(problems(replacing: 4, with: "**Status:** Wave one of two"), atLines: [4], mentioning: "status")
        expectProblems(problems(replacing: 4, with: nil), atLines: [7], mentioning: "**Status:**")
    }

    @Test func badTimestampIsReported() {
        expectProblems(problems(replacing: 5, with: "**Started:** 2026-13-27 02:50:27"), atLines: [5],
                       mentioning: "Started")
        expectProblems(problems(replacing: 6, with: "**Updated:** yesterday"), atLines: [6], mentioning: "Updated")
        expectProblems(problems(replacing: 6, with: nil), atLines: [7], mentioning: "**Updated:**")
    }

    @Test func malformedCheckboxIsReportedWithTheCountItBreaks() {
        let problems = problems(replacing: 15, with: "- [y] **b**: Second")
        #expect(problems.map(\.line) == [12, 15], "\(problems)")
        #expect(problems.last?.message.contains("checkbox '[y]'") == true)
        expectProblems(self.problems(replacing: 14, with: "-[x] **a**: First"), atLines: [12, 14],
                       mentioning: "says 2 tasks")
        expectProblems(self.problems(replacing: 14, with: "- [x] a: First"), atLines: [12, 14],
                       mentioning: "says 2 tasks")
        expectProblems(self.problems(replacing: 21, with: "- [x] **c**: Third"), atLines: [21], mentioning: "[x]")
    }

    /// A section the format does not know is a free section (kept from an
    /// edit and rendered back verbatim), not a problem; its lines are its own.
    @Test func unknownSectionIsAFreeSection() throws {
        #expect(problems(replacing: 23, with: "## Remarks") == [])
        var edited = Self.validLines
        edited[22] = "## Remarks"
        let file = try MarkdownParser.parse(edited.joined(separator: "\n") + "\n")
        #expect(file.sections.map(\.name) == ["Remarks"])
        #expect(file.unreadLines.isEmpty)
    }

    @Test func wrongCountInSectionHeadingIsReported() {
        expectProblems(problems(replacing: 12, with: "## ✅ Completed (3 tasks)"), atLines: [12],
                       mentioning: "says 3 tasks but the section lists 2")
    }

    @Test func unexpectedLinesAndDetailsAreReported() {
        expectProblems(problems(replacing: 16, with: "  - Reviewer: bob"), atLines: [16], mentioning: "detail")
        expectProblems(problems(replacing: 25, with: "a note"), atLines: [25], mentioning: "Notes")
        expectProblems(problems(replacing: 20, with: "### Wave two"), atLines: [20], mentioning: "wave heading")
    }

    @Test func tamperedContentFailsTheChecksum() throws {
        let text = MarkdownRenderer.render(hostileState("original"))
        let tampered = text.replacingOccurrences(of: "- [~] **t2**: original", with: "- [~] **t2**: edited")
        #expect(tampered != text)
        let lastLine = lines(tampered).count - 1
        expectProblems(MarkdownValidator.validate(tampered), atLines: [lastLine], mentioning: "checksum mismatch")
        #expect(try MarkdownParser.parse(tampered).footer?.matchesContent == false)
    }

    @Test func footerThatIsNotTheLastLineIsReported() throws {
        let text = MarkdownRenderer.render(state(tasks: [], notes: ["n"])) + "- appended note\n"
        let footerLine = lines(text).count - 2
        expectProblems(MarkdownValidator.validate(text), atLines: [footerLine], mentioning: "not the last line")
        let parsed = try MarkdownParser.parse(text)
        #expect(parsed.footer?.matchesContent == false)
        #expect(parsed.notes == ["n", "appended note"])
    }

    @Test func malformedFooterIsReported() {
        let text = Self.validLines.joined(separator: "\n") + "\n<!-- statejournal v1 seq=x crc32c=zz -->\n"
        expectProblems(MarkdownValidator.validate(text), atLines: [26], mentioning: "malformed statejournal footer")
    }

    @Test func problemsDescribeThemselvesWithTheirLine() {
        #expect(ValidationProblem(line: 3, message: "bad").description == "line 3: bad")
    }
}
