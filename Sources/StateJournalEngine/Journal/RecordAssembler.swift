import StateJournalModel
/// Cuts a stream of bytes that arrives in chunks (file reads, zstd output)
/// into records, holding back a record split across chunks. Memory stays
/// bounded by one chunk plus one record.
package struct RecordAssembler {
    private var pending: [UInt8] = []
    private var start = 0
    /// The stream offset of the first byte not yet consumed.
    package private(set) var offset: Int
    package let maximumSize: Int

    package init(startingAt offset: Int, maximumSize: Int) {
        self.offset = offset
        self.maximumSize = maximumSize
    }

    /// Bytes received but not yet made into a record.
    package var leftover: Int { pending.count - start }

    /// Adds `chunk` and hands every whole, valid record to `body` with its
    /// stream offset. Returns false at the first invalid record (its offset
    /// is ``offset``); later chunks must not be fed then.
    package mutating func feed(_ chunk: UnsafeRawBufferPointer,
                       _ body: (UnsafeRawBufferPointer, Int) throws -> Void) rethrows -> Bool {
        if start > 0 && start >= pending.count / 2 {
            pending.removeSubrange(0..<start)
            start = 0
        }
        pending.append(contentsOf: chunk)
        let header = RecordFormat.recordHeaderSize
        let maximumSize = self.maximumSize
        var position = start
        var valid = true
        try pending.withUnsafeBytes { bytes in
            while bytes.count - position >= header {
                let length = Int(bytes.loadLE(UInt32.self, at: position))
                guard length > 0, length <= maximumSize else { valid = false; return }
                guard bytes.count - position - header >= length else { return }  // wait for more
                guard let payload = RecordFormat.record(in: bytes, at: position, maximumSize: maximumSize) else {
                    valid = false
                    return
                }
                try body(payload, offset + (position - start))
                position += header + length
            }
        }
        offset += position - start
        start = position
        return valid
    }
}
