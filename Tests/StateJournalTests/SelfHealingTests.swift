import Foundation
import Testing
@testable import StateJournal
@testable import StateJournalEngine
import StateJournalTesting

/// Any command that finds STATE.md missing, truncated or garbled regenerates
/// it, after keeping the damaged file under a new name; an edit by hand
/// that still parses is recorded as events first (EditMergeTests).
@Suite struct SelfHealingTests {
    enum Damage: String, CaseIterable {
        case missing, emptied, truncated, garbled, handEdited, footerRemoved, appended, staleButIntact
    }

    @Test(arguments: Damage.allCases)
    func damagedStateFileHeals(_ damage: Damage) throws {
        let dir = TemporaryDirectory()
        let path = dir.file("STATE.md")
        let manager = smallManager(path)
        try manager.write(initPayload())
        try manager.write(.taskStarted(taskID: "w1t1"))
        let good = readBytes(path)!
        try manager.write(.noteAdded(text: "latest"))
        let current = readBytes(path)!
        let text = String(decoding: current, as: UTF8.self)

        var damaged: [UInt8]?
        switch damage {
        case .missing: try FileManager.default.removeItem(atPath: path)
        case .emptied: damaged = []
        case .truncated: damaged = Array(current[0..<(current.count / 2)])
        case .garbled: damaged = current.map { $0 == UInt8(ascii: "a") ? UInt8(ascii: "@") : $0 }
        case .handEdited: damaged = Array(text.replacingOccurrences(of: "- [~]", with: "- [x]").utf8)
        case .footerRemoved: damaged = Array(text.split(separator: "\n").dropLast().joined(separator: "\n").utf8) + [10]
        case .appended: damaged = current + Array("\nmy own note\n".utf8)
        case .staleButIntact: damaged = good  // a writer stopped before replacing STATE.md
        }
        if let damaged { writeBytes(path, damaged) }

        let state = try StateManager(statePath: path).loadState()
        let healed = readBytes(path)!
        #expect(healed == Array(MarkdownRenderer.render(state!).utf8))
        #expect(MarkdownValidator.validate(String(decoding: healed, as: UTF8.self)).isEmpty)

        let kept = listDirectory(dir.path).filter { $0.hasPrefix("STATE.md.damaged-") }
        let conflicts = listDirectory(dir.path).filter { $0.hasPrefix("STATE.md.conflict-") }
        switch damage {
        case .missing, .staleButIntact:
            #expect(kept.isEmpty)  // nothing a person typed to keep
        case .handEdited:
            // An edit that parses: recorded as events, the edited file is the backup.
            #expect(kept.isEmpty)
            #expect(state?.task("w1t1")?.status == .completed)
            #expect(readBytes(dir.file("STATE.md.backup")) == damaged)
        case .appended:
            // A line after the footer the format cannot read: kept with the whole file in a conflict file.
            #expect(kept.isEmpty)
            #expect(conflicts.count == 1)
            #expect(conflicts.first.flatMap { readText(dir.file($0)) }?.contains("my own note") == true)
        default:
            #expect(kept.count == 1)
            #expect(kept.first.map { readBytes(dir.file($0)) } == damaged, "the damaged copy is kept byte for byte")
        }
    }

    @Test func damagedCopiesNeverReuseAName() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("STATE.md")
        let manager = smallManager(path)
        try manager.write(initPayload())
        for i in 0..<5 {
            writeBytes(path, Array("edit \(i)\n".utf8))
            _ = try manager.loadState()
        }
        let kept = listDirectory(dir.path).filter { $0.hasPrefix("STATE.md.damaged-") }
        #expect(kept.count == 5)
        #expect(Set(kept.compactMap { readText(dir.file($0)) }) == Set((0..<5).map { "edit \($0)\n" }))
    }

    @Test func temporariesOfAKilledWriterBesideStateMDAreRemoved() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("STATE.md")
        let manager = smallManager(path)
        try manager.write(initPayload())
        for name in ["STATE.md.tmp-99999-1", "STATE.md.backup.tmp-99999-2"] { writeBytes(dir.file(name), [1, 2, 3]) }
        writeBytes(dir.file("STATE.md.notes"), [4])  // not ours: left alone
        try manager.compact()
        #expect(listDirectory(dir.path).filter { $0.contains(".tmp-") }.isEmpty)
        #expect(readBytes(dir.file("STATE.md.notes")) == [4])
        // Healing a missing STATE.md cleans up too.
        writeBytes(dir.file("STATE.md.tmp-99999-3"), [1])
        try FileManager.default.removeItem(atPath: path)
        _ = try StateManager(statePath: path).loadState()
        #expect(listDirectory(dir.path).filter { $0.contains(".tmp-") }.isEmpty)
    }

    @Test func theBackupIsThePreviousProjectionByteForByte() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("STATE.md")
        let manager = smallManager(path)
        try manager.write(initPayload())
        let before = readBytes(path)!
        try manager.write(.noteAdded(text: "x"))
        #expect(readBytes(path + ".backup") == before)
    }

    /// Writers finishing together rewrite STATE.md once, not once each:
    /// the first projector renders every write that is in the journal.
    @Test func concurrentProjectionsCoalesce() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("STATE.md")
        let counter = FaultInjector()
        let manager = smallManager(path, system: counter)
        try manager.write(initPayload(tasks: 8, waves: 1))
        // Hold the projectors' lock: the 8 writers append, then all wait for it.
        let projector = FileLock(path: path + ".journal/" + FileJournal.projectorLockName, fileSystem: FileSystem())
        try projector.acquire(LockPolicy(timeout: 5), command: "test")
        let exchangesBefore = counter.counts[.exchange] ?? 0
        let join = startThreads(8) { i in _ = try? manager.write(.taskStarted(taskID: "w1t\(i + 1)")) }
        // Handshake: wait until all 8 events are in the journal.
        while (try? FileJournal(statePath: path).readEvents(after: 0) { _ in }) != 9 { sched_yield() }
        projector.release()
        join()
        let projections = (counter.counts[.exchange] ?? 0) - exchangesBefore  // STATE.md and the new file trade names
        #expect(projections == 1, "STATE.md was rewritten \(projections) times for 8 writes")
        #expect(try manager.loadState()?.tasks.allSatisfy { $0.status == .inProgress } == true)
        #expect(readText(path)?.contains("seq=9 ") == true)
    }
}
