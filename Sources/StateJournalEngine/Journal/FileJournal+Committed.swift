#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Logging
import StateJournalModel

// What is committed, and reading from a remembered position: the committed
// boundary lock-free readers stop at, making a segment durable (rewriting it
// when its fsync fails), and resuming from a position after checking its
// record is still there.
extension FileJournal {
    /// Where committed data ends: the newest segment, and in it the offset
    /// after the last byte made durable.
    package struct Boundary: Equatable {
        package var segmentFirstSeq: UInt64
        /// Records that start at or after this offset are not committed
        /// (`Int64.max`: the whole segment is).
        package var end: Int64
    }

    /// For reads without the lock: takes the writers' lock for a moment and
    /// notes where the newest segment is confirmed durable (its
    /// ``Watermark``); records beyond are not read — they belong to a write
    /// in progress, which may yet fail and be cut, or to a writer killed
    /// before it confirmed them, whose bytes the next writer cuts. A process
    /// never answers from bytes it has not seen made durable.
    ///
    /// When the lock file holds no usable watermark (a new boot, a lock file
    /// removed, an older version), the newest segment is checked as a writer
    /// checks it — torn tail cut, unconfirmed bytes made durable — and a
    /// watermark is written. Computed once per store value; nil when there
    /// is no lock to take because the lock file cannot be created (a
    /// read-only directory): then the reader cannot tell and reads everything.
    package func committedBoundary() throws -> Boundary? {
        if let boundary { return boundary }
        guard try fs.lstat(directory) != nil else {
            boundary = Boundary(segmentFirstSeq: 0, end: 0)  // no journal: nothing committed, nothing created
            return boundary
        }
        let found: Boundary
        do {
            found = try withWriteLock(readLockPolicy, command: "statejournal (reading)") {
                // The read session's listing: taken here, under the lock, with the boundary.
                guard let last = try currentListing().segments.last else { return Boundary(segmentFirstSeq: 0, end: 0) }
                guard let raw = last.raw else { return Boundary(segmentFirstSeq: last.firstSeq, end: .max) }
                let file = path(raw)
                let fd = try fs.open(file, O_RDONLY)
                // Kept for the session's reads of this segment: its bytes up
                // to the boundary never change (a rewrite is to a new file).
                // Pinned: never evicted, never reopened by path.
                defer {
                    keepDescriptor(fd, for: file)
                    session.pinned = file
                }
                let size = try fs.sys.fstat(fd).get("stat", file).size
                if let confirmed = confirmedEnd(fd, file, firstSeq: last.firstSeq, size: size) {
                    return Boundary(segmentFirstSeq: last.firstSeq, end: confirmed)
                }
                if lock.isReadOnly {
                    // May not repair or record: read under the lock up to the
                    // last valid record, made durable by an fsync of our own.
                    _ = try scanRaw(raw, firstSeq: last.firstSeq, isLast: true, after: .max, allowRepair: false) { _ in }
                    try fs.fdatasync(fd, file)
                    return Boundary(segmentFirstSeq: last.firstSeq, end: lastScanEnd)
                }
                // The long way, as a writer: scan, cut a torn tail, make durable, confirm.
                _ = try scanRaw(raw, firstSeq: last.firstSeq, isLast: true, after: .max) { _ in }
                return Boundary(segmentFirstSeq: last.firstSeq, end: tail?.end ?? Int64(RecordFormat.headerSize))
            }
        } catch let error as StateJournalError where error.errno == .readOnlyFileSystem || error.errno == .permissionDenied {
            logger.debug("cannot take the lock to read; reading without it", metadata: ["error": "\(error)"])
            readPastUnknownBoundary = true
            return nil
        }
        readPastUnknownBoundary = false
        boundary = found
        return found
    }

    /// Makes `file` durable up to `end` before anything in it is used.
    ///
    /// When the fsync fails, the bytes in the page cache may never reach the
    /// disk, and the kernel reports that error only once: a later fsync by
    /// anyone succeeds although the bytes are lost. So the segment is
    /// rewritten to a new file (temporary, fsync, rename, directory fsync)
    /// from what the page cache holds, and no later write ever lands behind
    /// bytes that never reached the disk. Returns the descriptor to use from
    /// now on (the new file's, after a rewrite).
    package func makeDurable(_ fd: Int32, _ file: String, end: Int64) throws -> Int32 {
        guard case .failure(let errno) = fs.sys.fdatasync(fd) else { return fd }
        logger.warning("fsync of a segment failed; rewriting it to a new file so that nothing later depends on bytes that may not be on disk",
                       metadata: ["file": "\(file)", "errno": "\(errno)"])
        do {
            var bytes = [UInt8](repeating: 0, count: Int(end))
            var done = 0
            while done < bytes.count {
                let n = try bytes.withUnsafeMutableBytes {
                    try fs.sys.pread(fd, into: UnsafeMutableRawBufferPointer(rebasing: $0[done...]), offset: Int64(done)).get("read", file)
                }
                if n == 0 { break }
                done += n
            }
            do throws(StateJournalError) {
                try fs.atomicReplace(file, with: Array(bytes[0..<done]), backup: nil)
            } catch {
                // Its directory entry may not be durable: the next append
                // must fsync the directory first.
                Self.forgetDurable(file)
                throw error
            }
            let replacement = try fs.open(file, O_RDWR)
            fs.closeQuietly(fd)
            return replacement
        } catch {
            throw StateJournalError(.io, "fsync of '\(file)' failed (\(errno)) and rewriting it to a new file failed too (\(error)); "
                + "nothing was written — check the disk, then retry", path: file, errno: errno)
        }
    }

    package var endPosition: JournalPosition? {
        guard locked, let tail, tail.lastSeq >= tail.firstSeq else { return nil }
        return JournalPosition(seq: tail.lastSeq, identity: tail.lastRecordChecksum, segmentFirstSeq: tail.firstSeq,
                               offset: tail.end, inode: tail.inode, recordStart: tail.lastRecordStart)
    }

    /// Reads only what was appended after `position`: opens the segment it
    /// names, checks it is the same file, that the position's event is still
    /// there (its record where the position says, with its identity), and
    /// that it is still the active segment, then scans from the offset — no
    /// directory listing, no snapshot. Anything else reads by sequence
    /// number, checking the position's event's identity on the way.
    ///
    /// Without the lock it reads from the position only when the committed
    /// boundary (``committedBoundary()``) lies in the position's segment,
    /// and only up to the boundary.
    ///
    /// - Throws: ``JournalPosition/Mismatch`` when the journal does not hold
    ///   the position's event (it was put back from an older copy).
    @discardableResult
    package func readEvents(from position: JournalPosition, _ body: (Event) throws -> Void) throws -> UInt64 {
        guard position.seq > 0, position.identity != 0, position.segmentFirstSeq > 0,
              position.recordStart >= Int64(RecordFormat.headerSize) else {
            return try readEventsChecking(position, body)
        }
        // Under the lock the active segment, as this hold found it (read,
        // created, appended to, or kept from the previous hold and checked
        // when the lock was taken), ends with the position's event: nothing
        // was appended since.
        if locked, let tail, tail.lastSeq >= tail.firstSeq, tail.lastSeq == position.seq, tail.lastRecordChecksum == position.identity,
           tail.firstSeq == position.segmentFirstSeq, tail.end == position.offset, tail.inode == position.inode,
           tail.lastRecordStart == position.recordStart {
            return position.seq
        }
        let name = Self.segmentName(firstSeq: position.segmentFirstSeq)
        if !locked { return try readCommitted(from: position, name, body) }
        closeTail()
        guard case .success(let status) = fs.sys.lstat(path(name)), status.isRegularFile,
              status.inode == position.inode, status.size >= position.offset,
              recordIsThere(path(name), position) else {
            return try readEventsChecking(position, body)
        }
        // Start at the position's own record (checked above, and again by identity).
        snapshotPositions[position.seq - 1] = SnapshotFormat.Position(segmentFirstSeq: position.segmentFirstSeq,
                                                                      offset: UInt64(position.recordStart), identity: position.identity)
        // Collect first: if the segment turns out not to be the active one,
        // nothing may have been handed over yet.
        var events: [Event] = []
        let last = try scanRaw(name, firstSeq: position.segmentFirstSeq, isLast: true, after: position.seq - 1,
                               durableUpTo: position.offset) { events.append($0) }
        guard let first = events.first, first.seq == position.seq, first.identity == position.identity else {
            closeTail()
            throw JournalPosition.Mismatch()
        }
        // Sealed meanwhile (even if a crash left the raw file), or followed
        // by a newer segment: not the active one any more.
        let successor = [Self.sealedName(firstSeq: position.segmentFirstSeq),
                         Self.segmentName(firstSeq: last + 1), Self.sealedName(firstSeq: last + 1)]
        if successor.contains(where: { if case .success = fs.sys.lstat(path($0)) { return true } else { return false } }) {
            closeTail()
            return try readEventsChecking(position, body)
        }
        for event in events.dropFirst() { try body(event) }
        return last
    }

    /// Without the lock: the events after `position` up to the committed
    /// boundary, read from the position's record when the boundary lies in
    /// its segment — the segment the read session opened under the lock, the
    /// same file (inode) as the position's — else by sequence number.
    private func readCommitted(from position: JournalPosition, _ name: String, _ body: (Event) throws -> Void) throws -> UInt64 {
        let file = path(name)
        guard let limit = try committedBoundary(), limit.segmentFirstSeq == position.segmentFirstSeq, limit.end != .max,
              limit.end >= position.offset, session.descriptors.contains(where: { $0.path == file }),
              case .success(let status) = fs.sys.fstat(try sessionDescriptor(file)), status.inode == position.inode,
              recordIsThere(file, position) else {
            return try readEventsChecking(position, body)
        }
        snapshotPositions[position.seq - 1] = SnapshotFormat.Position(segmentFirstSeq: position.segmentFirstSeq,
                                                                      offset: UInt64(position.recordStart), identity: position.identity)
        // Collect first: nothing is handed over unless the position's event is there.
        var events: [Event] = []
        let last = try scanRaw(name, firstSeq: position.segmentFirstSeq, isLast: true, after: position.seq - 1, end: limit.end) {
            events.append($0)
        }
        guard let first = events.first, first.seq == position.seq, first.identity == position.identity else {
            throw JournalPosition.Mismatch()
        }
        for event in events.dropFirst() { try body(event) }
        return last
    }

    /// Whether the record of the position's event is where it says: a record
    /// header at `recordStart` with the position's identity, ending at `offset`.
    private func recordIsThere(_ file: String, _ position: JournalPosition) -> Bool {
        (try? withReadDescriptor(file) { fd in recordIsThere(fd, position) }) ?? false
    }

    private func recordIsThere(_ fd: Int32, _ position: JournalPosition) -> Bool {
        var header = [UInt8](repeating: 0, count: RecordFormat.recordHeaderSize)
        guard case .success(let n) = header.withUnsafeMutableBytes({ fs.sys.pread(fd, into: $0, offset: position.recordStart) }),
              n == header.count else { return false }
        let length = Int64(header.withUnsafeBytes { $0.loadLE(UInt32.self, at: 0) })
        let checksum = header.withUnsafeBytes { $0.loadLE(UInt32.self, at: 4) }
        return position.recordStart + Int64(RecordFormat.recordHeaderSize) + length == position.offset && checksum == position.identity
    }
}
