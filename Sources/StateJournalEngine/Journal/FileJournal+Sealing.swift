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
    /// Seals the active segment: compresses it with zstd's streaming API to a
    /// temporary file (header in a skippable frame, content checksum on),
    /// fsyncs it, renames it into place, fsyncs the directory, and only then
    /// removes the raw segment. The next append starts a new segment.
    ///
    /// A crash at any step leaves either the raw segment alone, or both (the
    /// next writer finishes the job); never neither.
    package func sealActiveSegment() throws {
        guard locked else {
            throw StateJournalError(.io, "seal of '\(directory)' without holding the lock; call it inside withWriteLock")
        }
        if tail == nil { try readEvents(after: UInt64.max) { _ in } }
        guard let current = tail, current.lastSeq >= current.firstSeq else { return }  // nothing to seal
        let sealedPath = path(Self.sealedName(firstSeq: current.firstSeq))
        let temp = FileSystem.temporaryName(for: sealedPath)
        let out = try fs.open(temp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode: 0o644)
        do {
            let header = try compress(current, into: out, path: temp)
            try fs.writeAll(out, header.encoded(), at: 0, temp)
            try fs.fsync(out, temp)
            fs.closeQuietly(out)
        } catch {
            fs.closeQuietly(out)
            _ = fs.sys.unlink(temp)
            throw error
        }
        do {
            try fs.rename(temp, sealedPath)
        } catch {
            _ = fs.sys.unlink(temp)
            throw error
        }
        forgetListing()
        try fs.fsyncDirectory(directory)
        closeTail()
        try fs.unlinkIfExists(current.path)
        try fs.fsyncDirectory(directory)
        logger.debug("sealed a segment", metadata: ["file": "\(sealedPath)", "lastSeq": "\(current.lastSeq)"])
    }

    /// Streams the raw segment's valid bytes through zstd into `out` after
    /// room for the header frame, and returns the header describing them.
    private func compress(_ segment: Tail, into out: Int32, path outPath: String) throws -> SealedSegmentHeader {
        let compressor: ZstdCompressor
        do { compressor = try ZstdCompressor(level: options.compressionLevel) } catch { throw StateJournalError(.io, "zstd: \(error)") }
        var header = SealedSegmentHeader(firstSeq: segment.firstSeq, lastSeq: segment.lastSeq, count: 0, rawSize: 0,
                                         rawChecksum: 0, firstTime: Timestamp(microseconds: 0), lastTime: Timestamp(microseconds: 0))
        var writeOffset = Int64(SealedSegmentHeader.frameSize)
        var readOffset: Int64 = 0
        var buffer = [UInt8](repeating: 0, count: Self.readChunkSize)
        var assembler = RecordAssembler(startingAt: RecordFormat.headerSize, maximumSize: maximumRecordSize)
        var skipped = 0
        var sawFirst = false
        while readOffset < segment.end {
            let want = Int(min(Int64(buffer.count), segment.end - readOffset))
            let n = try buffer.withUnsafeMutableBytes {
                try fs.sys.pread(segment.fd, into: UnsafeMutableRawBufferPointer(rebasing: $0[0..<want]), offset: readOffset).get("read", segment.path)
            }
            if n == 0 { throw StateJournalError(.io, "'\(segment.path)' ended early while sealing it", path: segment.path) }
            readOffset += Int64(n)
            try buffer.withUnsafeBytes { raw in
                let chunk = UnsafeRawBufferPointer(rebasing: raw[0..<n])
                header.rawChecksum = CRC32C.update(header.rawChecksum, chunk)
                header.rawSize += UInt64(n)
                // Times for the header's index: the first and last record's.
                var records = chunk
                if skipped < RecordFormat.headerSize {
                    let take = min(RecordFormat.headerSize - skipped, records.count)
                    skipped += take
                    records = UnsafeRawBufferPointer(rebasing: records[take...])
                }
                _ = assembler.feed(records) { payload, _ in
                    header.count += 1
                    if let time = Event.encodedTime(payload) {
                        if !sawFirst { header.firstTime = time; sawFirst = true }
                        header.lastTime = time
                    }
                }
                try compressor.compress(chunk, last: readOffset >= segment.end) { compressed in
                    header.compressedChecksum = CRC32C.update(header.compressedChecksum, compressed)
                    try fs.writeAll(out, compressed, at: writeOffset, outPath)
                    writeOffset += Int64(compressed.count)
                }
            }
        }
        return header
    }
}
