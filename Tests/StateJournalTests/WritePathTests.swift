import Foundation
import Testing
@testable import StateJournal
@testable import StateJournalEngine
import StateJournalTesting

/// What the steady-state write costs, counted through the system-call
/// layer (never timed). Docs/PERFORMANCE.md, "The steady-state write",
/// explains each call.
@Suite struct WritePathTests {
    /// Counts every call through the layer, by operation, and renames of
    /// snapshots into place.
    final class CallCounter: ForwardingSystemCalls, @unchecked Sendable {
        let base: any SystemCalls = RealSystemCalls()
        private let lock = NSLock()
        private var calls: [String: Int] = [:]
        private var snapshots = 0

        var counts: [String: Int] { lock.lock(); defer { lock.unlock() }; return calls }
        var snapshotCount: Int { lock.lock(); defer { lock.unlock() }; return snapshots }

        private func count(_ operation: String) { lock.lock(); calls[operation, default: 0] += 1; lock.unlock() }

        func open(_ path: String, flags: Int32, mode: UInt32) -> Result<Int32, Errno> { count("open"); return base.open(path, flags: flags, mode: mode) }
        func close(_ fd: Int32) -> Result<Void, Errno> { count("close"); return base.close(fd) }
        func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) -> Result<Int, Errno> { count("read"); return base.read(fd, into: buffer) }
        func pread(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, offset: Int64) -> Result<Int, Errno> {
            count("pread"); return base.pread(fd, into: buffer, offset: offset)
        }
        func write(_ fd: Int32, from buffer: UnsafeRawBufferPointer) -> Result<Int, Errno> { count("write"); return base.write(fd, from: buffer) }
        func pwrite(_ fd: Int32, from buffer: UnsafeRawBufferPointer, offset: Int64) -> Result<Int, Errno> {
            count("pwrite"); return base.pwrite(fd, from: buffer, offset: offset)
        }
        func fsync(_ fd: Int32) -> Result<Void, Errno> { count("fsync"); return base.fsync(fd) }
        func fdatasync(_ fd: Int32) -> Result<Void, Errno> { count("fdatasync"); return base.fdatasync(fd) }
        func ftruncate(_ fd: Int32, length: Int64) -> Result<Void, Errno> { count("ftruncate"); return base.ftruncate(fd, length: length) }
        func fstat(_ fd: Int32) -> Result<FileStatus, Errno> { count("fstat"); return base.fstat(fd) }
        func lstat(_ path: String) -> Result<FileStatus, Errno> { count("lstat"); return base.lstat(path) }
        func rename(_ from: String, _ to: String) -> Result<Void, Errno> {
            count("rename")
            if to.contains("/snapshot-") { lock.lock(); snapshots += 1; lock.unlock() }
            return base.rename(from, to)
        }
        func link(_ from: String, _ to: String) -> Result<Void, Errno> { count("link"); return base.link(from, to) }
        func exchange(_ a: String, _ b: String) -> Result<Void, Errno> { count("exchange"); return base.exchange(a, b) }
        func unlink(_ path: String) -> Result<Void, Errno> { count("unlink"); return base.unlink(path) }
        func mkdir(_ path: String, mode: UInt32) -> Result<Void, Errno> { count("mkdir"); return base.mkdir(path, mode: mode) }
        func flock(_ fd: Int32, operation: Int32) -> Result<Void, Errno> { count("flock"); return base.flock(fd, operation: operation) }
        func listDirectory(_ path: String) -> Result<[String], Errno> { count("listDirectory"); return base.listDirectory(path) }
        func availableSpace(_ path: String) -> Result<Int64, Errno> { count("availableSpace"); return base.availableSpace(path) }
        func fchmod(_ fd: Int32, mode: UInt32) -> Result<Void, Errno> { count("fchmod"); return base.fchmod(fd, mode: mode) }
        func readlink(_ path: String) -> Result<String, Errno> { count("readlink"); return base.readlink(path) }
    }

    /// A manager reused for write after write, as a long-lived process
    /// uses one, after a few writes to settle (the first write of a manager
    /// reads the journal and checks free space).
    static func settledManager(_ path: String, _ counter: CallCounter, projection: StateManager.ProjectionPolicy,
                               snapshotInterval: UInt64 = 128) throws -> StateManager {
        let manager = StateManager(configuration: .init(statePath: path, actor: "t", fileSystem: FileSystem(counter),
                                                        projection: projection, snapshotInterval: snapshotInterval))
        try manager.write(initPayload())
        for i in 0..<5 { try manager.write(.metadataSet(key: "k", value: "settle \(i)")) }
        return manager
    }

    /// The calls of `writes` writes, divided by `writes` (every count must divide exactly).
    static func perWrite(_ counter: CallCounter, _ writes: Int, _ body: () throws -> Void) rethrows -> [String: Int] {
        let before = counter.counts
        try body()
        var result: [String: Int] = [:]
        for (operation, n) in counter.counts {
            let made = n - (before[operation] ?? 0)
            if made > 0 { result[operation] = made % writes == 0 ? made / writes : -made }
        }
        return result
    }

    /// `.manual`, between snapshots: 14 system calls per write, none of
    /// them a directory listing, a `statfs`, an `open` or a read of
    /// STATE.md. Under the writers' lock: `flock`; the lock file's identity
    /// (`lstat`, against the device and inode of the descriptor kept open);
    /// the lock record, one `pread` — it still holds the watermark this
    /// manager left, so the active segment is checked, not read: its path
    /// still leads to the file kept open with the size left (`lstat`), no
    /// sealed copy of it exists (`lstat` of `….log.zst`: a seal stopped
    /// half-way leaves one, and then the raw file must not be appended to)
    /// and its last record is where the watermark says (`pread` of its
    /// 8-byte header); the journal directory is not a symbolic link (`lstat`); the
    /// lock file's identity again just before the append (`lstat`); the
    /// announcement of the append, with the holder's note (`pwrite` of the
    /// lock record); the append (`pwrite`) and its `fdatasync`; the
    /// confirmation (`pwrite` of the lock record); `flock` to unlock. And,
    /// first under the lock, STATE.md looked at for an edit (`lstat`: the
    /// file this manager last found without one, same size and time — not
    /// read; issue 14). (On the code before issue 12: 47 calls.)
    @Test func theSteadyStateManualWriteMakesFourteenCalls() throws {
        let dir = TemporaryDirectory()
        let counter = CallCounter()
        let manager = try Self.settledManager(dir.file("STATE.md"), counter, projection: .manual, snapshotInterval: 1_000_000)
        let calls = try Self.perWrite(counter, 100) {
            for i in 0..<100 { try manager.write(.metadataSet(key: "k", value: "\(i)")) }
        }
        #expect(calls == ["flock": 2, "lstat": 6, "pread": 2, "pwrite": 3, "fdatasync": 1], "\(calls)")
        #expect(calls.values.reduce(0, +) == 14, "\(calls)")
    }

    /// `.eager` (the command line's policy), between snapshots: 30 system
    /// calls per write. The 14 of `.manual` — whose `lstat` of STATE.md
    /// also serves as `.eager`'s look before the append (a symbolic link is
    /// refused before anything is written) — with the projectors' lock
    /// looked at before the append (`lstat`: not a symbolic link); after
    /// it, still under the writers' lock, the projectors' lock taken
    /// without waiting (`flock`, its identity: `lstat`) — no projector is
    /// at work and the journal holds nothing newer, so the state this write
    /// reached is rendered as it is, not folded again. After the writers'
    /// lock is released: the projectors' lock file's identity (`lstat`);
    /// the new file (`open`, `fchmod` to the old one's permissions,
    /// `pwrite`, `close`); STATE.md read once (`open`, `pread`, `close`),
    /// right before the rename — an editor may have saved since the write's
    /// look, and this read decides: the previous projection is replaced,
    /// anything else goes the usual way; the new file and STATE.md trade
    /// names (`exchange`), the backup before removed (`unlink`) and the old
    /// file renamed to the backup's name (`rename`: nothing is renamed over
    /// an existing file, so ext4 does not start writing the new file's data
    /// at once) — neither the new file nor the directory fsynced: STATE.md
    /// is a projection of events already durable, and the next command
    /// regenerates what a power loss left (Docs/GUARANTEES.md); the new
    /// file looked at (`lstat`) so that the next write need not read it
    /// (issue 14); `flock` to unlock. No directory listing, no second hold
    /// of the writers' lock. (On the code before issue 12: 106, of them 3
    /// fsyncs; before STATE.md was read once: 35; before the exchange: 31 —
    /// `link`, `rename`, `unlink`, `rename`.)
    @Test func theSteadyStateEagerWriteMakesThirtyCalls() throws {
        let dir = TemporaryDirectory()
        let counter = CallCounter()
        let manager = try Self.settledManager(dir.file("STATE.md"), counter, projection: .eager, snapshotInterval: 1_000_000)
        let calls = try Self.perWrite(counter, 100) {
            for i in 0..<100 { try manager.write(.metadataSet(key: "k", value: "\(i)")) }
        }
        #expect(calls == ["flock": 4, "lstat": 10, "pread": 3, "pwrite": 4, "fdatasync": 1, "open": 2, "close": 2, "fchmod": 1,
                          "exchange": 1, "unlink": 1, "rename": 1], "\(calls)")
        #expect(calls.values.reduce(0, +) == 30, "\(calls)")
    }

    /// A snapshot every 128 events (the default interval), not one every
    /// few writes: a process's cached fold counts from the snapshot it wrote
    /// itself. (At most 8 per 1,000 writes of a small state.) The directory
    /// is listed only to prune older snapshots when one is written; free
    /// space is checked at the manager's first write and then once per MiB
    /// appended.
    @Test func aThousandWritesWriteAtMostEightSnapshots() throws {
        for projection in [StateManager.ProjectionPolicy.manual, .eager] {
            let dir = TemporaryDirectory()
            let counter = CallCounter()
            let manager = try Self.settledManager(dir.file("STATE.md"), counter, projection: projection)
            let before = (snapshots: counter.snapshotCount, counts: counter.counts)
            for i in 0..<1_000 { try manager.write(.metadataSet(key: "k", value: "\(i)")) }
            let written = counter.snapshotCount - before.snapshots
            let listings = (counter.counts["listDirectory"] ?? 0) - (before.counts["listDirectory"] ?? 0)
            let spaceChecks = (counter.counts["availableSpace"] ?? 0) - (before.counts["availableSpace"] ?? 0)
            #expect(written >= 1 && written <= 8, "\(projection): \(written) snapshots for 1,000 writes")
            #expect(listings <= written, "\(projection): \(listings) directory listings for \(written) snapshots")
            #expect(spaceChecks <= 1, "\(projection): \(spaceChecks) free-space checks for 1,000 small writes")
        }
    }
}

/// The `.eager` writer's one read of STATE.md (right before the rename)
/// decides: a STATE.md that changed after the writer's look under the
/// writers' lock — an editor saved, or the file was damaged — is never
/// replaced as if it were the previous projection.
@Suite struct EagerWriterReadTests {
    /// Runs `change` on STATE.md right after the append's `fdatasync`:
    /// after the writer looked at STATE.md for an edit, before it projects.
    final class ChangeAfterAppend: ForwardingSystemCalls, @unchecked Sendable {
        let base: any SystemCalls = RealSystemCalls()
        var change: (() -> Void)?
        func fdatasync(_ fd: Int32) -> Result<Void, Errno> {
            let result = base.fdatasync(fd)
            if let change { self.change = nil; change() }
            return result
        }
    }

    static func rewriteInPlace(_ path: String, _ transform: (String) -> String) {
        let text = String(decoding: readBytes(path) ?? [], as: UTF8.self)
        let fd = open(path, O_WRONLY | O_TRUNC)
        let bytes = Array(transform(text).utf8)
        _ = bytes.withUnsafeBytes { Foundation.write(fd, $0.baseAddress, $0.count) }
        close(fd)
    }

    static func manager(_ path: String, _ hook: ChangeAfterAppend) throws -> StateManager {
        let manager = StateManager(configuration: .init(statePath: path, actor: "writer", fileSystem: FileSystem(hook), projection: .eager))
        try manager.initialize(id: "wf", name: "W", waves: [[.init(id: "a", description: "A"), .init(id: "b", description: "B")]])
        try manager.write(.noteAdded(text: "settled"))
        return manager
    }

    @Test func anEditSavedAfterTheWritersLookIsRecordedNotReplaced() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("STATE.md")
        let hook = ChangeAfterAppend()
        let manager = try Self.manager(path, hook)
        hook.change = { Self.rewriteInPlace(path) { $0.replacingOccurrences(of: "- [ ] **a**", with: "- [x] **a**") } }
        try manager.write(.noteAdded(text: "written meanwhile"))
        #expect(hook.change == nil, "the edit was saved during the write")
        // STATE.md, as the write left it (nothing read since), shows the edit and the write.
        let shown = try StateManager.parse(String(decoding: readBytes(path) ?? [], as: UTF8.self))
        #expect(shown.tasks.first { $0.id == "a" }?.status == .completed, "the edit is in STATE.md")
        #expect(shown.notes.contains("written meanwhile"))
        let events = try manager.events()
        #expect(events.contains { $0.via == Event.viaEdit && $0.payload.taskIDs == ["a"] }, "the edit is in the journal")
    }

    @Test func aFileDamagedAfterTheWritersLookIsKeptNotMadeTheBackup() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("STATE.md")
        let hook = ChangeAfterAppend()
        let manager = try Self.manager(path, hook)
        let backup = readBytes(dir.file("STATE.md.backup"))
        var damaged: [UInt8]?
        hook.change = {
            Self.rewriteInPlace(path) { String($0.prefix(40)) }  // cut short: not an edit, damage
            damaged = readBytes(path)
        }
        try manager.write(.noteAdded(text: "written meanwhile"))
        #expect(hook.change == nil, "the damage happened during the write")
        let kept = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasPrefix("STATE.md.damaged-") }
        #expect(kept.count == 1, "the damaged file is kept under a new name: \(kept)")
        #expect(kept.first.flatMap { readBytes(dir.file($0)) } == damaged, "the kept file holds what was damaged")
        #expect(readBytes(dir.file("STATE.md.backup")) == backup, "the backup is left as it was (a good projection), not the damaged file")
        let shown = try StateManager.parse(String(decoding: readBytes(path) ?? [], as: UTF8.self))
        #expect(shown.notes.contains("written meanwhile"))
    }
}
