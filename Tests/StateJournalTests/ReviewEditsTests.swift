import Foundation
import Testing
@testable import StateJournal
@testable import StateJournalEngine
import StateJournalTesting

/// Outside review of the edit merge (issue 14) and claims (issue 13).
///
/// Issue 14 promises: "Nothing a person typed is ever lost: it is either in
/// the journal or in a kept file." Each test below is an edit of STATE.md
/// that ends up in neither: not recorded as an event, not in a
/// `STATE.md.conflict-…` or `STATE.md.damaged-…` file — only in
/// `STATE.md.backup`, which the next rewrite of STATE.md replaces.
@Suite struct ReviewEditsTests {
    // MARK: Helpers

    static func manager(_ dir: TemporaryDirectory, actor: String = "tester",
                        system: any SystemCalls = RealSystemCalls()) -> StateManager {
        StateManager(configuration: .init(statePath: dir.file("STATE.md"), actor: actor, lock: LockPolicy(timeout: 5),
                                          fileSystem: FileSystem(system), journal: FileJournal.Options(),
                                          projection: .eager, snapshotInterval: 1000))
    }

    /// t1, t2 (after t1) in wave 1; t3 in wave 2.
    static func setUp(_ dir: TemporaryDirectory, actor: String = "tester") throws -> StateManager {
        let m = manager(dir, actor: actor)
        try m.initialize(id: "wf_r", name: "Review", waves: [
            [.init(id: "t1", description: "One"), .init(id: "t2", description: "Two", dependsOn: ["t1"])],
            [.init(id: "t3", description: "Three")],
        ])
        try m.addNote("first note")
        return m
    }

    /// The files a person's edit may be kept in (never the backup: the next rewrite replaces it).
    static func keptFiles(_ dir: TemporaryDirectory) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? [])
            .filter { $0.hasPrefix("STATE.md.conflict-") || $0.hasPrefix("STATE.md.damaged-") }.sorted()
    }

    static func replacing(_ text: String, _ old: String, _ new: String) throws -> String {
        try #require(text.contains(old), "the test's STATE.md has no '\(old)':\n\(text)")
        return text.replacingOccurrences(of: old, with: new)
    }

    // MARK: 1. Parts of an edit the merge reads but never records

    /// A person adds a task under a wave, with a dependency line as STATE.md
    /// shows dependencies (`  - Depends on: t1`). `task.added` carries
    /// `depends_on`, but ``EditMerge`` adds the task without it: the task is
    /// ready at once (an agent's `claim` takes it before t1 is done), and the
    /// dependency the person typed is nowhere — not in the journal, not in a
    /// conflict file.
    @Test func aDependencyOfATaskAddedInStateMdIsRecordedOrKept() throws {
        let dir = TemporaryDirectory()
        let m = try Self.setUp(dir)
        let path = dir.file("STATE.md")
        let text = try #require(readText(path))
        let edited = try Self.replacing(text, "  - Depends on: t1\n", "  - Depends on: t1\n- [ ] **t9**: Nine\n  - Depends on: t1\n")
        writeBytes(path, Array(edited.utf8))

        let sync = try #require(try m.syncEdits(dryRun: false), "the edit was not found")
        let state = try #require(try m.loadState())
        #expect(state.task("t9") != nil, "the task was added")
        let recorded = state.task("t9")?.dependsOn == ["t1"]
        let kept = Self.keptFiles(dir)
        #expect(recorded || !kept.isEmpty,
                "the dependency 't9 after t1' is neither in the journal (depends_on \(state.task("t9")?.dependsOn ?? [])) nor kept; events: \(sync.events.map(\.payload.typeName)), conflicts: \(sync.conflicts)")
        // What it costs: t9 is handed out although t1 is not done.
        if !recorded { #expect(!state.readyTasks(limit: nil).contains { $0.id == "t9" }, "t9 is ready although it depends on t1") }
    }

    /// A person removes (or changes) an existing task's `- Depends on:` line.
    /// No event changes a task's dependencies, so by Docs/GUARANTEES.md
    /// ("changes no event expresses … are written to STATE.md.conflict-…")
    /// it must be kept; it is silently dropped.
    @Test func aChangedDependencyInStateMdIsRecordedOrKept() throws {
        let dir = TemporaryDirectory()
        let m = try Self.setUp(dir)
        let path = dir.file("STATE.md")
        let text = try #require(readText(path))
        let edited = try Self.replacing(text, "- [ ] **t2**: Two\n  - Depends on: t1\n", "- [ ] **t2**: Two\n  - Depends on: t3\n")
        writeBytes(path, Array(edited.utf8))

        let sync = try #require(try m.syncEdits(dryRun: false), "the edit was not found")
        let state = try #require(try m.loadState())
        let recorded = state.task("t2")?.dependsOn == ["t3"]
        #expect(recorded || !Self.keptFiles(dir).isEmpty,
                "t2's new dependency on t3 is neither in the journal nor kept; events: \(sync.events.map(\.payload.typeName)), conflicts: \(sync.conflicts)")
    }

    /// A person moves a pending task from `### Wave 2` to `### Wave 1`. The
    /// parser reads the new wave; ``EditMerge/mergeTask`` never compares
    /// waves, and no event changes a task's wave — yet no conflict is kept.
    @Test func aTaskMovedToAnotherWaveInStateMdIsRecordedOrKept() throws {
        let dir = TemporaryDirectory()
        let m = try Self.setUp(dir)
        let path = dir.file("STATE.md")
        let text = try #require(readText(path))
        var edited = try Self.replacing(text, "### Wave 2\n- [ ] **t3**: Three\n", "")
        edited = try Self.replacing(edited, "  - Depends on: t1\n", "  - Depends on: t1\n- [ ] **t3**: Three\n")
        try #require(edited != text)
        writeBytes(path, Array(edited.utf8))

        let sync = try #require(try m.syncEdits(dryRun: false), "the edit was not found")
        let state = try #require(try m.loadState())
        let recorded = state.task("t3")?.wave == 1
        #expect(recorded || !Self.keptFiles(dir).isEmpty,
                "t3 moved to wave 1 is neither in the journal (wave \(state.task("t3")?.wave ?? 0)) nor kept; events: \(sync.events.map(\.payload.typeName)), conflicts: \(sync.conflicts)")
    }

    /// A person changes a claimed task's `- Owner:` line (hands the task to
    /// bob). The parser reads it; the merge ignores owners and leases; no
    /// event, no conflict file.
    @Test func anOwnerChangedInStateMdIsRecordedOrKept() throws {
        let dir = TemporaryDirectory()
        let m = try Self.setUp(dir, actor: "agent-a")
        try m.claim("t1", lease: .none)
        let path = dir.file("STATE.md")
        let text = try #require(readText(path))
        let edited = try Self.replacing(text, "  - Owner: agent-a\n", "  - Owner: bob\n")
        writeBytes(path, Array(edited.utf8))

        let sync = try #require(try m.syncEdits(dryRun: false), "the edit was not found")
        let state = try #require(try m.loadState())
        let recorded = state.task("t1")?.owner == "bob"
        #expect(recorded || !Self.keptFiles(dir).isEmpty,
                "t1's owner 'bob' is neither in the journal (owner \(state.task("t1")?.owner ?? "none")) nor kept; events: \(sync.events.map(\.payload.typeName)), conflicts: \(sync.conflicts)")
    }

    // MARK: 2. An edit saved while a projector records the previous one

    /// An agent saves STATE.md twice (ticks t1, then also appends a note),
    /// without the projectors' lock. A reader's projector read the first save;
    /// the second lands before the projector's `lstat` of STATE.md — long
    /// before the last check and the rename, outside the window
    /// Docs/GUARANTEES.md admits ("between that last read and the rename").
    ///
    /// ``StateFileEdit`` pairs the first save's bytes with the second save's
    /// modification time (``ProjectionHealth``'s `replaceProjection` takes
    /// `status` from a fresh `lstat`, not from the read). The first save's
    /// events are recorded with the second save's `file_mtime`; the last
    /// check then sees the second save, decides again, and `recordEdit`
    /// finds "events carrying its file_mtime after its base" — so it takes
    /// the second save as recorded already. Its note is in no event and no
    /// kept file: STATE.md is rendered over it (the save survives only as
    /// `STATE.md.backup`, until the next write replaces that).
    @Test func anEditSavedBeforeTheProjectorsLstatIsNotTakenAsRecorded() throws {
        let dir = TemporaryDirectory()
        _ = try Self.setUp(dir)
        let path = dir.file("STATE.md")
        let text = try #require(readText(path))
        let first = try Self.replacing(text, "- [ ] **t1**: One", "- [x] **t1**: One")
        let second = try Self.replacing(first, "- first note\n", "- first note\n- a note saved a moment later\n")
        writeBytes(path, Array(first.utf8))
        // The first save is a minute old: its mtime differs from the second's.
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: -60)], ofItemAtPath: path)

        // The agent's second save lands right before the reader's projector
        // takes STATE.md's status (after it read the first save, under the
        // projectors' lock).
        struct Armed { var projectorLocked = false; var saved = false }
        let armed = LockedState(Armed())
        let scripted = ScriptedCalls(RealSystemCalls()) { call in
            if call.operation == .flock, call.path.hasSuffix("projector.lock"), call.target == nil {
                armed.withLock { $0.projectorLocked = true }
            }
            if call.operation == .lstat, call.path == path {
                let save = armed.withLock { s -> Bool in
                    guard s.projectorLocked, !s.saved else { return false }
                    s.saved = true
                    return true
                }
                if save { writeBytes(path, Array(second.utf8)) }
            }
            return .pass
        }
        let reader = Self.manager(dir, actor: "reader", system: scripted)
        _ = try reader.loadState()
        try #require(armed.withLock { $0.saved }, "the second save was not made (the projector's calls changed)")

        let m = Self.manager(dir)
        let state = try #require(try m.loadState())
        #expect(state.task("t1")?.status == .completed, "the first save is recorded")
        let inJournal = state.notes.contains("a note saved a moment later")
        let kept = Self.keptFiles(dir).contains { readText(dir.file($0))?.contains("a note saved a moment later") == true }
        #expect(inJournal || kept, "the second save's note is neither in the journal nor in a kept file")
        // The backup holds it only until the next rewrite of STATE.md.
        try m.addNote("any later write")
        #expect(readText(dir.file("STATE.md.backup"))?.contains("a note saved a moment later") != true || inJournal || kept)
    }

    /// The same root cause without a race: the modification time is taken
    /// as the identity of an edit's content. A process records a first save
    /// and dies before rendering STATE.md; the person saves again (the tick
    /// plus a note) within the file system's timestamp granularity — one
    /// second on HFS+, FAT, many network file systems; a jiffy on older
    /// Linux kernels — or with a tool that keeps the mtime (`cp -p`,
    /// `rsync -t`, `touch -r`). The next command finds "events carrying its
    /// file_mtime after its base" and takes the second save as recorded:
    /// its note is rendered over and kept nowhere.
    @Test func aSecondSaveWithTheSameModificationTimeIsNotTakenAsRecorded() throws {
        let dir = TemporaryDirectory()
        _ = try Self.setUp(dir)
        let path = dir.file("STATE.md")
        let text = try #require(readText(path))
        let first = try Self.replacing(text, "- [ ] **t1**: One", "- [x] **t1**: One")
        let second = try Self.replacing(first, "- first note\n", "- first note\n- a note in the same second\n")
        let mtime = Date(timeIntervalSince1970: 1_800_000_000)
        writeBytes(path, Array(first.utf8))
        try FileManager.default.setAttributes([.modificationDate: mtime], ofItemAtPath: path)
        // Recorded, not rendered: the process died there.
        let dying = Self.manager(dir, actor: "dying")
        #expect(try dying.recordEditTakingLock()?.events.count == 1)
        writeBytes(path, Array(second.utf8))
        try FileManager.default.setAttributes([.modificationDate: mtime], ofItemAtPath: path)

        let m = Self.manager(dir)
        let state = try #require(try m.loadState())
        #expect(state.task("t1")?.status == .completed)
        let inJournal = state.notes.contains("a note in the same second")
        let kept = Self.keptFiles(dir).contains { readText(dir.file($0))?.contains("a note in the same second") == true }
        #expect(inJournal || kept, "the second save's note is neither in the journal nor in a kept file")
    }

    /// A person lists one metadata key twice with two values. The merge keeps
    /// the last (``EditMerge``'s `mergeMetadata`: `editValues[key] = value`);
    /// the first value is recorded nowhere and no conflict file is written.
    @Test func aMetadataKeyTypedTwiceKeepsBothValuesSomewhere() throws {
        let dir = TemporaryDirectory()
        let m = try Self.setUp(dir)
        let path = dir.file("STATE.md")
        let text = try #require(readText(path))
        let edited = try Self.replacing(text, "- first note\n", "- first note\n\n## Metadata\n\n- **k:** typed first\n- **k:** typed second\n")
        writeBytes(path, Array(edited.utf8))
        _ = try m.syncEdits(dryRun: false)
        let state = try #require(try m.loadState())
        #expect(state.metadataValue("k") != nil, "the key was recorded")
        let kept = Self.keptFiles(dir).contains { readText(dir.file($0))?.contains("typed first") == true }
        #expect(state.metadataValue("k") == "typed first" || kept, "the value 'typed first' is neither in the journal nor kept")
    }

    // MARK: 3. Claims: whose edit is it?

    /// agent-a holds t1 by a live lease. A person (the file's owner) ticks t1
    /// in STATE.md. Whether that tick may complete t1 depends on which
    /// process happens to notice the edit first: recorded by agent-b's
    /// command it is refused (agent-a's live lease; kept in a conflict file);
    /// recorded by agent-a's own *read* (`show`, `next`, `brief`, a heartbeat)
    /// it is recorded with actor agent-a, passes the owner check and
    /// completes agent-a's claimed task — in agent-a's name, which agent-a
    /// never did. The claim rule ("a task held by another actor's live lease
    /// cannot be … completed … unless --force") is decided by an accident of
    /// timing, and the audit trail names the wrong actor.
    @Test func anEditOfAClaimedTaskIsNotRecordedInTheClaimHoldersName() throws {
        let dir = TemporaryDirectory()
        let a = try Self.setUp(dir, actor: "agent-a")
        try a.claim("t1", lease: .seconds(3600))
        let path = dir.file("STATE.md")
        let text = try #require(readText(path))
        let edited = try Self.replacing(text, "- [~] **t1**: One", "- [x] **t1**: One")
        writeBytes(path, Array(edited.utf8))

        // The same edit noticed by agent-b's read: refused (agent-a's live
        // lease) and kept in a conflict file, t1 still agent-a's.
        do {
            let other = TemporaryDirectory()
            let a2 = try Self.setUp(other, actor: "agent-a")
            try a2.claim("t1", lease: .seconds(3600))
            let text2 = try #require(readText(other.file("STATE.md")))
            writeBytes(other.file("STATE.md"), Array(try Self.replacing(text2, "- [~] **t1**: One", "- [x] **t1**: One").utf8))
            let b = Self.manager(other, actor: "agent-b")
            let seen = try #require(try b.loadState())
            #expect(seen.task("t1")?.owner == "agent-a" && seen.task("t1")?.status == .inProgress)
            #expect(!Self.keptFiles(other).isEmpty)
        }
        // agent-a only reads.
        let state = try #require(try a.loadState())
        let completion = try a.events().last { $0.payload.typeName == "task.completed" }
        #expect(completion?.actor != "agent-a",
                "a person's tick of t1 was recorded as agent-a completing its own claim (via \(completion?.via ?? "-")); agent-a never completed it")
        #expect(state.task("t1")?.status == .inProgress && state.task("t1")?.owner == "agent-a" || !Self.keptFiles(dir).isEmpty,
                "agent-a's live claim ended by an edit nobody was checked for")
    }
}

/// Probes that found nothing (they pass): what else the review tried.
@Suite struct ReviewEditsProbes {
    /// A process recorded an edit's events and died before it rendered
    /// STATE.md (``StateManager/recordEditTakingLock(dryRun:)`` records
    /// without rendering); the edited file is still there. The next command
    /// records nothing again — also after the file was touched (same bytes,
    /// a new modification time: the three-way merge finds nothing new).
    @Test(arguments: [false, true])
    func anEditRecordedByAProcessThatDiedBeforeRenderingIsNotRecordedTwice(touched: Bool) throws {
        let dir = TemporaryDirectory()
        _ = try ReviewEditsTests.setUp(dir)
        let path = dir.file("STATE.md")
        let text = try #require(readText(path))
        var edited = try ReviewEditsTests.replacing(text, "- [ ] **t1**: One", "- [x] **t1**: One")
        edited = try ReviewEditsTests.replacing(edited, "- first note\n", "- first note\n- first note\n- by hand\n")
        writeBytes(path, Array(edited.utf8))
        let dying = ReviewEditsTests.manager(dir, actor: "dying")
        let sync = try #require(try dying.recordEditTakingLock())
        #expect(sync.events.count == 3)
        let seq = Int(try #require(sync.events.last).seq)
        #expect(readText(path) == edited, "not rendered: the process died")
        if touched {
            try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: 5)], ofItemAtPath: path)
        }
        let next = ReviewEditsTests.manager(dir, actor: "next")
        let state = try #require(try next.loadState())
        #expect(try next.events().count == seq, "recorded once")
        #expect(state.notes == ["first note", "first note", "by hand"])
        #expect(ReviewEditsTests.keptFiles(dir).isEmpty || touched)
    }

    /// The conflict file cannot be written, or the edit's append fails: the
    /// edited STATE.md is left as it is (nothing recorded, nothing replaced).
    @Test(arguments: ["conflict", "append"])
    func anEditThatCannotBeRecordedIsLeftInPlace(failing: String) throws {
        let dir = TemporaryDirectory()
        let m = try ReviewEditsTests.setUp(dir)
        let path = dir.file("STATE.md")
        let seq = try m.events().count
        let text = try #require(readText(path))
        // A legal change and a task removed (kept in a conflict file).
        var edited = try ReviewEditsTests.replacing(text, "- [ ] **t1**: One", "- [x] **t1**: One")
        edited = try ReviewEditsTests.replacing(edited, "### Wave 2\n- [ ] **t3**: Three\n", "")
        writeBytes(path, Array(edited.utf8))
        let scripted = ScriptedCalls(RealSystemCalls()) { call in
            switch failing {
            case "conflict" where call.operation == .open && call.path.contains(".conflict-"): return .fail(.noSpace)
            case "append" where call.operation == .fdatasync && call.isSegment: return .fail(.ioError)
            default: return .pass
            }
        }
        let reader = ReviewEditsTests.manager(dir, actor: "reader", system: scripted)
        _ = try? reader.loadState()
        #expect(readText(path) == edited, "the edited file is left as it is")
        let after = ReviewEditsTests.manager(dir)
        // (A failed fdatasync rewrites the segment; the next command records the edit.)
        let state = try #require(try after.loadState())
        #expect(state.task("t1")?.status == .completed)
        #expect(try after.events().count == seq + 1)
        #expect(!ReviewEditsTests.keptFiles(dir).isEmpty)
    }
}

/// Text typed in places the format has a meaning for: each must end in the
/// journal or in a kept file (these pass).
@Suite struct ReviewEditsTextProbes {
    static let edits: [(String, String, String)] = [
        ("a line after the title", "# Workflow: Review\n", "# Workflow: Review\nTYPED-TEXT\n"),
        ("text after the status", "**Status:** Wave 0/2", "**Status:** Wave 0/2 TYPED-TEXT"),
        ("a second line of a note", "- first note\n", "- first note\n  TYPED-TEXT\n"),
        ("a detail line of a task", "- [ ] **t1**: One\n", "- [ ] **t1**: One\n  - TYPED-TEXT\n"),
        ("a paragraph in Pending", "### Wave 2\n", "TYPED-TEXT\n\n### Wave 2\n"),
        ("a sub-heading in Notes", "- first note\n", "- first note\n\n### TYPED-TEXT\n"),
        ("a blockquote in Pending", "### Wave 2\n", "> TYPED-TEXT\n\n### Wave 2\n"),
        ("text after the files", "**Workflow ID:** `wf_r`", "**Workflow ID:** `wf_r` TYPED-TEXT"),
    ]

    @Test(arguments: 0..<edits.count)
    func typedTextIsRecordedOrKept(_ index: Int) throws {
        let (name, old, new) = Self.edits[index]
        let dir = TemporaryDirectory()
        let m = try ReviewEditsTests.setUp(dir)
        let path = dir.file("STATE.md")
        let text = try #require(readText(path))
        writeBytes(path, Array(try ReviewEditsTests.replacing(text, old, new).utf8))
        _ = try m.syncEdits(dryRun: false)
        let events = try m.events()
        let inJournal = events.contains { "\($0.payload)".contains("TYPED-TEXT") }
        let kept = ReviewEditsTests.keptFiles(dir).contains { readText(dir.file($0))?.contains("TYPED-TEXT") == true }
        #expect(inJournal || kept, "\(name): the typed text is neither in the journal nor kept")
    }
}

/// The identity of an edit in its events: `file_crc`.
@Suite struct ReviewEditsFileChecksum {
    /// An edit's events carry the CRC-32C of the edited bytes, and it survives
    /// encoding; an event written before `file_crc` existed still decodes.
    @Test func editEventsCarryTheChecksumOfTheEditedBytesAndOldEventsDecode() throws {
        let dir = TemporaryDirectory()
        let m = try ReviewEditsTests.setUp(dir)
        let path = dir.file("STATE.md")
        let text = try #require(readText(path))
        let edited = try ReviewEditsTests.replacing(text, "- [ ] **t1**: One", "- [x] **t1**: One")
        writeBytes(path, Array(edited.utf8))
        let sync = try #require(try m.syncEdits(dryRun: false))
        let event = try #require(sync.events.first)
        let expected = Array(edited.utf8).withUnsafeBytes { CRC32C.update(0, $0) }
        #expect(event.fileChecksum == expected)
        #expect(try m.events().last?.fileChecksum == expected, "as read back from the journal")
        #expect(try Event(json: try JSON.parse(event.json().encoded())) == event)

        let old = #"{"seq":7,"time":"2026-11-20T10:00:00.000000Z","actor":"p","pid":1,"type":"task.started","via":"edit","file_mtime":"2026-11-20T09:59:00.000000Z","task_id":"t1"}"#
        let decoded = try Event(json: try JSON.parse(Array(old.utf8)))
        #expect(decoded.via == "edit" && decoded.fileChecksum == nil && decoded.fileModified != nil)
    }
}
