import Foundation
import Testing
@testable import StateJournal
@testable import StateJournalEngine

/// Rotation, zstd-sealed segments, snapshots and the damage each must detect.
@Suite struct SegmentTests {
    let dir = TemporaryDirectory()
    var statePath: String { dir.file("STATE.md") }
    var journalDir: String { statePath + ".journal" }

    func sealedFiles() -> [String] { listDirectory(journalDir).filter { $0.hasSuffix(".log.zst") } }

    /// A journal with several sealed segments and a raw active one.
    func makeHistory(events: Int = 120) throws -> StateManager {
        let manager = smallManager(statePath)
        try manager.write(initPayload())
        for i in 1...events { try manager.write(.noteAdded(text: "note \(i) " + String(repeating: "x", count: i % 40))) }
        return manager
    }

    @Test func rotationSealsSegmentsThatZstdAccepts() throws {
        let manager = try makeHistory()
        let sealed = sealedFiles()
        #expect(sealed.count >= 3)
        #expect(listDirectory(journalDir).filter { $0.hasSuffix(".log") }.count == 1)
        for name in sealed {
            #expect(try runProgram("/usr/bin/zstd", ["-q", "-t", journalDir + "/" + name]) == 0, "zstd -t rejects \(name)")
            // zstd -d yields the raw segment, starting with our header.
            let raw = dir.file("raw-" + name)
            #expect(try runProgram("/usr/bin/zstd", ["-q", "-d", "-f", journalDir + "/" + name, "-o", raw]) == 0)
            #expect(readBytes(raw).map { Array($0.prefix(8)) } == RecordFormat.magic)
        }
        let events = try manager.events()
        #expect(events.map(\.seq) == Array(1...121))
        #expect(try manager.loadState()?.notes.count == 120)
        let report = try manager.verify()
        #expect(report.problems.isEmpty, "\(report.problems)")
    }

    @Test func sealedSegmentsAreAFractionOfRaw() throws {
        let manager = smallManager(statePath, segmentSize: 64 * 1024)
        try manager.write(initPayload())
        for i in 1...700 { try manager.write(.noteAdded(text: "agent-\(i % 8) finished step \(i) of the build")) }
        var raw = 0, sealed = 0
        for name in sealedFiles() {
            let file = journalDir + "/" + name
            let header = try #require(readBytes(file).flatMap { b in
                b.withUnsafeBytes { try? SealedSegmentHeader.decode($0).get() } })
            raw += Int(header.rawSize)
            sealed += readBytes(file)!.count
        }
        #expect(raw > 0)
        #expect(sealed * 4 <= raw, "sealed \(sealed) bytes of \(raw) raw")
    }

    @Test func aBitFlipAnywhereInASealedSegmentIsDetected() throws {
        _ = try makeHistory(events: 40)
        let name = sealedFiles()[0]
        let file = journalDir + "/" + name
        let original = readBytes(file)!
        for offset in 0..<original.count {
            var bytes = original
            bytes[offset] ^= 0x04
            writeBytes(file, bytes)
            do {
                _ = try FileJournal(statePath: statePath).readEvents(after: 0) { _ in }
                Issue.record("a flipped bit at byte \(offset) of \(name) was not detected")
            } catch let error as StateJournalError {
                #expect(error.code == .corruption)
                #expect(error.message.contains(name))
            }
        }
        writeBytes(file, original)
        #expect(try FileJournal(statePath: statePath).readEvents(after: 0) { _ in } == 41)
    }

    @Test func aBitFlipInAnyRecordOfTheRawSegmentIsDetected() throws {
        let manager = try makeHistory(events: 10)
        try manager.write(.noteAdded(text: "last"))
        let raw = listDirectory(journalDir).first { $0.hasSuffix(".log") }!
        let file = journalDir + "/" + raw
        let original = readBytes(file)!
        var offsets: [Int] = []
        original.withUnsafeBytes { b in _ = RecordFormat.scan(b, from: RecordFormat.headerSize) { _, o in offsets.append(o) } }
        // Every byte of every record but the last (a damaged last record is a torn tail).
        for offset in RecordFormat.headerSize..<(offsets.last ?? 0) {
            var bytes = original
            bytes[offset] ^= 0x20
            writeBytes(file, bytes)
            let error = #expect(throws: StateJournalError.self, "byte \(offset)") {
                _ = try FileJournal(statePath: statePath).readEvents(after: 0) { _ in }
            }
            #expect(error?.code == .corruption, "byte \(offset): \(String(describing: error))")
        }
        writeBytes(file, original)
    }

    @Test func aTruncatedSealedSegmentIsDetected() throws {
        _ = try makeHistory(events: 40)
        let file = journalDir + "/" + sealedFiles()[0]
        let original = readBytes(file)!
        for cut in stride(from: 1, to: original.count, by: max(1, original.count / 50)) {
            writeBytes(file, Array(original[0..<cut]))
            let error = #expect(throws: StateJournalError.self, "cut at \(cut)") {
                _ = try FileJournal(statePath: statePath).readEvents(after: 0) { _ in }
            }
            #expect(error?.code == .corruption, "cut at \(cut): \(String(describing: error))")
        }
        writeBytes(file, original)
    }

    @Test func verifyNamesTheCorruptFileAndChangesNothing() throws {
        let manager = try makeHistory(events: 40)
        let file = journalDir + "/" + sealedFiles()[1]
        var bytes = readBytes(file)!
        bytes[bytes.count / 2] ^= 0xFF
        writeBytes(file, bytes)
        let before = listDirectory(journalDir)
        let report = try manager.verify()
        #expect(report.hasCorruption)
        #expect(report.problems.contains { $0.file == file })
        #expect(listDirectory(journalDir) == before)
        #expect(readBytes(file)! == bytes)
    }

    @Test func openingUsesTheSnapshotAndADamagedOneFallsBack() throws {
        let manager = smallManager(statePath, snapshotInterval: 10)
        try manager.write(initPayload())
        for i in 1...35 { try manager.write(.noteAdded(text: "n\(i)")) }
        let snapshots = listDirectory(journalDir).filter { $0.hasSuffix(".snap") }
        #expect(snapshots.count >= 2)  // the two newest, and a checkpoint per segment
        let expected = try fullReplay(statePath)
        // A fresh manager each time: no in-memory fold cache answers for the journal.
        func opened() throws -> WorkflowState? { try smallManager(statePath, snapshotInterval: 10).loadState() }
        #expect(try opened() == expected)
        // Damage the newest snapshot: the older one (or a full replay) is used.
        let newest = journalDir + "/" + snapshots.last!
        var bytes = readBytes(newest)!
        bytes[bytes.count - 3] ^= 0x01
        writeBytes(newest, bytes)
        #expect(try opened() == expected)
        #expect(try manager.verify().problems.contains { $0.file == newest })
        // A snapshot from a newer format version is passed over, not deleted.
        var newer = readBytes(journalDir + "/" + snapshots.first!)!
        newer[8] = 9
        writeBytes(journalDir + "/" + snapshots.first!, newer)
        #expect(try opened() == expected)
        #expect(listDirectory(journalDir).filter { $0.hasSuffix(".snap") } == snapshots)
        // And the next write still works.
        try manager.write(.noteAdded(text: "after"))
        #expect(try manager.loadState()?.notes.last == "after")
    }

    @Test func aStrayFileIsLeftAloneAndReported() throws {
        let manager = try makeHistory(events: 5)
        writeBytes(journalDir + "/notes.txt", Array("mine".utf8))
        try manager.write(.noteAdded(text: "more"))
        #expect(readBytes(journalDir + "/notes.txt") == Array("mine".utf8))
        let report = try manager.verify()
        #expect(report.problems.contains { $0.file.hasSuffix("notes.txt") && !$0.isCorruption })
        #expect(!report.hasCorruption)
    }

    @Test func anInterruptedSealIsFinishedByTheNextWriter() throws {
        let manager = try makeHistory(events: 30)
        // Simulate a crash after the compressed file was renamed into place but
        // before the raw segment was removed: put a raw copy back.
        let sealed = sealedFiles()[0]
        let raw = journalDir + "/" + sealed.replacingOccurrences(of: ".log.zst", with: ".log")
        #expect(try runProgram("/usr/bin/zstd", ["-q", "-d", "-f", journalDir + "/" + sealed, "-o", raw]) == 0)
        let expected = try fullReplay(statePath)
        #expect(try StateManager(statePath: statePath).loadState() == expected)
        // The next writer process (a manager without this one's cached fold).
        try smallManager(statePath).write(.noteAdded(text: "next"))
        #expect(!FileManager.default.fileExists(atPath: raw))
        #expect(try manager.verify().problems.isEmpty)
    }
}

/// Reading the past: the per-segment time index and checkpoint snapshots.
@Suite struct TimeIndexTests {
    @Test func timeLookupsMatchAFullScanAcrossSegments() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("STATE.md")
        let manager = smallManager(path, segmentSize: 1500)
        try manager.write(initPayload())
        for i in 1...150 { try manager.write(.noteAdded(text: "note \(i)")) }
        let events = try manager.events()
        let journal = listDirectory(path + ".journal")
        #expect(journal.filter { $0.hasSuffix(".zst") }.count >= 5)
        // Checkpoints (snapshots at segment boundaries) are kept.
        let snapshots = journal.filter { $0.hasSuffix(".snap") }
        #expect(snapshots.count >= 5)
        let store = FileJournal(statePath: path)
        for probe in stride(from: 0, to: events.count, by: 7) {
            let time = events[probe].time
            let expected = events.last { $0.time <= time }?.seq
            #expect(try store.lastSeq(atOrBefore: time) == expected)
            let between = Timestamp(microseconds: time.microseconds + 1)
            #expect(try store.lastSeq(atOrBefore: between) == events.last { $0.time <= between }?.seq)
            #expect(try manager.state(at: time) == (try fullReplay(path, upTo: expected ?? 0)))
        }
        #expect(try store.lastSeq(atOrBefore: Timestamp(microseconds: events[0].time.microseconds - 1)) == nil)
        let bounds = try #require(try store.bounds())
        #expect(bounds.firstSeq == 1 && bounds.lastSeq == 151)
        #expect(bounds.lastTime == events.last?.time)
        // log --since starts at the right event.
        let since = events[100].time
        #expect(try manager.events(matching: EventFilter(since: since)).map(\.seq) == events.filter { $0.time >= since }.map(\.seq))
    }
}

/// Snapshot plus tail equals a full replay, on random event streams.
@Suite struct SnapshotPropertyTests {
    struct Generator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    /// A random event that applies to `state`.
    static func randomPayload(_ state: WorkflowState, _ rng: inout Generator) -> Event.Payload {
        let task = state.tasks.randomElement(using: &rng)
        switch Int.random(in: 0..<9, using: &rng) {
        case 0: return .taskAdded(taskID: "t\(rng.next() % 1_000_000)", wave: Int.random(in: 1...state.totalWaves, using: &rng), description: "added")
        case 1: if let t = task, t.status == .pending || t.status == .failed { return .taskStarted(taskID: t.id) }
        case 2: if let t = task, t.status != .completed { return .taskCompleted(taskID: t.id, commit: "c\(rng.next() % 999)", files: ["f\(rng.next() % 9)"]) }
        case 3: if let t = task, t.status == .pending || t.status == .inProgress { return .taskFailed(taskID: t.id, error: "e\(rng.next() % 99)") }
        case 4: return .waveSet(wave: Int.random(in: 0...state.totalWaves, using: &rng))
        case 5: return .metadataSet(key: "k\(rng.next() % 5)", value: "v\(rng.next() % 100)")
        case 6: return .stateReplaced(StateImage(state))
        default: break
        }
        return .noteAdded(text: "note \(rng.next() % 10_000)")
    }

    @Test(arguments: [1, 2, 3, 4, 5, 6])
    func snapshotPlusTailEqualsFullReplay(seed: UInt64) throws {
        let dir = TemporaryDirectory()
        let path = dir.file("STATE.md")
        var rng = Generator(state: seed)
        let manager = smallManager(path, segmentSize: Int.random(in: 600...4000, using: &rng),
                                   snapshotInterval: UInt64.random(in: 3...17, using: &rng), projection: .manual)
        var state = try manager.write(initPayload(tasks: 5, waves: 3)).state
        let count = Int.random(in: 40...120, using: &rng)
        for i in 0..<count {
            state = try manager.write(Self.randomPayload(state, &rng)).state
            if i % 37 == 36 { try manager.compact() }
        }
        // The manager folds from the newest snapshot; compare with replaying everything.
        let fromSnapshot = try manager.fold(manager.makeStore()).state
        #expect(fromSnapshot == state)
        #expect(try fullReplay(path) == state)
        // …and at random earlier points.
        for _ in 0..<5 {
            let seq = UInt64.random(in: 1...state.seq, using: &rng)
            #expect(try manager.state(atSeq: seq) == (try fullReplay(path, upTo: seq)))
        }
    }
}
