import Foundation
import StateJournal
import StateJournalEngine
import StateJournalTesting
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Findings where a reader runs while writer W's fdatasync is failing (or
/// the power goes in it): nothing a reader hands over or renders may be an
/// event that was then cut.
enum Readers {
    /// Item 3. Variant 0: a library reader (`loadState`) runs while the
    /// writer's fdatasync fails (EIO). Variant 1: the same with a
    /// `statejournal show` process. Variant 2: the reader runs during a slow
    /// fdatasync that a power loss then interrupts (simulated disk).
    static func duringWritersSync(_ c: FindingContext) -> Outcome {
        c.variant % 3 == 2 ? duringSyncThenPowerLoss(c) : duringFailingSync(c, cliReader: c.variant % 3 == 1)
    }

    static func duringFailingSync(_ c: FindingContext, cliReader: Bool) -> Outcome {
        Scenario.run(c.work + "/reader-failed-sync-\(c.variant)-\(c.seed)") { ws, o in
            try Scenario.setUp(ws, notes: Int(c.seed % 3))
            let cli = c.cli
            // At the fdatasync that follows W's pwrite (not an earlier one, e.g.
            // a sync of what others wrote before W uses it).
            let (w, readerRan) = Scenario.atOwnSync(RealSystemCalls()) {
                if cliReader, let cli {
                    _ = cli.run(["show", "--state", ws.statePath, "--lock-timeout", "0.5"])
                } else {
                    // A short deadline: a reader that waits for W's lock gives up (not a verdict).
                    _ = try? Scenario.manager(ws, actor: "reader", lockTimeout: 0.5).loadState()
                }
            }
            if o.writeMustFail(ws, w, "FAILED WRITE") { o.faults += 1 }
            o.fired = readerRan.isSet
            o.why = o.fired ? "a \(cliReader ? "show process" : "library reader") ran while W's fdatasync was failing (EIO)" : "W never reached its fdatasync"
            if Scenario.stateFileShows(ws, "FAILED WRITE") {
                o.problem("right after W failed, STATE.md shows W's event", ahead: 1)
            }
            o.checkProjection(ws, "right after W failed", allowBehind: true)
            // The next acknowledged write.
            switch o.write(Scenario.manager(ws, actor: "next"), "the next write", key: "next") {
            case .success(let next):
                if let bytes = Scenario.stateFile(ws) {
                    let text = String(decoding: bytes, as: UTF8.self)
                    if text.contains("FAILED WRITE") { o.problem("after the next acknowledged write (seq \(next.event.seq)) STATE.md still shows the failed write", ahead: 1) }
                    if !text.contains("the next write") { o.problem("the next acknowledged write (seq \(next.event.seq)) is not in STATE.md") }
                }
            case .failure(let error):
                o.problem("the next write failed: \(error)")
            }
            o.checkProjection(ws, "after the next write")
        }
    }

    /// While W's fdatasync is in progress (not yet done), a reader renders
    /// STATE.md; then the power goes before the fdatasync completes.
    static func duringSyncThenPowerLoss(_ c: FindingContext) -> Outcome {
        Scenario.run(c.work + "/reader-slow-sync-\(c.seed)", diskSeed: c.seed) { ws, disk, o in
            try Scenario.setUp(ws, disk, notes: Int(c.seed % 3))
            let (w, readerRan) = Scenario.atOwnSync(disk, then: .die) {
                _ = try? Scenario.manager(ws, disk, actor: "reader", lockTimeout: 0.5).loadState()
                disk.crash()
            }
            o.writeMustFail(ws, w, "NEVER DURABLE")
            o.fired = readerRan.isSet
            o.why = o.fired ? "a reader ran during W's fdatasync, then the power went" : "W never reached its fdatasync"
            disk.materialize(.dropAll)
            o.crashes = 1
            o.kills = 1
            if Scenario.stateFileShows(ws, "NEVER DURABLE") {
                o.problem("after the power loss STATE.md shows W's event, which never reached the disk", ahead: 1)
            } else {
                o.checkProjection(ws, "after the power loss", allowBehind: true)
            }
        }
    }

    /// Review R2: a killed writer left a torn tail. A lock-free reader takes
    /// its committed boundary (under the lock, briefly) and is stopped before
    /// it reads the segment; a writer cuts the torn tail and writes a smaller
    /// record inside the reader's boundary; while that write's fdatasync is
    /// failing, the reader (streaming events, as `statejournal log` does)
    /// reads. It must not hand over the event of a write that was reported
    /// failed, nor may STATE.md show it.
    static func boundaryOverTornTail(_ c: FindingContext) -> Outcome {
        Scenario.run(c.work + "/reader-boundary-\(c.seed)") { ws, o in
            try Scenario.setUp(ws, notes: Int(c.seed % 2))
            // The torn tail: the first 3000 bytes of an 8000-byte record.
            let big = Event(seq: 99, time: .now(), actor: "killed", pid: 1, payload: .noteAdded(text: String(repeating: "x", count: 8000)))
            var record: [UInt8] = []
            RecordFormat.appendRecord(Array(big.json().encoded()), to: &record)
            guard let handle = FileHandle(forWritingAtPath: ws.firstSegment) else { throw Unreached("no segment") }
            handle.seekToEndOfFile()
            handle.write(Data(record[0..<3000]))
            try? handle.close()

            let paused = Gate(), readerDone = Gate()
            let unlocked = Flag(), stopped = Flag()
            let readerCalls = ScriptedCalls(RealSystemCalls()) { call in
                if call.operation == .flock && call.target == "LOCK_UN" && call.path == ws.lock { unlocked.set() }
                if unlocked.isSet && !stopped.isSet && call.operation == .pread && call.isSegment {
                    stopped.set()
                    paused.arriveAndWait()
                }
                return .pass
            }
            let seen = Mutex<[String]>([])
            // A streaming reader (as `statejournal log` is): what it hands over
            // counts, even if it fails afterwards.
            let reader = Worker {
                try? Scenario.manager(ws, readerCalls, actor: "reader", lockTimeout: 0.5).forEachEvent(matching: EventFilter()) { event in
                    if let text = event.noteText { seen.withLock { $0.append(text) } }
                }
                readerDone.arrive()
                if !stopped.isSet { paused.arrive() }  // never stopped: let the harness go on
            }
            _ = paused.waitForArrivals(1, deadline: 30)
            guard stopped.isSet else {
                reader.join()
                throw Unreached("the reader never read the segment after taking its boundary")
            }
            let (w, synced) = Scenario.atOwnSync(RealSystemCalls()) {
                paused.release()
                _ = readerDone.waitForArrivals(1, deadline: 10)
            }
            o.writeMustFail(ws, w, "NEVER-DURABLE")
            paused.release()
            reader.join()
            o.fired = synced.isSet
            o.faults = synced.isSet ? 1 : 0
            o.why = o.fired ? "a reader stopped after taking its boundary over a torn tail read while W's fdatasync was failing"
                            : "W never reached its fdatasync"
            if ProcessInfo.processInfo.environment["TORTURE_DEBUG"] != nil {
                FileHandle.standardError.write(Data(("reader calls:\n" + readerCalls.log.joined(separator: "\n") + "\nW calls:\n" + w.log.joined(separator: "\n")
                    + "\nreader saw: \(seen.withLock { $0 })\n").utf8))
            }
            if seen.withLock({ $0 }).contains("NEVER-DURABLE") {
                o.problem("a lock-free reader handed over the event of a write that failed and was cut", ahead: 1)
            }
            if Scenario.stateFileShows(ws, "NEVER-DURABLE") {
                o.problem("STATE.md shows the event of a write that failed and was cut", ahead: 1)
            }
        }
    }

    /// Review 2, W3: a reader whose open of the lock file for writing fails
    /// (EACCES: another user's 0644 lock file) reads while a writer's
    /// fdatasync is failing; it must not hand over the write that is then cut.
    static func withoutLockWriteAccess(_ c: FindingContext) -> Outcome {
        Scenario.run(c.work + "/reader-no-write-\(c.seed)") { ws, o in
            try Scenario.setUp(ws, notes: Int(c.seed % 2))
            let refused = Flag()
            let readerCalls = ScriptedCalls(RealSystemCalls()) { call in
                // A 0644 lock file of another user: opening it for writing fails.
                if call.operation == .open && call.path == ws.lock, let flags = call.flags, flags & O_ACCMODE != O_RDONLY {
                    refused.set()
                    return .fail(Errno(rawValue: EACCES))
                }
                return .pass
            }
            let seen = Mutex<[String]?>(nil)
            let (w, synced) = Scenario.atOwnSync(RealSystemCalls()) {
                var texts: [String] = []
                if (try? Scenario.manager(ws, readerCalls, actor: "reader", lockTimeout: 0.5).forEachEvent(matching: EventFilter()) { event in
                    if let text = event.noteText { texts.append(text) }
                }) != nil {
                    seen.withLock { $0 = texts }
                }
            }
            o.writeMustFail(ws, w, "NEVER-DURABLE")
            o.fired = synced.isSet && refused.isSet
            o.faults = o.fired ? 2 : 0
            o.why = o.fired ? "a reader refused write access to the lock file read during W's failing fdatasync" : "the reader never tried the lock file"
            if (seen.withLock { $0 } ?? []).contains("NEVER-DURABLE") {
                o.problem("a reader without write access to the lock file handed over the event of a write that failed and was cut", ahead: 1)
            }
        }
    }
}

private extension Outcome {
    /// One more attempt: W writes `text` (key W) through `calls`, whose sync
    /// fails (or W dies in it): it must not be acknowledged. Whether it failed.
    @discardableResult
    mutating func writeMustFail(_ ws: Workspace, _ calls: ScriptedCalls, _ text: String) -> Bool {
        attempts += 1
        guard (try? Scenario.manager(ws, calls, actor: "W").write(.noteAdded(text: text), options: .init(idempotencyKey: "W"))) == nil else {
            problem("the write whose fdatasync failed was acknowledged")
            return false
        }
        return true
    }
}

private extension Event {
    var noteText: String? { if case .noteAdded(let text) = payload { text } else { nil } }
}
