import Foundation
import XCTest
import Synchronization
import Logging
@testable import StateJournal
@testable import StateJournalModel
@testable import StateJournalPostgres

/// A TCP proxy in front of the server that, once armed, cuts the client's
/// connection at its next message containing a word, *before* forwarding
/// it (the server never sees it — also for `COMMIT` — and rolls the
/// transaction back), or, with `after`, right after forwarding it and
/// letting the server answer (the answer never reaches the client).
final class ReviewCutProxy: @unchecked Sendable {
    let port: UInt16
    private let listener: Int32
    private let target: UInt16
    private let armed = Mutex<(word: String, after: Bool)?>(nil)

    init(targetPort: UInt16) {
        target = targetPort
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
        listen(fd, 64)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        listener = fd
        port = UInt16(bigEndian: addr.sin_port)
        Thread.detachNewThread { [self] in acceptLoop() }
    }

    func arm(at word: String, after: Bool = false) { armed.withLock { $0 = (word, after) } }
    var fired: Bool { armed.withLock { $0 == nil } }

    private func acceptLoop() {
        while true {
            let client = accept(listener, nil, nil)
            if client < 0 { return }
            let server = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_addr.s_addr = inet_addr("127.0.0.1")
            addr.sin_port = target.bigEndian
            let ok = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(server, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            if ok != 0 { close(client); close(server); continue }
            let cut = Mutex(false)
            Thread.detachNewThread { [self] in
                var buffer = [UInt8](repeating: 0, count: 65536)
                while true {
                    let n = read(client, &buffer, buffer.count)
                    if n <= 0 { break }
                    let chunk = Array(buffer[0..<n])
                    let text = String(decoding: chunk, as: UTF8.self)
                    let trigger = armed.withLock { a -> (String, Bool)? in
                        guard let w = a, text.contains(w.word) else { return nil }
                        a = nil
                        return (w.word, w.after)
                    }
                    if let trigger, !trigger.1 {
                        cut.withLock { $0 = true }
                        shutdown(client, Int32(SHUT_RDWR))
                        shutdown(server, Int32(SHUT_RDWR))
                        break
                    }
                    if write(server, chunk, n) != n { break }
                    if trigger != nil {
                        cut.withLock { $0 = true }
                        var answer = [UInt8](repeating: 0, count: 4096)
                        _ = read(server, &answer, answer.count)
                        shutdown(client, Int32(SHUT_RDWR))
                        shutdown(server, Int32(SHUT_RDWR))
                        break
                    }
                }
                shutdown(server, Int32(SHUT_WR))
            }
            Thread.detachNewThread {
                var buffer = [UInt8](repeating: 0, count: 65536)
                while true {
                    let n = read(server, &buffer, buffer.count)
                    if n <= 0 || cut.withLock({ $0 }) { break }
                    if write(client, buffer, n) != n { break }
                }
                shutdown(client, Int32(SHUT_RDWR))
            }
        }
    }
}

enum Review {
    static func urls() throws -> (direct: String, proxied: String, proxy: ReviewCutProxy) {
        let direct = try TestServer.url(workflow: "review-" + UUID().uuidString.prefix(8).lowercased())
        let port = UInt16(ProcessInfo.processInfo.environment["PG_PORT"] ?? "54329") ?? 54329
        guard direct.contains("127.0.0.1:\(port)") else { throw XCTSkip("needs make pg-start's server on 127.0.0.1") }
        let proxy = ReviewCutProxy(targetPort: port)
        let proxied = direct.replacingOccurrences(of: "127.0.0.1:\(port)", with: "127.0.0.1:\(proxy.port)") + "&sslmode=disable"
        return (direct, proxied, proxy)
    }

    /// The journal as another process sees it (a fresh manager, direct connection, its own STATE.md).
    static func committed(_ direct: String) throws -> [Event] {
        let dir = TempDir()
        return try StateManager(configuration: .init(statePath: dir.path + "/STATE.md", actor: "checker"), storeURL: direct).events()
    }

    static func plan() -> [[Event.PlannedTask]] {
        [[.init(id: "t1", description: "one"), .init(id: "t2", description: "two")]]
    }
}

final class ReviewCommitFailureTests: XCTestCase {
    /// An edit of STATE.md is recorded inside a write's transaction; the
    /// transaction is then lost (here: the write's own INSERT never reaches
    /// the server), so the edit's events are not in the journal. The same
    /// manager's next write must record the edit (it is still in STATE.md).
    ///
    /// Was a bug (review, fixed): `recordEdit` sets `lastRecordedEdit` (and
    /// `editsRecorded`) before the transaction commits; the next write takes
    /// the edit for recorded, renders STATE.md from the journal without it,
    /// and the edited file only survives as STATE.md.backup until the write
    /// after that. The file journal is not affected (its append is durable
    /// when `recordEdit` returns).
    func testAnEditRecordedInATransactionThatIsLostIsRecordedByTheNextWrite() throws {
        let (direct, proxied, proxy) = try Review.urls()
        let dir = TempDir()
        let statePath = dir.path + "/STATE.md"
        let manager = try StateManager(configuration: .init(statePath: statePath, actor: "host-a"), storeURL: proxied)
        try manager.initialize(id: "wf", name: "Edit lost", waves: Review.plan())
        let rendered = try String(contentsOfFile: statePath, encoding: .utf8)
        XCTAssertTrue(rendered.contains("- [ ] **t1**: one"))
        // A person ticks t1 (and the file's size changes with it).
        let edited = rendered.replacingOccurrences(of: "- [ ] **t1**: one", with: "- [x] **t1**: one, done by hand")
        try edited.write(toFile: statePath, atomically: false, encoding: .utf8)

        proxy.arm(at: "POISON")
        XCTAssertThrowsError(try manager.write(.noteAdded(text: "POISON"))) { error in
            XCTAssertTrue((error as? StateJournalError)?.message.contains("nothing was written") == true, "\(error)")
        }
        XCTAssertTrue(proxy.fired)
        let afterLoss = try Review.committed(direct)
        XCTAssertEqual(afterLoss.count, 1, "the lost transaction (the edit's events and the note) left nothing")

        // The same manager writes again; STATE.md still holds the edit.
        try manager.write(.noteAdded(text: "after"))
        let events = try Review.committed(direct)
        let checkDir = TempDir()
        let t1 = try StateManager(configuration: .init(statePath: checkDir.path + "/S.md"), storeURL: direct).loadState()?.task("t1")
        let recorded = events.contains { $0.via == Event.viaEdit }
        if !recorded {
            let state = try String(contentsOfFile: statePath, encoding: .utf8)
            XCTAssertFalse(state.contains("done by hand"), "STATE.md no longer shows the edit")
            return XCTFail("fixed bug back (review): the edit of STATE.md recorded in a transaction that was lost is taken as recorded by the same process "
                + "(lastRecordedEdit set before COMMIT); it is in no event, t1 is \(t1?.status.rawValue ?? "?"), STATE.md no longer shows it")
        }
        XCTAssertEqual(t1?.status, .completed, "the edit was recorded by the next write")
        XCTAssertEqual(t1?.description, "one, done by hand")
    }

    /// The same with the edit found while rendering STATE.md (the
    /// projectors' path: `replaceProjection` records it in its own
    /// transaction), that transaction cut before its COMMIT reaches the server.
    func testAnEditWhoseOwnTransactionIsCutBeforeCommitIsNotForgotten() throws {
        let (direct, proxied, proxy) = try Review.urls()
        let dir = TempDir()
        let statePath = dir.path + "/STATE.md"
        let manager = try StateManager(configuration: .init(statePath: statePath, actor: "host-a"), storeURL: proxied)
        try manager.initialize(id: "wf", name: "Edit lost at commit", waves: Review.plan())
        let rendered = try String(contentsOfFile: statePath, encoding: .utf8)
        try rendered.replacingOccurrences(of: "- [ ] **t2**: two", with: "- [x] **t2**: two, by hand")
            .write(toFile: statePath, atomically: false, encoding: .utf8)
        // `sync` records the edit in a transaction of its own; its COMMIT never reaches the server.
        proxy.arm(at: "COMMIT")
        XCTAssertThrowsError(try manager.syncEdits(dryRun: false))
        XCTAssertTrue(proxy.fired)
        XCTAssertEqual(try Review.committed(direct).count, 1, "nothing of the edit was committed")
        // Asked again, the same manager must record it now.
        _ = try? manager.syncEdits(dryRun: false)
        let recorded = try Review.committed(direct).contains { $0.via == Event.viaEdit }
        if !recorded {
            return XCTFail("fixed bug back (review): a second 'sync' by the same process finds the edit 'recorded already' (lastRecordedEdit) although its transaction never committed")
        }
        XCTAssertEqual(try manager.loadState()?.task("t2")?.status, .completed)
    }

    /// A snapshot is due at every event; the transaction that holds the
    /// event and its snapshot is cut before its COMMIT reaches the server:
    /// neither is visible, nobody folds from the snapshot, STATE.md on the
    /// host still shows the committed state, and the next write takes the seq.
    func testASnapshotInATransactionCutBeforeCommitIsNeverSeen() throws {
        let (direct, proxied, proxy) = try Review.urls()
        let dir = TempDir()
        let statePath = dir.path + "/STATE.md"
        let manager = try StateManager(configuration: .init(statePath: statePath, actor: "host-a", snapshotInterval: 1), storeURL: proxied)
        try manager.initialize(id: "wf", name: "Snap", waves: Review.plan())
        try manager.write(.taskStarted(taskID: "t1"))
        proxy.arm(at: "COMMIT")
        XCTAssertThrowsError(try manager.write(.taskCompleted(taskID: "t1", commit: nil, files: []), options: .init(idempotencyKey: "k-snap")))
        XCTAssertTrue(proxy.fired)
        XCTAssertEqual(try manager.projectionStatus(), .intact(seq: 2, event: try Review.committed(direct).last?.identity))
        let otherDir = TempDir()
        let other = try StateManager(configuration: .init(statePath: otherDir.path + "/S.md"), storeURL: direct)
        XCTAssertEqual(try other.loadState()?.task("t1")?.status, .inProgress)
        XCTAssertEqual(try other.verify().problems, [])
        // Another host writes seq 3 — something else — then the first retries.
        try other.write(.noteAdded(text: "other host"))
        let retry = try manager.write(.taskCompleted(taskID: "t1", commit: nil, files: []), options: .init(idempotencyKey: "k-snap"))
        XCTAssertFalse(retry.wasDuplicate)
        XCTAssertEqual(retry.event.seq, 4)
        XCTAssertEqual(try manager.loadState()?.notes, ["other host"])
        let events = try Review.committed(direct)
        XCTAssertEqual(events.map(\.seq), [1, 2, 3, 4])
        XCTAssertEqual(try manager.projectionStatus(), .intact(seq: 4, event: events.last?.identity))
    }

    /// 16 threads of one process write through one manager (group commit);
    /// the first batch's COMMIT is executed but its answer lost. Every
    /// writer answered success is in the journal; every failed one either
    /// says nothing was written (and is not there) or that it may be (and
    /// its retry with the same key finds or writes it); at the end each key
    /// is there exactly once, seq gap-free, and STATE.md shows the journal.
    func testGroupCommitWhoseCommitAnswerIsLost() throws {
        try groupCommit(cutAfter: true)
    }

    /// The same, the COMMIT never reaching the server.
    func testGroupCommitWhoseCommitIsCutBeforeTheServer() throws {
        try groupCommit(cutAfter: false)
    }

    /// The same, the connection cut at one writer's INSERT (others of its
    /// batch may have been inserted before it in the transaction).
    func testGroupCommitCutAtAnInsertInTheBatch() throws {
        try groupCommit(cutAfter: false, at: "\"text\":\"n7\"")
    }

    private func groupCommit(cutAfter: Bool, at word: String = "COMMIT") throws {
        let (direct, proxied, proxy) = try Review.urls()
        let dir = TempDir()
        let statePath = dir.path + "/STATE.md"
        let manager = try StateManager(configuration: .init(statePath: statePath, actor: "host-a", snapshotInterval: 3), storeURL: proxied)
        try manager.initialize(id: "wf", name: "Group", waves: Review.plan())
        proxy.arm(at: word, after: cutAfter)
        let results = Mutex<[Int: Result<StateManager.WriteOutcome, any Error>]>([:])
        DispatchQueue.concurrentPerform(iterations: 16) { i in
            let r = Result { try manager.write(.noteAdded(text: "n\(i)"), options: .init(idempotencyKey: "k\(i)")) }
            results.withLock { $0[i] = r }
        }
        XCTAssertTrue(proxy.fired)
        let before = try Review.committed(direct)
        var failed = 0
        for (i, r) in results.withLock({ $0 }) {
            let inJournal = before.filter { $0.idempotencyKey == "k\(i)" }
            switch r {
            case .success(let outcome):
                XCTAssertEqual(inJournal.map(\.seq), [outcome.event.seq], "acknowledged k\(i) is in the journal once, at its seq")
            case .failure(let error):
                failed += 1
                let message = (error as? StateJournalError)?.message ?? "\(error)"
                if message.contains("nothing was written") { XCTAssertEqual(inJournal.count, 0, "k\(i): \(message)") }
                else { XCTAssertTrue(message.contains("may or may not"), "k\(i): \(message)") }
                XCTAssertLessThanOrEqual(inJournal.count, 1)
                // The retry, by the same manager.
                let retry = try manager.write(.noteAdded(text: "n\(i)"), options: .init(idempotencyKey: "k\(i)"))
                XCTAssertEqual(retry.wasDuplicate, inJournal.count == 1)
            }
        }
        XCTAssertGreaterThan(failed, 0)
        let events = try Review.committed(direct)
        XCTAssertEqual(events.map(\.seq), Array(1...17), "gap-free")
        for i in 0..<16 { XCTAssertEqual(events.filter { $0.idempotencyKey == "k\(i)" }.count, 1, "k\(i) once") }
        XCTAssertEqual(try manager.projectionStatus(), .intact(seq: 17, event: events.last?.identity))
        XCTAssertEqual(try manager.loadState()?.notes.count, 16)
    }

    /// Two hosts (two managers, two STATE.md), 8 threads each, all retrying
    /// one idempotency key at once, and all writing with the same
    /// --expect-seq: the key is recorded once, and exactly one expect-seq
    /// write succeeds.
    func testOneKeyAndOneExpectSeqFromTwoHostsAtOnce() throws {
        let direct = try TestServer.url(workflow: "review-" + UUID().uuidString.prefix(8).lowercased())
        let a = TempDir(), b = TempDir()
        let hostA = try StateManager(configuration: .init(statePath: a.path + "/STATE.md", actor: "a"), storeURL: direct)
        let hostB = try StateManager(configuration: .init(statePath: b.path + "/STATE.md", actor: "b"), storeURL: direct)
        try hostA.initialize(id: "wf", name: "Race", waves: Review.plan())
        let fresh = Mutex(0), expectWins = Mutex(0), conflicts = Mutex(0), others = Mutex<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 32) { i in
            let host = i % 2 == 0 ? hostA : hostB
            do {
                if i < 16 {
                    let outcome = try host.write(.noteAdded(text: "once"), options: .init(idempotencyKey: "the-key"))
                    if !outcome.wasDuplicate { fresh.withLock { $0 += 1 } }
                } else {
                    _ = try host.write(.noteAdded(text: "expect \(i)"), options: .init(expectSeq: 1))
                    expectWins.withLock { $0 += 1 }
                }
            } catch let error as StateJournalError where error.code == .conflict {
                conflicts.withLock { $0 += 1 }
            } catch {
                others.withLock { $0.append("\(i): \(error)") }
            }
        }
        XCTAssertEqual(others.withLock { $0 }, [])
        let events = try Review.committed(direct)
        XCTAssertEqual(events.filter { $0.idempotencyKey == "the-key" }.count, 1)
        XCTAssertEqual(fresh.withLock { $0 }, 1)
        // The key's write may have come first (then no expect-seq write succeeds) or not.
        let keySeq = try XCTUnwrap(events.first { $0.idempotencyKey == "the-key" }?.seq)
        XCTAssertEqual(expectWins.withLock { $0 }, keySeq == 2 ? 0 : 1)
        XCTAssertEqual(conflicts.withLock { $0 }, 16 - expectWins.withLock { $0 })
        XCTAssertEqual(events.map(\.seq), Array(1...UInt64(events.count)))
        for host in [hostA, hostB] {
            _ = try host.loadState()
            XCTAssertEqual(try host.projectionStatus(), .intact(seq: UInt64(events.count), event: events.last?.identity))
        }
    }

    /// A lock timeout (another session holds the workflow's lock) leaves
    /// the process's session usable: the same manager's next write, once
    /// the lock is free, commits at the next seq, and a read meanwhile
    /// answers from what is committed.
    func testALockTimeoutLeavesTheSessionUsable() throws {
        let direct = try TestServer.url(workflow: "review-" + UUID().uuidString.prefix(8).lowercased())
        let dir = TempDir()
        let manager = try StateManager(configuration: .init(statePath: dir.path + "/STATE.md", actor: "a", lock: LockPolicy(timeout: 0.2)),
                                       storeURL: direct)
        try manager.initialize(id: "wf", name: "Timeout", waves: Review.plan())
        let holder = PostgresJournalStore(address: try PostgresStoreAddress(parsing: direct), logger: manager.logger)
        try holder.withWriteLock(LockPolicy(), command: "review holder") {
            for _ in 0..<3 {
                XCTAssertThrowsError(try manager.write(.noteAdded(text: "blocked"))) { error in
                    XCTAssertEqual((error as? StateJournalError)?.code, .lockTimeout, "\(error)")
                }
                XCTAssertEqual(try manager.loadState()?.seq, 1)
            }
        }
        XCTAssertEqual(try manager.write(.noteAdded(text: "free")).event.seq, 2)
        XCTAssertEqual(try Review.committed(direct).map(\.seq), [1, 2])
        XCTAssertEqual(try manager.loadState()?.notes, ["free"])
    }
}

/// The PostgreSQL store with a hook run inside the writers' transaction,
/// after the writer's body (its fold, checks, append and fold cache) and
/// before the COMMIT.
final class ReviewHook: Sendable {
    let slot = Mutex<(@Sendable () -> Void)?>(nil)
}

final class ReviewHookedStore: PositionedJournalStore, @unchecked Sendable {
    let inner: PostgresJournalStore
    let beforeCommit: ReviewHook
    init(_ inner: PostgresJournalStore, beforeCommit: ReviewHook) { self.inner = inner; self.beforeCommit = beforeCommit }
    var location: String { inner.location }
    var endPosition: JournalPosition? { inner.endPosition }
    func withWriteLock<T>(_ policy: LockPolicy, command: String, _ body: () throws -> T) throws -> T {
        try inner.withWriteLock(policy, command: command) {
            let result = try body()
            if let hook = beforeCommit.slot.withLock({ h in defer { h = nil }; return h }) { hook() }
            return result
        }
    }
    func readEvents(after seq: UInt64, _ body: (Event) throws -> Void) throws -> UInt64 { try inner.readEvents(after: seq, body) }
    func readEvents(after seq: UInt64, upTo limit: UInt64, _ body: (Event) throws -> Void) throws -> UInt64 { try inner.readEvents(after: seq, upTo: limit, body) }
    func readEvents(from position: JournalPosition, _ body: (Event) throws -> Void) throws -> UInt64 { try inner.readEvents(from: position, body) }
    func append(_ events: [Event]) throws -> Bool { try inner.append(events) }
    func latestSnapshot(atOrBefore seq: UInt64) throws -> Snapshot? { try inner.latestSnapshot(atOrBefore: seq) }
    func bounds() throws -> JournalBounds? { try inner.bounds() }
    func lastSeq(atOrBefore time: Timestamp) throws -> UInt64? { try inner.lastSeq(atOrBefore: time) }
    func writeSnapshot(_ snapshot: Snapshot) throws { try inner.writeSnapshot(snapshot) }
    func verify() throws -> [JournalProblem] { try inner.verify() }
}

final class ReviewOpenTransactionTests: XCTestCase {
    /// While a write's transaction is open (its event appended, the
    /// process's fold cache already at it), another thread of the same
    /// process reads: it answers the committed state, and STATE.md is not
    /// rendered from the open transaction; the COMMIT is then lost before
    /// it reaches the server, and nothing ever shows the event.
    func testAReaderOfTheSameProcessNeverSeesAnOpenTransaction() throws {
        let (direct, proxied, proxy) = try Review.urls()
        let address = try PostgresStoreAddress(parsing: proxied)
        let dir = TempDir()
        let statePath = dir.path + "/STATE.md"
        let hook = ReviewHook()
        let config = StateManager.Configuration(statePath: statePath, actor: "a", snapshotInterval: 1)
        var c = config
        c.separateStore = true
        let logger = Logger(label: "review")
        let manager = StateManager(configuration: c, logger: logger) { ReviewHookedStore(PostgresJournalStore(address: address, logger: logger), beforeCommit: hook) }
        try manager.initialize(id: "wf", name: "Open", waves: Review.plan())
        try manager.write(.noteAdded(text: "committed"))
        let seen = Mutex<[String]>([])
        hook.slot.withLock { $0 = {
            // Another thread of the process reads while the transaction is open.
            let done = DispatchSemaphore(value: 0)
            Thread.detachNewThread {
                do {
                    let state = try manager.loadState()
                    let events = try manager.events()
                    let status = try manager.projectionStatus()
                    seen.withLock { $0 = ["state seq \(state?.seq ?? 0) notes \(state?.notes ?? [])", "events \(events.count)", "\(status)"] }
                } catch {
                    seen.withLock { $0 = ["error \(error)"] }
                }
                done.signal()
            }
            done.wait()
            proxy.arm(at: "COMMIT")
        } }
        XCTAssertThrowsError(try manager.write(.noteAdded(text: "open")))
        XCTAssertTrue(proxy.fired)
        let committed = try Review.committed(direct)
        XCTAssertEqual(committed.count, 2)
        XCTAssertEqual(seen.withLock { $0 }, ["state seq 2 notes [\"committed\"]", "events 2", "\(ProjectionStatus.intact(seq: 2, event: committed.last?.identity))"])
        XCTAssertEqual(try manager.projectionStatus(), .intact(seq: 2, event: committed.last?.identity))
        XCTAssertEqual(try manager.loadState()?.notes, ["committed"])
        XCTAssertEqual(try manager.write(.noteAdded(text: "next")).event.seq, 3)
        XCTAssertEqual(try manager.loadState()?.notes, ["committed", "next"])
    }
}
