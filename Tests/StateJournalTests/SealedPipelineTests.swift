import Testing
@testable import StateJournal
@testable import StateJournalEngine
import StateJournalTesting

/// A large sealed segment is decompressed and decoded on a second thread
/// while the reading thread applies its events (`SealedPipeline`). Which
/// way a segment was read must never show: the same events in the same
/// order, then the same error at the same point, or the same header — for
/// intact and damaged segments, failing reads, and a caller that stops.
@Suite struct SealedPipelineTests {
    /// A journal of `count` foldable varied events, sealed every `segmentSize` bytes.
    static func journal(count: Int, segmentSize: Int, seed: UInt64) throws -> (TemporaryDirectory, String, [Event]) {
        let dir = TemporaryDirectory()
        let statePath = dir.file("STATE.md")
        var options = FileJournal.Options()
        options.segmentSize = segmentSize
        let journal = FileJournal(statePath: statePath, options: options)
        var rng = SeededRandom(seed: seed)
        var history = VariedHistory(seed: seed)
        let events = history.foldable(count: count, rng: &rng)
        try journal.withWriteLock(LockPolicy(timeout: 5), command: "test") {
            try journal.readEvents(after: 0) { _ in }
            for batch in stride(from: 0, to: events.count, by: 50) {
                try journal.append(Array(events[batch..<min(batch + 50, events.count)]))
            }
        }
        return (dir, statePath, events)
    }

    struct Outcome: Equatable, CustomStringConvertible {
        var events: [String] = []
        var end = ""
        var description: String { "\(events.count) events, then \(end)" }
    }

    struct ReadFailed: Error, CustomStringConvertible { let call: Int; var description: String { "read \(call) failed" } }
    struct Stopped: Error, CustomStringConvertible { let seq: UInt64; var description: String { "stopped at \(seq)" } }

    /// Reads the sealed segment `bytes` (as a file holds it) after `seq`, in
    /// reads of `pieces` bytes (cycled), the read numbered `failRead`
    /// failing, the caller stopping at event `stopAt`.
    static func read(_ bytes: [UInt8], twoThreads: Bool, after seq: UInt64, pieces: [Int], failRead: Int?, stopAt: UInt64?,
                     journal: FileJournal) -> Outcome? {
        guard case .success(let header) = bytes.withUnsafeBytes({
            SealedSegmentHeader.decode(UnsafeRawBufferPointer(rebasing: $0[0..<min($0.count, SealedSegmentHeader.frameSize)]))
        }) else { return nil }
        var outcome = Outcome()
        var calls = 0
        func read(_ buffer: UnsafeMutableRawBufferPointer, _ offset: Int64) throws -> Int {
            defer { calls += 1 }
            if calls == failRead { throw ReadFailed(call: calls) }
            let n = max(0, min(pieces[calls % pieces.count], buffer.count, bytes.count - Int(offset)))
            bytes.withUnsafeBytes { buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: $0[Int(offset)..<(Int(offset) + n)])) }
            return n
        }
        func body(_ event: Event) throws {
            outcome.events.append("\(event.seq) \(event.identity) \(event.actor) \(event.payload.typeName)")
            if event.seq == stopAt { throw Stopped(seq: event.seq) }
        }
        func stream(_ walkerBody: @escaping (Event) throws -> Void) throws -> SealedStream {
            let walker = FileJournal.RecordWalker(journal, file: "segment", next: header.firstSeq, after: seq, walkerBody)
            return try SealedStream(file: "segment", header: header, walker: walker, end: .max, maximumRecordSize: journal.maximumRecordSize)
        }
        let start = Int64(SealedSegmentHeader.frameSize)
        do {
            let done: SealedSegmentHeader
            if twoThreads {
                guard let header = try SealedPipeline.run(from: start, chunkSize: 4096, makeStream: stream, read: read, body) else {
                    Issue.record("no second thread")
                    return nil
                }
                done = header
            } else {
                done = try withoutActuallyEscaping(body) { body in
                    var s = try stream(body)
                    return try s.readAll(from: start, chunkSize: 4096, read: read)
                }
            }
            outcome.end = "header \(done.firstSeq)…\(done.lastSeq)"
        } catch {
            outcome.end = "\(error)"
        }
        return outcome
    }

    @Test func intactAndDamagedSegmentsReadTheSameOnOneThreadAndTwo() throws {
        let (dir, statePath, _) = try Self.journal(count: 3000, segmentSize: 96 << 10, seed: 5)
        _ = dir
        let sealed = listDirectory(statePath + ".journal").filter { $0.hasSuffix(".log.zst") }
        #expect(sealed.count >= 3)
        let journal = FileJournal(statePath: statePath)
        var rng = SeededRandom(seed: 808)
        var compared = 0, damagedErrors = 0
        for name in sealed {
            guard let original = readBytes(statePath + ".journal/" + name) else { Issue.record("cannot read \(name)"); continue }
            for round in 0..<40 {
                var bytes = original
                let frame = SealedSegmentHeader.frameSize
                switch round % 8 {
                case 0: break
                case 1: bytes[Int.random(in: frame..<bytes.count, using: &rng)] ^= UInt8.random(in: 1...255, using: &rng)
                case 2: bytes.removeLast(Int.random(in: 1..<(bytes.count - frame), using: &rng))
                case 3: bytes += (0..<Int.random(in: 1...64, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
                case 4: bytes[Int.random(in: 8..<frame, using: &rng)] ^= UInt8.random(in: 1...255, using: &rng)  // the header
                default: break
                }
                let header = try #require(Self.read(original, twoThreads: false, after: 0, pieces: [1 << 20], failRead: nil,
                                                    stopAt: nil, journal: journal))
                let events = header.events.count
                // Reads of every size (one byte, odd sizes, whole), a read
                // failing now and then, the caller stopping now and then,
                // reading from the start or from inside the segment.
                let pieces = [[1 << 20], [1], [7, 300], [4096], (0..<5).map { _ in Int.random(in: 1...5000, using: &rng) }][round % 5]
                let failRead = round % 3 == 1 ? Int.random(in: 0...4, using: &rng) : nil
                let firstSeq = UInt64(name.dropFirst("segment-".count).prefix(20)) ?? 1
                let after = round % 4 == 3 ? firstSeq + UInt64(Int.random(in: 0..<max(events, 1), using: &rng)) : 0
                let stopAt = round % 5 == 2 ? firstSeq + UInt64(Int.random(in: 0..<max(events, 1), using: &rng)) : nil
                let one = Self.read(bytes, twoThreads: false, after: after, pieces: pieces, failRead: failRead, stopAt: stopAt, journal: journal)
                let two = Self.read(bytes, twoThreads: true, after: after, pieces: pieces, failRead: failRead, stopAt: stopAt, journal: journal)
                #expect(one == two, "\(name), round \(round): one thread \(one.map(\.description) ?? "-"), two \(two.map(\.description) ?? "-")")
                if one?.end.contains("is damaged") == true { damagedErrors += 1 }
                compared += 1
            }
        }
        #expect(compared == sealed.count * 40)
        #expect(damagedErrors > sealed.count * 5, "only \(damagedErrors) damaged reads")
    }

    /// Through the journal: with the second thread for every sealed segment
    /// and without it, the same events (identity included) from the start
    /// and from inside segments, the same replayed state, and the same error
    /// and events before it once a sealed segment is damaged.
    @Test func aJournalReadsTheSameWithAndWithoutTheSecondThread() throws {
        let (dir, statePath, events) = try Self.journal(count: 4000, segmentSize: 24 << 10, seed: 11)
        _ = dir
        var always = FileJournal.Options()
        always.secondThreadFromRawSize = 0
        var never = FileJournal.Options()
        never.secondThreadFromRawSize = nil
        func read(_ options: FileJournal.Options, after seq: UInt64, upTo: UInt64 = .max) -> Outcome {
            var outcome = Outcome()
            do {
                try FileJournal(statePath: statePath, options: options).readEvents(after: seq, upTo: upTo) { event in
                    outcome.events.append("\(event.seq) \(event.identity) \(event.json().compactString)")
                }
                outcome.end = "end"
            } catch {
                outcome.end = "\(error)"
            }
            return outcome
        }
        for (after, upTo) in [(UInt64(0), UInt64.max), (1, 2000), (777, .max), (2999, 3500), (3999, .max)] {
            let two = read(always, after: after, upTo: upTo)
            #expect(two == read(never, after: after, upTo: upTo), "after \(after)")
            #expect(two.events.count == Int(min(upTo, 4000) - after), "after \(after)")
        }
        #expect(read(always, after: 0).events.first?.hasPrefix("1 \(events[0].computedIdentity()) ") == true)

        let replay = { (options: FileJournal.Options) in
            try StateManager(configuration: .init(statePath: statePath, actor: "t", fileSystem: FileSystem(), journal: options,
                                                  projection: .manual)).replay()
        }
        #expect(try replay(always).json().encoded() == replay(never).json().encoded())

        // Damage in the middle of the second sealed segment.
        let sealed = listDirectory(statePath + ".journal").filter { $0.hasSuffix(".log.zst") }
        #expect(sealed.count >= 3)
        let path = statePath + ".journal/" + sealed[1]
        var bytes = try #require(readBytes(path))
        bytes[bytes.count / 2] ^= 0x40
        writeBytes(path, bytes)
        let damaged = read(always, after: 0)
        #expect(damaged == read(never, after: 0))
        #expect(damaged.end.contains("is damaged"), "\(damaged.end)")
    }
}
