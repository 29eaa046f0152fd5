import Foundation
import Testing
@testable import StateJournal
import StateJournalTesting

/// Fails each system call of append, rotation, compression, snapshot and
/// compaction in turn, then reopens with the real system calls: every
/// acknowledged event is there exactly once, nothing is half-applied,
/// STATE.md is valid, and no temporary file is left behind.
@Suite struct FaultMatrixTests {
    static let operations: [FaultInjector.Operation] = [
        .open, .pwrite, .write, .fsync, .fdatasync, .rename, .unlink, .link, .ftruncate, .mkdir,
        .pread, .close, .lstat, .listDirectory, .fstat, .flock, .availableSpace,
    ]

    /// Writes with idempotency keys (to recognise them afterwards), with
    /// segment rotation, a compaction and snapshots along the way.
    static func scenario(_ manager: StateManager) -> [String] {
        var acknowledged: [String] = []
        func attempt(_ key: String) {
            do {
                try manager.write(.noteAdded(text: "note " + key + String(repeating: ".", count: 60)),
                                  options: .init(idempotencyKey: key))
                acknowledged.append(key)
            } catch {}
        }
        for i in 0..<4 { attempt("a\(i)") }
        _ = try? manager.compact()
        for i in 0..<3 { attempt("b\(i)") }
        return acknowledged
    }

    static func base(_ path: String) throws {
        let manager = smallManager(path, segmentSize: 600, snapshotInterval: 3)
        try manager.write(initPayload(tasks: 2, waves: 1))
        for i in 0..<3 { try manager.write(.noteAdded(text: "base \(i)"), options: .init(idempotencyKey: "base\(i)")) }
    }

    static func temporaries(_ dir: String) -> [String] {
        (listDirectory(dir) + listDirectory(dir + "/STATE.md.journal")).filter { $0.contains(".tmp-") }
    }

    struct Outcome {
        var injected = 0
        var runs = 0
        var acknowledged = 0
        var failures: [String] = []
    }

    static func check(operation: FaultInjector.Operation, index: Int, outcome: inout Outcome) throws {
        let dir = TemporaryDirectory()
        let path = dir.file("STATE.md")
        try base(path)
        let faults = FaultInjector()
        faults.fail(operation, errno: operation == .pwrite || operation == .write ? .noSpace : .ioError, after: index)
        let acknowledged = scenario(smallManager(path, segmentSize: 600, snapshotInterval: 3, system: faults))
        outcome.runs += 1
        outcome.injected += faults.injectedCount
        outcome.acknowledged += acknowledged.count
        let label = "\(operation.rawValue) #\(index)"

        // Reopen with the real system calls.
        let manager = smallManager(path, segmentSize: 600, snapshotInterval: 3)
        let events = try manager.events()
        if events.map(\.seq) != Array(1...UInt64(events.count)) { outcome.failures.append("\(label): seqs have gaps") }
        let keys = events.compactMap(\.idempotencyKey)
        if Set(keys).count != keys.count { outcome.failures.append("\(label): an event is duplicated") }
        for key in acknowledged + ["base0", "base1", "base2"] where !keys.contains(key) {
            outcome.failures.append("\(label): acknowledged write \(key) was lost")
        }
        guard let state = try manager.loadState() else { outcome.failures.append("\(label): no state"); return }
        if readBytes(path) != Array(MarkdownRenderer.render(state).utf8) {
            outcome.failures.append("\(label): STATE.md does not show the journal")
        }
        // The next write cleans up whatever the failed one left.
        try manager.write(.noteAdded(text: "after"))
        if !temporaries(dir.path).isEmpty { outcome.failures.append("\(label): temporary files left: \(temporaries(dir.path))") }
        let report = try manager.verify()
        if report.hasCorruption { outcome.failures.append("\(label): verify found \(report.problems)") }
    }

    /// How many calls of each operation the scenario makes.
    static let counts: [FaultInjector.Operation: Int] = {
        let dir = TemporaryDirectory()
        try? Self.base(dir.file("STATE.md"))
        let counter = FaultInjector()
        _ = Self.scenario(smallManager(dir.file("STATE.md"), segmentSize: 600, snapshotInterval: 3, system: counter))
        return counter.counts
    }()

    @Test(arguments: operations)
    func everyFailingSystemCallLosesNothingAcknowledged(_ operation: FaultInjector.Operation) throws {
        var outcome = Outcome()
        for index in 0..<(Self.counts[operation] ?? 0) {
            try Self.check(operation: operation, index: index, outcome: &outcome)
        }
        #expect(outcome.failures.isEmpty, "\(outcome.failures.prefix(20))")
        #expect(outcome.injected == Self.counts[operation] ?? 0)
        let summary = "fault matrix: \(operation.rawValue): \(outcome.runs) runs, \(outcome.injected) faults injected, "
            + "\(outcome.acknowledged) acknowledged writes, \(outcome.failures.count) lost or broken"
        FileHandle.standardError.write(Data((summary + "\n").utf8))
    }

    @Test func theScenarioExercisesEveryStep() {
        // Appends, rotation (seal + new segment), compaction and snapshots all happen.
        #expect((Self.counts[.pwrite] ?? 0) >= 7)
        #expect((Self.counts[.rename] ?? 0) >= 20)
        #expect((Self.counts[.unlink] ?? 0) >= 2)
        #expect(Self.operations.reduce(0) { $0 + (Self.counts[$1] ?? 0) } >= 500)
    }

    /// A torn write (half the bytes reach the file, then ENOSPC) at every
    /// append of the scenario.
    @Test func tornWritesAreCutAndLoseNothingAcknowledged() throws {
        for index in 0..<12 {
            let dir = TemporaryDirectory()
            let path = dir.file("STATE.md")
            try Self.base(path)
            let faults = FaultInjector()
            faults.tearWrite(.pwrite, errno: .noSpace, after: index)
            let acknowledged = Self.scenario(smallManager(path, segmentSize: 600, snapshotInterval: 3, system: faults))
            let manager = smallManager(path)
            try manager.write(.noteAdded(text: "after"))
            let keys = try manager.events().compactMap(\.idempotencyKey)
            for key in acknowledged { #expect(keys.contains(key), "tear #\(index): \(key) lost") }
            #expect(Set(keys).count == keys.count)
            #expect(try !manager.verify().hasCorruption)
        }
    }
}
