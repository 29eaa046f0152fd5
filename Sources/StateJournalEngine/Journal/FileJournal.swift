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
        /// A sealed segment of at least this many raw bytes is decompressed
        /// and decoded on a second thread while the reading thread applies
        /// its events (``SealedPipeline``), when the machine has more than
        /// one CPU; nil: never.
        package var secondThreadFromRawSize: Int? = 1 << 20
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
    /// Whether the last lock-free read could not learn the committed
    /// boundary (the lock file could neither be opened nor created): it read
    /// every record, including a write in progress, so what it read must not
    /// be projected into STATE.md.
    package var readPastUnknownBoundary = false
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
}
