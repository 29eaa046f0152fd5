#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Logging

/// The file-based ``JournalStore``: numbered segment files in `PATH.journal/`
/// and an `flock` on `PATH.lock`.
///
/// Append is one `pwrite` of every framed record, then one `fdatasync`; a new
/// segment is created under a temporary name, fsynced, renamed into place and
/// its directory fsynced. See `Docs/FORMAT.md`.
public final class FileJournal: JournalStore {
    public let directory: String
    public let lockPath: String
    public var location: String { directory }

    let fs: FileSystem
    let logger: Logger
    let maximumRecordSize: Int
    private let lock: FileLock

    /// Where the next record goes, known after a read under the lock.
    private struct Tail {
        var path: String
        var fd: Int32
        var end: Int64
        var lastSeq: UInt64
    }
    private var tail: Tail?
    private var locked = false

    /// - Parameters:
    ///   - statePath: the STATE.md path; the journal is `statePath + ".journal"`.
    public init(statePath: String, fileSystem: FileSystem = FileSystem(), logger: Logger = Logger(label: "statejournal"),
                maximumRecordSize: Int = RecordFormat.defaultMaximumRecordSize) {
        self.directory = statePath + ".journal"
        self.lockPath = statePath + ".lock"
        self.fs = fileSystem
        self.logger = logger
        self.maximumRecordSize = maximumRecordSize
        self.lock = FileLock(path: lockPath, fileSystem: fileSystem)
    }

    deinit { closeTail() }

    private func closeTail() {
        if let tail { fs.closeQuietly(tail.fd) }
        tail = nil
    }

    @discardableResult
    public func withWriteLock<T>(_ policy: LockPolicy, command: String, _ body: () throws -> T) throws -> T {
        if locked { return try body() }
        try lock.acquire(policy, command: command)
        locked = true
        defer {
            closeTail()
            locked = false
            lock.release()
        }
        return try body()
    }

    // MARK: Segments

    static let segmentPrefix = "segment-"
    static let segmentSuffix = ".log"

    static func segmentName(firstSeq: UInt64) -> String {
        let digits = String(firstSeq)
        return segmentPrefix + String(repeating: "0", count: max(0, 20 - digits.count)) + digits + segmentSuffix
    }

    /// The segment files, oldest first, with the first sequence number their
    /// name gives.
    func segments() throws(StateJournalError) -> [(name: String, firstSeq: UInt64)] {
        guard let status = try fs.lstat(directory) else { return [] }
        guard status.isDirectory else {
            throw StateJournalError(.corruption, "'\(directory)' is not a directory; the journal must be a directory of segment files", path: directory)
        }
        var result: [(String, UInt64)] = []
        for name in try fs.list(directory) {
            guard name.hasPrefix(Self.segmentPrefix), name.hasSuffix(Self.segmentSuffix) else {
                if !name.contains(".tmp-") {
                    logger.warning("ignoring a file that is not part of the journal", metadata: ["file": "\(FileSystem.join(directory, name))"])
                }
                continue
            }
            let digits = name.dropFirst(Self.segmentPrefix.count).dropLast(Self.segmentSuffix.count)
            guard digits.count == 20, let seq = UInt64(digits) else { continue }
            result.append((name, seq))
        }
        return result.sorted { $0.1 < $1.1 }
    }

    // MARK: Reading

    @discardableResult
    public func readEvents(after seq: UInt64, _ body: (Event) throws -> Void) throws -> UInt64 {
        let list = try segments()
        var lastSeq: UInt64 = 0
        closeTail()
        for (index, segment) in list.enumerated() {
            let isLast = index == list.count - 1
            // A segment whose successor starts at or before `seq` holds nothing we need.
            if !isLast, list[index + 1].firstSeq <= seq + 1 {
                lastSeq = list[index + 1].firstSeq - 1
                continue
            }
            lastSeq = try readSegment(segment.name, expectedFirst: segment.firstSeq, previous: lastSeq,
                                      isLast: isLast, after: seq, body)
        }
        return lastSeq
    }

    private func readSegment(_ name: String, expectedFirst: UInt64, previous: UInt64, isLast: Bool,
                             after seq: UInt64, _ body: (Event) throws -> Void) throws -> UInt64 {
        let path = FileSystem.join(directory, name)
        let repair = locked && isLast
        let fd = try fs.open(path, repair ? O_RDWR : O_RDONLY)
        var keepOpen = false
        defer { if !keepOpen { fs.closeQuietly(fd) } }
        let bytes = try fs.readAll(fd, path)
        var lastSeq = previous
        let outcome: (RecordFormat.Tail, Int) = try bytes.withUnsafeBytes { raw in
            let header: RecordFormat.SegmentHeader
            switch RecordFormat.decodeHeader(raw) {
            case .success(let h): header = h
            case .failure(let problem):
                throw StateJournalError.corruption("segment '\(path)' is damaged: \(problem) (events from seq \(expectedFirst))", path: path)
            }
            guard header.firstSeq == expectedFirst, previous == 0 || expectedFirst == previous + 1 else {
                throw StateJournalError.corruption(
                    "segment '\(path)' starts at seq \(header.firstSeq) but seq \(previous + 1) was expected; a segment is missing or misnamed",
                    path: path)
            }
            var recordError: (any Error)?
            let tail = RecordFormat.scan(raw, from: RecordFormat.headerSize, maximumSize: maximumRecordSize) { payload, offset in
                guard recordError == nil else { return }
                do {
                    let json = try JSON.parse(payload)
                    let event = try Event(json: json)
                    guard event.seq == lastSeq + 1 || (lastSeq == 0 && previous == 0 && event.seq == header.firstSeq) else {
                        throw StateJournalError.corruption(
                            "record at byte \(offset) of '\(path)' has seq \(event.seq) but seq \(lastSeq + 1) was expected", path: path)
                    }
                    lastSeq = event.seq
                    if event.seq > seq { try body(event) }
                } catch let error as StateJournalError {
                    recordError = error
                } catch {
                    recordError = StateJournalError.corruption(
                        "record at byte \(offset) of '\(path)' (after seq \(lastSeq)) has a valid checksum but cannot be decoded: \(error)",
                        path: path)
                }
            }
            if let recordError { throw recordError }
            return (tail, raw.count)
        }
        switch outcome.0 {
        case .clean:
            break
        case .corrupt(let offset, let next):
            throw StateJournalError.corruption(
                "record at byte \(offset) of '\(path)' (after seq \(lastSeq)) is damaged and valid records follow at byte \(next); "
                + "nothing was cut — run 'statejournal verify' and restore the file from a backup", path: path)
        case .torn(let offset, let length):
            guard isLast else {
                throw StateJournalError.corruption(
                    "sealed segment '\(path)' ends with \(length) damaged bytes at byte \(offset) (after seq \(lastSeq))", path: path)
            }
            if repair {
                // An interrupted append: cut it and make the cut durable.
                try fs.sys.ftruncate(fd, length: Int64(offset)).get("truncate torn tail of", path)
                try fs.fdatasync(fd, path)
                logger.notice("cut a torn tail left by an interrupted write", metadata: [
                    "file": "\(path)", "offset": "\(offset)", "bytes": "\(length)", "lastSeq": "\(lastSeq)"])
            }
        }
        if repair {
            let end: Int64
            if case .torn(let offset, _) = outcome.0 { end = Int64(offset) } else { end = Int64(outcome.1) }
            tail = Tail(path: path, fd: fd, end: end, lastSeq: lastSeq)
            keepOpen = true
        }
        return lastSeq
    }

    // MARK: Appending

    public func append(_ events: [Event]) throws {
        guard let first = events.first else { return }
        guard locked else {
            throw StateJournalError(.io, "append to '\(directory)' without holding the lock; call it inside withWriteLock")
        }
        if tail == nil {
            let last = try readEvents(after: UInt64.max) { _ in }
            if tail == nil { try createSegment(firstSeq: last + 1) }
        }
        guard var current = tail else { return }
        guard first.seq == current.lastSeq + 1 else {
            throw StateJournalError(.io, "append of seq \(first.seq) to '\(directory)' whose last seq is \(current.lastSeq)")
        }
        var buffer: [UInt8] = []
        buffer.reserveCapacity(events.count * 256)
        for event in events {
            let payload = event.json().encoded()
            guard payload.count <= maximumRecordSize else {
                throw StateJournalError(.badInput, "the event is \(payload.count) bytes, more than the \(maximumRecordSize)-byte record limit; shorten its text")
            }
            RecordFormat.appendRecord(payload, to: &buffer)
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
        current.end += Int64(buffer.count)
        current.lastSeq = events[events.count - 1].seq
        tail = current
    }

    /// Creates an empty segment atomically: temporary file, fsync, rename,
    /// directory fsync.
    private func createSegment(firstSeq: UInt64) throws(StateJournalError) {
        try fs.ensureDirectory(directory)
        let path = FileSystem.join(directory, Self.segmentName(firstSeq: firstSeq))
        let temp = FileSystem.temporaryName(for: path)
        try fs.writeNewFile(temp, RecordFormat.encodeHeader(.init(firstSeq: firstSeq, created: .now())))
        do throws(StateJournalError) {
            try fs.rename(temp, path)
            try fs.fsyncDirectory(directory)
        } catch {
            _ = fs.sys.unlink(temp)
            throw error
        }
        let fd = try fs.open(path, O_RDWR)
        tail = Tail(path: path, fd: fd, end: Int64(RecordFormat.headerSize), lastSeq: firstSeq - 1)
    }
}
