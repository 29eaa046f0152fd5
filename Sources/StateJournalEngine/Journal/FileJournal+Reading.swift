#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Logging
import StateJournalModel

extension FileJournal {
    package static let readChunkSize = 1 << 20

    @discardableResult
    package func readEvents(after seq: UInt64, _ body: (Event) throws -> Void) throws -> UInt64 {
        try readEvents(after: seq, upTo: .max, body)
    }

    /// Reads the segments that hold events after `seq` up to `upTo`; a
    /// segment that starts after `upTo` is not opened.
    @discardableResult
    package func readEvents(after seq: UInt64, upTo: UInt64, _ body: (Event) throws -> Void) throws -> UInt64 {
        // Another process may seal (compress and remove) a raw segment between
        // the listing and the open: list again, resuming after the last event
        // handed over, so that none is handed over twice.
        var from = seq
        var attempt = 0
        while true {
            do {
                return try readEventsOnce(after: from, upTo: upTo) { event in
                    guard event.seq <= upTo else { return }
                    try body(event)
                    from = event.seq
                }
            } catch let error as StateJournalError where error.errno == .noSuchFile && attempt < 5 {
                attempt += 1
                forgetListing()
            }
        }
    }

    private func readEventsOnce(after seq: UInt64, upTo: UInt64, _ body: (Event) throws -> Void) throws -> UInt64 {
        // Without the lock: only what was committed — made durable under the
        // lock — when this store first looked (see ``committedBoundary()``).
        let limit = locked ? nil : try committedBoundary()
        try recoverInterruptedWork()
        let segments = try listing(upTo: limit)
        // Under the lock the scan finds the tail anew (a lock-free read
        // leaves the one this store keeps between holds alone).
        if locked { closeTail() }
        var lastSeq: UInt64?
        for (i, segment) in segments.enumerated() {
            // Holds only events after the ones wanted (a writer reads on to the end).
            if segment.firstSeq > upTo, !locked { break }
            let isLast = i == segments.count - 1
            // A segment whose successor starts at or before seq + 1 holds nothing we need.
            if !isLast, segments[i + 1].firstSeq - 1 <= seq {
                lastSeq = segments[i + 1].firstSeq - 1
                continue
            }
            if let previous = lastSeq, previous != segment.firstSeq - 1 {
                throw StateJournalError.corruption(
                    "segment starting at seq \(segment.firstSeq) follows seq \(previous) in '\(directory)'; a segment is missing or misnamed",
                    path: path(segment.raw ?? segment.sealed ?? ""))
            }
            // Only the boundary's own segment is cut at the boundary's offset.
            let end = limit.map { $0.segmentFirstSeq == segment.firstSeq ? $0.end : .max } ?? .max
            if let raw = segment.raw {
                lastSeq = try scanRaw(raw, firstSeq: segment.firstSeq, isLast: isLast, after: seq, end: end, body)
            } else if let sealed = segment.sealed {
                lastSeq = try scanSealed(sealed, firstSeq: segment.firstSeq, previous: lastSeq, after: seq, end: end, body).lastSeq
            }
        }
        return lastSeq ?? 0
    }

    /// Sequence numbers run from 1 to `Int64.max` (events carry them as JSON
    /// integers); a segment named outside that range was renamed or damaged.
    package static func checkFirstSeq(_ firstSeq: UInt64, of file: String) throws(StateJournalError) {
        guard firstSeq >= 1, firstSeq <= UInt64(Int64.max) else {
            throw .corruption("segment '\(file)' is named for seq \(firstSeq), but sequence numbers run from 1 to \(Int64.max); "
                + "the file was renamed or damaged — move it out of the journal directory and run 'statejournal verify'", path: file)
        }
    }

    /// Decodes a record's event: straight from the bytes when they are in
    /// the form the journal writes (`decoder`, kept across a scan's
    /// records), else with the general JSON decoder — the same event, or the
    /// same error, either way.
    package func decodeEvent(_ payload: UnsafeRawBufferPointer, at offset: Int, in file: String, after lastSeq: UInt64,
                             decoder: inout CanonicalEventDecoder) throws -> Event {
        if let event = decoder.decode(payload) { return event }
        do {
            return try Event(json: try JSON.parse(payload))
        } catch {
            throw StateJournalError.corruption(
                "record at byte \(offset) of '\(file)' (after seq \(lastSeq)) has a valid checksum but cannot be decoded: \(error)",
                path: file)
        }
    }

    /// Walks the records of one segment's byte stream, checking that
    /// sequence numbers continue, decoding and handing over those after `seq`.
    package final class RecordWalker {
        package let journal: FileJournal
        package let file: String
        package let seq: UInt64
        package let body: (Event) throws -> Void
        /// Decode even the events not handed over, to check them (verify).
        package let decodeAll: Bool
        /// Records starting at or after this offset are not committed: ignored.
        package let end: Int64
        // One thread at a time walks (the reading thread, or a
        // ``SealedPipeline``'s decoding thread): the state is not checked
        // for exclusive access at run time, which cost about a tenth of a
        // record's decoding.
        @exclusivity(unchecked) package var next: UInt64
        @exclusivity(unchecked) package var lastTime: Timestamp?
        /// Where the last record visited starts, and its checksum.
        @exclusivity(unchecked) package var lastRecordStart: Int64 = Int64(RecordFormat.headerSize)
        @exclusivity(unchecked) package var lastRecordChecksum: UInt32 = 0
        /// Reused from record to record.
        @exclusivity(unchecked) private var decoder = CanonicalEventDecoder()

        package init(_ journal: FileJournal, file: String, next: UInt64, after seq: UInt64, decodeAll: Bool = false,
             end: Int64 = .max, _ body: @escaping (Event) throws -> Void) {
            self.journal = journal
            self.decodeAll = decodeAll
            self.file = file
            self.next = next
            self.seq = seq
            self.end = end
            self.body = body
        }

        package func visit(_ payload: UnsafeRawBufferPointer, _ offset: Int) throws {
            if Int64(offset) >= end { return }
            lastRecordStart = Int64(offset)
            lastRecordChecksum = RecordFormat.storedChecksum(ofPayload: payload)
            if !decodeAll, next <= seq, let peeked = Event.encodedSeq(payload), peeked <= seq, peeked == next {
                next += 1
                return
            }
            var event = try journal.decodeEvent(payload, at: offset, in: file, after: next - 1, decoder: &decoder)
            event.identity = RecordFormat.storedChecksum(ofPayload: payload)
            guard event.seq == next else {
                throw StateJournalError.corruption(
                    "record at byte \(offset) of '\(file)' has seq \(event.seq) but seq \(next) was expected", path: file)
            }
            next += 1
            lastTime = event.time
            if event.seq > seq { try body(event) }
        }
    }

    // MARK: Raw segments

    /// Reads a raw segment, in chunks. Under the lock, the last segment's
    /// torn tail is cut and the segment becomes the append target.
    ///
    /// Under the lock the segment is made durable before any of it is used
    /// (``makeDurable(_:_:end:)``), unless this process made it durable up
    /// to `durableUpTo` itself and nothing was written since. Without the
    /// lock, records starting at or after `end` are not read.
    package func scanRaw(_ name: String, firstSeq: UInt64, isLast: Bool, after seq: UInt64, end: Int64 = .max,
                 durableUpTo: Int64? = nil, allowRepair: Bool = true, _ body: (Event) throws -> Void) throws -> UInt64 {
        let file = path(name)
        try Self.checkFirstSeq(firstSeq, of: file)
        let repair = locked && isLast && allowRepair
        // Without the lock: the read session's descriptor, opened once.
        var keepOpen = !locked
        var fd = keepOpen ? try sessionDescriptor(file) : try fs.open(file, repair ? O_RDWR : O_RDONLY)
        defer { if !keepOpen { fs.closeQuietly(fd) } }

        var header = [UInt8](repeating: 0, count: RecordFormat.headerSize)
        let got = try header.withUnsafeMutableBytes { try fs.sys.pread(fd, into: $0, offset: 0).get("read", file) }
        let decoded = header.withUnsafeBytes { RecordFormat.decodeHeader(UnsafeRawBufferPointer(rebasing: $0[0..<got])) }
        switch decoded {
        case .success(let h) where h.firstSeq == firstSeq:
            break
        case .success(let h):
            throw StateJournalError.corruption("segment '\(file)' says it starts at seq \(h.firstSeq) but its name says \(firstSeq)", path: file)
        case .failure(let problem):
            throw StateJournalError.corruption("segment '\(file)' is damaged: \(problem) (events from seq \(firstSeq))", path: file)
        }

        var start = RecordFormat.headerSize
        var next = firstSeq
        // Seek to a known record only once it is checked to be there: the
        // position may come from another history (a snapshot left beside
        // segments put back from an older copy), and a scan from the middle
        // of a record would take the rest for a torn tail.
        if seq != UInt64.max, let position = snapshotPositions[seq], position.segmentFirstSeq == firstSeq,
           position.offset >= UInt64(start), position.identity != 0,
           recordChecksum(fd, at: Int64(position.offset)) == position.identity {
            start = Int(position.offset)
            next = seq + 1
        }
        var assembler = RecordAssembler(startingAt: start, maximumSize: maximumRecordSize)
        // Sized to what is there (a writer resuming at the end reads nothing),
        // at most one chunk: no megabyte to clear for every small read.
        var size = try fs.sys.fstat(fd).get("stat", file).size
        var durableUpTo = durableUpTo
        if repair, let confirmed = confirmedEnd(fd, file, firstSeq: firstSeq, size: size) {
            if size > confirmed {
                // Written by a process that never confirmed it durable (killed
                // before its fsync returned, or after it failed): never
                // acknowledged, and no fsync of ours can vouch for it. Cut it.
                try fs.sys.ftruncate(fd, length: confirmed).get("truncate unconfirmed bytes of", file)
                logger.notice("cut bytes an interrupted writer left unconfirmed",
                              metadata: ["file": "\(file)", "offset": "\(confirmed)", "bytes": "\(size - confirmed)"])
                fd = try makeDurable(fd, file, end: confirmed)
                size = confirmed
            }
            durableUpTo = confirmed
        }
        let stop = min(size, end)
        let remaining = max(stop - Int64(start), 0)
        var buffer = [UInt8](repeating: 0, count: Int(min(Int64(Self.readChunkSize), remaining + 1)))
        var fileOffset = Int64(start)
        var clean = true
        return try withoutActuallyEscaping(body) { body in
        let walker = RecordWalker(self, file: file, next: next, after: seq, end: end, body)
        while clean && fileOffset < stop {
            let want = Int(min(Int64(buffer.count), stop - fileOffset))
            let n = try buffer.withUnsafeMutableBytes {
                try fs.sys.pread(fd, into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<want]), offset: fileOffset).get("read", file)
            }
            if n == 0 { break }
            fileOffset += Int64(n)
            clean = try buffer.withUnsafeBytes { try assembler.feed(UnsafeRawBufferPointer(rebasing: $0[0..<n]), walker.visit) }
        }
        let lastSeq = walker.next - 1
        let validEnd = assembler.offset
        lastScanEnd = Int64(validEnd)
        if !clean || assembler.leftover > 0 {
            try classifyTail(fd: fd, file: file, from: validEnd, to: stop, lastSeq: lastSeq, isLast: isLast, repair: repair)
        }
        if repair {
            // Nothing in the segment is used before it is durable.
            if durableUpTo != Int64(validEnd) || size != Int64(validEnd) {
                fd = try makeDurable(fd, file, end: Int64(validEnd))
            }
            let status = try fs.sys.fstat(fd).get("stat", file)
            let scanned = Tail(path: file, firstSeq: firstSeq, fd: fd, device: status.device, inode: status.inode, end: Int64(validEnd),
                               lastSeq: lastSeq, lastTime: walker.lastTime,
                               lastRecordStart: walker.lastRecordStart, lastRecordChecksum: walker.lastRecordChecksum)
            tail = scanned
            keepOpen = true
            try confirm(scanned)
        }
        return lastSeq
        }
    }

    /// The checksum in the header of a record that starts at `offset` and
    /// fits in the file; nil when none can start there.
    package func recordChecksum(_ fd: Int32, at offset: Int64) -> UInt32? {
        var header = [UInt8](repeating: 0, count: RecordFormat.recordHeaderSize)
        guard case .success(let n) = header.withUnsafeMutableBytes({ fs.sys.pread(fd, into: $0, offset: offset) }),
              n == header.count, case .success(let status) = fs.sys.fstat(fd) else { return nil }
        let length = Int64(header.withUnsafeBytes { $0.loadLE(UInt32.self, at: 0) })
        guard length > 0, offset + Int64(RecordFormat.recordHeaderSize) + length <= status.size else { return nil }
        return header.withUnsafeBytes { $0.loadLE(UInt32.self, at: 4) }
    }

    /// Decides whether the bytes after the last valid record are a torn tail
    /// (cut it, under the lock) or corruption (valid records follow: report).
    private func classifyTail(fd: Int32, file: String, from offset: Int, to stop: Int64, lastSeq: UInt64, isLast: Bool, repair: Bool) throws {
        let size = Int(min(try fs.sys.fstat(fd).get("stat", file).size, stop))
        var rest = [UInt8](repeating: 0, count: max(size - offset, 0))
        var done = 0
        while done < rest.count {
            let n = try rest.withUnsafeMutableBytes {
                try fs.sys.pread(fd, into: UnsafeMutableRawBufferPointer(rebasing: $0[done...]), offset: Int64(offset + done)).get("read", file)
            }
            if n == 0 { break }
            done += n
        }
        let outcome = rest.withUnsafeBytes { RecordFormat.scan(UnsafeRawBufferPointer(rebasing: $0[0..<done]), from: 0, maximumSize: maximumRecordSize) { _, _ in } }
        switch outcome {
        case .corrupt(_, let next):
            throw StateJournalError.corruption(
                "record at byte \(offset) of '\(file)' (after seq \(lastSeq)) is damaged and valid records follow at byte \(offset + next); "
                + "nothing was cut — run 'statejournal verify' and restore the file from a backup", path: file)
        case .clean:
            return
        case .torn(_, let length):
            guard isLast else {
                throw StateJournalError.corruption(
                    "segment '\(file)' ends with \(length) damaged bytes at byte \(offset) (after seq \(lastSeq)) but is not the last segment",
                    path: file)
            }
            guard repair else { return }  // maybe an append in progress: not ours to cut
            try fs.sys.ftruncate(fd, length: Int64(offset)).get("truncate torn tail of", file)
            try fs.fdatasync(fd, file)
            logger.notice("cut a torn tail left by an interrupted write",
                          metadata: ["file": "\(file)", "offset": "\(offset)", "bytes": "\(length)", "lastSeq": "\(lastSeq)"])
        }
    }

    // MARK: Sealed segments

    /// Streams a sealed segment through zstd, checking the frame, the raw
    /// checksum and the header's counts. Any damage is corruption.
    package func scanSealed(_ name: String, firstSeq: UInt64, previous: UInt64?, after seq: UInt64,
                    verifyAll: Bool = false, end: Int64 = .max, _ body: (Event) throws -> Void) throws -> SealedSegmentHeader {
        let file = path(name)
        try Self.checkFirstSeq(firstSeq, of: file)
        return try withReadDescriptor(file) { fd in
            try scanSealed(fd, file, firstSeq: firstSeq, after: seq, verifyAll: verifyAll, end: end, body)
        }
    }

    private func scanSealed(_ fd: Int32, _ file: String, firstSeq: UInt64, after seq: UInt64,
                            verifyAll: Bool, end: Int64, _ body: (Event) throws -> Void) throws -> SealedSegmentHeader {
        var frame = [UInt8](repeating: 0, count: SealedSegmentHeader.frameSize)
        let got = try frame.withUnsafeMutableBytes { try fs.sys.pread(fd, into: $0, offset: 0).get("read", file) }
        let header: SealedSegmentHeader
        switch frame.withUnsafeBytes({ SealedSegmentHeader.decode(UnsafeRawBufferPointer(rebasing: $0[0..<got])) }) {
        case .success(let h): header = h
        case .failure(let problem):
            throw StateJournalError.corruption("sealed segment '\(file)' is damaged: \(problem) (events from seq \(firstSeq))", path: file)
        }
        guard header.firstSeq == firstSeq, header.lastSeq < UInt64(Int64.max), header.lastSeq + 1 >= firstSeq else {
            throw StateJournalError.corruption(
                "sealed segment '\(file)' (seq \(header.firstSeq)…\(header.lastSeq)) is damaged: its header does not match its name; restore it from a backup",
                path: file)
        }
        if !verifyAll, header.lastSeq <= seq { return header }

        func read(_ buffer: UnsafeMutableRawBufferPointer, at offset: Int64) throws -> Int {
            try fs.sys.pread(fd, into: buffer, offset: offset).get("read", file)
        }
        let start = Int64(SealedSegmentHeader.frameSize)
        // A large segment on two threads: this one reads and applies, the
        // other decompresses and decodes (the same events, errors and reads).
        if let threshold = options.secondThreadFromRawSize, header.rawSize >= UInt64(max(threshold, 0)), SealedPipeline.available,
           let done = try SealedPipeline.run(from: start, chunkSize: Self.readChunkSize, makeStream: { emit in
               let walker = RecordWalker(self, file: file, next: firstSeq, after: seq, decodeAll: verifyAll, end: end, emit)
               return try SealedStream(file: file, header: header, walker: walker, end: end, maximumRecordSize: maximumRecordSize)
           }, read: read, body) {
            return done
        }
        return try withoutActuallyEscaping(body) { body in
            let walker = RecordWalker(self, file: file, next: firstSeq, after: seq, decodeAll: verifyAll, end: end, body)
            var stream = try SealedStream(file: file, header: header, walker: walker, end: end, maximumRecordSize: maximumRecordSize)
            return try stream.readAll(from: start, chunkSize: Self.readChunkSize, read: read)
        }
    }
}
