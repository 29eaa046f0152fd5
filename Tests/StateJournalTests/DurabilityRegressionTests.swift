import Foundation
import Logging
import Testing
@testable import StateJournal
@testable import StateJournalEngine
import StateJournalTesting

/// One test per way an outside review lost or misshowed an acknowledged
/// write (Docs/GUARANTEES.md, "Findings"). Each failed on the code before
/// its fix; the rule they check: a process never acknowledges, answers
/// from, builds on or projects bytes it has not itself seen made durable.
@Suite struct DurabilityRegressionTests {
    static let quiet = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

    static func manager(_ path: String, _ system: any SystemCalls, timeout: Double = 5,
                        segmentSize: Int = 4 << 20, snapshotInterval: UInt64 = 128, logger: Logger = quiet) -> StateManager {
        var journal = FileJournal.Options()
        journal.segmentSize = segmentSize
        return StateManager(configuration: .init(statePath: path, actor: "tester", lock: LockPolicy(timeout: timeout),
                                                 fileSystem: FileSystem(system), journal: journal,
                                                 snapshotInterval: snapshotInterval), logger: logger)
    }

    /// A workspace directory under a simulated disk.
    struct Disk {
        let dir = TemporaryDirectory()
        let root: String
        let disk: SimulatedDisk
        var path: String { root + "/STATE.md" }
        init() {
            root = dir.file("ws")
            try? FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
            disk = SimulatedDisk(root: root, seed: 7)
        }
        /// A machine crash: only what was made durable remains.
        func powerLoss() {
            disk.crash()
            disk.materialize(.dropAll)
        }
    }

    static func keys(_ path: String) throws -> [String: UInt64] {
        var keys: [String: UInt64] = [:]
        for event in try StateManager(configuration: .init(statePath: path, actor: "check"), logger: quiet).events() {
            if let key = event.idempotencyKey { keys[key] = event.seq }
        }
        return keys
    }

    static func note(_ text: String, key: String? = nil) -> (Event.Payload, StateManager.WriteOptions) {
        (.noteAdded(text: text), .init(idempotencyKey: key))
    }

    // MARK: 1

    /// A writer killed between its write and its fsync; its retry (same
    /// idempotency key) is answered "already recorded" — that answer must
    /// not come from bytes only in the page cache.
    @Test func aRetryOfAWriteKilledBeforeItsFsyncIsDurableWhenAcknowledged() throws {
        let ws = Disk()
        try Self.manager(ws.path, ws.disk).write(initPayload())
        let killed = Self.manager(ws.path, SegmentSyncHook(ws.disk) { .die })
        #expect(throws: (any Error).self) { try killed.write(.noteAdded(text: "A"), options: .init(idempotencyKey: "k")) }

        // The killed write's bytes were never confirmed durable: the retry
        // either finds them made durable or cuts them and writes anew —
        // never answers from the page cache alone.
        let retry = try Self.manager(ws.path, ws.disk).write(.noteAdded(text: "A"), options: .init(idempotencyKey: "k"))
        ws.powerLoss()
        let events = try StateManager(configuration: .init(statePath: ws.path, actor: "check"), logger: Self.quiet).events()
        #expect(events.filter { $0.idempotencyKey == "k" }.map(\.seq) == [retry.event.seq])
    }

    // MARK: 2, 7

    /// Two writes share a key in one group-commit batch and the append
    /// fails: neither may be told "success".
    @Test func duplicatesInAFailedBatchFailToo() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("STATE.md")
        let hook = SegmentSyncHook(RealSystemCalls()) { .fail(.noSpace) }
        let watcher = QueueWatcher()
        let manager = Self.manager(path, hook, logger: watcher.logger)
        try Self.manager(path, RealSystemCalls()).write(initPayload())
        let results = try batch(manager, watcher, path: path, writes: [Self.note("x", key: "k"), Self.note("x", key: "k")])
        #expect(hook.hookCount == 2, "one append for the leader's batch, one for the two writes")
        #expect(results.allSatisfy { !$0 }, "a write in a failed batch was told success")
        #expect(try Self.keys(path)["k"] == nil)
    }

    /// A retry (duplicate of an event already durable) batched with a write
    /// whose append fails: the retry succeeds, and only once STATE.md shows
    /// its event.
    @Test func aDuplicateInAFailedBatchReturnsOnlyOnceStateMdShowsIt() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("STATE.md")
        let plain = Self.manager(path, RealSystemCalls())
        try plain.write(initPayload())
        let original = try plain.write(.noteAdded(text: "old"), options: .init(idempotencyKey: "old"))
        // STATE.md still shows the state before it (its writer died before projecting).
        let backup = try #require(readBytes(path + ".backup"))
        writeBytes(path, backup)
        #expect(ProjectionFooter.check(backup) == .valid(seq: original.event.seq - 1))

        let watcher = QueueWatcher()
        let manager = Self.manager(path, SegmentSyncHook(RealSystemCalls()) { .fail(.ioError) }, logger: watcher.logger)
        let results = try batch(manager, watcher, path: path, writes: [Self.note("old", key: "old"), Self.note("new", key: "new")])
        #expect(results == [true, false])
        #expect(ProjectionFooter.check(readBytes(path) ?? []) == .valid(seq: original.event.seq))
    }

    /// Runs `writes` from threads while the writers' lock is held elsewhere,
    /// so that they form one batch — behind a first write that leads (and
    /// takes) a batch of its own; returns which of `writes` succeeded.
    private func batch(_ manager: StateManager, _ watcher: QueueWatcher, path: String,
                       writes: [(Event.Payload, StateManager.WriteOptions)]) throws -> [Bool] {
        let holder = FileLock(path: path + ".lock", fileSystem: FileSystem())
        try holder.acquire(LockPolicy(timeout: 5), command: "test holder")
        let queued = watcher.count
        let leader = startThreads(1) { _ in _ = try? manager.write(.noteAdded(text: "leader")) }
        watcher.wait(for: queued + 1)
        let outcomes = Locked([Bool?](repeating: nil, count: writes.count))
        let join = startThreads(writes.count) { i in
            let ok = (try? manager.write(writes[i].0, options: writes[i].1)) != nil
            outcomes.withLock { $0[i] = ok }
        }
        // Handshake: every request is queued before the lock is released.
        watcher.wait(for: queued + 1 + writes.count)
        holder.release()
        leader()
        join()
        return outcomes.withLock { $0.map { $0 ?? false } }
    }

    // MARK: 3

    /// A reader runs while a writer's fsync is failing: the reader must not
    /// show (nor project into STATE.md) the event that is then cut.
    @Test func aReaderDuringAFailingFsyncNeverShowsTheFailedWrite() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("STATE.md")
        try Self.manager(path, RealSystemCalls()).write(initPayload())
        let inSync = Semaphore(value: 0), release = Semaphore(value: 0), readerWaiting = Semaphore(value: 0)
        let writer = Self.manager(path, SegmentSyncHook(RealSystemCalls()) {
            inSync.signal()
            release.wait()
            return .fail(.ioError)
        })
        let readerCalls = FlockWatcher(RealSystemCalls()) { readerWaiting.signal() }
        let reader = Self.manager(path, readerCalls)

        let writerDone = startThreads(1) { _ in _ = try? writer.write(.noteAdded(text: "never durable")) }
        inSync.wait()  // the writer's bytes are in the file; its fsync has not returned
        let seen = Locked<[String]?>(nil)
        let readerDone = startThreads(1) { _ in seen.withLock { $0 = (try? reader.loadState())?.notes } }
        // The reader waits for the writers' lock (the code before the fix
        // never took it; then this bound lets the test go on and fail below).
        _ = readerWaiting.wait(timeoutSeconds: 10)
        release.signal()
        writerDone()
        readerDone()

        #expect(seen.withLock { $0 } == [])
        #expect(!(readText(path) ?? "").contains("never durable"))
        try Self.manager(path, RealSystemCalls()).write(.noteAdded(text: "next"))
        let text = readText(path) ?? ""
        #expect(text.contains("next") && !text.contains("never durable"))
    }

    // MARK: 4, 9

    /// The journal is put back from an older copy (or lost its tail):
    /// STATE.md, ahead of it, is kept aside and regenerated — also when the
    /// journal has since grown back to the same sequence number with other
    /// events — and `verify` reports a regeneration only when it made one.
    @Test func stateMdAheadOfARestoredJournalIsSetAsideAndRegenerated() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("STATE.md")
        let first = Self.manager(path, RealSystemCalls())
        try first.write(initPayload())
        for i in 1...3 { try first.write(.noteAdded(text: "old \(i)")) }
        let saved = dir.file("saved.journal")
        try FileManager.default.copyItem(atPath: path + ".journal", toPath: saved)
        for i in 4...5 { try first.write(.noteAdded(text: "old \(i)")) }  // seq 6; STATE.md shows it
        try FileManager.default.removeItem(atPath: path + ".journal")
        try FileManager.default.copyItem(atPath: saved, toPath: path + ".journal")  // back to seq 4

        let report = try Self.manager(path, RealSystemCalls()).verify()
        #expect(report.problems.contains { $0.file == path && $0.message.contains("does not hold") })
        #expect(!report.projectionRegenerated)
        // The journal grows back to seq 6 with other events.
        let second = Self.manager(path, RealSystemCalls())
        for i in 1...2 { try second.write(.noteAdded(text: "new \(i)")) }
        let state = try #require(try Self.manager(path, RealSystemCalls()).loadState())
        #expect(state.notes == ["old 1", "old 2", "old 3", "new 1", "new 2"])
        #expect(try MarkdownParser.parse(readText(path) ?? "").notes == state.notes)
        #expect(listDirectory(dir.path).contains { $0.hasPrefix("STATE.md.damaged-") }, "the file ahead was kept")
        let again = try Self.manager(path, RealSystemCalls()).verify(repairingProjection: true)
        #expect(again.projectionMatches && !again.hasCorruption)
    }

    /// `verify` with repair says it regenerated STATE.md only when it did.
    @Test func verifyRegeneratesAStateMdAheadOfTheJournalAndSaysSo() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("STATE.md")
        let m = Self.manager(path, RealSystemCalls())
        try m.write(initPayload())
        let saved = dir.file("saved.journal")
        try FileManager.default.copyItem(atPath: path + ".journal", toPath: saved)
        try m.write(.noteAdded(text: "later"))
        try FileManager.default.removeItem(atPath: path + ".journal")
        try FileManager.default.copyItem(atPath: saved, toPath: path + ".journal")
        let report = try Self.manager(path, RealSystemCalls()).verify(repairingProjection: true)
        #expect(report.projectionRegenerated)
        #expect(!(readText(path) ?? "").contains("later"))
        #expect(ProjectionFooter.check(readBytes(path) ?? []) == .valid(seq: 1))
    }

    /// A snapshot ahead of the journal (segments put back from an older
    /// copy) must not be trusted once the journal catches up with other
    /// events.
    @Test func aSnapshotOfAnotherHistoryIsNeverFoldedIn() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("STATE.md")
        let journal = path + ".journal"
        let m = Self.manager(path, RealSystemCalls())
        try m.write(initPayload())
        for i in 2...6 { try m.write(.noteAdded(text: "old \(i)")) }
        let saved = dir.file("saved")
        try FileManager.default.createDirectory(atPath: saved, withIntermediateDirectories: true)
        for name in listDirectory(journal) where name.hasPrefix("segment-") {
            try FileManager.default.copyItem(atPath: journal + "/" + name, toPath: saved + "/" + name)
        }
        for i in 7...10 { try m.write(.noteAdded(text: "old \(i)")) }
        try m.compact()  // a snapshot at seq 10
        #expect(listDirectory(journal).contains { $0.hasPrefix("snapshot-") })
        for name in listDirectory(journal) where name.hasPrefix("segment-") { try FileManager.default.removeItem(atPath: journal + "/" + name) }
        for name in listDirectory(saved) { try FileManager.default.copyItem(atPath: saved + "/" + name, toPath: journal + "/" + name) }

        for i in 7...11 { try Self.manager(path, RealSystemCalls()).write(.noteAdded(text: "new \(i)")) }
        let replayed = try fullReplay(path)
        let state = try #require(try Self.manager(path, RealSystemCalls()).loadState())
        #expect(state.notes == replayed?.notes)
        #expect(state.notes.suffix(5) == (7...11).map { "new \($0)" })
    }

    // MARK: 5

    /// The lock file is removed while a writer holds it and a second writer
    /// takes a lock on the new file: the first must then write nothing.
    @Test func aWriterWhoseLockFileWasRemovedWritesNothing() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("STATE.md")
        try Self.manager(path, RealSystemCalls()).write(initPayload())
        let first = FileJournal(statePath: path)
        var firstError: (any Error)?
        try first.withWriteLock(LockPolicy(timeout: 5), command: "delayed holder") {
            let last = try first.readEvents(after: 0) { _ in }
            try FileManager.default.removeItem(atPath: path + ".lock")
            let second = try Self.manager(path, RealSystemCalls(), timeout: 1).write(.noteAdded(text: "second"))
            #expect(second.event.seq == last + 1)
            do {
                try first.append([Event(seq: last + 1, time: .now(), actor: "first", pid: 1, payload: .noteAdded(text: "first"))])
            } catch { firstError = error }
        }
        #expect(firstError != nil)
        let notes = try #require(try fullReplay(path)).notes
        #expect(notes == ["second"])
    }

    /// The lock file is replaced while a writer waits for it: the waiter
    /// must not take a lock on the old file (nobody else would respect it).
    @Test func aWaiterDoesNotLockALockFileThatWasReplaced() throws {
        let dir = TemporaryDirectory()
        let lockPath = dir.file("STATE.md.lock")
        let holder = FileLock(path: lockPath, fileSystem: FileSystem())
        try holder.acquire(LockPolicy(timeout: 1), command: "holder")
        let watcher = FlockWatcher(RealSystemCalls())
        let waitingOnOld = Semaphore(value: 0), waitingOnNew = Semaphore(value: 0)
        watcher.onWouldBlock = { [watcher] in (watcher.opens(of: lockPath) >= 2 ? waitingOnNew : waitingOnOld).signal() }
        nonisolated(unsafe) let waiter = FileLock(path: lockPath, fileSystem: FileSystem(watcher))
        let acquired = Locked(false)
        let join = startThreads(1) { _ in
            if (try? waiter.acquire(LockPolicy(timeout: 20), command: "waiter")) != nil { acquired.withLock { $0 = true } }
        }
        waitingOnOld.wait()  // the waiter has the old file open
        try FileManager.default.removeItem(atPath: lockPath)
        let newcomer = FileLock(path: lockPath, fileSystem: FileSystem())
        try newcomer.acquire(LockPolicy(timeout: 1), command: "newcomer")  // locks the new file
        holder.release()  // the old file is free now
        // The waiter opens the new file and waits there (before the fix it
        // locked the old file and got in; this bound then lets the test fail).
        _ = waitingOnNew.wait(timeoutSeconds: 10)
        #expect(!acquired.withLock { $0 }, "two holders at once")
        newcomer.release()
        join()
        #expect(acquired.withLock { $0 })
        waiter.release()
    }

    // MARK: 6

    /// An import killed as it replaced STATE.md, then retried with the same
    /// key: the retry returns only once STATE.md shows the import.
    @Test func aRetriedImportWritesStateMd() throws {
        let dir = TemporaryDirectory()
        let source = dir.file("source.md")
        let path = dir.file("STATE.md")
        let original = Self.manager(source, RealSystemCalls())
        try original.write(initPayload())
        let bytes = try #require(readBytes(source))
        let dying = RenameKiller(RealSystemCalls(), target: path)
        #expect(throws: (any Error).self) {
            try Self.manager(path, dying).importHistory(bytes, source: "source.md", options: .init(idempotencyKey: "imp"))
        }
        #expect(readBytes(path) == nil)
        let retry = try Self.manager(path, RealSystemCalls()).importHistory(bytes, source: "source.md", options: .init(idempotencyKey: "imp"))
        #expect(retry.wasDuplicate)
        #expect(ProjectionFooter.check(readBytes(path) ?? []) == .valid(seq: retry.state.seq))
    }

    // MARK: The watermark

    /// A lock file older than the segment (put back from a copy, or left
    /// from before a crash that kept its bytes but not the lock file's
    /// later ones): bytes beyond its watermark that no announced append
    /// explains are acknowledged events — never cut.
    @Test func aStaleWatermarkNeverCutsAcknowledgedEvents() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("STATE.md")
        let m = Self.manager(path, RealSystemCalls())
        try m.write(initPayload())
        try m.write(.noteAdded(text: "one"))
        let staleLock = try #require(readBytes(path + ".lock"))
        #expect(String(decoding: staleLock, as: UTF8.self).contains("durable="))
        try m.write(.noteAdded(text: "two"))
        try m.write(.noteAdded(text: "three"))
        writeBytes(path + ".lock", staleLock)
        try Self.manager(path, RealSystemCalls()).write(.noteAdded(text: "four"))
        #expect(try fullReplay(path)?.notes == ["one", "two", "three", "four"])
        #expect(try Self.manager(path, RealSystemCalls()).loadState()?.notes == ["one", "two", "three", "four"])
    }

    /// A writer killed between announcing its append and confirming it:
    /// the next holder cuts exactly its bytes, and readers never saw them.
    @Test func bytesOfAnAnnouncedAppendThatWasNeverConfirmedAreCut() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("STATE.md")
        try Self.manager(path, RealSystemCalls()).write(initPayload())
        let killed = Self.manager(path, SegmentSyncHook(RealSystemCalls()) { .die })
        #expect(throws: (any Error).self) { try killed.write(.noteAdded(text: "never confirmed")) }
        #expect(String(decoding: readBytes(path + ".lock") ?? [], as: UTF8.self).contains("pending="))
        #expect(try Self.manager(path, RealSystemCalls()).loadState()?.notes == [])
        try Self.manager(path, RealSystemCalls()).write(.noteAdded(text: "next"))
        #expect(try fullReplay(path)?.notes == ["next"])
    }

    /// A seek position (from a snapshot, or a process's memory) that does
    /// not point at the record it names — here, into the middle of the last
    /// record — is not used: a scan from there would take the rest of that
    /// record for a torn tail and, under the lock, cut an acknowledged event.
    @Test func aSeekPositionThatMissesItsRecordIsNotUsed() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("STATE.md")
        let m = Self.manager(path, RealSystemCalls())
        try m.write(initPayload())
        for i in 1...3 { try m.write(.noteAdded(text: "note \(i) with some length to it")) }
        let segment = path + ".journal/" + FileJournal.segmentName(firstSeq: 1)
        let size = try #require(readBytes(segment)).count
        let journal = FileJournal(statePath: path, logger: Self.quiet)
        // "Event 3 starts 20 bytes before the end": it does not.
        journal.snapshotPositions[2] = SnapshotFormat.Position(segmentFirstSeq: 1, offset: UInt64(size - 20), identity: 0x1234_5678)
        try journal.withWriteLock(LockPolicy(timeout: 5), command: "test") {
            _ = try journal.readEvents(after: 2) { _ in }
        }
        #expect(try fullReplay(path)?.notes == (1...3).map { "note \($0) with some length to it" })
    }

    // MARK: 8

    /// A killed writer's bytes; another process's fsync gets the writeback
    /// error (and the kernel reports it only once); a third appends and its
    /// fsync succeeds. After a power loss the third's acknowledged event must
    /// be there and the journal must open.
    @Test func anFsyncErrorConsumedByOneWriterNeverStrandsAnotherWritersEvent() throws {
        let ws = Disk()
        try Self.manager(ws.path, ws.disk).write(initPayload())
        let killed = Self.manager(ws.path, SegmentSyncHook(ws.disk) { .die })
        _ = try? killed.write(.noteAdded(text: "A"), options: .init(idempotencyKey: "a"))
        ws.disk.failNextFileSync()
        var acknowledged: [String: UInt64] = [:]
        for key in ["b", "c"] {
            if let outcome = try? Self.manager(ws.path, ws.disk).write(.noteAdded(text: key), options: .init(idempotencyKey: key)) {
                acknowledged[key] = outcome.event.seq
            }
        }
        #expect(acknowledged["c"] != nil)
        ws.powerLoss()
        let keys = try Self.keys(ws.path)
        for (key, seq) in acknowledged { #expect(keys[key] == seq, "acknowledged \(key) at seq \(seq)") }
        #expect(try !Self.manager(ws.path, RealSystemCalls()).verify().hasCorruption)
    }
}

/// Calls `onWouldBlock` each time an `flock` is refused because another
/// holds the lock: a handshake for tests of waiting writers.
final class FlockWatcher: ForwardingSystemCalls, @unchecked Sendable {
    let base: any SystemCalls
    private let lock = NSLock()
    private var callback: (@Sendable () -> Void)?
    private var openCounts: [String: Int] = [:]
    func opens(of path: String) -> Int { lock.lock(); defer { lock.unlock() }; return openCounts[path] ?? 0 }
    var onWouldBlock: (@Sendable () -> Void)? {
        get { lock.lock(); defer { lock.unlock() }; return callback }
        set { lock.lock(); callback = newValue; lock.unlock() }
    }
    init(_ base: any SystemCalls, onWouldBlock: (@Sendable () -> Void)? = nil) {
        self.callback = onWouldBlock
        self.base = base
    }
    func flock(_ fd: Int32, operation: Int32) -> Result<Void, Errno> {
        let result = base.flock(fd, operation: operation)
        if case .failure(.wouldBlock) = result { onWouldBlock?() }
        return result
    }
    func open(_ path: String, flags: Int32, mode: UInt32) -> Result<Int32, Errno> {
        lock.lock(); openCounts[path, default: 0] += 1; lock.unlock()
        return base.open(path, flags: flags, mode: mode)
    }
}

/// Dies (every later call fails) at the rename that would put `target` in place.
final class RenameKiller: SystemCalls, @unchecked Sendable {
    let base: any SystemCalls
    let target: String
    private let lock = NSLock()
    private var dead = false
    init(_ base: any SystemCalls, target: String) { self.base = base; self.target = target }
    private func gated<T>(_ body: () -> Result<T, Errno>) -> Result<T, Errno> {
        lock.lock(); let d = dead; lock.unlock()
        return d ? .failure(.ioError) : body()
    }
    func rename(_ from: String, _ to: String) -> Result<Void, Errno> {
        if to == target { lock.lock(); dead = true; lock.unlock(); return .failure(.ioError) }
        return gated { base.rename(from, to) }
    }
    func flock(_ fd: Int32, operation: Int32) -> Result<Void, Errno> { base.flock(fd, operation: operation) }
    func close(_ fd: Int32) -> Result<Void, Errno> { base.close(fd) }
    func open(_ path: String, flags: Int32, mode: UInt32) -> Result<Int32, Errno> { gated { base.open(path, flags: flags, mode: mode) } }
    func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) -> Result<Int, Errno> { gated { base.read(fd, into: buffer) } }
    func pread(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, offset: Int64) -> Result<Int, Errno> { gated { base.pread(fd, into: buffer, offset: offset) } }
    func write(_ fd: Int32, from buffer: UnsafeRawBufferPointer) -> Result<Int, Errno> { gated { base.write(fd, from: buffer) } }
    func pwrite(_ fd: Int32, from buffer: UnsafeRawBufferPointer, offset: Int64) -> Result<Int, Errno> { gated { base.pwrite(fd, from: buffer, offset: offset) } }
    func fsync(_ fd: Int32) -> Result<Void, Errno> { gated { base.fsync(fd) } }
    func fdatasync(_ fd: Int32) -> Result<Void, Errno> { gated { base.fdatasync(fd) } }
    func ftruncate(_ fd: Int32, length: Int64) -> Result<Void, Errno> { gated { base.ftruncate(fd, length: length) } }
    func fstat(_ fd: Int32) -> Result<FileStatus, Errno> { gated { base.fstat(fd) } }
    func lstat(_ path: String) -> Result<FileStatus, Errno> { gated { base.lstat(path) } }
    func link(_ from: String, _ to: String) -> Result<Void, Errno> { gated { base.link(from, to) } }
    /// An exchange that puts a file at `target` is the rename this dies at.
    func exchange(_ a: String, _ b: String) -> Result<Void, Errno> {
        if a == target || b == target { lock.lock(); dead = true; lock.unlock(); return .failure(.ioError) }
        return gated { base.exchange(a, b) }
    }
    func unlink(_ path: String) -> Result<Void, Errno> { gated { base.unlink(path) } }
    func mkdir(_ path: String, mode: UInt32) -> Result<Void, Errno> { gated { base.mkdir(path, mode: mode) } }
    func listDirectory(_ path: String) -> Result<[String], Errno> { gated { base.listDirectory(path) } }
    func availableSpace(_ path: String) -> Result<Int64, Errno> { gated { base.availableSpace(path) } }
}
