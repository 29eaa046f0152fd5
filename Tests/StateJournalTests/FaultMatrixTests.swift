import Foundation
import Testing
@testable import StateJournal
@testable import StateJournalEngine
import StateJournalTesting

/// Fails each system call of append, rotation, compression, snapshot and
/// compaction in turn, then reopens with the real system calls: every
/// acknowledged event is there exactly once, nothing is half-applied,
/// STATE.md is valid, and no temporary file is left behind.
@Suite struct FaultMatrixTests {
    /// Every call the library makes. `.write` and `.read` are not here: the
    /// library never calls them (FileSystem.writeAll and every read use
    /// `pwrite`/`pread`; `RealSystemCalls.write/read` are their only callers) —
    /// `theLibraryNeverCallsWriteOrReadOrTruncatesWithoutAFault` checks that on the whole scenario.
    /// Nor is `.ftruncate`: since the lock record became one fixed-size
    /// `pwrite`, a write without faults never truncates; `ftruncate` only
    /// cuts after a failure (a failed append, FileJournal.append) or a torn
    /// or unconfirmed tail — `tornWritesAreCutAndLoseNothingAcknowledged`
    /// exercises those cuts, and the same test checks the fault-free
    /// scenario makes no `ftruncate` (re-add the case if it ever does).
    static let operations: [FaultInjector.Operation] = [
        .open, .pwrite, .fsync, .fdatasync, .rename, .unlink, .link, .exchange, .mkdir,
        .pread, .close, .lstat, .listDirectory, .fstat, .flock, .availableSpace,
    ]

    /// One manager for the whole scenario (its fold cache answers most
    /// reads), or a new one per operation (every write folds from the
    /// newest snapshot on disk).
    enum Mode: String, CaseIterable, Sendable { case shared, fresh }

    static let segmentSize = 600
    static let snapshotInterval: UInt64 = 3

    static func manager(_ path: String, _ system: any SystemCalls = RealSystemCalls()) -> StateManager {
        smallManager(path, segmentSize: segmentSize, snapshotInterval: snapshotInterval, system: system)
    }

    /// What a failed write may not change: the journal's segment files and STATE.md.
    struct Files: Equatable {
        var segments: [String: [UInt8]]
        var stateFile: [UInt8]?
    }

    static func files(_ path: String) -> Files {
        let journal = path + ".journal"
        var segments: [String: [UInt8]] = [:]
        for name in listDirectory(journal) where name.hasPrefix("segment-") && !name.contains(".tmp-") {
            segments[name] = readBytes(journal + "/" + name) ?? []
        }
        return Files(segments: segments, stateFile: readBytes(path))
    }

    /// The journal's events as a reader sees them (no lock, nothing repaired).
    static func journalEvents(_ path: String) throws -> [Event] {
        var events: [Event] = []
        try FileJournal(statePath: path).readEvents(after: 0) { events.append($0) }
        return events
    }

    /// Whether `after` differs from `before` only by sealing, which moves
    /// events without changing them: a raw segment replaced by its sealed
    /// copy, a new segment holding only its header, the same events read.
    static func onlySealed(_ before: Files, _ after: Files, eventsBefore: [Event], path: String) -> Bool {
        guard before.stateFile == after.stateFile else { return false }
        for (name, bytes) in after.segments {
            if let old = before.segments[name] {
                if old != bytes { return false }
            } else if name.hasSuffix(".log.zst") {
                if before.segments[String(name.dropLast(4))] == nil { return false }
            } else if bytes.count != RecordFormat.headerSize {
                return false
            }
        }
        for name in before.segments.keys where after.segments[name] == nil {
            guard name.hasSuffix(".log"), after.segments[name + ".zst"] != nil else { return false }
        }
        return (try? journalEvents(path)) == eventsBefore
    }

    struct Outcome {
        var injected = 0
        var runs = 0
        var acknowledged = 0
        var failedWrites = 0
        var durableOnError = 0
        var failures: [String] = []
    }

    /// Writes with idempotency keys (to recognise them afterwards), from the
    /// journal's creation on, with segment rotation, a compaction and
    /// snapshots along the way. Checks the oracle after every failed write
    /// and returns the keys of the acknowledged ones.
    static func scenario(_ path: String, _ system: any SystemCalls, mode: Mode, label: String,
                         outcome: inout Outcome) -> [String] {
        let shared = manager(path, system)
        func current() -> StateManager { mode == .shared ? shared : manager(path, system) }
        var acknowledged: [String] = []
        func attempt(_ key: String, _ payload: Event.Payload) {
            let before = files(path)
            let eventsBefore = (try? journalEvents(path)) ?? []
            do {
                try current().write(payload, options: .init(idempotencyKey: key))
                acknowledged.append(key)
            } catch {
                // The oracle, before anything reads (and repairs) the journal.
                outcome.failedWrites += 1
                let after = files(path)
                if after == before || onlySealed(before, after, eventsBefore: eventsBefore, path: path) { return }
                // KNOWN LIBRARY BUG (fails until fixed on main): when rewriting
                // STATE.md fails after the append, GroupCommit.commit throws a
                // StateJournalError without `durableSeq`, so the caller cannot
                // tell the write landed.
                guard let error = error as? StateJournalError, let seq = error.durableSeq else {
                    let changed = Set(before.segments.keys).symmetricDifference(after.segments.keys).sorted()
                        + before.segments.keys.filter { after.segments[$0] != nil && after.segments[$0] != before.segments[$0] }.sorted()
                    outcome.failures.append("\(label): write \(key) failed (\(error)) without saying it is durable, "
                        + "yet changed \(after.stateFile != before.stateFile ? "STATE.md and " : "")segments \(changed)")
                    return
                }
                outcome.durableOnError += 1
                do {
                    let carrying = try journalEvents(path).filter { $0.idempotencyKey == key }
                    if carrying.map(\.seq) != [seq] {
                        outcome.failures.append("\(label): write \(key) said durable at seq \(seq), the journal holds it at \(carrying.map(\.seq))")
                    }
                } catch {
                    outcome.failures.append("\(label): write \(key) said durable at seq \(seq), the journal cannot be read: \(error)")
                }
                acknowledged.append(key)  // durable: must survive from here on
            }
        }
        attempt("init", initPayload(tasks: 2, waves: 1))
        for i in 0..<3 { attempt("base\(i)", .noteAdded(text: "base \(i)")) }
        for i in 0..<4 { attempt("a\(i)", .noteAdded(text: "note a\(i)" + String(repeating: ".", count: 60))) }
        let eventsBefore = (try? journalEvents(path)) ?? []
        do {
            try current().compact()
        } catch let error as StateJournalError {
            // A failed compaction changes no event.
            if (try? journalEvents(path)) != eventsBefore {
                outcome.failures.append("\(label): a failed compaction (\(error)) changed the journal's events")
            }
        } catch {
            outcome.failures.append("\(label): compaction failed with a non-StateJournal error: \(error)")
        }
        for i in 0..<3 { attempt("b\(i)", .noteAdded(text: "note b\(i)" + String(repeating: ".", count: 60))) }
        return acknowledged
    }

    static func temporaries(_ dir: String) -> [String] {
        (listDirectory(dir) + listDirectory(dir + "/STATE.md.journal")).filter { $0.contains(".tmp-") }
    }

    static func check(operation: FaultInjector.Operation, index: Int, mode: Mode, outcome: inout Outcome) throws {
        let dir = TemporaryDirectory()
        let path = dir.file("STATE.md")
        let faults = FaultInjector()
        faults.fail(operation, errno: operation == .pwrite ? .noSpace : .ioError, after: index)
        let label = "\(mode.rawValue) \(operation.rawValue) #\(index)"
        let acknowledged = scenario(path, faults, mode: mode, label: label, outcome: &outcome)
        outcome.runs += 1
        outcome.injected += faults.injectedCount
        outcome.acknowledged += acknowledged.count
        if faults.injectedCount != 1 { outcome.failures.append("\(label): the fault was not injected") }

        // Reopen with the real system calls.
        let manager = Self.manager(path)
        let events = try manager.events()
        if events.map(\.seq) != Array(1...UInt64(max(events.count, 1))).prefix(events.count).map({ $0 }) {
            outcome.failures.append("\(label): seqs have gaps")
        }
        let keys = events.compactMap(\.idempotencyKey)
        if Set(keys).count != keys.count { outcome.failures.append("\(label): an event is duplicated") }
        for key in acknowledged where !keys.contains(key) {
            outcome.failures.append("\(label): acknowledged write \(key) was lost")
        }
        guard acknowledged.contains("init") else { return }
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

    /// How many calls of each operation the scenario makes, in each mode.
    static let counts: [Mode: [FaultInjector.Operation: Int]] = {
        var result: [Mode: [FaultInjector.Operation: Int]] = [:]
        for mode in Mode.allCases {
            let dir = TemporaryDirectory()
            let counter = FaultInjector()
            var outcome = Outcome()
            _ = Self.scenario(dir.file("STATE.md"), counter, mode: mode, label: "count", outcome: &outcome)
            result[mode] = counter.counts
        }
        return result
    }()

    @Test(arguments: Mode.allCases, operations)
    func everyFailingSystemCallLosesNothingAcknowledged(_ mode: Mode, _ operation: FaultInjector.Operation) throws {
        // FAULT_MATRIX=shared:fdatasync,fresh:unlink (or just `fdatasync`) runs
        // only those cases: `make mutants` aims one mutant at one case.
        if let only = ProcessInfo.processInfo.environment["FAULT_MATRIX"], !only.isEmpty {
            let wanted = only.split(separator: ",").map(String.init)
            guard wanted.contains(operation.rawValue) || wanted.contains("\(mode.rawValue):\(operation.rawValue)") else { return }
        }
        let calls = Self.counts[mode]?[operation] ?? 0
        #expect(calls > 0, "the scenario never calls \(operation.rawValue): this case would prove nothing")
        var outcome = Outcome()
        for index in 0..<calls {
            try Self.check(operation: operation, index: index, mode: mode, outcome: &outcome)
        }
        #expect(outcome.failures.isEmpty, "\(outcome.failures.count) failures, the first: \(outcome.failures.prefix(3))")
        #expect(outcome.injected == calls)
        let summary = "fault matrix: \(mode.rawValue) \(operation.rawValue): \(outcome.runs) runs, \(outcome.injected) faults injected, "
            + "\(outcome.acknowledged) acknowledged writes, \(outcome.failedWrites) failed writes "
            + "(\(outcome.durableOnError) durable on error), \(outcome.failures.count) lost or broken"
        FileHandle.standardError.write(Data((summary + "\n").utf8))
    }

    @Test func theScenarioExercisesEveryStep() {
        for mode in Mode.allCases {
            let counts = Self.counts[mode] ?? [:]
            // Journal creation, appends, rotation (seal + new segment), compaction and snapshots all happen.
            #expect((counts[.mkdir] ?? 0) >= 1, "\(mode)")
            #expect((counts[.pwrite] ?? 0) >= 11, "\(mode)")
            #expect((counts[.rename] ?? 0) + (counts[.exchange] ?? 0) >= 20, "\(mode)")
            #expect((counts[.exchange] ?? 0) >= 10, "STATE.md replaced by exchange: \(mode)")
            #expect((counts[.unlink] ?? 0) >= 2, "\(mode)")
            #expect(Self.operations.reduce(0) { $0 + (counts[$1] ?? 0) } >= 500, "\(mode)")
        }
        // A fresh manager per write folds from the snapshot on disk: it reads more.
        #expect((Self.counts[.fresh]?[.pread] ?? 0) > (Self.counts[.shared]?[.pread] ?? 0))
    }

    /// The operations left out of the matrix are never called.
    @Test func theLibraryNeverCallsWriteOrReadOrTruncatesWithoutAFault() {
        for mode in Mode.allCases {
            #expect(Self.counts[mode]?[.write] == nil, "\(mode)")
            #expect(Self.counts[mode]?[.read] == nil, "\(mode)")
            #expect(Self.counts[mode]?[.ftruncate] == nil, "\(mode): the scenario truncates: add .ftruncate to the matrix")
        }
    }

    /// A nearly full disk: the write is refused before anything is appended
    /// (the journal's bytes and STATE.md unchanged), with ENOSPC.
    @Test(arguments: Mode.allCases)
    func aNearlyFullDiskRefusesTheWriteBeforeAppending(_ mode: Mode) throws {
        let dir = TemporaryDirectory()
        let path = dir.file("STATE.md")
        var outcome = Outcome()
        _ = Self.scenario(path, RealSystemCalls(), mode: mode, label: "setup", outcome: &outcome)
        #expect(outcome.failedWrites == 0)
        let sys = ObservingSystemCalls()
        sys.availableSpace = 4096
        let before = Self.files(path)
        let eventsBefore = try Self.journalEvents(path)
        let error = #expect(throws: StateJournalError.self) {
            try Self.manager(path, sys).write(.noteAdded(text: "no room"), options: .init(idempotencyKey: "full"))
        }
        #expect(error?.errno == .noSpace)
        #expect(error?.durableSeq == nil)
        #expect(Self.files(path) == before)
        #expect(try Self.journalEvents(path) == eventsBefore)
        // With room again, the same write goes through.
        sys.availableSpace = nil
        try Self.manager(path, sys).write(.noteAdded(text: "room"), options: .init(idempotencyKey: "full"))
        #expect(try Self.journalEvents(path).filter { $0.idempotencyKey == "full" }.count == 1)
    }

    /// A torn write (half the bytes reach the file, then ENOSPC) at every
    /// append of the scenario.
    @Test(arguments: Mode.allCases)
    func tornWritesAreCutAndLoseNothingAcknowledged(_ mode: Mode) throws {
        let appends = Self.counts[mode]?[.pwrite] ?? 0
        #expect(appends >= 11)
        for index in 0..<appends {
            let dir = TemporaryDirectory()
            let path = dir.file("STATE.md")
            let faults = FaultInjector()
            faults.tearWrite(.pwrite, errno: .noSpace, after: index)
            var outcome = Outcome()
            let acknowledged = Self.scenario(path, faults, mode: mode, label: "tear #\(index)", outcome: &outcome)
            #expect(faults.injectedCount == 1, "tear #\(index)")
            #expect(outcome.failures.isEmpty, "\(outcome.failures)")
            guard acknowledged.contains("init") else { continue }
            let manager = smallManager(path)
            try manager.write(.noteAdded(text: "after"))
            let keys = try manager.events().compactMap(\.idempotencyKey)
            for key in acknowledged { #expect(keys.contains(key), "tear #\(index): \(key) lost") }
            #expect(Set(keys).count == keys.count)
            #expect(try !manager.verify().hasCorruption)
        }
    }
}
