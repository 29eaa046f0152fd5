#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import StateJournalModel

/// The sequence ↔ time index of the file journal: a sealed segment's header
/// holds its first and last event's time, and a raw segment is scanned with
/// ``Event/encodedSeq(_:)`` and ``Event/encodedTime(_:)`` only. A time
/// lookup decodes at most the one segment the time falls in.
extension FileJournal {
    /// First and last (seq, time) of one segment.
    package struct SegmentTimes {
        package var first: (seq: UInt64, time: Timestamp)?
        package var last: (seq: UInt64, time: Timestamp)?
    }

    /// The segments a reader may use: without the lock, those up to the
    /// committed boundary (see ``committedBoundary()``), and where the
    /// boundary's segment ends for it.
    package func committedSegments() throws -> (segments: [SegmentFiles], end: (UInt64, Int64)?) {
        let limit = locked ? nil : try committedBoundary()
        let segments = try listing(upTo: limit)
        return (segments, limit.map { ($0.segmentFirstSeq, $0.end) })
    }

    /// Learnt once per read session (without the lock: up to the committed
    /// boundary, which does not move).
    package func segmentTimes(_ segment: SegmentFiles, end: Int64 = .max) throws -> SegmentTimes {
        if !locked, let known = session.times[segment.firstSeq] { return known }
        let times = try readSegmentTimes(segment, end: end)
        if !locked { session.times[segment.firstSeq] = times }
        return times
    }

    private func readSegmentTimes(_ segment: SegmentFiles, end: Int64) throws -> SegmentTimes {
        if segment.raw == nil, let sealed = segment.sealed {
            let file = path(sealed)
            return try withReadDescriptor(file) { fd in
            var frame = [UInt8](repeating: 0, count: SealedSegmentHeader.frameSize)
            let got = try frame.withUnsafeMutableBytes { try fs.sys.pread(fd, into: $0, offset: 0).get("read", file) }
            switch frame.withUnsafeBytes({ SealedSegmentHeader.decode(UnsafeRawBufferPointer(rebasing: $0[0..<got])) }) {
            case .success(let h) where h.count > 0:
                return SegmentTimes(first: (h.firstSeq, h.firstTime), last: (h.lastSeq, h.lastTime))
            case .success:
                return SegmentTimes()
            case .failure(let problem):
                throw StateJournalError.corruption("sealed segment '\(file)' is damaged: \(problem)", path: file)
            }
            }
        }
        guard let raw = segment.raw else { return SegmentTimes() }
        var times = SegmentTimes()
        let file = path(raw)
        let bytes: [UInt8]
        do {
            bytes = try withReadDescriptor(file) { fd in try fs.readAll(fd, file, upTo: end) }
        } catch let error as StateJournalError where error.errno == .noSuchFile {
            return times
        }
        let committed = Int(min(Int64(bytes.count), end))
        bytes.withUnsafeBytes { all in
            let b = UnsafeRawBufferPointer(rebasing: all[0..<committed])
            _ = RecordFormat.scan(b, from: RecordFormat.headerSize, maximumSize: maximumRecordSize) { payload, _ in
                guard let seq = Event.encodedSeq(payload), let time = Event.encodedTime(payload) else { return }
                if times.first == nil { times.first = (seq, time) }
                times.last = (seq, time)
            }
        }
        return times
    }

    package func bounds() throws -> JournalBounds? {
        let (segments, limit) = try committedSegments()
        func end(_ segment: SegmentFiles) -> Int64 { limit.map { $0.0 == segment.firstSeq ? $0.1 : .max } ?? .max }
        var first: (seq: UInt64, time: Timestamp)?
        for segment in segments {
            if let f = try segmentTimes(segment, end: end(segment)).first { first = f; break }
        }
        var last: (seq: UInt64, time: Timestamp)?
        for segment in segments.reversed() {
            if let l = try segmentTimes(segment, end: end(segment)).last { last = l; break }
        }
        guard let first, let last else { return nil }
        return JournalBounds(firstSeq: first.seq, firstTime: first.time, lastSeq: last.seq, lastTime: last.time)
    }

    package func lastSeq(atOrBefore time: Timestamp) throws -> UInt64? {
        let (segments, limit) = try committedSegments()
        func end(_ segment: SegmentFiles) -> Int64 { limit.map { $0.0 == segment.firstSeq ? $0.1 : .max } ?? .max }
        // The last segment that starts at or before `time` holds the answer
        // (writers never stamp an event earlier than the one before it).
        var candidate: (index: Int, times: SegmentTimes)?
        for (i, segment) in segments.enumerated() {
            let times = try segmentTimes(segment, end: end(segment))
            guard let first = times.first else { continue }
            if first.time > time { break }
            candidate = (i, times)
        }
        guard let (index, times) = candidate, let last = times.last else { return nil }
        if last.time <= time { return last.seq }
        // Decode that one segment and search it.
        var segmentIndex = EventTimeIndex()
        let segment = segments[index]
        let isLast = index == segments.count - 1
        if let raw = segment.raw {
            _ = try scanRaw(raw, firstSeq: segment.firstSeq, isLast: isLast, after: 0, end: end(segment)) { segmentIndex.add($0) }
        } else if let sealed = segment.sealed {
            _ = try scanSealed(sealed, firstSeq: segment.firstSeq, previous: nil, after: 0, end: end(segment)) { segmentIndex.add($0) }
        }
        return segmentIndex.lastSeq(atOrBefore: time)
    }
}

extension FileJournal {
    /// The session's listing, cut after the committed boundary's segment
    /// (all of it under the lock, where `limit` is nil).
    ///
    /// The boundary's segment stays in every listing of the same journal
    /// (raw, or sealed since). Gone: the journal was replaced (deleted and
    /// started anew, put back from a copy) since the boundary was taken, and
    /// no offset of it applies to another file: the bytes there were never
    /// confirmed durable.
    func listing(upTo limit: Boundary?) throws -> [SegmentFiles] {
        var segments = try currentListing().segments
        guard let limit else { return segments }
        segments.removeAll { $0.firstSeq > limit.segmentFirstSeq }
        if limit.segmentFirstSeq > 0, segments.last?.firstSeq != limit.segmentFirstSeq {
            throw StateJournalError(.io, "the journal '\(directory)' was replaced while it was read (the segment of seq \(limit.segmentFirstSeq) is gone); "
                + "run the command again", path: directory)
        }
        return segments
    }
}
