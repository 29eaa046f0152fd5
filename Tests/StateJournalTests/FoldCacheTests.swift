import Foundation
import Testing
@testable import StateJournal
@testable import StateJournalEngine

/// A manager keeps its fold between writes and reads only what others
/// appended since; rotation, compaction or a replaced journal by another
/// writer must never make it miss or repeat an event.
@Suite struct FoldCacheTests {
    @Test func twoWritersWithCachesSeeEachOthersWrites() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("STATE.md")
        let a = smallManager(path, segmentSize: 700, snapshotInterval: 5)
        let b = smallManager(path, segmentSize: 700, snapshotInterval: 5)
        try a.write(initPayload(tasks: 3, waves: 1))
        for i in 0..<40 {
            let writer = i % 3 == 0 ? b : a
            let outcome = try writer.write(.noteAdded(text: "n\(i)"))
            #expect(outcome.event.seq == UInt64(i + 2))
            if i % 11 == 10 { try (i % 2 == 0 ? a : b).compact() }
        }
        let expected = try fullReplay(path)
        #expect(try a.loadState() == expected)
        #expect(try b.loadState() == expected)
        #expect(expected?.notes == (0..<40).map { "n\($0)" })
        #expect(try a.verify().problems.isEmpty)
    }

    @Test func aCacheOfAReplacedJournalIsDropped() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("STATE.md")
        let a = smallManager(path)
        try a.write(initPayload(tasks: 3, waves: 1))
        try a.write(.noteAdded(text: "old"))
        // Someone moves the journal away and starts a new one.
        try FileManager.default.moveItem(atPath: path + ".journal", toPath: dir.file("old.journal"))
        let b = smallManager(path)
        try b.write(initPayload(tasks: 2, waves: 1))
        let outcome = try a.write(.noteAdded(text: "new"))
        #expect(outcome.event.seq == 2)
        #expect(outcome.state.notes == ["new"])
    }
}
