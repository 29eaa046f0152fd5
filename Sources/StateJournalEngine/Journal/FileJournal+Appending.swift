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

// Appending framed records to the active segment, and starting segments.
extension FileJournal {
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
            let cut = cutBack(current)
            closeTail()
            throw cut ? error : Self.appendMayRemain(error, current.path)
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
            let cut = cutBack(current)
            closeTail()
            guard cut else { throw Self.appendMayRemain(error, current.path) }
            throw StateJournalError(.io, "recording the journal's durable end in '\(lockPath)' failed (\(error)); nothing was written — check the disk, then retry",
                                    path: lockPath, errno: error.errno)
        }
        tail = appended
        return rotated
    }

    /// Cuts a failed append's bytes: the segment back to `current.end`,
    /// made durable. False when the cut failed: the bytes may remain.
    private func cutBack(_ current: Tail) -> Bool {
        guard case .success = fs.sys.ftruncate(current.fd, length: current.end) else { return false }
        guard case .success = fs.sys.fdatasync(current.fd) else { return false }
        return true
    }

    /// The error of an append that failed and whose bytes could not be cut
    /// away: it may yet be in the journal, so a plain retry could write it
    /// twice.
    package static func appendMayRemain(_ error: StateJournalError, _ segment: String) -> StateJournalError {
        StateJournalError(.io, "the append failed (\(error)) and cutting its bytes from '\(segment)' failed too, so it may or may not be in the journal; "
            + "check the journal's last events (statejournal log -n 3) before retrying, or retry with the same idempotency key",
                          path: segment, errno: error.errno)
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
}
