#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Logging
import Synchronization
import StateJournalModel

/// The file-based ``JournalStore``: numbered segment files and snapshots in
/// `PATH.journal/`, and an `flock` on `PATH.lock`.
///
/// ```
/// STATE.md.journal/
///   segment-00000000000000000001.log.zst   sealed (zstd) segments
///   segment-00000000000000004097.log       the active segment, appended to
///   snapshot-00000000000000004096.snap     the folded state at seq 4096
/// ```
/// Append is one `pwrite` of every framed record, then one `fdatasync`. When
/// the active segment reaches ``Options/segmentSize`` it is sealed: compressed
/// to a temporary file, fsynced, renamed, the directory fsynced, and only then
/// the raw segment removed. See `Docs/FORMAT.md`.
package final class FileJournal: PositionedJournalStore, SegmentedJournalStore {
    package struct Options: Sendable {
        /// The active segment is sealed once it holds this many bytes.
        package var segmentSize: Int = 4 << 20
        /// The largest record a reader accepts; larger lengths are damage.
        package var maximumRecordSize: Int = RecordFormat.defaultMaximumRecordSize
        /// zstd level for sealed segments.
        package var compressionLevel: Int32 = 3
        /// How many snapshots to keep (older ones are removed when a new one is written).
        package var snapshotsKept: Int = 2
        package init() {}
    }

    package let directory: String
    package let lockPath: String
    package var location: String { directory }

    package let fs: FileSystem
    package let logger: Logger
    package let options: Options
    package var maximumRecordSize: Int { options.maximumRecordSize }
    package let lock: FileLock

    /// The active segment, known after a read under the lock.
    package struct Tail {
        package var path: String
        package var firstSeq: UInt64
        package var fd: Int32
        /// The device and inode of the file open as `fd`.
        package var device: UInt64 = 0
        package var inode: UInt64 = 0
        package var end: Int64
        package var lastSeq: UInt64
        package var lastTime: Timestamp?
        /// Where the last record starts (the header's size when there is none).
        package var lastRecordStart: Int64 = Int64(RecordFormat.headerSize)
        /// The last record's checksum (0 when there is none).
        package var lastRecordChecksum: UInt32 = 0
    }
    package var tail: Tail?
    /// The watermark this store left in the lock file when it released the
    /// lock with ``tail`` kept open (see ``keepsStateBetweenHolds``).
    package var keptWatermark: Watermark?
    /// Whether the store keeps, between its lock holds, the lock file's
    /// descriptor and the active segment's descriptor with what it knows of
    /// it — for a store one thread at a time uses for write after write (a
    /// manager's group-commit leader). At the next hold the segment is
    /// appended to without reading it again only when the lock file still
    /// holds exactly the watermark the store left (nobody appended to, cut,
    /// rewrote or replaced the segment since, nor started a new one: each
    /// of those changes it), the segment at the path is the file the store
    /// holds (device, inode) with the size it left, no sealed copy of it
    /// exists (a seal, even one stopped half-way, writes that copy before
    /// it removes the raw file), and the last record is still where the
    /// watermark says; otherwise the journal is read as by a new store.
    package var keepsStateBetweenHolds = false {
        didSet { lock.keepsDescriptor = keepsStateBetweenHolds }
    }
    /// Whether this hold resumed the tail kept from the previous one.
    package private(set) var resumedTail = false
    /// The sealed name of the kept tail's segment (made once per segment).
    private var keptSealedPath: (firstSeq: UInt64, path: String)?
    package var locked = false
    /// Whether this lock hold already cleaned up after crashed writers.
    package var recovered = false
    /// Segments whose directory entry this process made durable, by path
    /// *and* file (``durableKey(_:_:)``): a file later put at the same path
    /// — the journal deleted or moved away and started anew, a segment
    /// rewritten by another process — is another segment.
    package static let durableSegments = Locked<Set<String>>([])

    /// The key of the segment file at `path` with `status` in ``durableSegments``.
    package static func durableKey(_ path: String, _ status: FileStatus) -> String {
        "\(path)#\(status.device):\(status.inode)"
    }

    /// Forgets every file at `path` in ``durableSegments``.
    package static func forgetDurable(_ path: String) {
        durableSegments.withLock { $0 = $0.filter { !$0.hasPrefix(path + "#") } }
    }
    /// Where the record after a snapshot's seq starts, learnt from the snapshot file.
    package var snapshotPositions: [UInt64: SnapshotFormat.Position] = [:]
    /// How long a reader without the lock waits for it to learn what is
    /// committed (see ``committedBoundary()``).
    package let readLockPolicy: LockPolicy
    /// Where committed data ended when this store's first read without the
    /// lock looked (nil before it); later lock-free reads stop there too, so
    /// one operation sees one consistent journal.
    package var boundary: Boundary?
    /// Where the active segment was last *confirmed* durable — by a holder
    /// of the lock whose own fsync of it succeeded — read from the lock file
    /// when the lock was taken (see ``Watermark``).
    package var watermark: Watermark?
    /// Where the valid records of the last raw segment scanned end.
    package var lastScanEnd: Int64 = 0
    /// What this store's reads share: one listing, each segment opened once
    /// (see ``Session``).
    package var session = Session()

    /// - Parameters:
    ///   - statePath: the STATE.md path; the journal is `statePath + ".journal"`.
    package init(statePath: String, fileSystem: FileSystem = FileSystem(), logger: Logger = Logger(label: "statejournal"),
                options: Options = Options(), readLockPolicy: LockPolicy = LockPolicy()) {
        self.directory = Self.directory(forState: statePath)
        self.lockPath = Self.lockPath(forState: statePath)
        self.fs = fileSystem
        self.logger = logger
        self.options = options
        self.readLockPolicy = readLockPolicy
        self.lock = FileLock(path: lockPath, fileSystem: fileSystem)
    }

    deinit {
        closeTail()
        endSession()
    }

    package func closeTail() {
        if let tail { fs.closeQuietly(tail.fd) }
        tail = nil
        keptWatermark = nil
    }

    @discardableResult
    package func withWriteLock<T>(_ policy: LockPolicy, command: String, _ body: () throws -> T) throws -> T {
        if locked { return try body() }
        // The holder's note is written below only when the hold may be long
        // (the journal is read); a resumed append carries it with its
        // announcement.
        try lock.acquire(policy, command: command, announce: false)
        locked = true
        recovered = false
        watermark = Watermark(fields: lock.fields)
        resumedTail = resumeKeptTail()
        // A new view: what lock-free reads saw before is not what is
        // committed now. The listing is kept only while the watermark says
        // no segment was added, sealed or replaced since it was taken.
        let kept = session.listing
        endSession()
        boundary = nil
        var succeeded = false
        defer {
            if !succeeded || !keepTailForNextHold() { closeTail() }
            resumedTail = false
            locked = false
            lock.release()
        }
        if !resumedTail {
            lock.announceHolder()
            if let kept, listingIsCurrent(kept) { session.listing = kept }
        }
        // Writers may resume from a remembered position without listing the
        // directory: refuse a journal directory swapped for a link here too.
        try fs.refuseSymbolicLink(directory, as: "the journal directory")
        let result = try body()
        succeeded = true
        return result
    }

    /// At taking the lock: whether the tail kept from this store's previous
    /// hold is still the active segment as it was left — the lock file holds
    /// exactly the watermark this store left (every append, cut, rewrite or
    /// new segment by any holder changes it), the segment's path leads to
    /// the file this store holds, with the size it left, no sealed copy of
    /// it exists, and the last record is still there with its checksum.
    /// Otherwise the tail is closed and the journal is read as by a new store.
    private func resumeKeptTail() -> Bool {
        guard let kept = tail else { return false }
        guard keepsStateBetweenHolds, let left = keptWatermark, let mark = watermark, mark == left, mark.pending == nil,
              case .success(let status) = fs.sys.lstat(kept.path), status.isRegularFile,
              status.device == kept.device, status.inode == kept.inode, status.size == kept.end,
              case .failure(.noSuchFile) = fs.sys.lstat(sealedPath(of: kept)),
              lastRecordIsThere(kept) else {
            closeTail()
            return false
        }
        return true
    }

    private func sealedPath(of tail: Tail) -> String {
        if let known = keptSealedPath, known.firstSeq == tail.firstSeq { return known.path }
        let made = path(Self.sealedName(firstSeq: tail.firstSeq))
        keptSealedPath = (tail.firstSeq, made)
        return made
    }

    /// Whether `tail`'s last record is at `lastRecordStart`, ends at `end`
    /// and has `lastRecordChecksum` (a segment without records: `end` is
    /// the header's end).
    private func lastRecordIsThere(_ tail: Tail) -> Bool {
        guard tail.lastSeq >= tail.firstSeq else { return tail.end == Int64(RecordFormat.headerSize) }
        var header = [UInt8](repeating: 0, count: RecordFormat.recordHeaderSize)
        guard case .success(let n) = header.withUnsafeMutableBytes({ fs.sys.pread(tail.fd, into: $0, offset: tail.lastRecordStart) }),
              n == header.count else { return false }
        let length = Int64(header.withUnsafeBytes { $0.loadLE(UInt32.self, at: 0) })
        let checksum = header.withUnsafeBytes { $0.loadLE(UInt32.self, at: 4) }
        return tail.lastRecordStart + Int64(RecordFormat.recordHeaderSize) + length == tail.end && checksum == tail.lastRecordChecksum
    }

    /// At releasing the lock after a hold that succeeded: whether to keep
    /// the tail for the next hold — only when the lock file holds a
    /// watermark (this hold's, read or written whole) that describes it
    /// exactly, with no append announced.
    private func keepTailForNextHold() -> Bool {
        guard keepsStateBetweenHolds, let tail, let mark = watermark, !lock.recordFailed, !lock.isReadOnly,
              mark.pending == nil, mark.segmentFirstSeq == tail.firstSeq, mark.inode == tail.inode,
              mark.end == tail.end else { return false }
        let hasRecords = tail.lastSeq >= tail.firstSeq
        guard mark.lastRecordStart == (hasRecords ? tail.lastRecordStart : 0),
              mark.lastRecordChecksum == (hasRecords ? tail.lastRecordChecksum : 0) else { return false }
        keptWatermark = mark
        return true
    }

    // MARK: Directory

    package static let segmentPrefix = "segment-"
    package static let rawSuffix = ".log"
    package static let sealedSuffix = ".log.zst"
    package static let snapshotPrefix = "snapshot-"
    package static let snapshotSuffix = ".snap"
    package static let temporaryMarker = ".tmp-"
    /// The lock projectors of STATE.md take (see ``StateManager``).
    package static let projectorLockName = "projector.lock"

    /// The journal directory kept for the state file `statePath`.
    package static func directory(forState statePath: String) -> String { statePath + ".journal" }
    /// The writers' lock of the state file `statePath`.
    package static func lockPath(forState statePath: String) -> String { statePath + ".lock" }
    /// The lock projectors of `statePath` take: in the journal directory,
    /// where ``listing()`` knows it is not part of the journal.
    package static func projectorLockPath(forState statePath: String) -> String {
        FileSystem.join(directory(forState: statePath), projectorLockName)
    }

    package static func padded(_ seq: UInt64) -> String {
        let digits = String(seq)
        return String(repeating: "0", count: max(0, 20 - digits.count)) + digits
    }

    package static func segmentName(firstSeq: UInt64) -> String { segmentPrefix + padded(firstSeq) + rawSuffix }
    package static func sealedName(firstSeq: UInt64) -> String { segmentPrefix + padded(firstSeq) + sealedSuffix }
    package static func snapshotName(seq: UInt64) -> String { snapshotPrefix + padded(seq) + snapshotSuffix }

    package struct SegmentFiles {
        package var firstSeq: UInt64
        package var raw: String?
        package var sealed: String?
    }

    package struct Listing {
        package var segments: [SegmentFiles] = []
        package var snapshots: [(seq: UInt64, name: String)] = []
        package var temporaries: [String] = []
        package var strays: [String] = []
    }

    package func path(_ name: String) -> String { FileSystem.join(directory, name) }

    private static func number(_ name: String, prefix: String, suffix: String) -> UInt64? {
        guard name.hasPrefix(prefix), name.hasSuffix(suffix) else { return nil }
        let digits = name.dropFirst(prefix.count).dropLast(suffix.count)
        guard digits.count == 20, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return UInt64(digits)
    }

    package func listing() throws(StateJournalError) -> Listing {
        var result = Listing()
        guard let status = try fs.lstat(directory) else { return result }
        if status.isSymbolicLink {
            try fs.refuseSymbolicLink(directory, as: "the journal directory")
        } else if !status.isDirectory {
            throw StateJournalError(.corruption, "'\(directory)' is not a directory; the journal must be a directory of segment files — move it away", path: directory)
        }
        var segments: [UInt64: SegmentFiles] = [:]
        for name in try fs.list(directory) {
            if name == Self.projectorLockName {
                continue
            } else if name.contains(Self.temporaryMarker) {
                result.temporaries.append(name)
            } else if let seq = Self.number(name, prefix: Self.segmentPrefix, suffix: Self.sealedSuffix) {
                segments[seq, default: SegmentFiles(firstSeq: seq)].sealed = name
            } else if let seq = Self.number(name, prefix: Self.segmentPrefix, suffix: Self.rawSuffix) {
                segments[seq, default: SegmentFiles(firstSeq: seq)].raw = name
            } else if let seq = Self.number(name, prefix: Self.snapshotPrefix, suffix: Self.snapshotSuffix) {
                result.snapshots.append((seq, name))
            } else {
                result.strays.append(name)
            }
        }
        result.segments = segments.values.sorted { $0.firstSeq < $1.firstSeq }
        result.snapshots.sort { $0.seq < $1.seq }
        for stray in result.strays {
            logger.warning("the journal directory holds a file that is not part of the journal; it is left alone",
                           metadata: ["file": "\(path(stray))"])
        }
        return result
    }

    /// Under the lock: removes temporary files left by a crashed writer and
    /// finishes a seal that was interrupted after its compressed file was
    /// renamed into place.
    package func recoverInterruptedWork() throws {
        guard locked, !recovered else { return }
        recovered = true
        let list = try currentListing()
        if !list.temporaries.isEmpty || list.segments.contains(where: { $0.raw != nil && $0.sealed != nil }) { forgetListing() }
        for temp in list.temporaries {
            try fs.unlinkIfExists(path(temp))
            logger.notice("removed a temporary file left by an interrupted write", metadata: ["file": "\(path(temp))"])
        }
        for segment in list.segments {
            guard let raw = segment.raw, let sealed = segment.sealed else { continue }
            // The sealed file was renamed into place only after it was fsynced;
            // check it decodes before dropping the raw copy.
            do {
                _ = try scanSealed(sealed, firstSeq: segment.firstSeq, previous: nil, after: UInt64.max, verifyAll: true) { _ in }
                try fs.unlinkIfExists(path(raw))
                try fs.fsyncDirectory(directory)
                logger.notice("finished an interrupted seal", metadata: ["file": "\(path(sealed))"])
            } catch let error as StateJournalError where error.code == .corruption {
                logger.warning("an interrupted seal left a damaged compressed segment; keeping the raw one and setting the damaged copy aside",
                               metadata: ["file": "\(path(sealed))", "error": "\(error)"])
                try fs.rename(path(sealed), path(sealed) + ".damaged-" + Timestamp.now().compactUTC)
                try fs.fsyncDirectory(directory)
            }
        }
    }

    // MARK: Appending

    @discardableResult
    package func append(_ events: [Event]) throws -> Bool {
        guard let first = events.first else { return false }
        guard locked else {
            throw StateJournalError(.io, "append to '\(directory)' without holding the lock; call it inside withWriteLock")
        }
        if tail == nil {
            let last = try readEvents(after: UInt64.max) { _ in }
            if tail == nil { try createSegment(firstSeq: last + 1) }
        }
        var rotated = false
        if let current = tail, current.end >= Int64(options.segmentSize), current.lastSeq >= current.firstSeq {
            try sealActiveSegment()
            try createSegment(firstSeq: current.lastSeq + 1)
            rotated = true
        }
        guard var current = tail else { return rotated }
        guard first.seq == current.lastSeq + 1 else {
            throw StateJournalError(.io, "append of seq \(first.seq) to '\(directory)' whose last seq is \(current.lastSeq)")
        }
        // A segment this process did not create: its directory entry may not
        // be durable yet (its creator's directory fsync may have failed), so
        // make it durable once before the first write lands in it.
        let key = Self.durableKey(current.path, FileStatus(size: current.end, mode: 0, inode: current.inode, device: current.device))
        if !Self.durableSegments.withLock({ $0.contains(key) }) {
            try fs.fsyncDirectory(directory)
            Self.durableSegments.withLock { _ = $0.insert(key) }
        }
        var buffer: [UInt8] = []
        buffer.reserveCapacity(events.count * 256)
        var lastStart = 0
        for event in events {
            let payload = event.encoded()
            guard payload.count <= maximumRecordSize else {
                throw Self.recordTooLarge(event, size: payload.count, limit: maximumRecordSize)
            }
            lastStart = buffer.count
            RecordFormat.appendRecord(payload, to: &buffer)
        }
        // The lock file removed or replaced while held: another writer may
        // hold a lock on the new one; write nothing.
        try lock.validate()
        // Announce the append: if this process dies before it confirms it,
        // the next holder cuts exactly these bytes.
        do throws(StateJournalError) { try confirm(current, pendingEnd: current.end + Int64(buffer.count), note: true) } catch {
            closeTail()
            throw StateJournalError(.io, "recording an append in '\(lockPath)' failed (\(error)); nothing was written — check the disk, then retry",
                                    path: lockPath, errno: error.errno)
        }
        do throws(StateJournalError) {
            try fs.writeAll(current.fd, buffer, at: current.end, current.path)
            try fs.fdatasync(current.fd, current.path)
        } catch {
            // Leave the journal exactly as it was: cut whatever reached the file.
            _ = fs.sys.ftruncate(current.fd, length: current.end)
            _ = fs.sys.fdatasync(current.fd)
            closeTail()
            throw error
        }
        var appended = current
        appended.lastRecordStart = current.end + Int64(lastStart)
        appended.lastRecordChecksum = buffer.withUnsafeBytes { $0.loadLE(UInt32.self, at: lastStart + 4) }
        appended.end += Int64(buffer.count)
        appended.lastSeq = events[events.count - 1].seq
        appended.lastTime = events[events.count - 1].time
        do throws(StateJournalError) {
            // Acknowledged only once the next holder will not cut it.
            try confirm(appended)
        } catch {
            _ = fs.sys.ftruncate(current.fd, length: current.end)
            _ = fs.sys.fdatasync(current.fd)
            closeTail()
            throw StateJournalError(.io, "recording the journal's durable end in '\(lockPath)' failed (\(error)); nothing was written — check the disk, then retry",
                                    path: lockPath, errno: error.errno)
        }
        tail = appended
        return rotated
    }

    package func checkFits(_ event: Event, encoded: [UInt8]) throws {
        guard encoded.count <= maximumRecordSize else {
            throw Self.recordTooLarge(event, size: encoded.count, limit: maximumRecordSize)
        }
    }

    /// The error for an event that does not fit in one record.
    package static func recordTooLarge(_ event: Event, size: Int, limit: Int) -> StateJournalError {
        StateJournalError(.badInput, "the \(event.payload.typeName) event is \(size) bytes, more than the \(limit)-byte record limit; "
            + "make it smaller: shorter texts, or fewer tasks in one plan or update (add the others with 'task add')")
    }

    /// Creates an empty segment atomically: temporary file, fsync, rename,
    /// directory fsync.
    package func createSegment(firstSeq: UInt64) throws(StateJournalError) {
        try fs.ensureDirectory(directory)
        let path = path(Self.segmentName(firstSeq: firstSeq))
        do throws(StateJournalError) {
            try fs.atomicReplace(path, with: RecordFormat.encodeHeader(.init(firstSeq: firstSeq, created: .now())), backup: nil)
        } catch {
            // Renamed but its directory entry may not be durable (the
            // directory fsync failed): no write may land in it.
            _ = fs.sys.unlink(path)
            throw error
        }
        forgetListing()
        let fd = try fs.open(path, O_RDWR)
        let status: FileStatus
        do throws(StateJournalError) { status = try fs.sys.fstat(fd).get("stat", path) } catch {
            fs.closeQuietly(fd)
            throw error
        }
        Self.durableSegments.withLock { _ = $0.insert(Self.durableKey(path, status)) }
        let created = Tail(path: path, firstSeq: firstSeq, fd: fd, device: status.device, inode: status.inode,
                           end: Int64(RecordFormat.headerSize), lastSeq: firstSeq - 1)
        tail = created
        try confirm(created)
    }

    // MARK: Snapshots

    package func latestSnapshot(atOrBefore seq: UInt64) throws -> Snapshot? {
        for entry in try currentListing().snapshots.reversed() where entry.seq <= seq {
            let file = path(entry.name)
            guard let bytes = try fs.readFileIfExists(file) else { continue }
            switch SnapshotFormat.decode(bytes) {
            case .success(let (snapshot, position)):
                guard snapshot.seq == entry.seq else {
                    logger.warning("snapshot's name and content disagree; using an older one", metadata: ["file": "\(file)"])
                    continue
                }
                // The position is where event `seq` starts: reading after
                // `seq - 1` begins there, and checks that event's identity.
                if var position, snapshot.seq > 0, let identity = snapshot.lastEventIdentity {
                    position.identity = identity
                    snapshotPositions[snapshot.seq - 1] = position
                }
                return snapshot
            case .failure(let problem):
                logger.warning("snapshot is unreadable; falling back to an older one or to a full replay",
                               metadata: ["file": "\(file)", "problem": "\(problem)"])
            }
        }
        return nil
    }

    package func writeSnapshot(_ snapshot: Snapshot) throws {
        guard locked else {
            throw StateJournalError(.io, "snapshot of '\(directory)' without holding the lock; call it inside withWriteLock")
        }
        try fs.ensureDirectory(directory)
        var position: SnapshotFormat.Position?
        if let tail, tail.lastSeq == snapshot.seq, tail.lastSeq >= tail.firstSeq {
            // Where the snapshot's own last event starts: a reader checks
            // that event's identity before trusting the snapshot.
            position = SnapshotFormat.Position(segmentFirstSeq: tail.firstSeq, offset: UInt64(tail.lastRecordStart))
        }
        try fs.atomicReplace(path(Self.snapshotName(seq: snapshot.seq)),
                             with: SnapshotFormat.encode(snapshot, position: position), backup: nil)
        forgetListing()
        defer { forgetListing() }
        // Older snapshots beyond the ones kept are no longer needed, except
        // checkpoints — the first snapshot within each segment — which let
        // reads of the past (`show --seq`, `--at`, `restore`) start near
        // their point instead of at seq 1.
        let list = try listing()
        let starts = list.segments.map(\.firstSeq)
        var segmentsWithCheckpoint = Set<UInt64>()
        var checkpoints = Set<UInt64>()
        for entry in list.snapshots {
            // The segment where replay from this snapshot starts.
            guard let segment = starts.last(where: { $0 <= entry.seq + 1 }) else { continue }
            if segmentsWithCheckpoint.insert(segment).inserted { checkpoints.insert(entry.seq) }
        }
        let older = list.snapshots.filter { $0.seq < snapshot.seq }
        for old in older.dropLast(max(options.snapshotsKept - 1, 0)) where !checkpoints.contains(old.seq) {
            try fs.unlinkIfExists(path(old.name))
        }
    }
}
