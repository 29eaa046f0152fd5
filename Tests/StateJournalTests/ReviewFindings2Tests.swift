import Foundation
import Logging
import Testing
@testable import StateJournal
@testable import StateJournalEngine
import StateJournalTesting

/// Second outside review: attacks on the watermark (the confirmed-durable
/// end of the active segment kept in STATE.md.lock). Each test fails on
/// branch `review2` (= main at "A write is acknowledged only once the
/// watermark covering it is recorded…").
///
/// The rule checked: an acknowledged write is never lost, a read never shows
/// an event that is not durable or not in the journal, a sound journal never
/// reports corruption.
@Suite struct ReviewFindings2Tests {
    static let quiet = Logger(label: "review2", factory: { _ in SwiftLogNoOpLogHandler() })

    static func manager(_ path: String, _ system: any SystemCalls = RealSystemCalls()) -> StateManager {
        StateManager(configuration: .init(statePath: path, actor: "reviewer2", lock: LockPolicy(timeout: 5),
                                          fileSystem: FileSystem(system)), logger: quiet)
    }

    static func notes(_ path: String) -> [String] {
        (try? fullReplay(path))??.notes ?? ["<journal does not open>"]
    }

    /// What the segment file holds, read directly (no lock, no watermark).
    static func notesInSegment(_ path: String) -> [String] {
        var notes: [String] = []
        let bytes = readBytes(path + ".journal/" + FileJournal.segmentName(firstSeq: 1)) ?? []
        bytes.withUnsafeBytes { raw in
            _ = RecordFormat.scan(raw, from: RecordFormat.headerSize, maximumSize: 1 << 24) { payload, _ in
                if let json = try? JSON.parse(payload), let event = try? Event(json: json),
                   case .noteAdded(let text) = event.payload { notes.append(text) }
            }
        }
        return notes
    }

    // MARK: W1 — a watermark from earlier in the same boot passes validation and cuts acknowledged events

    /// The watermark is checked for boot, segment, inode and "the record at
    /// `last` has this checksum and ends at `durable`" — all of which an
    /// OLDER watermark of the same file also satisfies: the journal is
    /// append-only, so the record an older watermark names is still there.
    /// STATE.md.lock holding content from earlier in the same boot (a lock
    /// file put back by `git checkout`/`git stash` of a project that tracks
    /// it, `cp -a`/rsync from a copy of the project, a file system that lost
    /// its unsynced data without a reboot — forced unmount, device reset,
    /// FUSE/NFS server restart: the lock file is never fsynced) makes the
    /// next holder CUT every acknowledged event after the old watermark and
    /// append over them, silently, exit 0. Before that, every read command
    /// stops at the old watermark and STATE.md is regenerated without them.
    @Test func aLockFileFromEarlierInTheSameBootMakesTheNextWriterCutAcknowledgedEvents() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("STATE.md")
        try Self.manager(path).write(initPayload())
        try Self.manager(path).write(.noteAdded(text: "a"))
        let earlier = try #require(readBytes(path + ".lock"))
        try Self.manager(path).write(.noteAdded(text: "b ACKNOWLEDGED"))
        try Self.manager(path).write(.noteAdded(text: "c ACKNOWLEDGED"))
        #expect(Self.notes(path) == ["a", "b ACKNOWLEDGED", "c ACKNOWLEDGED"])

        writeBytes(path + ".lock", earlier)  // the lock file as it was a moment ago

        // A read already hides the acknowledged events (and regenerates STATE.md without them).
        #expect(Self.notes(path) == ["a", "b ACKNOWLEDGED", "c ACKNOWLEDGED"], "a read stops at the old watermark")
        try Self.manager(path).write(.noteAdded(text: "d"))
        #expect(Self.notesInSegment(path) == ["a", "b ACKNOWLEDGED", "c ACKNOWLEDGED", "d"],
                "acknowledged events were cut from the segment")
    }

    /// The same without touching the lock file: the journal is put back
    /// from a copy that went FURTHER — worked on elsewhere (a scratch copy,
    /// another checkout) and copied back over it, `cp elsewhere/STATE.md.journal/*
    /// STATE.md.journal/` (cp rewrites an existing file in place: same
    /// inode). The lock file stays. The old watermark (same boot, same
    /// segment, same inode, and the record it names is the same bytes — a
    /// common prefix) is taken as valid, and the next writer cuts every event
    /// the copy holds beyond it, silently (`log`, `export` and `verify` showed
    /// them a moment before, or rather: stop at the old watermark already).
    /// With `rm -r` + `cp -r` instead, ext4 usually hands the new file the
    /// removed one's inode number, with the same result.
    @Test func aJournalPutBackFromALongerCopyLosesItsEventsToTheOldWatermark() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("STATE.md")
        try Self.manager(path).write(initPayload())
        try Self.manager(path).write(.noteAdded(text: "a"))
        let segment = path + ".journal/" + FileJournal.segmentName(firstSeq: 1)

        // Worked on elsewhere: a copy of the journal gets two more acknowledged events.
        let elsewhere = dir.file("elsewhere")
        try FileManager.default.createDirectory(atPath: elsewhere, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: path + ".journal", toPath: elsewhere + "/STATE.md.journal")
        try Self.manager(elsewhere + "/STATE.md").write(.noteAdded(text: "b ACKNOWLEDGED"))
        try Self.manager(elsewhere + "/STATE.md").write(.noteAdded(text: "c ACKNOWLEDGED"))
        #expect(Self.notes(elsewhere + "/STATE.md") == ["a", "b ACKNOWLEDGED", "c ACKNOWLEDGED"])

        // Copied back over the journal (cp: same inode); the lock file stays.
        let longer = try #require(readBytes(elsewhere + "/STATE.md.journal/" + FileJournal.segmentName(firstSeq: 1)))
        let handle = try #require(FileHandle(forWritingAtPath: segment))
        try handle.truncate(atOffset: 0)
        handle.write(Data(longer))
        try handle.synchronize()
        try handle.close()
        #expect(Self.notesInSegment(path) == ["a", "b ACKNOWLEDGED", "c ACKNOWLEDGED"])
        #expect(Self.notes(path) == ["a", "b ACKNOWLEDGED", "c ACKNOWLEDGED"], "a read stops at the old watermark")

        try Self.manager(path).write(.noteAdded(text: "d"))
        #expect(Self.notesInSegment(path) == ["a", "b ACKNOWLEDGED", "c ACKNOWLEDGED", "d"], "events of the journal were cut")
    }

    // MARK: W2 — the lock file holds no watermark while its holder believes it does

    /// `FileLock.recordHolder` rewrites the lock file at acquisition on a
    /// best-effort basis (ftruncate(0), then pwrite): when that pwrite fails
    /// (ENOSPC on a full disk, EIO) the file is left EMPTY, while the holder
    /// keeps the watermark it read in memory. Its scan then confirms the
    /// same end, and `confirm` skips recording it as "unchanged"
    /// (Watermark.swift:83) — so the lock file holds no watermark while the
    /// holder writes. If that writer's own fdatasync then fails (lost
    /// writeback) and it is killed before it cuts its bytes — exactly the
    /// case the watermark was made for (R3) — the next holder finds no
    /// watermark, takes the long way, and its fsync succeeds (the error was
    /// consumed), so it builds on bytes that never reached the disk and
    /// acknowledges its own write behind them. After a power loss the
    /// acknowledged write is gone (or sits behind a hole).
    @Test func aFailedLockFileRewriteAtAcquisitionLeavesNoWatermarkForTheWriterKilledAfterItsFailedFsync() throws {
        let dir = TemporaryDirectory()
        let root = dir.file("ws")
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let disk = SimulatedDisk(root: root, seed: 7)
        let path = root + "/STATE.md"
        try Self.manager(path, disk).write(initPayload())
        #expect(String(decoding: readBytes(path + ".lock") ?? [], as: UTF8.self).contains("end=1"))

        // The lock file's rewrite at acquisition fails (its first pwrite);
        // the append's own sync fails as a lost writeback; the process dies there.
        let faults = FaultInjector(disk)
        faults.fail(.pwrite, errno: .noSpace)
        let dying = DiesAfterAFailedSync(faults)
        let killed = Self.manager(path, SegmentSyncHook(dying) {
            disk.failNextFileSync()
            return .proceed
        })
        #expect(throws: (any Error).self) { try killed.write(.noteAdded(text: String(repeating: "A", count: 20_000))) }
        #expect(dying.isDead)
        #expect(faults.injectedCount == 1)
        // (Before the fix the lock file was left without a watermark here;
        // now a failed rewrite leaves the previous record whole, and the
        // append is announced before anything is written.)
        #expect(String(decoding: readBytes(path + ".lock") ?? [], as: UTF8.self).contains("end=1"))

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

    /// The same hole with kills only (no full disk): the lock file is
    /// rewritten in place — ftruncate(0), then pwrite — by EVERY process that
    /// takes the lock, readers included (`show`, `log`, a projector: they
    /// take the writers' lock to learn the boundary). One killed between the
    /// two (an agent's `statejournal show` killed by its timeout) leaves the
    /// lock file empty: "no complete set, does not count" — and no watermark
    /// means the next holder trusts what its fsync vouches for. After a
    /// writer killed right after its failed fsync (R3), that is the dead
    /// writer's never-written bytes: the next writer builds on them and
    /// acknowledges its write behind them; a power loss takes it away.
    @Test func aReaderKilledWhileRewritingTheLockFileErasesTheWatermarkTheNextWriterNeeds() throws {
        let dir = TemporaryDirectory()
        let root = dir.file("ws")
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let disk = SimulatedDisk(root: root, seed: 7)
        let path = root + "/STATE.md"
        try Self.manager(path, disk).write(initPayload())

        // R3: a writer's own sync fails as a lost writeback; it dies right there.
        let dying = DiesAfterAFailedSync(disk)
        let killed = Self.manager(path, SegmentSyncHook(dying) {
            disk.failNextFileSync()
            return .proceed
        })
        #expect(throws: (any Error).self) { try killed.write(.noteAdded(text: String(repeating: "A", count: 20_000))) }
        #expect(dying.isDead)
        #expect(String(decoding: readBytes(path + ".lock") ?? [], as: UTF8.self).contains("end=1"), "the watermark is still there")

        // A lock-free reader takes the writers' lock and is killed between
        // the lock file's ftruncate and its pwrite.
        let reader = DiesAtFirstPwrite(disk)
        _ = try? FileJournal(statePath: path, fileSystem: FileSystem(reader), logger: Self.quiet).readEvents(after: 0) { _ in }
        #expect(reader.isDead)
        // (Before the fix the watermark was gone here; the lock record is now
        // one pwrite of a fixed size, so a kill leaves the old one whole.)
        #expect(String(decoding: readBytes(path + ".lock") ?? [], as: UTF8.self).contains("end=1"), "the watermark is still there")

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

// MARK: W3 — a reader that may not write the lock file reads past the watermark

@Suite struct ReviewReaderPermissionFindings {
    /// The committed boundary needs the writers' lock, taken by opening
    /// STATE.md.lock O_RDWR. A reader that may read the journal but not
    /// write the lock file — another user: the lock file is created 0644 by
    /// whoever wrote first (CI, a monitoring user, a teammate's agent
    /// reading a shared project) — gets EACCES, and `committedBoundary`
    /// then returns nil: "the reader cannot tell and reads everything"
    /// (FileJournal+Reading.swift:108). The comment names a read-only
    /// directory; it is also every reader without write permission on an
    /// existing lock file. Such a reader shows a write in progress whose
    /// fsync then fails and which is cut: the R2 hole, back for every reader
    /// of another user.
    @Test func aReaderWithoutWritePermissionOnTheLockFileShowsAWriteThatIsThenCut() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("STATE.md")
        try ReviewFindings2Tests.manager(path).write(initPayload())
        let seen = Locked<[String]?>(nil)
        let reader = ReviewFindings2Tests.manager(path, LockFileNotWritable(RealSystemCalls(), lockPath: path + ".lock"))
        let writer = ReviewFindings2Tests.manager(path, SegmentSyncHook(RealSystemCalls()) {
            // The writer's bytes are in the file, its fsync not done: the reader reads now.
            var notes: [String] = []
            // (Since the fix the reader takes the lock through a read-only
            // descriptor, so here — inside the writer's hold — it waits and
            // times out instead of reading.)
            let store = FileJournal(statePath: path, fileSystem: reader.configuration.fileSystem, logger: ReviewFindings2Tests.quiet,
                                    readLockPolicy: LockPolicy(timeout: 0.3))
            do {
                try store.readEvents(after: 0, { if case .noteAdded(let text) = $0.payload { notes.append(text) } })
                seen.withLock { $0 = notes }
            } catch let error as StateJournalError where error.code == .lockTimeout {
                seen.withLock { $0 = ["(waited for the lock)"] }
            } catch {}
            return .fail(.ioError)
        })
        #expect(throws: (any Error).self) { try writer.write(.noteAdded(text: "NEVER-DURABLE")) }
        #expect(seen.withLock { $0 } != nil, "the reader did not read")
        #expect(!(seen.withLock { $0 } ?? []).contains("NEVER-DURABLE"), "a reader handed over an event whose write failed and was cut")
        #expect(ReviewFindings2Tests.notes(path) == [])
    }
}

/// Real calls, except that opening `lockPath` for writing fails with EACCES
/// (a lock file created 0644 by another user).
final class LockFileNotWritable: SystemCalls, @unchecked Sendable {
    let base: any SystemCalls
    let lockPath: String
    init(_ base: any SystemCalls, lockPath: String) { self.base = base; self.lockPath = lockPath }
    func open(_ path: String, flags: Int32, mode: UInt32) -> Result<Int32, Errno> {
        if path == lockPath, flags & O_ACCMODE != O_RDONLY { return .failure(.permissionDenied) }
        return base.open(path, flags: flags, mode: mode)
    }
    func fsync(_ fd: Int32) -> Result<Void, Errno> { base.fsync(fd) }
    func fdatasync(_ fd: Int32) -> Result<Void, Errno> { base.fdatasync(fd) }
    func close(_ fd: Int32) -> Result<Void, Errno> { base.close(fd) }
    func flock(_ fd: Int32, operation: Int32) -> Result<Void, Errno> { base.flock(fd, operation: operation) }
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

/// Forwards to `base` until the first `pwrite`; that call and every later one
/// fail with EIO and change nothing (the process was killed there), except
/// `close` and unlocking, which the kernel does for a dead process.
final class DiesAtFirstPwrite: SystemCalls, @unchecked Sendable {
    let base: any SystemCalls
    private let lock = NSLock()
    private var dead = false
    var isDead: Bool { lock.lock(); defer { lock.unlock() }; return dead }
    init(_ base: any SystemCalls) { self.base = base }
    private func gated<T>(_ body: () -> Result<T, Errno>) -> Result<T, Errno> { isDead ? .failure(.ioError) : body() }

    func pwrite(_ fd: Int32, from buffer: UnsafeRawBufferPointer, offset: Int64) -> Result<Int, Errno> {
        lock.lock(); dead = true; lock.unlock()
        return .failure(.ioError)
    }
    func fsync(_ fd: Int32) -> Result<Void, Errno> { gated { base.fsync(fd) } }
    func fdatasync(_ fd: Int32) -> Result<Void, Errno> { gated { base.fdatasync(fd) } }
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
