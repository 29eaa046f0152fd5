import Foundation
import StateJournal
import StateJournalTesting
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// What one run of a finding's scenario saw.
struct Outcome {
    /// The fault or situation the scenario needs happened (else the run
    /// proves nothing: a repro exits 2, a phase counts a problem).
    var fired = false
    var why = ""
    var problems: [String] = []
    var lost = 0
    var duplicated = 0
    /// STATE.md showing more than (or other than) the journal holds.
    var ahead = 0
    var torn = 0
    /// Simulated process deaths and real kills.
    var kills = 0
    /// Kills between an append's fdatasync and the STATE.md rename.
    var postAppendKills = 0
    /// Kills between an append's pwrite and its fdatasync.
    var syncKills = 0
    /// Simulated power losses.
    var crashes = 0
    var attempts = 0
    var acknowledged = 0
    var faults = 0

    mutating func problem(_ text: String, lost: Int = 0, duplicated: Int = 0, ahead: Int = 0, torn: Int = 0) {
        problems.append(text)
        self.lost += lost
        self.duplicated += duplicated
        self.ahead += ahead
        self.torn += torn
    }

    var failed: Bool { !problems.isEmpty }
}

/// A known durability finding (issue 10, Docs/GUARANTEES.md): a scenario
/// that puts the library exactly where the finding was, deterministically,
/// and checks what must hold there. `torture repro NAME` runs variant 0..<n
/// once; the torture phase of the same name runs many seeded variants.
struct Finding: Sendable {
    let name: String
    let summary: String
    let variants: Int
    /// A phase runs it every this many rounds (costly ones: many processes).
    var everyNthRound = 1
    let run: @Sendable (_ context: FindingContext) -> Outcome

    init(name: String, summary: String, variants: Int, everyNthRound: Int = 1, run: @escaping @Sendable (_ context: FindingContext) -> Outcome) {
        self.name = name
        self.summary = summary
        self.variants = variants
        self.everyNthRound = everyNthRound
        self.run = run
    }
}

struct FindingContext: Sendable {
    let work: String
    let variant: Int
    let seed: UInt64
    let cli: CLIRunner?
}

enum Findings {
    static let all: [Finding] = [
        Finding(name: "segment-dir-fsync", summary: "a failed directory fsync after a new segment loses later acknowledged appends",
                variants: 1, run: SegmentDirectoryFsync.run),
        Finding(name: "idempotent-retry-unsynced", summary: "a retry with the same key is acknowledged from bytes nobody fsynced (issue 10 item 1)",
                variants: 3, run: RetryAfterKill.run),
        Finding(name: "group-dup-failed-batch", summary: "a duplicate in a group-commit batch whose append failed is told success (item 2)",
                variants: 1, run: GroupBatch.duplicateInFailedBatch),
        Finding(name: "reader-during-failed-fdatasync", summary: "a reader renders an event whose fdatasync then fails, or a power loss takes (item 3)",
                variants: 3, run: ReaderDuringSync.run),
        Finding(name: "journal-restored-older-copy", summary: "STATE.md ahead of a journal put back from an older copy is kept; verify claims repairs (item 4)",
                variants: 3, run: OlderJournal.run),
        Finding(name: "lock-file-removed", summary: "two writers hold the lock when its file is removed or replaced (item 5)",
                variants: 3, run: LockFileRemoved.run),
        Finding(name: "import-retry", summary: "a retried import returns without writing STATE.md (item 6)",
                variants: 1, run: ImportRetry.run),
        Finding(name: "dup-failed-batch-visible", summary: "a duplicate in a failed batch returns before STATE.md shows it (item 7)",
                variants: 1, run: GroupBatch.duplicateNotVisible),
        Finding(name: "fsync-error-consumed", summary: "an fsync error consumed by one writer; the next builds on bytes the disk lost (item 8)",
                variants: 3, run: FsyncErrorConsumed.run),
        Finding(name: "snapshot-ahead", summary: "a snapshot ahead of the journal is trusted once the journal catches up (item 9)",
                variants: 1, run: SnapshotAhead.run),
        Finding(name: "fold-cache-restore", summary: "a long-lived process's fold cache outlives a journal put back from an older copy (review R1a, R1b)",
                variants: 2, run: FoldCacheRestore.run),
        Finding(name: "reader-boundary-torn-tail", summary: "a reader's committed boundary taken over a torn tail lets an undurable event through (review R2)",
                variants: 1, run: ReaderBoundaryTornTail.run),
        Finding(name: "killed-after-failed-fsync", summary: "a writer killed right after its own fsync failed leaves bytes the next writer builds on (review R3)",
                variants: 1, run: FsyncErrorConsumed.killedAfterOwnFailedSync),
        Finding(name: "rewrite-dir-fsync", summary: "a segment rewritten after a failed fsync, whose directory fsync failed, is taken as durable (review R6)",
                variants: 1, run: FsyncErrorConsumed.rewriteDirectoryFsync),
        Finding(name: "stale-watermark", summary: "an older watermark of this boot (lock file put back, or a longer journal copied over) cuts acknowledged events (review 2, W1)",
                variants: 3, run: Watermarks.stale),
        Finding(name: "watermark-erased", summary: "a reader killed while rewriting the lock file erases the watermark; the next writer builds on lost bytes (review 2, W2)",
                variants: 1, run: Watermarks.erased),
        Finding(name: "reader-lock-not-writable", summary: "a reader that may not write the lock file reads past the watermark (review 2, W3)",
                variants: 1, run: Watermarks.readerWithoutWriteAccess),
        Finding(name: "leftover-snapshot", summary: "a snapshot of another history left beside a restored journal makes writers cut acknowledged events (review R4)",
                variants: 1, everyNthRound: 3, run: LeftoverSnapshot.run),
    ]

    static func named(_ name: String) -> Finding? { all.first { $0.name == name } }
}

// MARK: - Shared helpers

enum Scenario {
    static func manager(_ ws: Workspace, _ sys: (any SystemCalls)? = nil, actor: String = "repro", lockTimeout: Double = 10,
                        projection: StateManager.ProjectionPolicy = .eager, snapshotInterval: UInt64 = 128,
                        segmentSize: Int? = nil) -> StateManager {
        var configuration = StateManager.Configuration(statePath: ws.statePath, actor: actor, lock: LockPolicy(timeout: lockTimeout),
                                                       command: "torture repro \(actor)",
                                                       fileSystem: sys.map { FileSystem($0) } ?? FileSystem(),
                                                       projection: projection, snapshotInterval: snapshotInterval)
        if let segmentSize { configuration.journal.segmentSize = segmentSize }
        return StateManager(configuration: configuration, logger: quietLogger)
    }

    static let initPayload = Event.Payload.workflowInitialized(id: "wf_repro", name: "Repro", waves: [[.init(id: "t1", description: "one")], []],
                                                              metadata: [])

    /// Initialises the workflow and writes `notes` notes (keys `p1`…).
    static func prepare(_ m: StateManager, notes: Int, prefix: String = "prior") throws -> UInt64 {
        var seq = try m.write(initPayload, options: .init(idempotencyKey: "init")).event.seq
        for i in 0..<notes {
            seq = try m.write(.noteAdded(text: "\(prefix) note \(i + 1)"), options: .init(idempotencyKey: "\(prefix)-\(i + 1)")).event.seq
        }
        return seq
    }

    /// The journal read with real system calls (after a simulated crash: what
    /// the disk kept), or the error opening it.
    static func journal(_ ws: Workspace) -> Result<[Event], any Error> {
        Result { try manager(ws, actor: "check").events() }
    }

    static func fold(_ events: [Event]) -> WorkflowState? {
        var state: WorkflowState?
        for event in events { try? WorkflowState.apply(event, to: &state) }
        return state
    }

    /// What STATE.md holds now, read before any command could repair it.
    static func stateFile(_ ws: Workspace) -> [UInt8]? { FileManager.default.contents(atPath: ws.statePath).map { [UInt8]($0) } }

    /// STATE.md must show exactly the journal's state: not an event the
    /// journal does not hold, not a state the journal never had.
    static func checkProjection(_ ws: Workspace, _ o: inout Outcome, _ when: String, allowBehind: Bool = false) {
        let events: [Event]
        switch journal(ws) {
        case .success(let e): events = e
        case .failure(let error):
            o.problem("\(when): the journal does not open: \(error)")
            return
        }
        guard let bytes = stateFile(ws) else {
            if !events.isEmpty { o.problem("\(when): STATE.md is missing") }
            return
        }
        let last = events.last?.seq ?? 0
        switch ProjectionFooter.check(bytes) {
        case .invalid(let why):
            o.problem("\(when): STATE.md is invalid: \(why)", torn: 1)
        case .valid(let shown) where shown > last:
            o.problem("\(when): STATE.md shows seq \(shown), the journal holds only up to seq \(last)", ahead: 1)
        case .valid(let shown):
            guard let state = fold(events) else { return }
            let expected = MarkdownRenderer.render(state)
            let text = String(decoding: bytes, as: UTF8.self)
            if shown == last && text != expected {
                o.problem("\(when): STATE.md claims seq \(shown) like the journal but shows other events (\(firstDifference(text, expected)))", ahead: 1)
            } else if shown < last && !allowBehind {
                o.problem("\(when): STATE.md shows seq \(shown), the journal ends at \(last)")
            }
        }
    }

    static func firstDifference(_ a: String, _ b: String) -> String {
        let la = a.split(separator: "\n"), lb = b.split(separator: "\n")
        for (x, y) in zip(la, lb) where x != y { return "file has '\(x.prefix(80))', the journal gives '\(y.prefix(80))'" }
        return "\(la.count) vs \(lb.count) lines"
    }

    /// Every acknowledged key at its seq, once.
    static func checkAcknowledged(_ acked: [(key: String, seq: UInt64)], in events: [Event], _ o: inout Outcome, _ when: String) {
        var count: [String: Int] = [:]
        for e in events { if let k = e.idempotencyKey { count[k, default: 0] += 1 } }
        for (key, seq) in acked {
            let at = events.first { $0.seq == seq }
            if at?.idempotencyKey != key {
                o.problem("\(when): acknowledged \(key)@\(seq) is not in the journal (seq \(seq) holds \(at?.idempotencyKey ?? at.map { $0.payload.typeName } ?? "nothing"))", lost: 1)
            }
        }
        for (key, n) in count where n > 1 { o.problem("\(when): \(key) is in the journal \(n) times", duplicated: n - 1) }
        let seqs = events.map(\.seq)
        if seqs != Array(1...UInt64(max(seqs.count, 1))).prefix(seqs.count).map({ $0 }) {
            o.problem("\(when): sequence numbers are not 1…\(seqs.count) without gaps: \(seqs.prefix(12))")
        }
    }

    /// Temporary files left anywhere in the workspace.
    static func checkLitter(_ ws: Workspace, _ o: inout Outcome, _ when: String) {
        let litter = ws.litter()
        if !litter.isEmpty { o.problem("\(when): temporary files left behind: \(litter.prefix(3).joined(separator: ", "))") }
    }

    static func copyDirectory(_ from: String, _ to: String) {
        try? FileManager.default.removeItem(atPath: to)
        try? FileManager.default.copyItem(atPath: from, toPath: to)
    }
}

/// A boolean set from any thread.
final class Flag: Sendable {
    private let value = Atomic<Bool>(false)
    func set() { value.store(true, ordering: .sequentiallyConsistent) }
    var isSet: Bool { value.load(ordering: .sequentiallyConsistent) }
}

/// Runs `body` on a new thread; `join()` waits for it.
final class Worker: @unchecked Sendable {
    private let group = DispatchGroup()
    init(_ body: @escaping @Sendable () -> Void) {
        group.enter()
        let thread = Thread { [group] in body(); group.leave() }
        thread.stackSize = 4 << 20
        thread.start()
    }
    func join() { group.wait() }
}

// MARK: - segment-dir-fsync

enum SegmentDirectoryFsync {
    static func run(_ c: FindingContext) -> Outcome {
        var o = Outcome()
        let ws = Workspace(c.work + "/segment-dir-fsync-\(c.variant)")
        let disk = SimulatedDisk(root: ws.directory, seed: c.seed)
        let failing = DirectorySyncFault(disk)
        let manager = Scenario.manager(ws, failing, segmentSize: 2 << 10)
        var acked: [(key: String, seq: UInt64)] = []
        do {
            acked.append(("init", try manager.write(Scenario.initPayload, options: .init(idempotencyKey: "init")).event.seq))
            var afterFailure = 0, failed = false
            for i in 0..<200 where afterFailure < 3 {
                o.attempts += 1
                do {
                    let seq = try manager.write(.noteAdded(text: "note \(i) " + String(repeating: "x", count: 100)),
                                                options: .init(idempotencyKey: "n\(i)")).event.seq
                    acked.append(("n\(i)", seq))
                    if failed { afterFailure += 1 }
                } catch {
                    failed = true
                }
            }
        } catch {
            o.why = "setup failed: \(error)"
            return o
        }
        o.fired = failing.fired
        o.why = failing.fired ? "the directory fsync after a new segment failed once" : "no second segment was created"
        o.acknowledged = acked.count
        disk.crash()
        disk.materialize(.dropAll)
        o.crashes = 1
        switch Scenario.journal(ws) {
        case .success(let events): Scenario.checkAcknowledged(acked, in: events, &o, "after a simulated power loss")
        case .failure(let error): o.problem("after a simulated power loss the journal does not open: \(error)")
        }
        Scenario.checkProjection(ws, &o, "after a simulated power loss", allowBehind: true)
        if !o.failed { ws.remove() }
        return o
    }
}

// MARK: - item 1: kill between pwrite and fdatasync, retry, power loss

enum RetryAfterKill {
    /// Variant: how many events come before (0, 1, 5) and, for variant 2,
    /// a second retry by yet another process.
    static func run(_ c: FindingContext) -> Outcome {
        var o = Outcome()
        let ws = Workspace(c.work + "/retry-after-kill-\(c.variant)-\(c.seed)")
        let disk = SimulatedDisk(root: ws.directory, seed: c.seed)
        var acked: [(key: String, seq: UInt64)] = []
        do {
            let setup = Scenario.manager(ws, disk, actor: "setup")
            let last = try Scenario.prepare(setup, notes: [0, 1, 5][c.variant % 3])
            acked.append(("init", 1))
            for i in stride(from: 2, through: last, by: 1) { acked.append(("prior-\(i - 1)", i)) }
        } catch {
            o.why = "setup failed: \(error)"
            return o
        }
        // Writer A: killed right after its pwrite, at its fdatasync.
        let wrote = Flag()
        let a = ScriptedCalls(disk) { call in
            if call.operation == .pwrite && call.isSegment { wrote.set() }
            return call.operation == .fdatasync && call.isSegment && wrote.isSet ? .die : .pass
        }
        o.attempts += 1
        _ = try? Scenario.manager(ws, a, actor: "A").write(.noteAdded(text: "the write A was killed in"), options: .init(idempotencyKey: "K"))
        o.fired = a.diedAt?.operation == .fdatasync && wrote.isSet
        o.why = o.fired ? "A pwrote its record and was killed at its fdatasync" : "A did not reach its fdatasync"
        o.kills += 1
        o.syncKills += o.fired ? 1 : 0
        // The orchestrator retries with the same key (once or twice).
        for retry in 0..<(c.variant == 2 ? 2 : 1) {
            o.attempts += 1
            do {
                let outcome = try Scenario.manager(ws, disk, actor: "retry\(retry)").write(.noteAdded(text: "the write A was killed in"),
                                                                                     options: .init(idempotencyKey: "K"))
                acked.append(("K", outcome.event.seq))
                o.acknowledged += 1
            } catch {
                o.problem("the retry with the same key failed: \(error)")
            }
        }
        disk.crash()
        disk.materialize(.dropAll)
        o.crashes = 1
        switch Scenario.journal(ws) {
        case .success(let events): Scenario.checkAcknowledged(acked, in: events, &o, "after a simulated power loss")
        case .failure(let error): o.problem("after a simulated power loss the journal does not open: \(error)")
        }
        Scenario.checkProjection(ws, &o, "after a simulated power loss", allowBehind: true)
        // The next write must not reuse an acknowledged seq.
        if let next = try? Scenario.manager(ws, actor: "next").write(.noteAdded(text: "next"), options: .init(idempotencyKey: "next")),
           acked.contains(where: { $0.seq == next.event.seq && $0.key != "next" }) {
            o.problem("the next write after the power loss got seq \(next.event.seq), already acknowledged to another write", duplicated: 0)
        }
        if !o.failed { ws.remove() }
        return o
    }
}

// MARK: - items 2 and 7: group commit batches

enum GroupBatch {
    /// Where the threads of a batch are: `/proc/self/task/TID/syscall`
    /// starts with the number of the system call a thread is blocked in
    /// (202, futex, on x86_64: waiting for its leader).
    static func blockedInFutex(_ tid: Int32) -> Bool {
        guard let text = try? String(contentsOfFile: "/proc/self/task/\(tid)/syscall", encoding: .utf8) else { return false }
        return text.split(separator: " ").first.map(String.init) == futexNumber
    }

    #if arch(x86_64)
    static let futexNumber = "202"
    #elseif arch(arm64)
    static let futexNumber = "98"
    #else
    static let futexNumber = "futex"  // unknown: the handshake fails and the repro says its fault did not fire
    #endif

    /// This thread's kernel id (`/proc/thread-self` names it).
    static func threadID() -> Int32 {
        let target = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/thread-self")) ?? ""
        return Int32(target.split(separator: "/").last ?? "") ?? -1
    }

    struct BatchRun {
        var results: [Result<StateManager.WriteOutcome, any Error>?]
        /// Every request of `requests` went into the one batch whose append failed.
        var together: Bool
        var why: String
    }

    /// A leader L0 is stopped at its segment fdatasync (which then fails, so
    /// it publishes nothing); meanwhile `requests` queue up behind it; once
    /// every one of their threads waits, L0 goes on, and the batch they form
    /// fails at its pwrite (ENOSPC).
    static func failedBatch(_ ws: Workspace, _ requests: [(Event.Payload, String)]) -> BatchRun {
        let gate = Gate()
        let stage = Mutex(0)
        let flocksInStage1 = Atomic<Int>(0)
        let flocksAtFault = Atomic<Int>(-1)
        let leaderWrote = Flag()
        let script = ScriptedCalls(RealSystemCalls()) { call in
            let s = stage.withLock { $0 }
            if s == 0 && call.operation == .pwrite && call.isSegment { leaderWrote.set() }
            if s == 0 && call.operation == .fdatasync && call.isSegment && leaderWrote.isSet {
                stage.withLock { $0 = 1 }
                gate.arriveAndWait()
                return .fail(.ioError)
            }
            if s == 1 && call.operation == .flock && call.target == nil && call.path.hasSuffix(".lock") && !call.path.contains("projector") {
                flocksInStage1.add(1, ordering: .sequentiallyConsistent)
            }
            if s == 1 && call.operation == .pwrite && call.isSegment {
                stage.withLock { $0 = 2 }
                flocksAtFault.store(flocksInStage1.load(ordering: .sequentiallyConsistent), ordering: .sequentiallyConsistent)
                return .fail(.noSpace)
            }
            return .pass
        }
        let manager = Scenario.manager(ws, script, actor: "batch")
        let leader = Worker { _ = try? manager.write(.noteAdded(text: "leader L0"), options: .init(idempotencyKey: "L0")) }
        guard gate.waitForArrivals(1) else {
            gate.release(); leader.join()
            return BatchRun(results: [], together: false, why: "the leader never reached its fdatasync")
        }
        let tids = Mutex<[Int32]>([])
        let results = Mutex<[Result<StateManager.WriteOutcome, any Error>?]>(Array(repeating: nil, count: requests.count))
        let workers = requests.enumerated().map { i, request in
            Worker {
                tids.withLock { $0.append(GroupBatch.threadID()) }
                let r = Result { try manager.write(request.0, options: .init(idempotencyKey: request.1)) }
                results.withLock { $0[i] = r }
            }
        }
        // Handshake: every request's thread waits for the leader (several
        // looks in a row, so a brief mutex wait on the way is not mistaken).
        var steady = 0, looks = 0
        while steady < 20 && looks < 200_000 {
            looks += 1
            let ids = tids.withLock { $0 }
            steady = ids.count == requests.count && ids.allSatisfy(blockedInFutex) ? steady + 1 : 0
            usleep(200)
        }
        gate.release()
        leader.join()
        for w in workers { w.join() }
        let together = flocksAtFault.load(ordering: .sequentiallyConsistent) == 1
        return BatchRun(results: results.withLock { $0 }, together: together,
                        why: together ? "every request was in the one batch whose pwrite failed (ENOSPC)"
                                      : "the requests were not committed in one batch (\(flocksAtFault.load(ordering: .sequentiallyConsistent)) lock acquisitions before the fault)")
    }

    /// Item 2: P and Q share a key in one batch whose append fails.
    static func duplicateInFailedBatch(_ c: FindingContext) -> Outcome {
        var o = Outcome()
        let ws = Workspace(c.work + "/group-dup-\(c.seed)")
        do { _ = try Scenario.prepare(Scenario.manager(ws, actor: "setup"), notes: 1) } catch {
            o.why = "setup failed: \(error)"
            return o
        }
        let run = failedBatch(ws, [(.noteAdded(text: "P and Q, one key"), "PQ"), (.noteAdded(text: "P and Q, one key"), "PQ")])
        o.fired = run.together
        o.why = run.why
        o.attempts = 2
        o.kills = 0
        let events = (try? Scenario.manager(ws, actor: "check").events()) ?? []
        let inJournal = events.contains { $0.idempotencyKey == "PQ" }
        for (i, r) in run.results.enumerated() {
            if case .success(let outcome)? = r {
                o.acknowledged += 1
                if !inJournal {
                    o.problem("request \(i) with key PQ was told success (seq \(outcome.event.seq), duplicate: \(outcome.wasDuplicate)) but the journal holds no event with that key", lost: 1)
                }
            }
        }
        Scenario.checkProjection(ws, &o, "after the failed batch", allowBehind: true)
        if !o.failed { ws.remove() }
        return o
    }

    /// Item 7: a duplicate whose original is in the journal but not yet in
    /// STATE.md, in a batch whose append fails, must not return before
    /// STATE.md shows it.
    static func duplicateNotVisible(_ c: FindingContext) -> Outcome {
        var o = Outcome()
        let ws = Workspace(c.work + "/dup-visible-\(c.seed)")
        let originalSeq: UInt64
        do {
            _ = try Scenario.prepare(Scenario.manager(ws, actor: "setup"), notes: 1)
            // The original write: in the journal, STATE.md not rewritten (as
            // when its writer was killed before the rename).
            originalSeq = try Scenario.manager(ws, actor: "manual", projection: .manual)
                .write(.noteAdded(text: "original"), options: .init(idempotencyKey: "D")).event.seq
        } catch {
            o.why = "setup failed: \(error)"
            return o
        }
        guard case .valid(let before)? = Scenario.stateFile(ws).map(ProjectionFooter.check), before < originalSeq else {
            o.why = "STATE.md already showed the original event"
            return o
        }
        let run = failedBatch(ws, [(.noteAdded(text: "original"), "D"), (.noteAdded(text: "new in the failing batch"), "X")])
        o.fired = run.together
        o.why = run.why
        o.attempts = 2
        if case .success(let outcome)? = run.results.first {
            o.acknowledged += 1
            switch Scenario.stateFile(ws).map(ProjectionFooter.check) {
            case .valid(let shown)? where shown >= outcome.event.seq: break
            case .valid(let shown)?:
                o.problem("the retry of D returned success (seq \(outcome.event.seq), duplicate) while STATE.md still shows seq \(shown)")
            default:
                o.problem("the retry of D returned success while STATE.md is missing or invalid")
            }
        }
        if !o.failed { ws.remove() }
        return o
    }
}

// MARK: - item 3: a reader during a failing or slow fdatasync

enum ReaderDuringSync {
    /// Variant 0: a library reader (`loadState`) runs while the writer's
    /// fdatasync fails (EIO). Variant 1: the same with a `statejournal show`
    /// process. Variant 2: the reader runs during a slow fdatasync that a
    /// power loss then interrupts (simulated disk).
    static func run(_ c: FindingContext) -> Outcome {
        c.variant % 3 == 2 ? slowThenPowerLoss(c) : failing(c, cliReader: c.variant % 3 == 1)
    }

    static func failing(_ c: FindingContext, cliReader: Bool) -> Outcome {
        var o = Outcome()
        let ws = Workspace(c.work + "/reader-failed-sync-\(c.variant)-\(c.seed)")
        do { _ = try Scenario.prepare(Scenario.manager(ws, actor: "setup"), notes: Int(c.seed % 3)) } catch {
            o.why = "setup failed: \(error)"
            return o
        }
        let readerRan = Flag()
        let wrote = Flag()
        let cli = c.cli
        let statePath = ws.statePath
        // At the fdatasync that follows W's pwrite (not an earlier one, e.g.
        // a sync of what others wrote before W uses it).
        let w = ScriptedCalls(RealSystemCalls()) { call in
            if call.operation == .pwrite && call.isSegment { wrote.set() }
            guard call.operation == .fdatasync && call.isSegment && wrote.isSet && !readerRan.isSet else { return .pass }
            readerRan.set()
            if cliReader, let cli {
                _ = cli.run(["show", "--state", statePath, "--lock-timeout", "0.5"])
            } else {
                // A short deadline: a reader that waits for W's lock gives up (not a verdict).
                _ = try? Scenario.manager(ws, actor: "reader", lockTimeout: 0.5).loadState()
            }
            return .fail(.ioError)
        }
        o.attempts += 1
        do {
            _ = try Scenario.manager(ws, w, actor: "W").write(.noteAdded(text: "FAILED WRITE"), options: .init(idempotencyKey: "W"))
            o.problem("the write whose fdatasync failed was acknowledged")
        } catch {
            o.faults += 1
        }
        o.fired = readerRan.isSet
        o.why = o.fired ? "a \(cliReader ? "show process" : "library reader") ran while W's fdatasync was failing (EIO)" : "W never reached its fdatasync"
        if let bytes = Scenario.stateFile(ws), String(decoding: bytes, as: UTF8.self).contains("FAILED WRITE") {
            o.problem("right after W failed, STATE.md shows W's event", ahead: 1)
        }
        Scenario.checkProjection(ws, &o, "right after W failed", allowBehind: true)
        // The next acknowledged write.
        o.attempts += 1
        do {
            let next = try Scenario.manager(ws, actor: "next").write(.noteAdded(text: "the next write"), options: .init(idempotencyKey: "next"))
            o.acknowledged += 1
            if let bytes = Scenario.stateFile(ws) {
                let text = String(decoding: bytes, as: UTF8.self)
                if text.contains("FAILED WRITE") { o.problem("after the next acknowledged write (seq \(next.event.seq)) STATE.md still shows the failed write", ahead: 1) }
                if !text.contains("the next write") { o.problem("the next acknowledged write (seq \(next.event.seq)) is not in STATE.md") }
            }
        } catch {
            o.problem("the next write failed: \(error)")
        }
        Scenario.checkProjection(ws, &o, "after the next write")
        if !o.failed { ws.remove() }
        return o
    }

    static func slowThenPowerLoss(_ c: FindingContext) -> Outcome {
        var o = Outcome()
        let ws = Workspace(c.work + "/reader-slow-sync-\(c.seed)")
        let disk = SimulatedDisk(root: ws.directory, seed: c.seed)
        do { _ = try Scenario.prepare(Scenario.manager(ws, disk, actor: "setup"), notes: Int(c.seed % 3)) } catch {
            o.why = "setup failed: \(error)"
            return o
        }
        let readerRan = Flag()
        let wrote = Flag()
        // While W's fdatasync is in progress (not yet done), a reader renders
        // STATE.md; then the power goes before the fdatasync completes.
        let w = ScriptedCalls(disk) { call in
            if call.operation == .pwrite && call.isSegment { wrote.set() }
            guard call.operation == .fdatasync && call.isSegment && wrote.isSet && !readerRan.isSet else { return .pass }
            readerRan.set()
            _ = try? Scenario.manager(ws, disk, actor: "reader", lockTimeout: 0.5).loadState()
            disk.crash()
            return .die
        }
        o.attempts += 1
        _ = try? Scenario.manager(ws, w, actor: "W").write(.noteAdded(text: "NEVER DURABLE"), options: .init(idempotencyKey: "W"))
        o.fired = readerRan.isSet
        o.why = o.fired ? "a reader ran during W's fdatasync, then the power went" : "W never reached its fdatasync"
        disk.materialize(.dropAll)
        o.crashes = 1
        o.kills = 1
        if let bytes = Scenario.stateFile(ws), String(decoding: bytes, as: UTF8.self).contains("NEVER DURABLE") {
            o.problem("after the power loss STATE.md shows W's event, which never reached the disk", ahead: 1)
        } else {
            Scenario.checkProjection(ws, &o, "after the power loss", allowBehind: true)
        }
        if !o.failed { ws.remove() }
        return o
    }
}

// MARK: - item 4: the journal put back from an older copy

enum OlderJournal {
    /// Variant 0: after the older copy is put back, two `statejournal note`
    /// commands bring the journal back to STATE.md's seq. Variant 1: the
    /// next command is `show`. Variant 2: the journal catches up through
    /// the library, then `verify --json` runs; it must not claim a repair
    /// it did not make, nor pass a STATE.md the journal does not back.
    static func run(_ c: FindingContext) -> Outcome {
        var o = Outcome()
        let ws = Workspace(c.work + "/older-journal-\(c.variant)-\(c.seed)")
        let journal = ws.statePath + ".journal"
        let copy = ws.directory + "/journal-copy"
        let kept = Int(c.seed % 3) + 1  // notes in the copy
        let later = Int(c.seed % 2) + 2  // notes written after the copy, then lost
        do {
            let m = Scenario.manager(ws, actor: "setup")
            _ = try Scenario.prepare(m, notes: kept)
            Scenario.copyDirectory(journal, copy)
            for i in 0..<later { try m.write(.noteAdded(text: "LOST \(i + 1)"), options: .init(idempotencyKey: "lost-\(i)")) }
        } catch {
            o.why = "setup failed: \(error)"
            return o
        }
        // Put the older copy back.
        try? FileManager.default.removeItem(atPath: journal)
        try? FileManager.default.moveItem(atPath: copy, toPath: journal)
        o.fired = FileManager.default.fileExists(atPath: journal)
        o.why = "the journal (\(kept + 1) events) replaced by a copy older than STATE.md (\(kept + 1 + later) events)"
        guard let cli = c.cli else {
            o.fired = false
            o.why = "no statejournal binary"
            return o
        }
        let state = ["--state", ws.statePath]
        switch c.variant % 3 {
        case 0:
            for i in 0..<later {
                o.attempts += 1
                let r = cli.run(["note", "NEW \(i + 1)", "--json", "--idempotency-key", "new-\(i)"] + state)
                if r.status == 0 { o.acknowledged += 1 } else { o.problem("`note` after the restore exited \(r.status.map(String.init) ?? "?"): \(firstLines(r.stderr))") }
                Scenario.checkProjection(ws, &o, "after `statejournal note` \(i + 1) on the restored journal")
            }
        case 1:
            let r = cli.run(["show"] + state)
            if r.status != 0 { o.problem("`show` after the restore exited \(r.status.map(String.init) ?? "?"): \(firstLines(r.stderr))") }
            if String(decoding: r.stdout, as: UTF8.self).contains("LOST") { o.problem("`show` printed events the journal does not hold", ahead: 1) }
            Scenario.checkProjection(ws, &o, "after `statejournal show` on the restored journal")
        default:
            let m = Scenario.manager(ws, actor: "catch-up")
            for i in 0..<later {
                o.attempts += 1
                if (try? m.write(.noteAdded(text: "NEW \(i + 1)"), options: .init(idempotencyKey: "new-\(i)"))) != nil { o.acknowledged += 1 }
            }
            let before = Scenario.stateFile(ws)
            let r = cli.run(["verify", "--json"] + state)
            let after = Scenario.stateFile(ws)
            let report = try? JSON.parse(r.stdout)
            let claimed = report?["state_md_regenerated"]?.boolValue == true
            if claimed && before == after {
                o.problem("verify reported \"state_md_regenerated\": true but STATE.md is byte for byte unchanged")
            }
            if r.status == 0 {
                var check = Outcome()
                Scenario.checkProjection(ws, &check, "after `verify` exited 0")
                for p in check.problems { o.problem("verify exited 0, yet " + p, ahead: check.ahead > 0 ? 1 : 0) }
            }
        }
        if !o.failed { ws.remove() }
        return o
    }
}

// MARK: - item 5: the lock file removed or replaced while held

enum LockFileRemoved {
    /// Holder A is stopped after folding, before appending; the lock file
    /// is removed (variant 0) or replaced by another file (variant 1); B
    /// writes; then A goes on. Two writers must never both hold the lock:
    /// both acknowledged, each at its own seq, both in the journal.
    static func run(_ c: FindingContext) -> Outcome {
        c.variant % 3 == 2 ? processes(c) : inProcess(c)
    }

    /// Variant 2, with real processes: a library writer stops itself
    /// (SIGSTOP) holding the lock, before it appends; the lock file is
    /// removed; `statejournal note` runs; the writer is continued.
    static func processes(_ c: FindingContext) -> Outcome {
        var o = Outcome()
        let ws = Workspace(c.work + "/lock-removed-processes-\(c.seed)")
        guard let cli = c.cli else { o.why = "no statejournal binary"; return o }
        do { _ = try Scenario.prepare(Scenario.manager(ws, actor: "setup"), notes: Int(c.seed % 3)) } catch {
            o.why = "setup failed: \(error)"
            return o
        }
        let a: Child
        do {
            a = try Child(selfExecutable, ["lib-writer", "--state", ws.statePath, "--writer", "0", "--from", "0", "--to", "1",
                                          "--stop-at", "availableSpace"], outputIn: ws.directory)
        } catch {
            o.why = "the library writer did not start: \(error)"
            return o
        }
        guard a.waitUntilStopped() else {
            o.why = "the library writer ended before it stopped: \(firstLines(a.stderr))"
            _ = a.wait()
            return o
        }
        o.fired = unlink(ws.statePath + ".lock") == 0
        o.why = "STATE.md.lock removed while a stopped library writer held it; then `statejournal note` ran"
        o.attempts = 2
        let b = cli.run(["note", "B, the second writer", "--json", "--idempotency-key", "B", "--lock-timeout", "1", "--state", ws.statePath])
        a.resume()
        let exit = a.wait()
        var acked: [(key: String, seq: UInt64)] = []
        for line in String(decoding: a.stdout, as: UTF8.self).split(separator: "\n") {
            let words = line.split(separator: " ")
            if words.count == 5, words[0] == "ack", let seq = UInt64(words[2]) { acked.append((String(words[1]), seq)) }
        }
        if exit.status != 0 { o.problem("the library writer exited \(exit.status.map(String.init) ?? "by a signal"): \(firstLines(a.stderr))") }
        if b.status == 0, let event = try? JSON.parse(b.stdout), let seq = event["seq"]?.intValue { acked.append(("B", UInt64(seq))) }
        o.acknowledged = acked.count
        if acked.count == 2 && acked[0].seq == acked[1].seq {
            o.problem("the library writer and `statejournal note` were both acknowledged as seq \(acked[0].seq): both held the lock", duplicated: 1)
        }
        switch Scenario.journal(ws) {
        case .success(let events): Scenario.checkAcknowledged(acked, in: events, &o, "after both writers")
        case .failure(let error): o.problem("the journal does not open: \(error)")
        }
        if !o.failed { ws.remove() }
        return o
    }

    static func inProcess(_ c: FindingContext) -> Outcome {
        var o = Outcome()
        let ws = Workspace(c.work + "/lock-removed-\(c.variant)-\(c.seed)")
        do { _ = try Scenario.prepare(Scenario.manager(ws, actor: "setup"), notes: Int(c.seed % 3)) } catch {
            o.why = "setup failed: \(error)"
            return o
        }
        let gate = Gate()
        let stopped = Flag()
        let a = ScriptedCalls(RealSystemCalls()) { call in
            if call.operation == .availableSpace && !stopped.isSet {
                stopped.set()
                gate.arriveAndWait()
            }
            return .pass
        }
        let aResult = Mutex<Result<StateManager.WriteOutcome, any Error>?>(nil)
        let worker = Worker {
            let r = Result { try Scenario.manager(ws, a, actor: "A").write(.noteAdded(text: "A, the delayed holder"), options: .init(idempotencyKey: "A")) }
            aResult.withLock { $0 = r }
        }
        guard gate.waitForArrivals(1) else {
            gate.release(); worker.join()
            o.why = "A never got to append"
            return o
        }
        let lockPath = ws.statePath + ".lock"
        if c.variant % 2 == 0 {
            o.fired = unlink(lockPath) == 0
            o.why = "STATE.md.lock removed while A held it"
        } else {
            let other = ws.directory + "/other.lock"
            _ = FileManager.default.createFile(atPath: other, contents: Data())
            o.fired = rename(other, lockPath) == 0
            o.why = "STATE.md.lock replaced by another file while A held it"
        }
        o.attempts = 2
        // B must wait for A (its lock deadline only bounds a broken run).
        let bResult = Result { try Scenario.manager(ws, actor: "B", lockTimeout: 1).write(.noteAdded(text: "B, the second writer"), options: .init(idempotencyKey: "B")) }
        gate.release()
        worker.join()
        var acked: [(key: String, seq: UInt64)] = []
        if case .success(let outcome)? = aResult.withLock({ $0 }) { acked.append(("A", outcome.event.seq)) }
        if case .success(let outcome) = bResult { acked.append(("B", outcome.event.seq)) }
        o.acknowledged = acked.count
        if acked.count == 2 && acked[0].seq == acked[1].seq {
            o.problem("A and B were both acknowledged as seq \(acked[0].seq): both held the lock", duplicated: 1)
        }
        switch Scenario.journal(ws) {
        case .success(let events): Scenario.checkAcknowledged(acked, in: events, &o, "after both writers")
        case .failure(let error): o.problem("the journal does not open: \(error)")
        }
        if !o.failed { ws.remove() }
        return o
    }
}

// MARK: - item 6: a retried import

enum ImportRetry {
    static func run(_ c: FindingContext) -> Outcome {
        var o = Outcome()
        let ws = Workspace(c.work + "/import-retry-\(c.seed)")
        // The export to import, made in a scratch workspace.
        let source = Workspace(c.work + "/import-source-\(c.seed)")
        let bytes: [UInt8]
        do {
            let m = Scenario.manager(source, actor: "source")
            _ = try Scenario.prepare(m, notes: 3)
            bytes = Array(try m.events().map { $0.json().compactString + "\n" }.joined().utf8)
        } catch {
            o.why = "setup failed: \(error)"
            return o
        }
        source.remove()
        let statePath = ws.statePath
        let a = ScriptedCalls(RealSystemCalls()) { call in
            call.operation == .rename && call.target == statePath ? .die : .pass
        }
        o.attempts += 1
        _ = try? Scenario.manager(ws, a, actor: "A").importHistory(bytes, source: "export", options: .init(idempotencyKey: "import"))
        o.fired = a.diedAt?.operation == .rename
        o.why = o.fired ? "the first import was killed at its STATE.md rename" : "the first import never renamed STATE.md"
        o.kills = 1
        o.postAppendKills = o.fired ? 1 : 0
        o.attempts += 1
        do {
            _ = try Scenario.manager(ws, actor: "retry").importHistory(bytes, source: "export", options: .init(idempotencyKey: "import"))
            o.acknowledged += 1
            if Scenario.stateFile(ws) == nil { o.problem("the retried import succeeded but STATE.md is missing") }
            Scenario.checkProjection(ws, &o, "after the retried import")
            Scenario.checkLitter(ws, &o, "after the retried import")
        } catch {
            o.problem("the retried import failed: \(error)")
        }
        if !o.failed { ws.remove() }
        return o
    }
}

// MARK: - item 8: an fsync error consumed by one writer

enum FsyncErrorConsumed {
    /// A is killed after its pwrite; the writeback of its bytes fails and
    /// B's fdatasync gets the EIO; C appends and its fdatasync succeeds;
    /// the power goes. C's acknowledged event must survive, and the journal
    /// must open. Variant 1: A is not killed — B's own pwrite is what the
    /// writeback loses, and C comes after B's failure. Variant 2: as 0, but
    /// B dies right after its fdatasync returned the EIO (nobody repairs).
    static func run(_ c: FindingContext) -> Outcome {
        var o = Outcome()
        let ws = Workspace(c.work + "/fsync-error-\(c.variant)-\(c.seed)")
        let disk = SimulatedDisk(root: ws.directory, seed: c.seed)
        var acked: [(key: String, seq: UInt64)] = []
        do {
            let last = try Scenario.prepare(Scenario.manager(ws, disk, actor: "setup"), notes: Int(c.seed % 3))
            acked.append(("init", 1))
            for i in stride(from: 2, through: last, by: 1) { acked.append(("prior-\(i - 1)", i)) }
        } catch {
            o.why = "setup failed: \(error)"
            return o
        }
        var killedA = true
        if c.variant % 3 != 1 {
            let wrote = Flag()
            let a = ScriptedCalls(disk) { call in
                if call.operation == .pwrite && call.isSegment { wrote.set() }
                return call.operation == .fdatasync && call.isSegment && wrote.isSet ? .die : .pass
            }
            o.attempts += 1
            _ = try? Scenario.manager(ws, a, actor: "A").write(.noteAdded(text: "A, killed after its pwrite"), options: .init(idempotencyKey: "A"))
            killedA = a.diedAt?.operation == .fdatasync
            o.kills = 1
            o.syncKills = killedA ? 1 : 0
        }
        disk.failWriteback(ofNextSyncOf: "/segment-")
        o.attempts += 1
        // B may fail, or recover (e.g. by rewriting the segment to a new
        // file and syncing that); if it is acknowledged, it must survive too.
        // Variant 2: B dies right after its fdatasync returned the EIO —
        // the error is consumed and nobody repaired anything.
        let bSynced = Flag()
        let b: any SystemCalls = c.variant % 3 == 2 ? ScriptedCalls(disk) { call in
            if bSynced.isSet { return .die }
            if call.operation == .fdatasync && call.isSegment { bSynced.set() }
            return .pass
        } : disk
        if c.variant % 3 == 2 { o.kills += 1 }
        if let outcome = try? Scenario.manager(ws, b, actor: "B").write(.noteAdded(text: "B, whose fdatasync gets the EIO"),
                                                                       options: .init(idempotencyKey: "B")) {
            acked.append(("B", outcome.event.seq))
            o.acknowledged += 1
        }
        o.fired = killedA && disk.writebackFailureCount == 1
        o.faults = disk.writebackFailureCount
        o.why = o.fired ? "\(c.variant % 3 != 1 ? "A killed after its pwrite; " : "")the writeback failed and B's fdatasync got the EIO\(c.variant % 3 == 2 ? ", then B died" : "")" : "the writeback failure never fired"
        o.attempts += 1
        do {
            let outcome = try Scenario.manager(ws, disk, actor: "C").write(.noteAdded(text: "C, acknowledged"), options: .init(idempotencyKey: "C"))
            acked.append(("C", outcome.event.seq))
            o.acknowledged += 1
        } catch {
            // C may refuse (e.g. it cannot tell what is durable); it must not lie.
        }
        disk.crash()
        disk.materialize(.dropAll)
        o.crashes = 1
        switch Scenario.journal(ws) {
        case .success(let events): Scenario.checkAcknowledged(acked, in: events, &o, "after a simulated power loss")
        case .failure(let error): o.problem("after a simulated power loss the journal does not open: \(error)", lost: acked.contains { $0.key == "C" } ? 1 : 0)
        }
        Scenario.checkProjection(ws, &o, "after a simulated power loss", allowBehind: true)
        if !o.failed { ws.remove() }
        return o
    }
}

extension FsyncErrorConsumed {
    /// Review R3: the append's own fdatasync fails as a lost writeback and
    /// the writer is killed right there, before it cuts its bytes; the next
    /// writer's sync succeeds (the error was consumed) and it appends behind
    /// the dead writer's bytes. After a power loss its acknowledged event
    /// must be there and the journal must open.
    static func killedAfterOwnFailedSync(_ c: FindingContext) -> Outcome {
        var o = Outcome()
        let ws = Workspace(c.work + "/killed-after-failed-sync-\(c.seed)")
        let disk = SimulatedDisk(root: ws.directory, seed: c.seed)
        var acked: [(key: String, seq: UInt64)] = []
        do {
            let last = try Scenario.prepare(Scenario.manager(ws, disk, actor: "setup"), notes: Int(c.seed % 3))
            acked.append(("init", 1))
            for i in stride(from: 2, through: last, by: 1) { acked.append(("prior-\(i - 1)", i)) }
        } catch {
            o.why = "setup failed: \(error)"
            return o
        }
        let wrote = Flag(), synced = Flag()
        let a = ScriptedCalls(disk) { call in
            if synced.isSet { return .die }  // killed right after its sync returned EIO
            if call.operation == .pwrite && call.isSegment { wrote.set() }
            if call.operation == .fdatasync && call.isSegment && wrote.isSet {
                disk.failWriteback(ofNextSyncOf: "/segment-")
                synced.set()
            }
            return .pass
        }
        o.attempts += 1
        _ = try? Scenario.manager(ws, a, actor: "A").write(.noteAdded(text: String(repeating: "A", count: 20_000)), options: .init(idempotencyKey: "A"))
        o.fired = synced.isSet && disk.writebackFailureCount == 1 && a.isDead
        o.why = o.fired ? "A's own fdatasync failed (lost writeback) and A was killed before it cut its bytes" : "A's sync never failed"
        o.kills = 1
        o.faults = disk.writebackFailureCount
        o.attempts += 1
        if let outcome = try? Scenario.manager(ws, disk, actor: "B").write(.noteAdded(text: "B"), options: .init(idempotencyKey: "B")) {
            acked.append(("B", outcome.event.seq))
            o.acknowledged += 1
        }
        disk.crash()
        disk.materialize(.dropAll)
        o.crashes = 1
        switch Scenario.journal(ws) {
        case .success(let events): Scenario.checkAcknowledged(acked, in: events, &o, "after a simulated power loss")
        case .failure(let error): o.problem("after a simulated power loss the journal does not open: \(error)", lost: acked.contains { $0.key == "B" } ? 1 : 0)
        }
        Scenario.checkProjection(ws, &o, "after a simulated power loss", allowBehind: true)
        if !o.failed { ws.remove() }
        return o
    }
}

extension FsyncErrorConsumed {
    /// Review R6: a long-lived process's write meets another process's
    /// unsynced bytes; its sync of them fails (lost writeback), so it
    /// rewrites the segment to a new file — and that rewrite's directory
    /// fsync fails. The process's next write is acknowledged; after a power
    /// loss it must be there.
    static func rewriteDirectoryFsync(_ c: FindingContext) -> Outcome {
        var o = Outcome()
        let ws = Workspace(c.work + "/rewrite-dir-fsync-\(c.seed)")
        let disk = SimulatedDisk(root: ws.directory, seed: c.seed)
        let journal = ws.statePath + ".journal"
        let armed = Flag(), fired = Flag(), renamed = Flag()
        let longLivedCalls = ScriptedCalls(disk) { call in
            guard armed.isSet && !fired.isSet else { return .pass }
            if call.operation == .rename, call.target.map({ $0.contains("/segment-") }) == true { renamed.set() }
            if renamed.isSet && call.operation == .fsync && call.path == journal {
                fired.set()
                return .fail(.ioError)
            }
            return .pass
        }
        let longLived = Scenario.manager(ws, longLivedCalls, actor: "long-lived")
        var acked: [(key: String, seq: UInt64)] = []
        do {
            let last = try Scenario.prepare(longLived, notes: Int(c.seed % 2))
            acked.append(("init", 1))
            for i in stride(from: 2, through: last, by: 1) { acked.append(("prior-\(i - 1)", i)) }
        } catch {
            o.why = "setup failed: \(error)"
            return o
        }
        // Another process killed between its pwrite and its fdatasync.
        let wrote = Flag()
        let killed = ScriptedCalls(disk) { call in
            if call.operation == .pwrite && call.isSegment { wrote.set() }
            return call.operation == .fdatasync && call.isSegment && wrote.isSet ? .die : .pass
        }
        _ = try? Scenario.manager(ws, killed, actor: "killed").write(.noteAdded(text: "K"), options: .init(idempotencyKey: "K"))
        o.kills = 1
        // The long-lived process's next write syncs those bytes: the writeback
        // fails, it rewrites the segment, the rewrite's directory fsync fails.
        disk.failWriteback(ofNextSyncOf: "/segment-")
        armed.set()
        o.attempts += 1
        if let outcome = try? longLived.write(.noteAdded(text: "A"), options: .init(idempotencyKey: "A")) {
            acked.append(("A", outcome.event.seq))  // it may recover; then it must survive too
            o.acknowledged += 1
        }
        o.fired = fired.isSet && disk.writebackFailureCount == 1
        o.faults = disk.writebackFailureCount + (fired.isSet ? 1 : 0)
        o.why = o.fired ? "the segment was rewritten after a failed writeback and the rewrite's directory fsync failed"
                        : "the rewrite's directory fsync never came (writeback failures: \(disk.writebackFailureCount))"
        o.attempts += 1
        if let outcome = try? longLived.write(.noteAdded(text: "B"), options: .init(idempotencyKey: "B")) {
            acked.append(("B", outcome.event.seq))
            o.acknowledged += 1
        }
        disk.crash()
        disk.materialize(.dropAll)
        o.crashes = 1
        switch Scenario.journal(ws) {
        case .success(let events): Scenario.checkAcknowledged(acked, in: events, &o, "after a simulated power loss")
        case .failure(let error): o.problem("after a simulated power loss the journal does not open: \(error)", lost: acked.count)
        }
        Scenario.checkProjection(ws, &o, "after a simulated power loss", allowBehind: true)
        if !o.failed { ws.remove() }
        return o
    }
}

// MARK: - item 9: a snapshot ahead of the journal

enum SnapshotAhead {
    static func run(_ c: FindingContext) -> Outcome {
        var o = Outcome()
        let ws = Workspace(c.work + "/snapshot-ahead-\(c.seed)")
        let journal = ws.statePath + ".journal"
        let copy = ws.directory + "/journal-copy"
        let later = 4
        do {
            let m = Scenario.manager(ws, actor: "setup", snapshotInterval: 10_000)
            _ = try Scenario.prepare(m, notes: 5)
            Scenario.copyDirectory(journal, copy)
            for i in 0..<later { try m.write(.noteAdded(text: "LOST \(i + 1)"), options: .init(idempotencyKey: "lost-\(i)")) }
            _ = try m.compact()  // a snapshot at the last seq
        } catch {
            o.why = "setup failed: \(error)"
            return o
        }
        // The segments go back to the older copy; the snapshot stays.
        let names = (try? FileManager.default.contentsOfDirectory(atPath: journal)) ?? []
        let snapshots = names.filter { $0.hasPrefix("snapshot-") }
        for name in names where name.hasPrefix("segment-") { try? FileManager.default.removeItem(atPath: journal + "/" + name) }
        for name in (try? FileManager.default.contentsOfDirectory(atPath: copy)) ?? [] where name.hasPrefix("segment-") {
            try? FileManager.default.copyItem(atPath: copy + "/" + name, toPath: journal + "/" + name)
        }
        try? FileManager.default.removeItem(atPath: copy)
        o.fired = !snapshots.isEmpty
        o.why = o.fired ? "the segments put back from an older copy, a snapshot of the lost events left in place" : "no snapshot was written"
        let m = Scenario.manager(ws, actor: "catch-up", snapshotInterval: 10_000)
        for i in 0..<later {
            o.attempts += 1
            if (try? m.write(.noteAdded(text: "NEW \(i + 1)"), options: .init(idempotencyKey: "new-\(i)"))) != nil { o.acknowledged += 1 }
        }
        do {
            let events = try Scenario.manager(ws, actor: "check").events()
            let fresh = try Scenario.manager(ws, actor: "fresh").loadState()
            if let expected = Scenario.fold(events), let fresh, MarkdownRenderer.render(fresh) != MarkdownRenderer.render(expected) {
                o.problem("a fresh open folds a state the journal does not hold (\(Scenario.firstDifference(MarkdownRenderer.render(fresh), MarkdownRenderer.render(expected))))", ahead: 1)
            }
        } catch {
            o.problem("the journal does not open: \(error)")
        }
        Scenario.checkProjection(ws, &o, "after the journal caught up")
        if !o.failed { ws.remove() }
        return o
    }
}

// MARK: - review R1: the fold cache of a long-lived process

enum FoldCacheRestore {
    /// A long-lived library process writes (and caches its fold); the
    /// journal is put back from an older copy — in place, same inode
    /// (variant 0), or as new files (variant 1); other processes append
    /// acknowledged events past the cached seq; the long-lived process
    /// reads and writes again. Nothing acknowledged may be cut, the journal
    /// must stay sound, and STATE.md must show exactly the journal.
    static func run(_ c: FindingContext) -> Outcome {
        var o = Outcome()
        let ws = Workspace(c.work + "/fold-cache-\(c.variant)-\(c.seed)")
        let journal = ws.statePath + ".journal"
        let segment = journal + "/segment-00000000000000000001.log"
        let longLived = Scenario.manager(ws, actor: "long-lived")
        var acked: [(key: String, seq: UInt64)] = []
        let saved: Data
        do {
            acked.append(("init", try longLived.write(Scenario.initPayload, options: .init(idempotencyKey: "init")).event.seq))
            acked.append(("kept", try longLived.write(.noteAdded(text: "kept"), options: .init(idempotencyKey: "kept")).event.seq))
            guard let bytes = FileManager.default.contents(atPath: segment) else { o.why = "no segment"; return o }
            saved = bytes
            Scenario.copyDirectory(journal, ws.directory + "/saved.journal")
            try longLived.write(.noteAdded(text: "DROPPED-BY-RESTORE"), options: .init(idempotencyKey: "dropped"))
        } catch {
            o.why = "setup failed: \(error)"
            return o
        }
        if c.variant % 2 == 0 {
            // `cp saved/segment… STATE.md.journal/`: same file, same inode, older content.
            let fd = open(segment, O_WRONLY | O_TRUNC)
            o.fired = fd >= 0 && saved.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) } == saved.count
            if fd >= 0 { fsync(fd); close(fd) }
            o.why = "the segment put back in place (same inode) from an older copy, under a long-lived process's fold cache"
        } else {
            try? FileManager.default.removeItem(atPath: journal)
            o.fired = (try? FileManager.default.moveItem(atPath: ws.directory + "/saved.journal", toPath: journal)) != nil
            o.why = "the journal put back as new files from an older copy, under a long-lived process's fold cache"
        }
        try? FileManager.default.removeItem(atPath: ws.directory + "/saved.journal")
        let other = Scenario.manager(ws, actor: "other")
        for i in 3...4 {
            o.attempts += 1
            if let outcome = try? other.write(.noteAdded(text: "new \(i)"), options: .init(idempotencyKey: "new-\(i)")) {
                acked.append(("new-\(i)", outcome.event.seq))
                o.acknowledged += 1
            }
        }
        if c.variant % 2 == 1, let state = try? longLived.loadState(), state.notes.contains("DROPPED-BY-RESTORE") {
            o.problem("the long-lived process's loadState answered with an event the journal does not hold", ahead: 1)
        }
        o.attempts += 1
        if let outcome = try? longLived.write(.noteAdded(text: "after"), options: .init(idempotencyKey: "after")) {
            acked.append(("after", outcome.event.seq))
            o.acknowledged += 1
        }
        switch Scenario.journal(ws) {
        case .success(let events): Scenario.checkAcknowledged(acked, in: events, &o, "after the long-lived process wrote again")
        case .failure(let error): o.problem("after the long-lived process wrote again the journal does not open: \(error)")
        }
        if let verify = try? Scenario.manager(ws, actor: "verify").verify(), verify.hasCorruption {
            o.problem("verify finds corruption: \(verify.problems.prefix(2).map(\.description).joined(separator: "; "))")
        }
        if let bytes = Scenario.stateFile(ws), String(decoding: bytes, as: UTF8.self).contains("DROPPED-BY-RESTORE") {
            o.problem("STATE.md shows an event the journal does not hold", ahead: 1)
        } else {
            Scenario.checkProjection(ws, &o, "after the long-lived process wrote again")
        }
        if !o.failed { ws.remove() }
        return o
    }
}

// MARK: - review R2: a reader's boundary over a torn tail

enum ReaderBoundaryTornTail {
    /// A killed writer left a torn tail. A lock-free reader takes its
    /// committed boundary (under the lock, briefly) and is stopped before it
    /// reads the segment; a writer cuts the torn tail and writes a smaller
    /// record inside the reader's boundary; while that write's fdatasync is
    /// failing, the reader (streaming events, as `statejournal log` does)
    /// reads. It must not hand over the event of a write that was reported
    /// failed, nor may STATE.md show it.
    static func run(_ c: FindingContext) -> Outcome {
        var o = Outcome()
        let ws = Workspace(c.work + "/reader-boundary-\(c.seed)")
        let segment = ws.statePath + ".journal/segment-00000000000000000001.log"
        do {
            _ = try Scenario.prepare(Scenario.manager(ws, actor: "setup"), notes: Int(c.seed % 2))
        } catch {
            o.why = "setup failed: \(error)"
            return o
        }
        // The torn tail: the first 3000 bytes of an 8000-byte record.
        let big = Event(seq: 99, time: .now(), actor: "killed", pid: 1, payload: .noteAdded(text: String(repeating: "x", count: 8000)))
        var record: [UInt8] = []
        RecordFormat.appendRecord(Array(big.json().encoded()), to: &record)
        guard let handle = FileHandle(forWritingAtPath: segment) else { o.why = "no segment"; return o }
        handle.seekToEndOfFile()
        handle.write(Data(record[0..<3000]))
        try? handle.close()

        let paused = Gate(), readerDone = Gate()
        let unlocked = Flag(), stopped = Flag()
        let readerCalls = ScriptedCalls(RealSystemCalls()) { call in
            if call.operation == .flock && call.target == "LOCK_UN" && call.path == ws.statePath + ".lock" { unlocked.set() }
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
                if case .noteAdded(let text) = event.payload { seen.withLock { $0.append(text) } }
            }
            readerDone.arrive()
            if !stopped.isSet { paused.arrive() }  // never stopped: let the harness go on
        }
        _ = paused.waitForArrivals(1, deadline: 30)
        guard stopped.isSet else {
            reader.join()
            o.why = "the reader never read the segment after taking its boundary"
            return o
        }
        let wrote = Flag(), synced = Flag()
        let w = ScriptedCalls(RealSystemCalls()) { call in
            if call.operation == .pwrite && call.isSegment { wrote.set() }
            guard call.operation == .fdatasync && call.isSegment && wrote.isSet && !synced.isSet else { return .pass }
            synced.set()
            paused.release()
            _ = readerDone.waitForArrivals(1, deadline: 10)
            return .fail(.ioError)
        }
        o.attempts = 1
        if (try? Scenario.manager(ws, w, actor: "W").write(.noteAdded(text: "NEVER-DURABLE"), options: .init(idempotencyKey: "W"))) != nil {
            o.problem("the write whose fdatasync failed was acknowledged")
        }
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
        if let bytes = Scenario.stateFile(ws), String(decoding: bytes, as: UTF8.self).contains("NEVER-DURABLE") {
            o.problem("STATE.md shows the event of a write that failed and was cut", ahead: 1)
        }
        if !o.failed { ws.remove() }
        return o
    }
}

// MARK: - review R4: a leftover snapshot of another history

enum LeftoverSnapshot {
    /// The journal is put back from a backup with `cp -a backup/. journal/`
    /// (files overwritten in place; a newer snapshot, not in the backup,
    /// stays). `statejournal note` processes then append: every one that
    /// exits 0 must be in the journal, and none may exit 5 on a sound journal.
    static func run(_ c: FindingContext) -> Outcome {
        var o = Outcome()
        let ws = Workspace(c.work + "/leftover-snapshot-\(c.seed)")
        let journal = ws.statePath + ".journal"
        let backup = ws.directory + "/backup"
        guard let cli = c.cli else { o.why = "no statejournal binary"; return o }
        do {
            let m = Scenario.manager(ws, actor: "setup", snapshotInterval: 16)
            _ = try Scenario.prepare(m, notes: 1)
            Scenario.copyDirectory(journal, backup)
            for i in 3...40 { try m.write(.noteAdded(text: "old \(i)"), options: .init(idempotencyKey: "old-\(i)")) }
        } catch {
            o.why = "setup failed: \(error)"
            return o
        }
        let snapshots = ((try? FileManager.default.contentsOfDirectory(atPath: journal)) ?? []).filter { $0.hasPrefix("snapshot-") }
        // cp -a backup/. journal/ — each file overwritten in place.
        for name in (try? FileManager.default.contentsOfDirectory(atPath: backup)) ?? [] {
            guard let bytes = FileManager.default.contents(atPath: backup + "/" + name) else { continue }
            let fd = open(journal + "/" + name, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
            if fd >= 0 { _ = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }; close(fd) }
        }
        try? FileManager.default.removeItem(atPath: backup)
        o.fired = !snapshots.isEmpty
        o.why = o.fired ? "the journal put back in place from a backup; \(snapshots.count) newer snapshot(s) left beside it" : "no snapshot was written"
        var acked: [(key: String, seq: UInt64)] = [("init", 1), ("prior-1", 2)]
        var fivers = 0
        for i in 3...40 {
            o.attempts += 1
            let r = cli.run(["note", "a much longer note than the old ones, number \(i)", "--json", "--idempotency-key", "new-\(i)",
                             "--state", ws.statePath])
            if r.status == 0, let event = try? JSON.parse(r.stdout), let seq = event["seq"]?.intValue {
                acked.append(("new-\(i)", UInt64(seq)))
                o.acknowledged += 1
            } else if r.status == 5 {
                fivers += 1
                if fivers == 1 { o.problem("`statejournal note` exited 5 on a sound journal: \(firstLines(r.stderr, 1))") }
            }
        }
        // What the journal holds, read from seq 1 with the snapshots set aside.
        for name in ((try? FileManager.default.contentsOfDirectory(atPath: journal)) ?? []) where name.hasPrefix("snapshot-") {
            try? FileManager.default.removeItem(atPath: journal + "/" + name)
        }
        switch Scenario.journal(ws) {
        case .success(let events): Scenario.checkAcknowledged(acked, in: events, &o, "after the notes")
        case .failure(let error): o.problem("the journal does not open: \(error)")
        }
        if !o.failed { ws.remove() }
        return o
    }
}

// MARK: - review 2: the watermark in the lock file

enum Watermarks {
    static func notes(_ events: [Event]) -> [String] {
        events.compactMap { if case .noteAdded(let text) = $0.payload { return text } else { return nil } }
    }

    /// W1. Variant 0: the lock file is put back as it was a moment ago (git
    /// stash, checkout, a restore tool), then `statejournal note` runs.
    /// Variant 1: the journal's segment is overwritten in place by a copy
    /// that went further elsewhere, the lock file stays, then `note`.
    /// Variant 2: as 0, then `statejournal show`. Every acknowledged event
    /// must stay in the journal and be shown.
    static func stale(_ c: FindingContext) -> Outcome {
        var o = Outcome()
        let ws = Workspace(c.work + "/stale-watermark-\(c.variant)-\(c.seed)")
        guard let cli = c.cli else { o.why = "no statejournal binary"; return o }
        let lock = ws.statePath + ".lock"
        let segment = ws.statePath + ".journal/segment-00000000000000000001.log"
        var acked: [(key: String, seq: UInt64)] = [("init", 1), ("prior-1", 2)]
        do {
            _ = try Scenario.prepare(Scenario.manager(ws, actor: "setup"), notes: 1)
            if c.variant % 3 == 1 {
                let elsewhere = Workspace(ws.directory + "/elsewhere")
                Scenario.copyDirectory(ws.statePath + ".journal", elsewhere.statePath + ".journal")
                let m = Scenario.manager(elsewhere, actor: "elsewhere")
                for i in 1...2 {
                    acked.append(("elsewhere-\(i)", try m.write(.noteAdded(text: "ACKNOWLEDGED elsewhere \(i)"),
                                                                options: .init(idempotencyKey: "elsewhere-\(i)")).event.seq))
                }
                // cp back over the journal: same inode; the lock file stays.
                guard let longer = FileManager.default.contents(atPath: elsewhere.statePath + ".journal/segment-00000000000000000001.log") else {
                    o.why = "no segment elsewhere"
                    return o
                }
                let fd = open(segment, O_WRONLY | O_TRUNC)
                o.fired = fd >= 0 && longer.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) } == longer.count
                if fd >= 0 { close(fd) }
                elsewhere.remove()
                o.why = "the segment overwritten in place by a copy that went further elsewhere; the lock file's watermark is older"
            } else {
                guard let earlier = FileManager.default.contents(atPath: lock) else { o.why = "no lock file"; return o }
                let m = Scenario.manager(ws, actor: "writer")
                for i in 1...2 {
                    acked.append(("later-\(i)", try m.write(.noteAdded(text: "ACKNOWLEDGED later \(i)"),
                                                           options: .init(idempotencyKey: "later-\(i)")).event.seq))
                }
                o.fired = FileManager.default.createFile(atPath: lock, contents: earlier)  // as git checkout would
                o.why = "the lock file put back as it was before two acknowledged writes (same boot)"
            }
        } catch {
            o.why = "setup failed: \(error)"
            return o
        }
        o.attempts += acked.count - 2  // the writes after the setup's two
        o.acknowledged = acked.count - 2
        if c.variant % 3 == 2 {
            let r = cli.run(["show", "--state", ws.statePath])
            let text = String(decoding: r.stdout, as: UTF8.self)
            if r.status != 0 { o.problem("`show` exited \(r.status.map(String.init) ?? "?"): \(firstLines(r.stderr))") }
            for (key, _) in acked where key.hasPrefix("later") && !text.contains("ACKNOWLEDGED later \(key.dropFirst(6))") {
                o.problem("`show` does not show the acknowledged write \(key)", lost: 1)
            }
        } else {
            o.attempts += 1
            let r = cli.run(["note", "the next write", "--json", "--idempotency-key", "next", "--state", ws.statePath])
            if r.status == 0, let event = try? JSON.parse(r.stdout), let seq = event["seq"]?.intValue {
                acked.append(("next", UInt64(seq)))
                o.acknowledged += 1
            } else {
                o.problem("`note` exited \(r.status.map(String.init) ?? "?"): \(firstLines(r.stderr))")
            }
        }
        switch Scenario.journal(ws) {
        case .success(let events): Scenario.checkAcknowledged(acked, in: events, &o, "after the next command")
        case .failure(let error): o.problem("the journal does not open: \(error)")
        }
        Scenario.checkProjection(ws, &o, "after the next command")
        if !o.failed { ws.remove() }
        return o
    }

    /// W2: R3 (a writer's own sync fails as a lost writeback; it dies right
    /// there), then a reader is killed as it rewrites the lock file (at its
    /// pwrite: after the ftruncate, when the rewrite has one, the watermark
    /// is gone); the next writer is acknowledged; after a power loss its
    /// event must be there.
    static func erased(_ c: FindingContext) -> Outcome {
        var o = Outcome()
        let ws = Workspace(c.work + "/watermark-erased-\(c.seed)")
        let disk = SimulatedDisk(root: ws.directory, seed: c.seed)
        let lock = ws.statePath + ".lock"
        var acked: [(key: String, seq: UInt64)] = []
        do {
            let last = try Scenario.prepare(Scenario.manager(ws, disk, actor: "setup"), notes: Int(c.seed % 2))
            acked.append(("init", 1))
            for i in stride(from: 2, through: last, by: 1) { acked.append(("prior-\(i - 1)", i)) }
        } catch {
            o.why = "setup failed: \(error)"
            return o
        }
        let wrote = Flag(), synced = Flag()
        let a = ScriptedCalls(disk) { call in
            if synced.isSet { return .die }
            if call.operation == .pwrite && call.isSegment { wrote.set() }
            if call.operation == .fdatasync && call.isSegment && wrote.isSet {
                disk.failWriteback(ofNextSyncOf: "/segment-")
                synced.set()
            }
            return .pass
        }
        _ = try? Scenario.manager(ws, a, actor: "A").write(.noteAdded(text: String(repeating: "A", count: 20_000)), options: .init(idempotencyKey: "A"))
        // Killed at its first write of the lock file (after the ftruncate
        // that came before it, when the rewrite has one).
        let reader = ScriptedCalls(disk) { call in
            call.operation == .pwrite && call.path == lock ? .die : .pass
        }
        try? Scenario.manager(ws, reader, actor: "reader", lockTimeout: 0.5).forEachEvent(matching: EventFilter()) { _ in }
        o.kills = 2
        o.fired = a.isDead && disk.writebackFailureCount == 1 && reader.isDead
        o.why = o.fired ? "A died after its own failed fsync; a reader died as it rewrote the lock file"
                        : "A or the reader did not die where planned (A: \(a.isDead), reader: \(reader.isDead))"
        o.attempts += 1
        if let outcome = try? Scenario.manager(ws, disk, actor: "B").write(.noteAdded(text: "B"), options: .init(idempotencyKey: "B")) {
            acked.append(("B", outcome.event.seq))
            o.acknowledged += 1
        }
        disk.crash()
        disk.materialize(.dropAll)
        o.crashes = 1
        switch Scenario.journal(ws) {
        case .success(let events): Scenario.checkAcknowledged(acked, in: events, &o, "after a simulated power loss")
        case .failure(let error): o.problem("after a simulated power loss the journal does not open: \(error)", lost: acked.contains { $0.key == "B" } ? 1 : 0)
        }
        if !o.failed { ws.remove() }
        return o
    }

    /// W3: a reader whose open of the lock file for writing fails (EACCES:
    /// another user's 0644 lock file) reads while a writer's fdatasync is
    /// failing; it must not hand over the write that is then cut.
    static func readerWithoutWriteAccess(_ c: FindingContext) -> Outcome {
        var o = Outcome()
        let ws = Workspace(c.work + "/reader-no-write-\(c.seed)")
        let lock = ws.statePath + ".lock"
        do { _ = try Scenario.prepare(Scenario.manager(ws, actor: "setup"), notes: Int(c.seed % 2)) } catch {
            o.why = "setup failed: \(error)"
            return o
        }
        let refused = Flag()
        let readerCalls = ScriptedCalls(RealSystemCalls()) { call in
            // A 0644 lock file of another user: opening it for writing fails.
            if call.operation == .open && call.path == lock, let flags = call.flags, flags & O_ACCMODE != O_RDONLY {
                refused.set()
                return .fail(Errno(rawValue: EACCES))
            }
            return .pass
        }
        let seen = Mutex<[String]?>(nil)
        let wrote = Flag(), synced = Flag()
        let w = ScriptedCalls(RealSystemCalls()) { call in
            if call.operation == .pwrite && call.isSegment { wrote.set() }
            guard call.operation == .fdatasync && call.isSegment && wrote.isSet && !synced.isSet else { return .pass }
            synced.set()
            var texts: [String] = []
            if (try? Scenario.manager(ws, readerCalls, actor: "reader", lockTimeout: 0.5).forEachEvent(matching: EventFilter()) { event in
                if case .noteAdded(let text) = event.payload { texts.append(text) }
            }) != nil {
                seen.withLock { $0 = texts }
            }
            return .fail(.ioError)
        }
        o.attempts = 1
        if (try? Scenario.manager(ws, w, actor: "W").write(.noteAdded(text: "NEVER-DURABLE"), options: .init(idempotencyKey: "W"))) != nil {
            o.problem("the write whose fdatasync failed was acknowledged")
        }
        o.fired = synced.isSet && refused.isSet
        o.faults = o.fired ? 2 : 0
        o.why = o.fired ? "a reader refused write access to the lock file read during W's failing fdatasync" : "the reader never tried the lock file"
        if (seen.withLock { $0 } ?? []).contains("NEVER-DURABLE") {
            o.problem("a reader without write access to the lock file handed over the event of a write that failed and was cut", ahead: 1)
        }
        if !o.failed { ws.remove() }
        return o
    }
}
