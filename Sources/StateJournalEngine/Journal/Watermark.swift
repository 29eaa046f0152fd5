#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import StateJournalModel

/// Where the active segment is known to be durable: the end of the last
/// record that a holder of the writers' lock saw its own `fdatasync` of
/// succeed (or wrote as a new segment, or rewrote to a new file).
///
/// Holders keep it in the lock file (``FileLock/record(_:)``), the one file
/// every writer and reader opens under the lock. Bytes beyond it were written
/// by a process that never confirmed them: killed before its fsync, or after
/// its fsync failed — when the kernel may have dropped them without writing
/// and reports that only once, to that process. No later fsync can vouch for
/// them, so the next holder cuts them (their writes were never acknowledged)
/// and readers never read past the watermark.
///
/// The lock file is never fsynced: after a machine crash it may hold an old
/// watermark. So a watermark counts only in the boot that wrote it, for the
/// same file (inode), when its last record is where it says, with the
/// checksum it says; otherwise the segment is checked the long way (scanned,
/// fsynced) and a new watermark is written.
package struct Watermark: Equatable {
    package var boot: String
    package var segmentFirstSeq: UInt64
    package var inode: UInt64
    package var end: Int64
    /// Where the last record before `end` starts, and its checksum (0, 0
    /// for a segment without records).
    package var lastRecordStart: Int64
    package var lastRecordChecksum: UInt32
    /// Set by a holder about to append: the end its append will reach.
    /// Bytes beyond `end` are cut by the next holder only when they lie
    /// within it — bytes of that one append, never acknowledged. Anything
    /// else beyond `end` (a segment put back from a longer copy) was not
    /// written by an append this watermark knows of: checked the long way,
    /// never cut.
    package var pending: Int64?

    /// This boot's identity (`/proc/sys/kernel/random/boot_id`); nil where
    /// there is none, and then no watermark is ever trusted.
    package static let currentBoot: String? = {
        guard case .success(let fd) = RealSystemCalls().open("/proc/sys/kernel/random/boot_id", flags: O_RDONLY, mode: 0) else { return nil }
        let fs = FileSystem()
        defer { fs.closeQuietly(fd) }
        guard let bytes = try? fs.readAll(fd, "boot_id") else { return nil }
        let text = String(decoding: bytes, as: UTF8.self).filter { !$0.isWhitespace }
        return text.isEmpty ? nil : text
    }()

    package init(boot: String, segmentFirstSeq: UInt64, inode: UInt64, end: Int64, lastRecordStart: Int64, lastRecordChecksum: UInt32,
         pending: Int64? = nil) {
        self.pending = pending
        self.boot = boot
        self.segmentFirstSeq = segmentFirstSeq
        self.inode = inode
        self.end = end
        self.lastRecordStart = lastRecordStart
        self.lastRecordChecksum = lastRecordChecksum
    }

    /// The watermark in a lock file's fields, if it is well formed and of this boot.
    package init?(fields: [(key: String, value: String)]) {
        // A handful of fields: looked up in place (the last of a repeated key counts).
        struct Lookup {
            let fields: [(key: String, value: String)]
            subscript(key: String) -> String? { fields.last { $0.key == key }?.value }
        }
        let map = Lookup(fields: fields)
        guard let boot = map["boot"], boot == Self.currentBoot,
              let first = map["segment"].flatMap(UInt64.init), let inode = map["inode"].flatMap(UInt64.init),
              let end = map["durable"].flatMap(Int64.init), let last = map["last"]?.split(separator: ":"), last.count == 2,
              let start = Int64(last[0]), let crc = UInt32(last[1], radix: 16), end >= Int64(RecordFormat.headerSize)
        else { return nil }
        var pending: Int64?
        if let text = map["pending"] {
            guard let value = Int64(text), value > end else { return nil }
            pending = value
        }
        self.init(boot: boot, segmentFirstSeq: first, inode: inode, end: end, lastRecordStart: start, lastRecordChecksum: crc,
                  pending: pending)
    }

    /// The fields; `durable` last but one (before `end=1`, added by the lock).
    package var fields: [(key: String, value: String)] {
        [("boot", boot), ("segment", String(segmentFirstSeq)), ("inode", String(inode)), ("durable", String(end)),
         ("last", String(lastRecordStart) + ":" + String(lastRecordChecksum, radix: 16))]
            + (pending.map { [("pending", String($0))] } ?? [])
    }
}

extension FileJournal {
    /// Records `tail` as confirmed durable, for the next holder. Nothing in
    /// the segment may be acknowledged or used before this succeeded: the
    /// next holder cuts what lies beyond the recorded watermark.
    ///
    /// - Throws: when the watermark could not be recorded (the lock file then
    ///   holds the previous one, or none).
    ///
    /// With `pendingEnd`, announces an append about to reach that offset
    /// (see ``Watermark/pending``), before any of it is written. With
    /// `note`, the record names this holder (an announcement: the holder is
    /// busy); a confirmation does not, so that releasing the lock right
    /// after it has nothing to erase.
    package func confirm(_ tail: Tail, pendingEnd: Int64? = nil, note: Bool = false) throws(StateJournalError) {
        guard let boot = Watermark.currentBoot else { return }
        let hasRecords = tail.lastSeq >= tail.firstSeq
        let mark = Watermark(boot: boot, segmentFirstSeq: tail.firstSeq, inode: tail.inode, end: tail.end,
                             lastRecordStart: hasRecords ? tail.lastRecordStart : 0,
                             lastRecordChecksum: hasRecords ? tail.lastRecordChecksum : 0, pending: pendingEnd)
        // Unchanged (a scan that resumed at a position visits no record, and
        // so does not know the last one: keep the watermark it confirmed).
        // The record read at taking the lock counts as written while no
        // rewrite of it failed.
        if !lock.recordFailed, let current = watermark, current.boot == mark.boot, current.segmentFirstSeq == mark.segmentFirstSeq,
           current.inode == mark.inode, current.end == mark.end, current.pending == mark.pending { return }
        try lock.record(mark.fields, note: note)
        watermark = mark
    }

    /// The confirmed end of the segment open as `fd`, when the watermark is
    /// for this very file and its last record is where it says; nil when the
    /// segment must be checked the long way.
    package func confirmedEnd(_ fd: Int32, _ file: String, firstSeq: UInt64, size: Int64) -> Int64? {
        guard let mark = watermark else { return nil }
        // Bytes beyond the end that no announced append explains: the long way.
        if size > mark.end, size > (mark.pending ?? mark.end) { return nil }
        return confirmedPrefix(fd, firstSeq: firstSeq, size: size)
    }

    /// The watermark's end, when it is for this very file and its last
    /// record is where it says (whatever lies beyond).
    package func confirmedPrefix(_ fd: Int32, firstSeq: UInt64, size: Int64) -> Int64? {
        guard let mark = watermark, mark.segmentFirstSeq == firstSeq, size >= mark.end,
              case .success(let status) = fs.sys.fstat(fd), status.inode == mark.inode else { return nil }
        if mark.lastRecordStart == 0 { return mark.end == Int64(RecordFormat.headerSize) ? mark.end : nil }
        var header = [UInt8](repeating: 0, count: RecordFormat.recordHeaderSize)
        guard case .success(let n) = header.withUnsafeMutableBytes({ fs.sys.pread(fd, into: $0, offset: mark.lastRecordStart) }),
              n == header.count else { return nil }
        let length = Int64(header.withUnsafeBytes { $0.loadLE(UInt32.self, at: 0) })
        let checksum = header.withUnsafeBytes { $0.loadLE(UInt32.self, at: 4) }
        guard mark.lastRecordStart + Int64(RecordFormat.recordHeaderSize) + length == mark.end,
              checksum == mark.lastRecordChecksum else { return nil }
        return mark.end
    }
}
