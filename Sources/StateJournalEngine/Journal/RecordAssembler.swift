import StateJournalModel
/// Cuts a stream of bytes that arrives in chunks (file reads, zstd output)
/// into records, holding back a record split across chunks. Memory stays
/// bounded by one chunk plus one record.
///
/// Whole records are handed over where they lie in the chunk; only a record
/// split across chunks is copied (into a buffer kept from chunk to chunk).
package struct RecordAssembler {
    /// The start of a record split across chunks (its bytes so far).
    private var pending: [UInt8] = []
    /// The stream offset of the first byte not yet consumed.
    package private(set) var offset: Int
    package let maximumSize: Int

    package init(startingAt offset: Int, maximumSize: Int) {
        self.offset = offset
        self.maximumSize = maximumSize
    }

    /// Bytes received but not yet made into a record.
    package var leftover: Int { pending.count }

    /// Adds `chunk` and hands every whole, valid record to `body` with its
    /// stream offset. Returns false at the first invalid record (its offset
    /// is ``offset``); later chunks must not be fed then.
    package mutating func feed(_ chunk: UnsafeRawBufferPointer,
                       _ body: (UnsafeRawBufferPointer, Int) throws -> Void) rethrows -> Bool {
        var rest = chunk
        if !pending.isEmpty {
            // Complete the split record first: its header, then its payload.
            let header = RecordFormat.recordHeaderSize
            if pending.count < header {
                let take = min(header - pending.count, rest.count)
                pending.append(contentsOf: UnsafeRawBufferPointer(rebasing: rest[0..<take]))
                rest = UnsafeRawBufferPointer(rebasing: rest[take...])
                if pending.count < header { return true }  // wait for more
            }
            let length = Int(pending.withUnsafeBytes { $0.loadLE(UInt32.self, at: 0) })
            guard length > 0, length <= maximumSize else {
                pending.append(contentsOf: rest)  // kept as received, as ``leftover`` says
                return false
            }
            let take = min(header + length - pending.count, rest.count)
            pending.append(contentsOf: UnsafeRawBufferPointer(rebasing: rest[0..<take]))
            rest = UnsafeRawBufferPointer(rebasing: rest[take...])
            if pending.count < header + length { return true }  // wait for more
            let valid = try pending.withUnsafeBytes { bytes in
                guard let payload = RecordFormat.record(in: bytes, at: 0, maximumSize: maximumSize) else { return false }
                try body(payload, offset)
                return true
            }
            guard valid else {
                pending.append(contentsOf: rest)
                return false
            }
            offset += pending.count
            pending.removeAll(keepingCapacity: true)
        }
        let (consumed, valid) = try Self.records(in: rest, at: offset, maximumSize: maximumSize, body)
        offset += consumed
        // A record cut by the chunk's end waits for the next chunk (an
        // invalid one stays as received).
        if consumed < rest.count { pending.append(contentsOf: UnsafeRawBufferPointer(rebasing: rest[consumed...])) }
        return valid
    }

    /// Hands over the whole, valid records at the start of `bytes` (the
    /// first at stream offset `base`), in place; how many bytes they take,
    /// and false when an invalid record follows them.
    private static func records(in bytes: UnsafeRawBufferPointer, at base: Int, maximumSize: Int,
                                _ body: (UnsafeRawBufferPointer, Int) throws -> Void) rethrows -> (Int, Bool) {
        let header = RecordFormat.recordHeaderSize
        var position = 0
        while bytes.count - position >= header {
            let length = Int(bytes.loadLE(UInt32.self, at: position))
            guard length > 0, length <= maximumSize else { return (position, false) }
            guard bytes.count - position - header >= length else { break }  // wait for more
            guard let payload = RecordFormat.record(in: bytes, at: position, maximumSize: maximumSize) else {
                return (position, false)
            }
            try body(payload, base + position)
            position += header + length
        }
        return (position, true)
    }
}
