import Foundation
import Testing
@testable import StateJournal
@testable import StateJournalEngine

/// An edit of STATE.md becomes events (Docs/GUARANTEES.md, "An edit of
/// STATE.md"): every edit kind alone, with an unrelated journal write since
/// the edit's base, and with a journal write to the same item since (a
/// conflict: the journal wins, the edit's value is kept in a conflict file).
@Suite struct EditMergeTests {
    /// One kind of edit.
    struct Kind: CustomStringConvertible, Sendable {
        let name: String
        /// The edit of STATE.md's text.
        let edit: @Sendable (String) -> String
        /// The types of the events it records, in order.
        let events: [String]
        /// What the state shows after it (no conflict).
        let check: @Sendable (WorkflowState) -> Bool
        /// A journal write since the base to the same item, and the conflict's item.
        var conflict: (write: Event.Payload, item: String, check: @Sendable (WorkflowState) -> Bool)?
        /// A conflict file even alone (a part no event expresses, a refused change, a line not understood).
        var keepsAlone: String?
        var description: String { name }
    }

    static func replacing(_ old: String, _ new: String) -> @Sendable (String) -> String {
        { text in
            precondition(text.contains(old), "the test's STATE.md has no '\(old)'")
            return text.replacingOccurrences(of: old, with: new)
        }
    }

    static func task(_ state: WorkflowState, _ id: String) -> WorkflowTask? { state.task(id) }

    static let kinds: [Kind] = [
        Kind(name: "tick a pending task's checkbox", edit: replacing("- [ ] **t1**", "- [x] **t1**"),
             events: ["task.completed"], check: { task($0, "t1")?.status == .completed },
             conflict: (.taskFailed(taskID: "t1", error: "journal"), "task t1: status", { task($0, "t1")?.status == .failed })),
        Kind(name: "mark a pending task in progress", edit: replacing("- [ ] **t1**", "- [~] **t1**"),
             events: ["task.started"], check: { task($0, "t1")?.status == .inProgress },
             conflict: (.taskCompleted(taskID: "t1", commit: nil, files: []), "task t1: status", { task($0, "t1")?.status == .completed })),
        Kind(name: "move an in-progress task to Completed (its old box kept)",
             edit: { text in
                 let moved = replacing("## 🔄 In Progress (1 task)\n\n- [~] **t2**: Two\n\n", "")(text)
                 return replacing("## ✅ Completed (1 task)\n\n", "## ✅ Completed (2 tasks)\n\n- [~] **t2**: Two\n")(moved)
             },
             events: ["task.completed"], check: { task($0, "t2")?.status == .completed },
             conflict: (.taskFailed(taskID: "t2", error: "journal"), "task t2: status", { task($0, "t2")?.status == .failed })),
        Kind(name: "move an in-progress task to Failed with an error",
             edit: { text in
                 let moved = replacing("## 🔄 In Progress (1 task)\n\n- [~] **t2**: Two\n\n", "")(text)
                 return replacing("## ❌ Failed (1 task)\n\n", "## ❌ Failed (2 tasks)\n\n- [ ] **t2**: Two\n  - Error: it broke\n")(moved)
             },
             events: ["task.failed"], check: { task($0, "t2")?.status == .failed && task($0, "t2")?.error == "it broke" }),
        Kind(name: "change a task's description", edit: replacing("**t3**: Three", "**t3**: Three, better"),
             events: ["task.edited"], check: { task($0, "t3")?.description == "Three, better" },
             conflict: (.taskEdited(taskID: "t3", description: "Three by the journal", commit: nil, files: [], error: nil),
                        "task t3: description", { task($0, "t3")?.description == "Three by the journal" })),
        Kind(name: "change a completed task's commit", edit: replacing("`abc1234`", "`def5678`"),
             events: ["task.edited"], check: { task($0, "t5")?.commit == "def5678" },
             conflict: (.taskEdited(taskID: "t5", description: "Five", commit: "fff0000", files: ["a.swift", "b.swift"], error: nil),
                        "task t5: commit", { task($0, "t5")?.commit == "fff0000" })),
        Kind(name: "change a completed task's files", edit: replacing("Files: a.swift, b.swift", "Files: a.swift, c.swift"),
             events: ["task.edited"], check: { task($0, "t5")?.files == ["a.swift", "c.swift"] }),
        Kind(name: "change a failed task's error", edit: replacing("Error: boom", "Error: boom, twice"),
             events: ["task.edited"], check: { task($0, "t4")?.error == "boom, twice" },
             conflict: (.taskStarted(taskID: "t4"), "task t4: error", { task($0, "t4")?.status == .inProgress })),
        Kind(name: "add a task under a wave", edit: replacing("### Wave 2\n", "### Wave 2\n- [ ] **t9**: Nine\n"),
             events: ["task.added"], check: { task($0, "t9")?.wave == 2 && task($0, "t9")?.description == "Nine" },
             conflict: (.taskAdded(taskID: "t9", wave: 1, description: "journal's nine"), "task t9",
                        { task($0, "t9")?.description == "journal's nine" })),
        Kind(name: "add a completed task", edit: replacing("## ✅ Completed (1 task)\n\n", "## ✅ Completed (2 tasks)\n\n- [x] **t8**: Eight\n  - Commit: `0123abc`\n"),
             events: ["task.added", "task.completed"], check: { task($0, "t8")?.status == .completed && task($0, "t8")?.commit == "0123abc" }),
        Kind(name: "add a note", edit: replacing("- second note\n", "- second note\n- a note by hand\n"),
             events: ["note.added"], check: { $0.notes == ["first note", "second note", "a note by hand"] }),
        Kind(name: "remove a note", edit: replacing("- first note\n", ""),
             events: ["note.removed"], check: { $0.notes == ["second note"] }),
        Kind(name: "change a note", edit: replacing("- first note\n", "- first note, corrected\n"),
             events: ["note.removed", "note.added"], check: { $0.notes == ["second note", "first note, corrected"] }),
        Kind(name: "change a metadata value", edit: replacing("**owner:** platform", "**owner:** alice"),
             events: ["metadata.set"], check: { $0.metadataValue("owner") == "alice" },
             conflict: (.metadataSet(key: "owner", value: "bob"), "metadata owner", { $0.metadataValue("owner") == "bob" })),
        Kind(name: "add a metadata entry", edit: replacing("- **env:** prod\n", "- **env:** prod\n- **branch:** main\n"),
             events: ["metadata.set"], check: { $0.metadataValue("branch") == "main" },
             conflict: (.metadataSet(key: "branch", value: "dev"), "metadata branch", { $0.metadataValue("branch") == "dev" })),
        Kind(name: "remove a metadata entry", edit: replacing("- **env:** prod\n", ""),
             events: ["metadata.removed"], check: { $0.metadataValue("env") == nil },
             conflict: (.metadataSet(key: "env", value: "staging"), "metadata env", { $0.metadataValue("env") == "staging" })),
        Kind(name: "change the current wave", edit: replacing("**Status:** Wave 1/2", "**Status:** Wave 2/2"),
             events: ["wave.set"], check: { $0.currentWave == 2 },
             conflict: (.waveSet(wave: 0), "current wave", { $0.currentWave == 0 })),
        Kind(name: "change the title", edit: replacing("# Workflow: Edit matrix", "# Workflow: Edit matrix, renamed"),
             events: ["workflow.renamed"], check: { $0.name == "Edit matrix, renamed" },
             conflict: (.workflowRenamed(name: "Journal's name"), "title", { $0.name == "Journal's name" })),
        Kind(name: "add a free section", edit: replacing("\n<!-- statejournal", "\n## Links\n\n- https://example.com/design\n\n<!-- statejournal"),
             events: ["section.set"], check: { $0.sections.last == FreeSection(name: "Links", after: "decisions-place", markdown: "- https://example.com/design") || $0.sections.contains { $0.name == "Links" && $0.markdown == "- https://example.com/design" } },
             conflict: (.sectionSet(FreeSection(name: "Links", after: "header", markdown: "journal's links")), "section ## Links",
                        { $0.sections.contains { $0.name == "Links" && $0.markdown == "journal's links" } })),
        Kind(name: "edit a free section", edit: replacing("We use Postgres.", "We use Postgres 17."),
             events: ["section.set"], check: { $0.sections.first { $0.name == "Decisions" }?.markdown.contains("Postgres 17.") == true },
             conflict: (.sectionSet(FreeSection(name: "Decisions", after: "metadata", markdown: "We use SQLite.")), "section ## Decisions",
                        { $0.sections.first { $0.name == "Decisions" }?.markdown == "We use SQLite." })),
        Kind(name: "delete a free section", edit: replacing("## Decisions\n\nWe use Postgres.\n\n- it is what we know\n\n", ""),
             events: ["section.set"], check: { $0.sections.isEmpty },
             conflict: (.sectionSet(FreeSection(name: "Decisions", after: "metadata", markdown: "We use SQLite.")), "section ## Decisions",
                        { $0.sections.first { $0.name == "Decisions" }?.markdown == "We use SQLite." })),
        Kind(name: "several at once", edit: { text in
                 let a = replacing("- [ ] **t1**", "- [x] **t1**")(text)
                 let b = replacing("- second note\n", "- second note\n- done by hand\n")(a)
                 return replacing("**owner:** platform", "**owner:** carol")(b)
             },
             events: ["task.completed", "note.added", "metadata.set"],
             check: { task($0, "t1")?.status == .completed && $0.notes.last == "done by hand" && $0.metadataValue("owner") == "carol" },
             conflict: (.metadataSet(key: "owner", value: "dave"), "metadata owner",
                        { $0.metadataValue("owner") == "dave" && task($0, "t1")?.status == .completed })),
        Kind(name: "white space only", edit: { text in
                 replacing("## Notes\n\n", "## Notes\n\n\n")(replacing("**t3**: Three\n", "**t3**: Three   \n")(text))
             },
             events: [], check: { task($0, "t3")?.description == "Three" }),
        Kind(name: "reorder tasks", edit: replacing("### Wave 1\n- [ ] **t1**: One\n- [ ] **t6**: Six\n", "### Wave 1\n- [ ] **t6**: Six\n- [ ] **t1**: One\n"),
             events: [], check: { $0.tasks.map(\.id) == ["t1", "t2", "t6", "t3", "t4", "t5"] || $0.task("t6") != nil }),
        Kind(name: "a legal and an illegal change", edit: { text in
                 replacing("- [x] **t5**", "- [~] **t5**")(replacing("- [ ] **t1**", "- [x] **t1**")(text))
             },
             events: ["task.completed"], check: { task($0, "t1")?.status == .completed && task($0, "t5")?.status == .completed },
             keepsAlone: "refused"),
        Kind(name: "remove a task", edit: replacing("- [ ] **t6**: Six\n", ""),
             events: [], check: { task($0, "t6") != nil }, keepsAlone: "task t6"),
        Kind(name: "a line not understood", edit: replacing("- second note\n", "- second note\nthis is not a list item\n"),
             events: [], check: { $0.notes == ["first note", "second note"] }, keepsAlone: "this is not a list item"),
    ]

    enum Since: String, CaseIterable, Sendable { case alone, unrelatedWrite, conflictingWrite }

    /// The workflow every case edits: seq 8, every section shown.
    static func setUp(_ dir: TemporaryDirectory) throws -> StateManager {
        let m = smallManager(dir.file("STATE.md"), segmentSize: 1 << 20)
        try m.initialize(id: "wf_m", name: "Edit matrix", waves: [
            [.init(id: "t1", description: "One"), .init(id: "t2", description: "Two"), .init(id: "t6", description: "Six")],
            [.init(id: "t3", description: "Three"), .init(id: "t4", description: "Four"), .init(id: "t5", description: "Five")],
        ], metadata: [MetadataEntry(key: "owner", value: "platform"), MetadataEntry(key: "env", value: "prod")])
        try m.setWave(1)
        try m.startTask("t2")
        try m.failTask("t4", error: "boom")
        try m.completeTask("t5", commit: "abc1234", files: ["a.swift", "b.swift"])
        try m.addNote("first note")
        try m.addNote("second note")
        try m.write(.sectionSet(FreeSection(name: "Decisions", after: "metadata", markdown: "We use Postgres.\n\n- it is what we know")))
        return m
    }

    static func conflictFiles(_ dir: TemporaryDirectory) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).filter { $0.hasPrefix("STATE.md.conflict-") }.sorted()
    }

    @Test(arguments: kinds, Since.allCases)
    func anEditBecomesEvents(_ kind: Kind, _ since: Since) throws {
        if since == .conflictingWrite && kind.conflict == nil { return }
        let dir = TemporaryDirectory()
        let m = try Self.setUp(dir)
        let path = dir.file("STATE.md")
        let base = try #require(readText(path))
        let baseSeq = try #require(try m.loadState()).seq
        switch since {
        case .alone: break
        case .unrelatedWrite: try m.write(.metadataSet(key: "journal_key", value: "written meanwhile"))
        case .conflictingWrite: try m.write(try #require(kind.conflict?.write))
        }
        let journalWrites = since == .alone ? 0 : 1
        writeBytes(path, Array(kind.edit(base).utf8))

        let sync = try #require(try m.syncEdits(dryRun: false), "the edit was not found")
        #expect(sync.baseSeq == baseSeq)
        #expect(sync.events.allSatisfy { $0.via == "edit" && $0.fileModified != nil })
        let expected = since == .conflictingWrite && kind.name == "several at once" ? ["task.completed", "note.added"] : kind.events
        #expect(sync.events.map(\.payload.typeName) == (since == .conflictingWrite && kind.name != "several at once" ? [] : expected))
        // Recorded in the journal, after the base and the journal's write.
        let state = try #require(try m.loadState())
        #expect(state.seq == baseSeq + UInt64(journalWrites) + UInt64(sync.events.count))
        let logged = try m.events().suffix(sync.events.count)
        #expect(logged.map(\.payload.typeName) == sync.events.map(\.payload.typeName))
        #expect(logged.allSatisfy { $0.via == "edit" })
        // STATE.md rendered back from the journal, showing it.
        let rendered = try #require(readBytes(path))
        guard case .success(let footer) = ProjectionFooter.inspect(rendered) else {
            Issue.record("STATE.md was not rendered back")
            return
        }
        #expect(footer.seq == state.seq)
        #expect(MarkdownRenderer.render(state) == String(decoding: rendered, as: UTF8.self))
        // Nothing lost: what the journal does not hold is in a conflict file.
        let kept = Self.conflictFiles(dir)
        if since == .conflictingWrite, let conflict = kind.conflict {
            #expect(conflict.check(state), "the journal's value stands")
            #expect(kept.count == 1)
            let text = try #require(kept.first.flatMap { readText(dir.file($0)) })
            #expect(text.contains(conflict.item))
            #expect(text.contains(kind.edit(base)), "the whole edited file is kept")
            #expect(sync.conflictFile.map { name in kept.contains { name.hasSuffix($0) } } == true)
        } else {
            #expect(kind.check(state))
            if let keeps = kind.keepsAlone {
                #expect(kept.count == 1)
                #expect(kept.first.flatMap { readText(dir.file($0)) }?.contains(keeps) == true)
            } else {
                #expect(kept.isEmpty, "no conflict file: \(kept)")
                #expect(sync.conflicts.isEmpty)
            }
        }
        if since == .unrelatedWrite { #expect(state.metadataValue("journal_key") == "written meanwhile") }
        // Recorded once: a second sync finds nothing.
        #expect(try m.syncEdits(dryRun: false) == nil)
    }

    @Test func aDryRunRecordsNothingAndLeavesTheFile() throws {
        let dir = TemporaryDirectory()
        let m = try Self.setUp(dir)
        let path = dir.file("STATE.md")
        let seq = try m.events().count
        let edited = Self.kinds[0].edit(try #require(readText(path)))
        writeBytes(path, Array(edited.utf8))
        let dry = try #require(try m.syncEdits(dryRun: true))
        #expect(dry.events.map(\.payload.typeName) == ["task.completed"])
        #expect(dry.events.map(\.seq) == [UInt64(seq + 1)])
        #expect(readText(path) == edited)
        #expect(Self.conflictFiles(dir).isEmpty)
        // Still there to record: a second dry run says the same.
        #expect(try m.syncEdits(dryRun: true)?.events.map(\.seq) == [UInt64(seq + 1)])
    }

    @Test func aWriteAppliesOnTopOfAnEdit() throws {
        let dir = TemporaryDirectory()
        let m = try Self.setUp(dir)
        let path = dir.file("STATE.md")
        writeBytes(path, Array(Self.kinds[1].edit(try #require(readText(path))).utf8))  // t1 in progress, by hand
        // Completing t1 is legal only after the edit's task.started: the edit is recorded first.
        let outcome = try m.completeTask("t1", commit: "c0ffee1")
        let events = try m.events()
        #expect(events[events.count - 2].payload == .taskStarted(taskID: "t1"))
        #expect(events[events.count - 2].via == "edit")
        #expect(outcome.state.task("t1")?.status == .completed)
        #expect(Self.conflictFiles(dir).isEmpty)
    }

    @Test func aFileThatDoesNotParseIsStillSetAside() throws {
        let dir = TemporaryDirectory()
        let m = try Self.setUp(dir)
        let path = dir.file("STATE.md")
        let seq = try m.events().count
        writeBytes(path, Array("not a state file at all\n".utf8))
        _ = try m.loadState()
        #expect(try m.events().count == seq)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        #expect(names.contains { $0.hasPrefix("STATE.md.damaged-") })
        #expect(Self.conflictFiles(dir).isEmpty)
    }

    @Test func anEditOfAnotherHistoryIsSetAside() throws {
        let dir = TemporaryDirectory()
        let m = try Self.setUp(dir)
        let path = dir.file("STATE.md")
        let seq = try m.events().count
        // The footer names seq 99, which the journal does not hold.
        let text = try #require(readText(path)).replacingOccurrences(of: " seq=\(seq) ", with: " seq=99 ")
        #expect(text.contains(" seq=99 "))
        writeBytes(path, Array(text.replacingOccurrences(of: "- [ ] **t1**", with: "- [x] **t1**").utf8))
        _ = try m.loadState()
        #expect(try m.events().count == seq)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        #expect(names.contains { $0.hasPrefix("STATE.md.damaged-") })
    }
}
