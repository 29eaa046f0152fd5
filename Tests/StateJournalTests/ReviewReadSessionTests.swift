import Foundation
import Logging
import Testing
@testable import StateJournal
@testable import StateJournalEngine
import StateJournalTesting

/// Outside review of "one read session per operation" (f9bc503..2dbdc9b):
/// each test shows a read that hands over an event that is not durable, or
/// not in the journal, or a write that loses an acknowledged event.
@Suite struct ReviewReadSessionTests {
    static let quiet = Logger(label: "review", factory: { _ in SwiftLogNoOpLogHandler() })

    static func manager(_ path: String, _ system: any SystemCalls = RealSystemCalls(), segmentSize: Int = 4 << 20,
                        snapshotInterval: UInt64 = 1000) -> StateManager {
        var journal = FileJournal.Options()
        journal.segmentSize = segmentSize
        return StateManager(configuration: .init(statePath: path, actor: "tester", lock: LockPolicy(timeout: 5),
                                                 fileSystem: FileSystem(system), journal: journal,
                                                 snapshotInterval: snapshotInterval), logger: quiet)
    }

    /// Runs `action` once, inside the first `open` of a path that ends with
    /// `suffix` (on the caller's thread, before the open happens): what
    /// another process does at that moment.
    final class BeforeOpen: ForwardingSystemCalls, @unchecked Sendable {
        let base: any SystemCalls = RealSystemCalls()
        private let lock = NSLock()
        private var pending: (suffix: String, action: () -> Void)?
        private var didFire = false
        var fired: Bool { lock.lock(); defer { lock.unlock() }; return didFire }
        func arm(_ suffix: String, _ action: @escaping () -> Void) { lock.lock(); pending = (suffix, action); lock.unlock() }
        func open(_ path: String, flags: Int32, mode: UInt32) -> Result<Int32, Errno> {
            lock.lock()
            var run: (() -> Void)?
            if let p = pending, path.hasSuffix(p.suffix) { run = p.action; pending = nil; didFire = true }
            lock.unlock()
            run?()
            return base.open(path, flags: flags, mode: mode)
        }
    }

    /// A journal of several sealed segments whose active segment holds a few
    /// kilobytes: the committed boundary lies far into it.
    static func makeLongJournal(_ path: String) throws {
        let small = manager(path, segmentSize: 1024)
        try small.write(initPayload())
        for i in 2...20 { try small.write(.noteAdded(text: "old \(i)")) }
        let big = manager(path)
        for i in 21...60 { try big.write(.noteAdded(text: "old \(i) " + String(repeating: "x", count: 60))) }
    }

    /// A lock-free reader lists the journal with its committed boundary —
    /// segment S, offset E — and keeps both for the whole operation. The
    /// journal is then replaced (deleted and started anew, or put back from
    /// an older copy) and a writer of the new journal has written its next
    /// event but not yet made it durable. The reader's next open of a
    /// listed segment fails (ENOENT), it lists again *without* the lock
    /// and reads the last listed segment — the new journal's, not S — up
    /// to E, the old journal's boundary: far past the new journal's
    /// watermark. It hands over the writer's event; that write's fsync then
    /// fails, the event is cut, and the reader answered with an event that
    /// was never durable and is not in the journal.
    @Test func aReaderWhoseJournalIsReplacedReadsPastTheNewJournalsWatermark() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("STATE.md")
        try Self.makeLongJournal(path)
        #expect(listDirectory(path + ".journal").contains("segment-00000000000000000001.log.zst"))

        let inSync = Semaphore(value: 0), release = Semaphore(value: 0)
        let writerDone = Locked<(() -> Void)?>(nil)
        let calls = BeforeOpen()
        // `export`: heals STATE.md from a fold (the newest snapshot and the
        // active segment), then reads every event with the same session.
        calls.arm("segment-00000000000000000001.log.zst") {
            // Another user starts the workflow over: a new journal.
            try? FileManager.default.removeItem(atPath: path + ".journal")
            let fresh = Self.manager(path)
            _ = try? fresh.write(initPayload())
            _ = try? fresh.write(.noteAdded(text: "new 2"))
            // Its next write is in the file; its fdatasync has not returned.
            let writer = Self.manager(path, SegmentSyncHook(RealSystemCalls()) {
                inSync.signal()
                release.wait()
                return .fail(.ioError)
            })
            writerDone.withLock { $0 = startThreads(1) { _ in _ = try? writer.write(.noteAdded(text: "never durable")) } }
            inSync.wait()
        }
        let reader = Self.manager(path, calls)
        let seen = Result { try reader.events() }
        #expect(calls.fired)
        release.signal()
        writerDone.withLock { $0 }?()

        let journal = try FileJournal(statePath: path, logger: Self.quiet).allEvents()
        #expect(!journal.contains { $0.payload == .noteAdded(text: "never durable") }, "the failed write was cut")
        if case .success(let events) = seen {
            let shown = events.filter { $0.payload == .noteAdded(text: "never durable") }.map(\.seq)
            #expect(shown.isEmpty, "export handed over seq \(shown), a write whose fsync failed and which the journal does not hold")
        }
    }

    /// The committed boundary's descriptor — "kept for the session's reads
    /// of this segment: its bytes up to the boundary never change" — is the
    /// first one a session keeps, so it is the first one evicted once the
    /// session has opened 16 more segments (a full read — `export`, `log`,
    /// `blame`, `replay` — of a journal with 16 sealed segments or more).
    /// The active segment is then opened again *by path*, without the lock,
    /// and read up to the boundary. If the journal was put back from an
    /// older copy meanwhile (same names, shorter active segment), that is
    /// another file, whose bytes up to the old boundary include a write in
    /// progress there: handed over, then cut when its fsync fails.
    @Test func anEvictedBoundaryDescriptorIsReopenedByPathAndReadPastTheWatermark() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("STATE.md")
        let small = Self.manager(path, segmentSize: 700)
        try small.write(initPayload())
        var seq: UInt64 = 1
        while listDirectory(path + ".journal").filter({ $0.hasSuffix(".log.zst") }).count < 18 {
            seq = try small.write(.noteAdded(text: "old \(seq + 1)")).event.seq
        }
        let big = Self.manager(path)
        for _ in 1...3 { seq = try big.write(.noteAdded(text: "old \(seq + 1)")).event.seq }
        let saved = dir.file("saved.journal")
        try FileManager.default.copyItem(atPath: path + ".journal", toPath: saved)  // a backup
        for _ in 1...40 { seq = try big.write(.noteAdded(text: "old \(seq + 1) " + String(repeating: "x", count: 60))).event.seq }
        let sealed = listDirectory(path + ".journal").filter { $0.hasSuffix(".log.zst") }

        let inSync = Semaphore(value: 0), release = Semaphore(value: 0)
        let writerDone = Locked<(() -> Void)?>(nil)
        let calls = BeforeOpen()
        // When the session opens its last sealed segment, the boundary's
        // descriptor is long evicted. Someone puts the backup back, and a
        // writer of it has written its next event without making it durable.
        calls.arm(sealed.last!) {
            try? FileManager.default.removeItem(atPath: path + ".journal")
            try? FileManager.default.copyItem(atPath: saved, toPath: path + ".journal")
            let writer = Self.manager(path, SegmentSyncHook(RealSystemCalls()) {
                inSync.signal()
                release.wait()
                return .fail(.ioError)
            })
            writerDone.withLock { $0 = startThreads(1) { _ in _ = try? writer.write(.noteAdded(text: "never durable")) } }
            inSync.wait()
        }
        let reader = Self.manager(path, calls)
        let seen = Result { try reader.events() }
        #expect(calls.fired)
        release.signal()
        writerDone.withLock { $0 }?()

        let journal = try FileJournal(statePath: path, logger: Self.quiet).allEvents()
        #expect(!journal.contains { $0.payload == .noteAdded(text: "never durable") }, "the failed write was cut")
        if case .success(let events) = seen {
            let shown = events.filter { $0.payload == .noteAdded(text: "never durable") }.map(\.seq)
            #expect(shown.isEmpty, "export handed over seq \(shown), a write whose fsync failed and which the journal does not hold")
        }
    }
}

/// A process "killed" right after it renamed a new segment into place,
/// before its directory fsync: every later call fails (EIO) and changes
/// nothing, except `close` and unlocking, which the kernel does for a dead
/// process.
final class KilledAfterSegmentRename: ForwardingSystemCalls, @unchecked Sendable {
    let base: any SystemCalls
    private let lock = NSLock()
    private var dead = false
    var isDead: Bool { lock.lock(); defer { lock.unlock() }; return dead }
    init(_ base: any SystemCalls) { self.base = base }
    private func gated<T>(_ body: () -> Result<T, Errno>) -> Result<T, Errno> { isDead ? .failure(.ioError) : body() }
    func rename(_ from: String, _ to: String) -> Result<Void, Errno> {
        let result = gated { base.rename(from, to) }
        if case .success = result, to.contains("/segment-"), to.hasSuffix(".log") { lock.lock(); dead = true; lock.unlock() }
        return result
    }
    func open(_ path: String, flags: Int32, mode: UInt32) -> Result<Int32, Errno> { gated { base.open(path, flags: flags, mode: mode) } }
    func pread(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, offset: Int64) -> Result<Int, Errno> { gated { base.pread(fd, into: buffer, offset: offset) } }
    func pwrite(_ fd: Int32, from buffer: UnsafeRawBufferPointer, offset: Int64) -> Result<Int, Errno> { gated { base.pwrite(fd, from: buffer, offset: offset) } }
    func write(_ fd: Int32, from buffer: UnsafeRawBufferPointer) -> Result<Int, Errno> { gated { base.write(fd, from: buffer) } }
    func fsync(_ fd: Int32) -> Result<Void, Errno> { gated { base.fsync(fd) } }
    func fdatasync(_ fd: Int32) -> Result<Void, Errno> { gated { base.fdatasync(fd) } }
    func ftruncate(_ fd: Int32, length: Int64) -> Result<Void, Errno> { gated { base.ftruncate(fd, length: length) } }
    func unlink(_ path: String) -> Result<Void, Errno> { gated { base.unlink(path) } }
    func link(_ from: String, _ to: String) -> Result<Void, Errno> { gated { base.link(from, to) } }
    func mkdir(_ path: String, mode: UInt32) -> Result<Void, Errno> { gated { base.mkdir(path, mode: mode) } }
    func flock(_ fd: Int32, operation: Int32) -> Result<Void, Errno> {
        if isDead && operation & LOCK_UN == 0 { return .failure(.ioError) }
        return base.flock(fd, operation: operation)
    }
}

extension ReviewReadSessionTests {
    /// `FileJournal.durableSegments` (process-wide) remembers by *path*
    /// the segments whose directory entry this process saw made durable, so
    /// that `append` fsyncs the journal directory once before the first
    /// write into a segment it did not create. A long-lived process that
    /// wrote to `segment-…1.log` keeps that path for good. The journal is
    /// then moved away (the workflow archived, or deleted) and another
    /// process starting a new one is killed after renaming its new
    /// `segment-…1.log` into place and before the directory fsync. The
    /// long-lived process starts the workflow itself: it appends to that
    /// file — same path, another file, whose directory entry nobody made
    /// durable — without the directory fsync, and acknowledges. A power
    /// loss takes the segment, and the acknowledged event, away.
    @Test func aSegmentRecreatedAtAPathThisProcessOnceMadeDurableTakesAnAcknowledgedWriteWithoutADirectoryFsync() throws {
        let dir = TemporaryDirectory()
        let root = dir.file("ws")
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let disk = SimulatedDisk(root: root, seed: 11)
        let path = root + "/STATE.md"
        let longLived = Self.manager(path, disk)
        try longLived.write(initPayload())
        try longLived.write(.noteAdded(text: "old workflow"))

        // The old workflow is archived: its journal moved aside.
        guard case .success = disk.rename(path + ".journal", root + "/old.journal") else { Issue.record("mv failed"); return }
        // Another process starts a new one and is killed before its
        // segment's directory entry is durable (its directory creation is).
        let killed = KilledAfterSegmentRename(disk)
        #expect(throws: (any Error).self) { try Self.manager(path, killed).write(initPayload(tasks: 1, waves: 1)) }
        #expect(killed.isDead)

        // The long-lived process starts the new workflow itself.
        let acknowledged = try longLived.write(initPayload(tasks: 2, waves: 1), options: .init(idempotencyKey: "new"))
        disk.crash()
        disk.materialize(.dropAll)

        var keys: [String: UInt64] = [:]
        let read = Result { try FileJournal(statePath: path, logger: Self.quiet).allEvents() }
        if case .success(let events) = read { for event in events { if let key = event.idempotencyKey { keys[key] = event.seq } } }
        #expect(keys["new"] == acknowledged.event.seq, "the acknowledged write (seq \(acknowledged.event.seq)) is lost: \(read)")
    }
}

extension FileJournal {
    /// Every event, read under the writers' lock.
    func allEvents() throws -> [Event] {
        var events: [Event] = []
        try withWriteLock(LockPolicy(timeout: 5), command: "review") { _ = try readEvents(after: 0) { events.append($0) } }
        return events
    }
}
