import Foundation
import Testing
@testable import StateJournal
@testable import StateJournalEngine

/// Sections STATE.md's format does not know (`## Decisions`), kept from an
/// edit: rendered back verbatim in their place, through many writes,
/// `compact`, `restore` (as they were at that seq) and `export`/`import`.
@Suite struct FreeSectionTests {
    static let decisions = "We use **Postgres**.\n\n| option | why |\n| --- | --- |\n| 17 | `jsonb` |\n\n- [ ] not a task, just a list"

    /// A workflow whose STATE.md a person gave a `## Decisions` section before
    /// the tasks and a `## Links` section at the end.
    static func edited(_ dir: TemporaryDirectory) throws -> StateManager {
        let m = smallManager(dir.file("STATE.md"), segmentSize: 64 * 1024, snapshotInterval: 128)
        try m.initialize(id: "wf", name: "Sections", waves: [[.init(id: "t1", description: "One")], [.init(id: "t2", description: "Two")]])
        let path = dir.file("STATE.md")
        var text = try #require(readText(path))
        text = text.replacingOccurrences(of: "## 📋 Pending", with: "## Decisions\n\n\(decisions)\n\n## 📋 Pending")
        text = text.replacingOccurrences(of: "\n<!-- statejournal", with: "\n## Links\n\n- https://example.com\n\n<!-- statejournal")
        writeBytes(path, Array(text.utf8))
        let sync = try #require(try m.syncEdits(dryRun: false))
        #expect(sync.events.map(\.payload.typeName) == ["section.set", "section.set"])
        #expect(sync.conflicts.isEmpty && sync.unreadLines.isEmpty)
        return m
    }

    static func expectSections(_ m: StateManager, _ path: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let state = try #require(try m.loadState(), sourceLocation: sourceLocation)
        #expect(state.sections.map(\.name) == ["Decisions", "Links"], sourceLocation: sourceLocation)
        #expect(state.sections.first?.markdown == decisions, sourceLocation: sourceLocation)
        let text = try #require(readText(path), sourceLocation: sourceLocation)
        #expect(text.contains("## Decisions\n\n\(decisions)\n\n"), sourceLocation: sourceLocation)
        #expect(text.contains("## Links\n\n- https://example.com\n\n<!-- statejournal"), sourceLocation: sourceLocation)
        // In its place: after the header, before the tasks.
        let decisionsAt = try #require(text.range(of: "## Decisions"), sourceLocation: sourceLocation).lowerBound
        #expect(text.range(of: "## 📋 Pending").map { decisionsAt < $0.lowerBound } ?? true, sourceLocation: sourceLocation)
        #expect(state.sections.map(\.after) == ["header", "metadata"], sourceLocation: sourceLocation)
        #expect(state.json()["sections"]?.arrayValue?.count == 2, sourceLocation: sourceLocation)
    }

    @Test func freeSectionsSurviveAThousandWritesCompactRestoreAndExportImport() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("STATE.md")
        let m = try Self.edited(dir)
        let sectionsSeq = try #require(try m.loadState()).seq
        for i in 0..<1000 { try m.write(.noteAdded(text: "note \(i)")) }
        try Self.expectSections(m, path)
        _ = try m.compact()
        try Self.expectSections(m, path)
        // Changed by a later edit, then restored: as they were at that seq.
        var text = try #require(readText(path))
        text = text.replacingOccurrences(of: "We use **Postgres**.", with: "We use SQLite.")
        writeBytes(path, Array(text.utf8))
        #expect(try m.loadState()?.sections.first?.markdown.hasPrefix("We use SQLite.") == true)
        try m.restore(.seq(sectionsSeq))
        #expect(try m.loadState()?.notes.isEmpty == true)
        try Self.expectSections(m, path)
        // A fresh process (no fold cache) reads them from the snapshot and the journal.
        try Self.expectSections(smallManager(path), path)
        // Export, import elsewhere: the same sections.
        let exported = try m.events().map { $0.json().compactString }.joined(separator: "\n") + "\n"
        let other = TemporaryDirectory()
        let imported = smallManager(other.file("STATE.md"))
        _ = try imported.importHistory(Array(exported.utf8), source: "export.jsonl")
        try Self.expectSections(imported, other.file("STATE.md"))
    }

    @Test func deletingASectionRemovesIt() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("STATE.md")
        let m = try Self.edited(dir)
        var text = try #require(readText(path))
        text = text.replacingOccurrences(of: "## Links\n\n- https://example.com\n\n", with: "")
        writeBytes(path, Array(text.utf8))
        let sync = try #require(try m.syncEdits(dryRun: false))
        #expect(sync.events.map(\.payload) == [.sectionSet(FreeSection(name: "Links", after: "metadata", markdown: ""))])
        #expect(try m.loadState()?.sections.map(\.name) == ["Decisions"])
        #expect(readText(path)?.contains("## Links") == false)
    }

    @Test func aSectionNamedLikeTheFormatsOwnIsRefused() {
        for name in ["Notes", "📋 Pending (2 tasks)", "Metadata"] {
            #expect(throws: StateJournalError.self) {
                try WorkflowState.checkSection(FreeSection(name: name, after: "header", markdown: "x"))
            }
        }
        #expect(throws: StateJournalError.self) {
            try WorkflowState.checkSection(FreeSection(name: "Decisions", after: "header", markdown: "a\n## Other\nb"))
        }
    }
}
