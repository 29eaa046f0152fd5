import StateJournalModel
/// A sealed segment: a plain zstd file whose first frame is a *skippable*
/// frame holding this header, followed by one zstd frame (content checksum
/// on) whose content is the raw segment, byte for byte.
///
/// `zstd -t` accepts the file and `zstd -d` yields the raw segment; the
/// header lets a reader skip a whole segment, or find a time, without
/// decompressing it.
///
/// ```
/// skippable frame := magic 0x184D2A5E u32 | size u32 (72) | content
/// content := "SJSEALED" | version u16 | 0 u16 | first seq u64 | last seq u64
///            | record count u64 | raw size u64 | masked crc32c of the raw segment u32
///            | first event time µs i64 | last event time µs i64
///            | masked crc32c of the zstd frame's bytes u32
///            | masked crc32c of the preceding 68 bytes u32
/// ```
package struct SealedSegmentHeader: Equatable, Sendable {
    package static let skippableMagic: UInt32 = 0x184D_2A5E
    package static let magic: [UInt8] = Array("SJSEALED".utf8)
    package static let version: UInt16 = 1
    package static let contentSize = 72
    package static let frameSize = 8 + contentSize

    package var firstSeq: UInt64
    package var lastSeq: UInt64
    package var count: UInt64
    package var rawSize: UInt64
    package var rawChecksum: UInt32
    package var firstTime: Timestamp
    package var lastTime: Timestamp
    /// CRC-32C of the compressed bytes after the header frame, so that any
    /// changed byte is caught, even one zstd itself would not notice.
    package var compressedChecksum: UInt32 = 0

    package init(firstSeq: UInt64, lastSeq: UInt64, count: UInt64, rawSize: UInt64, rawChecksum: UInt32,
                 firstTime: Timestamp, lastTime: Timestamp, compressedChecksum: UInt32 = 0) {
        self.firstSeq = firstSeq
        self.lastSeq = lastSeq
        self.count = count
        self.rawSize = rawSize
        self.rawChecksum = rawChecksum
        self.firstTime = firstTime
        self.lastTime = lastTime
        self.compressedChecksum = compressedChecksum
    }

    package func encoded() -> [UInt8] {
        var content = Self.magic
        content.appendLE(Self.version)
        content.appendLE(UInt16(0))
        content.appendLE(firstSeq)
        content.appendLE(lastSeq)
        content.appendLE(count)
        content.appendLE(rawSize)
        content.appendLE(CRC32C.mask(rawChecksum))
        content.appendLE(UInt64(bitPattern: firstTime.microseconds))
        content.appendLE(UInt64(bitPattern: lastTime.microseconds))
        content.appendLE(CRC32C.mask(compressedChecksum))
        content.appendLE(CRC32C.mask(CRC32C.checksum(content)))
        var frame: [UInt8] = []
        frame.appendLE(Self.skippableMagic)
        frame.appendLE(UInt32(content.count))
        return frame + content
    }

    package static func decode(_ bytes: UnsafeRawBufferPointer) -> Result<SealedSegmentHeader, RecordFormat.HeaderProblem> {
        guard bytes.count >= frameSize else { return .failure(.truncated) }
        guard bytes.loadLE(UInt32.self, at: 0) == skippableMagic, bytes.loadLE(UInt32.self, at: 4) == UInt32(contentSize),
              bytes[8..<16].elementsEqual(magic) else { return .failure(.badMagic) }
        let c = UnsafeRawBufferPointer(rebasing: bytes[8..<frameSize])
        guard CRC32C.mask(CRC32C.checksum(UnsafeRawBufferPointer(rebasing: c[0..<68]))) == c.loadLE(UInt32.self, at: 68) else {
            return .failure(.checksumMismatch)
        }
        let version = c.loadLE(UInt16.self, at: 8)
        guard version <= Self.version else { return .failure(.unsupportedVersion(version)) }
        return .success(SealedSegmentHeader(
            firstSeq: c.loadLE(UInt64.self, at: 12), lastSeq: c.loadLE(UInt64.self, at: 20),
            count: c.loadLE(UInt64.self, at: 28), rawSize: c.loadLE(UInt64.self, at: 36),
            rawChecksum: CRC32C.unmask(c.loadLE(UInt32.self, at: 44)),
            firstTime: Timestamp(microseconds: Int64(bitPattern: c.loadLE(UInt64.self, at: 48))),
            lastTime: Timestamp(microseconds: Int64(bitPattern: c.loadLE(UInt64.self, at: 56))),
            compressedChecksum: CRC32C.unmask(c.loadLE(UInt32.self, at: 64))))
    }
}
