import StateJournalModel
/// The journal's on-disk framing: a segment header, then records.
///
/// ```
/// segment  := header record*
/// header   := magic "SJOURNAL" (8) | version u16 | header size u16 (32)
///             | first seq u64 | created µs i64 | masked crc32c u32 of bytes 0..<28
/// record   := length u32 | masked crc32c u32 of (length ‖ payload) | payload
/// payload  := one event as compact UTF-8 JSON
/// ```
/// All integers are little-endian. The CRC is CRC-32C, stored masked (see
/// ``CRC32C/mask(_:)``). `Docs/FORMAT.md` has the full description and a
/// worked example.
package enum RecordFormat {
    package static let magic: [UInt8] = Array("SJOURNAL".utf8)
    package static let version: UInt16 = 1
    package static let headerSize = 32
    package static let recordHeaderSize = 8
    /// The largest payload a reader accepts; larger lengths are damage.
    package static let defaultMaximumRecordSize = 16 << 20

    // MARK: Header

    package struct SegmentHeader: Equatable, Sendable {
        package var firstSeq: UInt64
        package var created: Timestamp

        package init(firstSeq: UInt64, created: Timestamp) {
            self.firstSeq = firstSeq
            self.created = created
        }
    }

    package static func encodeHeader(_ header: SegmentHeader) -> [UInt8] {
        var out = magic
        out.appendLE(version)
        out.appendLE(UInt16(headerSize))
        out.appendLE(header.firstSeq)
        out.appendLE(UInt64(bitPattern: header.created.microseconds))
        out.appendLE(CRC32C.mask(CRC32C.checksum(out)))
        return out
    }

    package enum HeaderProblem: Error, Equatable, Sendable, CustomStringConvertible {
        case truncated
        case badMagic
        case checksumMismatch
        case unsupportedVersion(UInt16)

        package var description: String {
            switch self {
            case .truncated: return "the segment header is truncated"
            case .badMagic: return "the file does not start with a StateJournal segment header"
            case .checksumMismatch: return "the segment header's checksum does not match"
            case .unsupportedVersion(let v):
                return "segment format version \(v) is newer than this build understands (\(RecordFormat.version)); upgrade statejournal"
            }
        }
    }

    package static func decodeHeader(_ bytes: UnsafeRawBufferPointer) -> Result<SegmentHeader, HeaderProblem> {
        guard bytes.count >= headerSize else { return .failure(.truncated) }
        guard bytes.prefix(8).elementsEqual(magic) else { return .failure(.badMagic) }
        guard CRC32C.mask(CRC32C.checksum(UnsafeRawBufferPointer(rebasing: bytes[0..<28]))) == bytes.loadLE(UInt32.self, at: 28) else {
            return .failure(.checksumMismatch)
        }
        let version = bytes.loadLE(UInt16.self, at: 8)
        guard version <= RecordFormat.version else { return .failure(.unsupportedVersion(version)) }
        return .success(SegmentHeader(firstSeq: bytes.loadLE(UInt64.self, at: 12),
                                      created: Timestamp(microseconds: Int64(bitPattern: bytes.loadLE(UInt64.self, at: 20)))))
    }

    // MARK: Records

    /// Appends one framed record holding `payload` to `out`.
    package static func appendRecord(_ payload: UnsafeRawBufferPointer, to out: inout [UInt8]) {
        out.appendLE(UInt32(payload.count))
        out.appendLE(CRC32C.maskedFramed(payload))
        out.append(contentsOf: payload)
    }

    /// The masked checksum a record holding `payload` carries (over the
    /// length field and the payload): an event's identity.
    package static func recordChecksum(_ payload: [UInt8]) -> UInt32 {
        payload.withUnsafeBytes { CRC32C.maskedFramed($0) }
    }

    /// The masked checksum stored in the header of the record whose payload
    /// `payload` is — a slice that ``record(in:at:maximumSize:)`` returned,
    /// so the header's bytes precede it in memory.
    package static func storedChecksum(ofPayload payload: UnsafeRawBufferPointer) -> UInt32 {
        guard let base = payload.baseAddress else { return 0 }
        return UInt32(littleEndian: (base - 4).loadUnaligned(as: UInt32.self))
    }

    package static func appendRecord(_ payload: [UInt8], to out: inout [UInt8]) {
        payload.withUnsafeBytes { appendRecord($0, to: &out) }
    }

    /// The payload of the record at `offset`, if a whole, valid record starts there.
    package static func record(in bytes: UnsafeRawBufferPointer, at offset: Int, maximumSize: Int) -> UnsafeRawBufferPointer? {
        guard offset >= 0, bytes.count - offset >= recordHeaderSize else { return nil }
        let length = Int(bytes.loadLE(UInt32.self, at: offset))
        guard length > 0, length <= maximumSize, length <= bytes.count - offset - recordHeaderSize else { return nil }
        let stored = CRC32C.unmask(bytes.loadLE(UInt32.self, at: offset + 4))
        let lengthField = UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + 4)])
        let payload = UnsafeRawBufferPointer(rebasing: bytes[(offset + recordHeaderSize)..<(offset + recordHeaderSize + length)])
        guard CRC32C.update(CRC32C.checksum(lengthField), payload) == stored else { return nil }
        return payload
    }

    /// What lies after the last valid record of a scanned region.
    package enum Tail: Equatable, Sendable {
        /// The region ends exactly after the last valid record.
        case clean
        /// Bytes after the last valid record that no valid record follows:
        /// what an interrupted append leaves. Safe to cut.
        case torn(offset: Int, length: Int)
        /// A damaged record with valid records after it: real corruption,
        /// never cut silently.
        case corrupt(offset: Int, nextValidRecord: Int)
    }

    /// Walks the records of `bytes` from `start`, calling `body` with each
    /// valid payload and its offset, and classifies what follows the last one.
    package static func scan(_ bytes: UnsafeRawBufferPointer, from start: Int, maximumSize: Int = defaultMaximumRecordSize,
                            _ body: (UnsafeRawBufferPointer, Int) throws -> Void) rethrows -> Tail {
        var offset = start
        while offset < bytes.count {
            guard let payload = record(in: bytes, at: offset, maximumSize: maximumSize) else {
                var probe = offset + 1
                while probe + recordHeaderSize < bytes.count {
                    // Only where an event's JSON starts: checksumming a candidate at
                    // every offset made a large damaged region cost its size × the
                    // record limit (a 16 MiB garbage tail hung every open).
                    if Event.encodingStarts(in: bytes, at: probe + recordHeaderSize),
                       record(in: bytes, at: probe, maximumSize: maximumSize) != nil {
                        return .corrupt(offset: offset, nextValidRecord: probe)
                    }
                    probe += 1
                }
                return .torn(offset: offset, length: bytes.count - offset)
            }
            try body(payload, offset)
            offset += recordHeaderSize + payload.count
        }
        return .clean
    }
}

extension Array where Element == UInt8 {
    package mutating func appendLE<T: FixedWidthInteger>(_ value: T) {
        Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
    }
}

extension UnsafeRawBufferPointer {
    package func loadLE<T: FixedWidthInteger>(_: T.Type, at offset: Int) -> T {
        T(littleEndian: loadUnaligned(fromByteOffset: offset, as: T.self))
    }
}
