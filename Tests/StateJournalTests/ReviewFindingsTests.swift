import Foundation
import Logging
import Testing
@testable import StateJournal
@testable import StateJournalEngine
import StateJournalTesting

/// Outside review of the durability commit (issue 10): each test fails on
/// branch `review` (= main at "Regression tests for the review's findings").
/// The rule they check: a process never acknowledges, answers from, builds
/// on or projects bytes it has not itself seen made durable, and STATE.md
/// only ever shows events the journal holds.
@Suite struct ReviewFindingsTests {
    static let quiet = Logger(label: "review", factory: { _ in SwiftLogNoOpLogHandler() })

    static func manager(_ path: String, _ system: any SystemCalls, timeout: Double = 5) -> StateManager {
        StateManager(configuration: .init(statePath: path, actor: "reviewer", lock: LockPolicy(timeout: timeout),
                                          fileSystem: FileSystem(system)), logger: quiet)
    }

    static func notes(_ state: WorkflowState?) -> [String] { state?.notes ?? [] }

    // MARK: R1 — the fold cache is trusted by sequence number (and inode) alone

    /// A long-lived process (a library user) keeps its fold cache across
    /// operations: the journal position after its last write (segment,
    /// offset, inode). The journal is put back from an older copy *in place*
    /// (`cp saved/segment-….log STATE.md.journal/`: same file, same inode)
    /// and other processes append acknowledged events. The long-lived
    /// process's next write takes the fast path of `readEvents(from:)` —
    /// same name, same inode, size ≥ offset — and scans from its old offset,
    /// which now lies inside another process's acknowledged record; it takes
    /// the rest as a torn tail and CUTS it (ftruncate under the lock), then
    /// appends over it. Acknowledged, durable events of other processes are
    /// destroyed, and the journal is left corrupt (verify: "damaged and
    /// valid records follow", exit 5), on no fault at all.
    @Test func aFoldCacheFastPathCutsOtherWritersAcknowledgedEventsAfterAnInPlaceRestore() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("STATE.md")
        let segment = path + ".journal/" + FileJournal.segmentName(firstSeq: 1)
        let longLived = Self.manager(path, RealSystemCalls())
        try longLived.write(initPayload())
        try longLived.write(.noteAdded(text: "kept"))
        let saved = try #require(readBytes(segment))
        try longLived.write(.noteAdded(text: "DROPPED-BY-RESTORE"))  // seq 3; cached by longLived

        // Put back in place: same inode, older content (seq 2).
        let handle = try #require(FileHandle(forWritingAtPath: segment))
        try handle.truncate(atOffset: 0)
        handle.write(Data(saved))
        try handle.synchronize()
        try handle.close()

        // Other processes append acknowledged events.
        let other = Self.manager(path, RealSystemCalls())
        // (The long-lived process's old offset now lies inside the last of them.)
        try other.write(.noteAdded(text: "new 3"))
        try other.write(.noteAdded(text: "new 4"))
        #expect(Self.notes(try fullReplay(path)) == ["kept", "new 3", "new 4"])

        _ = try? longLived.write(.noteAdded(text: "after"))

        let read = Result { try fullReplay(path) }
        if case .failure(let error) = read { Issue.record("the journal no longer opens: \(error)") }
        let notes = Self.notes(try? read.get())
        #expect(notes.starts(with: ["kept", "new 3", "new 4"]), "acknowledged events were cut: \(notes)")
        #expect(try !Self.manager(path, RealSystemCalls()).verify().hasCorruption)
    }

    /// Same cache, journal put back as new files (new inodes), then grown
    /// past the cached seq by others. The cache is checked by sequence
    /// number only (the lock-free path does not even compare the inode), so
    /// the long-lived process answers `loadState()` with an event the
    /// journal does not hold, builds its next write on it, and projects it
    /// into STATE.md with a footer naming the journal's real last event (by
    /// seq and identity) — so every other process takes it as current.
    @Test func aFoldCacheIsNotCheckedAgainstAJournalPutBackFromAnOlderCopy() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("STATE.md")
        let longLived = Self.manager(path, RealSystemCalls())
        try longLived.write(initPayload())
        try longLived.write(.noteAdded(text: "kept"))
        let saved = dir.file("saved.journal")
        try FileManager.default.copyItem(atPath: path + ".journal", toPath: saved)
        try longLived.write(.noteAdded(text: "DROPPED-BY-RESTORE"))  // seq 3; cached by longLived
        // Copied while the old files still exist: the restored files have other inodes.
        let restored = dir.file("restored.journal")
        try FileManager.default.copyItem(atPath: saved, toPath: restored)
        try FileManager.default.removeItem(atPath: path + ".journal")
        try FileManager.default.moveItem(atPath: restored, toPath: path + ".journal")  // back to seq 2

        // Other processes grow the journal past the cached seq.
        let other = Self.manager(path, RealSystemCalls())
        try other.write(.noteAdded(text: "new 3"))
        try other.write(.noteAdded(text: "new 4"))
        #expect(Self.notes(try fullReplay(path)) == ["kept", "new 3", "new 4"])

        // A read by the long-lived process.
        #expect(Self.notes(try longLived.loadState()) == ["kept", "new 3", "new 4"],
                "loadState answered from a cached event the journal does not hold")
        // Its next write, and the STATE.md it projects.
        try longLived.write(.noteAdded(text: "after"))
        let truth = Self.notes(try fullReplay(path))
        #expect(truth == ["kept", "new 3", "new 4", "after"])
        let shown = try MarkdownParser.parse(readText(path) ?? "").notes
        #expect(shown == truth, "STATE.md shows \(shown), the journal holds \(truth)")
        #expect(!(readText(path) ?? "").contains("DROPPED-BY-RESTORE"))
        #expect(try Self.manager(path, RealSystemCalls()).verify().projectionMatches)
    }

    // MARK: R2 — a committed boundary taken over a torn tail

    /// A writer killed in the middle of a large write leaves a torn tail. A
    /// lock-free reader takes its committed boundary (the segment's size,
    /// torn bytes included) and releases the writers' lock; a writer then
    /// cuts the torn tail and writes a new, smaller record *inside* the
    /// reader's boundary. Before that write is durable (its fsync then
    /// fails and it is cut), the reader scans the segment and hands the
    /// event over: it answers from bytes never made durable, of a write
    /// that was reported failed.
    @Test func aReaderBoundaryOverATornTailLetsAnUndurableEventThrough() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("STATE.md")
        try Self.manager(path, RealSystemCalls()).write(initPayload())
        // The torn tail: the first 3000 bytes of an 8000-byte record.
        let big = Event(seq: 2, time: .now(), actor: "killed", pid: 1, payload: .noteAdded(text: String(repeating: "x", count: 8000)))
        var record: [UInt8] = []
        RecordFormat.appendRecord(big.json().encoded(), to: &record)
        let segment = path + ".journal/" + FileJournal.segmentName(firstSeq: 1)
        let handle = try #require(FileHandle(forWritingAtPath: segment))
        handle.seekToEndOfFile()
        handle.write(Data(record[0..<3000]))
        try handle.close()

        // A lock-free reader (e.g. `statejournal log`, `show`, a projector)
        // has taken its boundary, and not yet read the last segment.
        let reader = UncheckedBox(FileJournal(statePath: path, logger: Self.quiet))
        _ = try reader.value.committedBoundary()

        let seen = Locked<[String]>([])
        let writer = Self.manager(path, SegmentSyncHook(RealSystemCalls()) {
            // The writer's bytes are in the file, its fsync not done: the reader reads now.
            _ = try? reader.value.readEvents(after: 0) { event in
                if case .noteAdded(let text) = event.payload { seen.withLock { $0.append(text) } }
            }
            return .fail(.ioError)
        })
        #expect(throws: (any Error).self) { try writer.write(.noteAdded(text: "NEVER-DURABLE")) }
        #expect(!seen.withLock { $0 }.contains("NEVER-DURABLE"), "a lock-free reader handed over an event whose write failed and was cut")
        #expect(Self.notes(try fullReplay(path)) == [])
    }

    // MARK: R3 — a writer killed right after its own fsync failed

    /// The append's own fdatasync fails (a lost writeback: the dirty pages
    /// are marked clean, the error reported once, to that call) and the
    /// writer is killed before it cuts its bytes. The bytes stay in the page
    /// cache; the next writer's makeDurable() fsync succeeds (the error was
    /// consumed), so it takes the dead writer's event as durable, appends its
    /// own behind it and acknowledges it. After a power loss the dead
    /// writer's bytes are not on disk: the acknowledged event sits behind a
    /// hole — the journal reports corruption and the acknowledged write is
    /// not readable. (Only makeDurable rewrites after a failed fsync; the
    /// append's own failed fsync relies on ftruncate, which a kill — or a
    /// failing ftruncate — skips.)
    @Test func aWriterKilledAfterItsFailedFsyncLeavesBytesTheNextWriterBuildsOn() throws {
        let dir = TemporaryDirectory()
        let root = dir.file("ws")
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let disk = SimulatedDisk(root: root, seed: 7)
        let path = root + "/STATE.md"
        try Self.manager(path, disk).write(initPayload())

        // The append's own sync fails as a lost writeback; the process dies right there.
        let dying = DiesAfterAFailedSync(disk)
        let killed = Self.manager(path, SegmentSyncHook(dying) {
            disk.failNextFileSync()
            return .proceed
        })
        // A note spanning several pages, as a large update or plan would.
        #expect(throws: (any Error).self) { try killed.write(.noteAdded(text: String(repeating: "A", count: 20_000))) }
        #expect(dying.isDead)

        let acknowledged = try Self.manager(path, disk).write(.noteAdded(text: "B"), options: .init(idempotencyKey: "b"))
        disk.crash()
        disk.materialize(.dropAll)

        var keys: [String: UInt64] = [:]
        let read = Result { try FileJournal(statePath: path, logger: Self.quiet).readEvents(after: 0) { event in
            if let key = event.idempotencyKey { keys[key] = event.seq }
        } }
        if case .failure(let error) = read { Issue.record("after the power loss the journal does not open: \(error)") }
        #expect(keys["b"] == acknowledged.event.seq, "the acknowledged write (seq \(acknowledged.event.seq)) is lost")
    }
}

/// Forwards to `base` until a file sync fails; from then on the process is
/// dead: every call fails with EIO and changes nothing, except `close` and
/// unlocking, which the kernel does for a dead process.
final class DiesAfterAFailedSync: SystemCalls, @unchecked Sendable {
    let base: any SystemCalls
    private let lock = NSLock()
    private var dead = false
    var isDead: Bool { lock.lock(); defer { lock.unlock() }; return dead }

    init(_ base: any SystemCalls) { self.base = base }

    private func gated<T>(_ body: () -> Result<T, Errno>) -> Result<T, Errno> { isDead ? .failure(.ioError) : body() }
    private func sync(_ result: Result<Void, Errno>) -> Result<Void, Errno> {
        if case .failure = result { lock.lock(); dead = true; lock.unlock() }
        return result
    }

    func fsync(_ fd: Int32) -> Result<Void, Errno> { isDead ? .failure(.ioError) : sync(base.fsync(fd)) }
    func fdatasync(_ fd: Int32) -> Result<Void, Errno> { isDead ? .failure(.ioError) : sync(base.fdatasync(fd)) }
    func close(_ fd: Int32) -> Result<Void, Errno> { base.close(fd) }
    func flock(_ fd: Int32, operation: Int32) -> Result<Void, Errno> {
        if operation & LOCK_UN != 0 { return base.flock(fd, operation: operation) }
        return gated { base.flock(fd, operation: operation) }
    }
    func open(_ path: String, flags: Int32, mode: UInt32) -> Result<Int32, Errno> { gated { base.open(path, flags: flags, mode: mode) } }
    func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) -> Result<Int, Errno> { gated { base.read(fd, into: buffer) } }
    func pread(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, offset: Int64) -> Result<Int, Errno> {
        gated { base.pread(fd, into: buffer, offset: offset) }
    }
    func write(_ fd: Int32, from buffer: UnsafeRawBufferPointer) -> Result<Int, Errno> { gated { base.write(fd, from: buffer) } }
    func pwrite(_ fd: Int32, from buffer: UnsafeRawBufferPointer, offset: Int64) -> Result<Int, Errno> {
        gated { base.pwrite(fd, from: buffer, offset: offset) }
    }
    func ftruncate(_ fd: Int32, length: Int64) -> Result<Void, Errno> { gated { base.ftruncate(fd, length: length) } }
    func fstat(_ fd: Int32) -> Result<FileStatus, Errno> { gated { base.fstat(fd) } }
    func lstat(_ path: String) -> Result<FileStatus, Errno> { gated { base.lstat(path) } }
    func rename(_ from: String, _ to: String) -> Result<Void, Errno> { gated { base.rename(from, to) } }
    func link(_ from: String, _ to: String) -> Result<Void, Errno> { gated { base.link(from, to) } }
    func exchange(_ a: String, _ b: String) -> Result<Void, Errno> { gated { base.exchange(a, b) } }
    func unlink(_ path: String) -> Result<Void, Errno> { gated { base.unlink(path) } }
    func mkdir(_ path: String, mode: UInt32) -> Result<Void, Errno> { gated { base.mkdir(path, mode: mode) } }
    func listDirectory(_ path: String) -> Result<[String], Errno> { gated { base.listDirectory(path) } }
    func availableSpace(_ path: String) -> Result<Int64, Errno> { gated { base.availableSpace(path) } }
}

final class UncheckedBox<T>: @unchecked Sendable {
    let value: T
    init(_ value: T) { self.value = value }
}

// MARK: R4 — a snapshot's position is trusted before its identity is checked

@Suite struct ReviewSnapshotFindings {
    static let quiet = Logger(label: "review", factory: { _ in SwiftLogNoOpLogHandler() })

    static func manager(_ path: String, snapshotInterval: UInt64 = 128) -> StateManager {
        StateManager(configuration: .init(statePath: path, actor: "reviewer", lock: LockPolicy(timeout: 5),
                                          snapshotInterval: snapshotInterval), logger: quiet)
    }

    static let smallInit = Event.Payload.workflowInitialized(id: "wf", name: "Small", waves: [[.init(id: "t1", description: "one")]], metadata: [])

    /// Builds: a journal whose segment was put back from an older copy
    /// (seq 2) while the snapshots of the newer history stayed in the
    /// directory (`cp saved/* STATE.md.journal/`), then grown back by other
    /// writers with events of other sizes. Returns the snapshot seqs left.
    static func restoredWithLeftoverSnapshot(_ path: String, newNotes: Int, newText: (Int) -> String) throws -> [UInt64] {
        let segment = path + ".journal/" + FileJournal.segmentName(firstSeq: 1)
        let old = manager(path, snapshotInterval: 1)
        try old.write(smallInit)
        try old.write(.noteAdded(text: "a"))
        let saved = try #require(readBytes(segment))
        for i in 3...8 { try old.write(.noteAdded(text: "old \(i)")) }
        let snapshots = listDirectory(path + ".journal").filter { $0.hasPrefix("snapshot-") }
        #expect(!snapshots.isEmpty)
        writeBytes(segment, saved)  // the segment put back; the snapshots stay
        return snapshots.compactMap { UInt64($0.dropFirst("snapshot-".count).prefix(20)) }
    }

    /// Other writers regrow the journal with events longer than the old
    /// ones. Each write folds from the leftover snapshot: the scan starts at
    /// the snapshot's recorded offset *before* the snapshot's identity is
    /// checked; once that offset lies inside the last record, the writer,
    /// under the lock, takes the rest of it for a torn tail and CUTS it —
    /// another writer's acknowledged, durable event — and appends over it.
    /// No fault, no crash: acknowledged writes are lost.
    @Test func aLeftoverSnapshotOfAnotherHistoryMakesWritersCutAcknowledgedEvents() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("STATE.md")
        let snaps = try Self.restoredWithLeftoverSnapshot(path, newNotes: 0) { _ in "" }
        let newest = try #require(snaps.max())
        var acknowledged: [String] = []
        for i in 3...(Int(newest) + 3) {
            let text = "a much longer note than before, number \(i)"
            try Self.manager(path).write(.noteAdded(text: text))
            acknowledged.append(text)
        }
        #expect(Self.notesOrError(path) == .success(["a"] + acknowledged), "acknowledged writes are missing from the journal")
    }

    /// The snapshot's offset lands inside a record that valid records
    /// follow: every command on this sound journal (a full replay from seq
    /// 1 reads it) fails with "damaged and valid records follow" — exit 5.
    @Test func aLeftoverSnapshotOfAnotherHistoryMakesASoundJournalReportCorruption() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("STATE.md")
        let snaps = try Self.restoredWithLeftoverSnapshot(path, newNotes: 0) { _ in "" }
        #expect(!snaps.isEmpty)
        // Two long events written before the snapshots were copied back.
        let hidden = dir.file("hidden")
        try FileManager.default.createDirectory(atPath: hidden, withIntermediateDirectories: true)
        for name in listDirectory(path + ".journal") where name.hasPrefix("snapshot-") {
            try FileManager.default.moveItem(atPath: path + ".journal/" + name, toPath: hidden + "/" + name)
        }
        try Self.manager(path).write(.noteAdded(text: String(repeating: "L", count: 800)))
        try Self.manager(path).write(.noteAdded(text: String(repeating: "M", count: 100)))
        for name in listDirectory(hidden) {
            try FileManager.default.moveItem(atPath: hidden + "/" + name, toPath: path + ".journal/" + name)
        }
        #expect(Self.notesOrError(path) == .success(["a", String(repeating: "L", count: 800), String(repeating: "M", count: 100)]))
        let loaded = Result { try Self.manager(path).loadState()?.notes ?? [] }
        if case .failure(let error) = loaded { Issue.record("show on a sound journal: \(error)") }
        let written = Result { try Self.manager(path).write(.noteAdded(text: "next")) }
        if case .failure(let error) = written { Issue.record("a write to a sound journal: \(error)") }
        #expect(Self.notesOrError(path) == .success(["a", String(repeating: "L", count: 800), String(repeating: "M", count: 100), "next"]))
    }

    enum Notes: Equatable { case success([String]), failure(String) }
    static func notesOrError(_ path: String) -> Notes {
        do { return .success(try fullReplay(path)?.notes ?? []) } catch { return .failure("\(error)") }
    }
}

// MARK: R6 — a segment rewritten after a failed fsync, whose directory fsync failed, is still taken as durable by its process

@Suite struct ReviewRewriteFindings {
    static let quiet = Logger(label: "review", factory: { _ in SwiftLogNoOpLogHandler() })

    /// makeDurable()'s rewrite renames a new file over the segment and then
    /// fsyncs the directory; when that directory fsync fails, the error is
    /// thrown — but `FileJournal.durableSegments` (process-wide) still lists
    /// the path as having a durable directory entry. The same process's next
    /// write (a long-lived library user, or the next group-commit batch)
    /// skips the directory fsync that `append` makes for segments whose
    /// entry it has not seen made durable, and acknowledges an event written
    /// into a file that a power loss takes away (the directory still names
    /// the old inode). `createSegment` handles exactly this case (unlink, no
    /// write may land in it); the rewrite does not.
    @Test func anAcknowledgedWriteLandsInARewrittenSegmentWhoseDirectoryEntryIsNotDurable() throws {
        let dir = TemporaryDirectory()
        let root = dir.file("ws")
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let disk = SimulatedDisk(root: root, seed: 7)
        let path = root + "/STATE.md"
        let dirFault = FailNextDirectorySync(disk)
        let longLived = ReviewFindingsTests.manager(path, dirFault)
        try longLived.write(initPayload())

        // Another process is killed between its write and its fsync: bytes only in the page cache.
        let killed = ReviewFindingsTests.manager(path, SegmentSyncHook(disk) { .die })
        _ = try? killed.write(.noteAdded(text: "K"))

        // The long-lived process's next write syncs them: the writeback fails, it
        // rewrites the segment, and the directory fsync of that rewrite fails.
        disk.failNextFileSync()
        dirFault.arm()
        #expect(throws: (any Error).self) { try longLived.write(.noteAdded(text: "A")) }
        #expect(dirFault.fired)

        let acknowledged = try longLived.write(.noteAdded(text: "B"), options: .init(idempotencyKey: "b"))
        disk.crash()
        disk.materialize(.dropAll)

        var keys: [String: UInt64] = [:]
        let read = Result { try FileJournal(statePath: path, logger: Self.quiet).readEvents(after: 0) { event in
            if let key = event.idempotencyKey { keys[key] = event.seq }
        } }
        if case .failure(let error) = read { Issue.record("after the power loss the journal does not open: \(error)") }
        #expect(keys["b"] == acknowledged.event.seq, "the acknowledged write (seq \(acknowledged.event.seq)) is lost")
    }
}

/// Forwards to `base`; once armed, the next fsync of a directory fails with
/// EIO without reaching `base` (so nothing of it becomes durable).
final class FailNextDirectorySync: SystemCalls, @unchecked Sendable {
    let base: any SystemCalls
    private let lock = NSLock()
    private var armed = false
    private var didFire = false
    init(_ base: any SystemCalls) { self.base = base }
    func arm() { lock.lock(); armed = true; lock.unlock() }
    var fired: Bool { lock.lock(); defer { lock.unlock() }; return didFire }

    func fsync(_ fd: Int32) -> Result<Void, Errno> {
        var st = stat()
        if Glibc.fstat(fd, &st) == 0, st.st_mode & S_IFMT == S_IFDIR {
            lock.lock()
            let fail = armed
            if fail { armed = false; didFire = true }
            lock.unlock()
            if fail { return .failure(.ioError) }
        }
        return base.fsync(fd)
    }
    func fdatasync(_ fd: Int32) -> Result<Void, Errno> { base.fdatasync(fd) }
    func close(_ fd: Int32) -> Result<Void, Errno> { base.close(fd) }
    func flock(_ fd: Int32, operation: Int32) -> Result<Void, Errno> { base.flock(fd, operation: operation) }
    func open(_ path: String, flags: Int32, mode: UInt32) -> Result<Int32, Errno> { base.open(path, flags: flags, mode: mode) }
    func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) -> Result<Int, Errno> { base.read(fd, into: buffer) }
    func pread(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, offset: Int64) -> Result<Int, Errno> { base.pread(fd, into: buffer, offset: offset) }
    func write(_ fd: Int32, from buffer: UnsafeRawBufferPointer) -> Result<Int, Errno> { base.write(fd, from: buffer) }
    func pwrite(_ fd: Int32, from buffer: UnsafeRawBufferPointer, offset: Int64) -> Result<Int, Errno> { base.pwrite(fd, from: buffer, offset: offset) }
    func ftruncate(_ fd: Int32, length: Int64) -> Result<Void, Errno> { base.ftruncate(fd, length: length) }
    func fstat(_ fd: Int32) -> Result<FileStatus, Errno> { base.fstat(fd) }
    func lstat(_ path: String) -> Result<FileStatus, Errno> { base.lstat(path) }
    func rename(_ from: String, _ to: String) -> Result<Void, Errno> { base.rename(from, to) }
    func link(_ from: String, _ to: String) -> Result<Void, Errno> { base.link(from, to) }
    func exchange(_ a: String, _ b: String) -> Result<Void, Errno> { base.exchange(a, b) }
    func unlink(_ path: String) -> Result<Void, Errno> { base.unlink(path) }
    func mkdir(_ path: String, mode: UInt32) -> Result<Void, Errno> { base.mkdir(path, mode: mode) }
    func listDirectory(_ path: String) -> Result<[String], Errno> { base.listDirectory(path) }
    func availableSpace(_ path: String) -> Result<Int64, Errno> { base.availableSpace(path) }
}

// MARK: R7 — a reader whose boundary predates the newest snapshot

@Suite struct ReviewReaderSnapshotFindings {
    /// A lock-free reader (`show`, `log`, a projector) takes its committed
    /// boundary; a writer then appends and writes a snapshot (every 128
    /// events on the command line). The reader's fold picks the newest
    /// snapshot — beyond its boundary — cannot confirm its identity (the
    /// event is past the boundary), logs at warning level that "the journal
    /// was put back from an older copy, or lost its tail" on a healthy
    /// journal, and replays the WHOLE journal from seq 1 instead of using the
    /// older snapshot it could confirm (`fold(_:upTo:)` asks for the newest
    /// snapshot at or before `.max`, not at or before the boundary).
    @Test func aReaderRacingASnapshotWriteDoesNotReportARestoredJournalNorReplayEverything() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("STATE.md")
        let writer = StateManager(configuration: .init(statePath: path, actor: "w", lock: LockPolicy(timeout: 5), snapshotInterval: 1),
                                  logger: ReviewFindingsTests.quiet)
        try writer.write(.workflowInitialized(id: "wf", name: "n", waves: [[.init(id: "t1", description: "d")]], metadata: []))
        for i in 0..<6 { try writer.write(.noteAdded(text: "n\(i)")) }
        let warnings = Locked<[String]>([])
        let logger = Logger(label: "capture", factory: { _ in CapturingLogHandler(warnings) })
        let reader = StateManager(configuration: .init(statePath: path, actor: "r", lock: LockPolicy(timeout: 5)), logger: logger)
        let store = FileJournal(statePath: path, logger: logger)
        _ = try store.committedBoundary()           // the reader looks…
        for i in 6..<10 { try writer.write(.noteAdded(text: "n\(i)")) }  // …a writer appends and snapshots…
        let folded = try reader.fold(store)          // …the reader folds what it saw
        #expect(folded.lastSeq == 7)
        #expect(warnings.withLock { $0 }.isEmpty, "spurious warnings on a healthy journal: \(warnings.withLock { $0 })")
        #expect(folded.snapshotSeq > 0, "replayed the whole journal from seq 1 although a confirmable snapshot exists")
    }
}

struct CapturingLogHandler: LogHandler {
    let sink: Locked<[String]>
    init(_ sink: Locked<[String]>) { self.sink = sink }
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
    func log(level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String, file: String, function: String, line: UInt) {
        if level >= .warning { sink.withLock { $0.append("\(message)") } }
    }
}
