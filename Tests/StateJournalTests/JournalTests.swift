import Foundation
import Testing
@testable import StateJournal
@testable import StateJournalEngine
import StateJournalTesting

/// Record framing and the file journal: round trip, checksums, torn tails,
/// corruption that must never be cut silently.
@Suite struct JournalTests {
    let dir = TemporaryDirectory()
    var statePath: String { dir.file("STATE.md") }
    var segmentPath: String { statePath + ".journal/" + FileJournal.segmentName(firstSeq: 1) }

    func journal() -> FileJournal { FileJournal(statePath: statePath) }

    func append(_ events: [Event]) throws {
        let j = journal()
        try j.withWriteLock(LockPolicy(timeout: 1), command: "test") {
            try j.readEvents(after: 0) { _ in }
            try j.append(events)
        }
    }

    func readAll(locked: Bool = false) throws -> [Event] {
        let j = journal()
        var events: [Event] = []
        if locked {
            try j.withWriteLock(LockPolicy(timeout: 1), command: "test") { try j.readEvents(after: 0) { events.append($0) } }
        } else {
            try j.readEvents(after: 0) { events.append($0) }
        }
        return events
    }

    /// Byte offsets where each record of the segment starts, plus the end.
    func recordBoundaries() -> [Int] {
        let bytes = readBytes(segmentPath)!
        var offsets: [Int] = []
        bytes.withUnsafeBytes { raw in
            _ = RecordFormat.scan(raw, from: RecordFormat.headerSize) { _, offset in offsets.append(offset) }
        }
        offsets.append(bytes.count)
        return offsets
    }

    @Test func crc32cMatchesTheKnownVector() {
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.unmask(CRC32C.mask(0xDEAD_BEEF)) == 0xDEAD_BEEF)
        let long = (0..<1000).map { UInt8(truncatingIfNeeded: $0 * 7) }
        #expect(CRC32C.checksum(long) == long.withUnsafeBytes { raw in
            CRC32C.update(CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[0..<333])), UnsafeRawBufferPointer(rebasing: raw[333...]))
        })
    }

    @Test func recordsRoundTrip() throws {
        let events = (1...50).map { sampleEvent($0) }
        try append(Array(events[0..<10]))
        try append(Array(events[10...]))
        #expect(try readAll() == events)
        let header = readBytes(segmentPath)!.withUnsafeBytes { RecordFormat.decodeHeader($0) }
        #expect(try header.get().firstSeq == 1)
    }

    @Test func emptyJournalReadsAsNoEvents() throws {
        #expect(try readAll().isEmpty)
    }

    @Test func checksumMismatchInALastRecordIsATornTail() throws {
        try append((1...3).map { sampleEvent($0) })
        var bytes = readBytes(segmentPath)!
        let bounds = recordBoundaries()
        bytes[bounds[2] + 12] ^= 0x01
        writeBytes(segmentPath, bytes)
        #expect(try readAll().count == 2)
        #expect(try readAll(locked: true).count == 2)
        #expect(readBytes(segmentPath)!.count == bounds[2])
    }

    @Test func bitFlipInAnyEarlierRecordIsCorruption() throws {
        try append((1...4).map { sampleEvent($0) })
        let original = readBytes(segmentPath)!
        let bounds = recordBoundaries()
        // Every byte of records 1…3 (all followed by a valid record).
        for offset in bounds[0]..<bounds[3] {
            var bytes = original
            bytes[offset] ^= 0x10
            writeBytes(segmentPath, bytes)
            do {
                _ = try readAll(locked: true)
                Issue.record("a flipped bit at byte \(offset) was not detected")
            } catch let error as StateJournalError {
                #expect(error.code == .corruption)
                #expect(error.message.contains(segmentPath))
            }
            // Nothing was cut.
            #expect(readBytes(segmentPath)! == bytes)
        }
    }

    @Test func headerDamageIsCorruption() throws {
        try append([sampleEvent(1)])
        var bytes = readBytes(segmentPath)!
        bytes[3] ^= 0xFF
        writeBytes(segmentPath, bytes)
        let error = #expect(throws: StateJournalError.self) { _ = try readAll() }
        #expect(error?.code == .corruption)
        #expect(error?.message.contains(segmentPath) == true)
    }

    @Test func tornTailIsCutAtEveryByteOffsetOfTheLastRecord() throws {
        try append((1...3).map { sampleEvent($0) })
        let full = readBytes(segmentPath)!
        let bounds = recordBoundaries()
        let lastStart = bounds[2]
        for cut in lastStart..<full.count {
            writeBytes(segmentPath, Array(full[0..<cut]))
            // A reader without the lock sees the two whole records…
            #expect(try readAll().map(\.seq) == [1, 2], "cut at \(cut)")
            // …and the next writer cuts the tail and appends after it.
            try append([sampleEvent(3, .noteAdded(text: "again"))])
            let events = try readAll()
            #expect(events.map(\.seq) == [1, 2, 3], "cut at \(cut)")
            #expect(events.last?.payload == .noteAdded(text: "again"))
        }
    }

    @Test func garbageAfterTheLastRecordIsCut() throws {
        try append((1...2).map { sampleEvent($0) })
        let before = readBytes(segmentPath)!
        writeBytes(segmentPath, before + [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x41, 0x42])
        #expect(try readAll(locked: true).count == 2)
        #expect(readBytes(segmentPath)! == before)
    }

    @Test func aBadRecordFollowedByGoodOnesIsReportedNotCut() throws {
        try append((1...5).map { sampleEvent($0) })
        var bytes = readBytes(segmentPath)!
        let bounds = recordBoundaries()
        // Smash the length field of record 2.
        bytes[bounds[1]] = 0xFF; bytes[bounds[1] + 1] = 0xFF
        writeBytes(segmentPath, bytes)
        do {
            _ = try readAll(locked: true)
            Issue.record("corruption was not reported")
        } catch let error as StateJournalError {
            #expect(error.code == .corruption)
            #expect(error.message.contains("after seq 1"))
            #expect(error.message.contains("valid records follow"))
        }
        #expect(readBytes(segmentPath)! == bytes)
    }

    /// A writer finds bytes another (killed) writer left and its fsync of
    /// them fails: the page cache's copy may never reach the disk and the
    /// kernel reports that only once, so the segment is rewritten to a new
    /// file before anything is appended behind those bytes.
    @Test func aFailedSyncBeforeUseRewritesTheSegmentToANewFile() throws {
        try append((1...2).map { sampleEvent($0) })
        // No watermark (a new boot, a removed lock file): the segment is checked the long way.
        try FileManager.default.removeItem(atPath: statePath + ".lock")
        let inodeBefore = try #require(try FileSystem().lstat(segmentPath)).inode
        let faults = FaultInjector(RealSystemCalls())
        faults.fail(.fdatasync, errno: .ioError)  // the sync before use
        let j = FileJournal(statePath: statePath, fileSystem: FileSystem(faults))
        try j.withWriteLock(LockPolicy(timeout: 1), command: "test") {
            try j.readEvents(after: 0) { _ in }
            try j.append([sampleEvent(3)])
        }
        #expect(faults.injectedCount == 1)
        #expect(try #require(try FileSystem().lstat(segmentPath)).inode != inodeBefore)
        #expect(try readAll().map(\.seq) == [1, 2, 3])
    }

    @Test func aFailedAppendLeavesTheJournalAsItWas() throws {
        try append((1...2).map { sampleEvent($0) })
        let before = readBytes(segmentPath)!
        // The append's own fdatasync fails.
        let hook = SegmentSyncHook(RealSystemCalls()) { .fail(.ioError) }
        let failing = FileJournal(statePath: statePath, fileSystem: FileSystem(hook))
        #expect(throws: StateJournalError.self) {
            try failing.withWriteLock(LockPolicy(timeout: 1), command: "test") {
                try failing.readEvents(after: 0) { _ in }
                try failing.append([sampleEvent(3)])
            }
        }
        #expect(hook.hookCount == 1)
        #expect(readBytes(segmentPath)! == before)
        let faults = FaultInjector(RealSystemCalls())
        let j = FileJournal(statePath: statePath, fileSystem: FileSystem(faults))
        faults.fail(.pwrite, errno: .noSpace, after: 1)  // the first pwrite is the lock holder's note
        #expect(throws: StateJournalError.self) {
            try j.withWriteLock(LockPolicy(timeout: 1), command: "test") {
                try j.readEvents(after: 0) { _ in }
                try j.append([sampleEvent(3)])
            }
        }
        #expect(readBytes(segmentPath)! == before)
        #expect(try readAll().count == 2)
    }
}
