import Foundation
import Testing
@testable import StateJournal
@testable import StateJournalEngine
import StateJournalTesting

/// Outside review of d4c2cad..566be08 (replay on two threads, records read
/// in place, the decoder's and the fold's shortcuts, STATE.md rendered into
/// one byte buffer). Each test states what a user would notice if it broke.
@Suite struct ReviewReplayCLITests {
    static let t0 = Timestamp(microseconds: 1_800_000_000_000_000)

    // MARK: Journal fixtures

    /// Strings whose quote, backslash, control or non-ASCII byte falls at
    /// every offset of an 8-byte word, at every length around a word, with
    /// the closing quote of the JSON string at every offset too.
    static let wordBoundaryStrings: [String] = {
        var out: [String] = []
        let specials = ["\"", "\\", "\u{1}", "\n", "\u{1F}", "é", "😀", "\u{7F}", "/", "\\\"", "\"\\"]
        for length in 0..<18 {
            for special in specials {
                for at in 0...length {
                    let plain = String(repeating: "a", count: length)
                    let i = plain.index(plain.startIndex, offsetBy: at)
                    out.append(String(plain[..<i]) + special + String(plain[i...]))
                }
            }
            out.append(String(repeating: "b", count: length))
        }
        return out
    }()

    /// A journal of notes (and other events) holding `texts`, sealed every
    /// `segmentSize` bytes; the events as written.
    static func journal(texts: [String], segmentSize: Int) throws -> (TemporaryDirectory, String, [Event]) {
        let dir = TemporaryDirectory()
        let statePath = dir.file("STATE.md")
        var options = FileJournal.Options()
        options.segmentSize = segmentSize
        let journal = FileJournal(statePath: statePath, options: options)
        var events: [Event] = []
        var seq: UInt64 = 1
        func add(_ payload: Event.Payload, actor: String = "tester") {
            events.append(Event(seq: seq, time: Timestamp(microseconds: t0.microseconds + Int64(seq) * 1_000_003), actor: actor,
                                pid: 7, payload: payload))
            seq += 1
        }
        add(.workflowInitialized(id: "wf", name: "Review", waves: [[.init(id: "t1", description: "one")]], metadata: []))
        for (i, text) in texts.enumerated() {
            switch i % 4 {
            case 0: add(.noteAdded(text: text))
            case 1: add(.metadataSet(key: "k\(i % 7)", value: text), actor: text.isEmpty ? "a" : "actor-\(i % 3)")
            case 2: add(.noteAdded(text: text), actor: "\u{E9}\(i % 2)")
            default: add(.metadataSet(key: text.isEmpty ? "e" : text, value: "v"))
            }
        }
        try journal.withWriteLock(LockPolicy(timeout: 5), command: "test") {
            try journal.readEvents(after: 0) { _ in }
            for batch in stride(from: 0, to: events.count, by: 40) {
                try journal.append(Array(events[batch..<min(batch + 40, events.count)]))
            }
        }
        return (dir, statePath, events)
    }

    static func options(twoThreads: Bool) -> FileJournal.Options {
        var options = FileJournal.Options()
        options.secondThreadFromRawSize = twoThreads ? 0 : nil
        return options
    }

    /// Every event read back, as its JSON, then "end" or the error.
    static func readAll(_ statePath: String, twoThreads: Bool, after: UInt64 = 0,
                        stopAt: UInt64? = nil) -> (events: [String], end: String) {
        var events: [String] = []
        struct Stop: Error {}
        do {
            try FileJournal(statePath: statePath, options: options(twoThreads: twoThreads)).readEvents(after: after) { event in
                events.append("\(event.seq) \(event.json().compactString)")
                if event.seq == stopAt { throw Stop() }
            }
            return (events, "end")
        } catch is Stop {
            return (events, "stopped")
        } catch {
            return (events, "\(error)")
        }
    }

    static func threadCount() -> Int {
        ((try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []).count
    }

    // MARK: Decoder shortcuts through the sealed pipeline

    /// The word-at-a-time string scan and the actor reuse: every string
    /// with a quote, backslash, control or non-ASCII byte at every offset
    /// of a word reads back as written — on one thread and on two — not
    /// just the same both ways (a shared decoder bug would pass a parity
    /// test). User-visible: a note or metadata value shown changed.
    @Test func stringsWithSpecialsAtEveryWordOffsetReadBackAsWritten() throws {
        let texts = Self.wordBoundaryStrings
        let (dir, statePath, written) = try Self.journal(texts: texts, segmentSize: 16 << 10)
        _ = dir
        let sealed = listDirectory(statePath + ".journal").filter { $0.hasSuffix(".log.zst") }
        #expect(sealed.count >= 3, "sealed segments: \(sealed)")
        let expected = written.map { "\($0.seq) \($0.json().compactString)" }
        for twoThreads in [false, true] {
            let read = Self.readAll(statePath, twoThreads: twoThreads)
            #expect(read.end == "end", "two threads: \(twoThreads)")
            #expect(read.events.count == expected.count, "two threads: \(twoThreads)")
            for (a, b) in zip(read.events, expected) where a != b {
                Issue.record("two threads: \(twoThreads): read \(a), wrote \(b)")
                break
            }
        }
    }

    /// Times in a non-canonical form (fewer or more fraction digits, an
    /// offset, a lower-case `z`, a leap second, a time with a 28th byte
    /// that is a quote elsewhere) decode as the general parser reads them,
    /// and an event whose time is canonical but whose record continues in
    /// an unexpected way is never half-read by the shortcut.
    @Test func nonCanonicalTimesReadAsTheGeneralParserReadsThem() throws {
        let times = [
            "2027-01-15T08:00:00Z", "2027-01-15T08:00:00.1Z", "2027-01-15T08:00:00.123456789Z",
            "2027-01-15T08:00:00.000000+00:00", "2027-01-15T08:00:00.000000z", "2027-01-15T09:00:00.000000+01:00",
            "2027-01-15T08:00:00.00000Z\"", "2027-02-31T08:00:00.000000Z", "2027-01-15T24:00:00.000000Z",
            "2027-01-15T08:00:60.000000Z", "2027-01-15 08:00:00.000000Z", "2027-01-15T08:00:00.000000Z ",
            "\\u0032027-01-15T08:00:00.000000Z", "2027-01-15T08:00:00.00000\\u0030Z",
        ]
        for time in times {
            let json = #"{"seq":2,"time":"\#(time)","actor":"a","pid":1,"type":"note.added","text":"x"}"#
            let bytes = Array(json.utf8)
            var decoder = CanonicalEventDecoder()
            let fast = bytes.withUnsafeBytes { decoder.decode($0) }
            let general = try? Event(json: try JSON.parse(bytes.withUnsafeBytes { $0 }))
            if let fast {
                #expect(fast == general, "\(time): shortcut \(fast.time.microseconds), parser \(general.map { "\($0.time.microseconds)" } ?? "refuses")")
            }
        }
    }

    // MARK: The pipeline and its caller

    /// A body that throws at any event — inside a batch, at a batch's end,
    /// in a segment's last chunk — gets no event after it, the error is the
    /// body's, and the second thread is gone when the read returns (no
    /// thread left per read: a long-lived process that replays often would
    /// pile them up).
    @Test func aBodyThatStopsGetsNothingMoreAndLeavesNoThread() throws {
        let texts = (0..<3000).map { "note \($0) " + String(repeating: "x", count: $0 % 90) }
        let (dir, statePath, written) = try Self.journal(texts: texts, segmentSize: 64 << 10)
        _ = dir
        let last = UInt64(written.count)
        for stop in [1, 2, 255, 256, 257, 512, 1023, 1500, last - 1, last] as [UInt64] {
            let two = Self.readAll(statePath, twoThreads: true, stopAt: stop)
            let one = Self.readAll(statePath, twoThreads: false, stopAt: stop)
            #expect(two.end == "stopped", "stop at \(stop): \(two.end)")
            #expect(two.events.count == Int(stop), "stop at \(stop): \(two.events.count) events handed over")
            #expect(two.events == one.events, "stop at \(stop)")
        }
        // 60 more stopped reads: a thread left by each would show (other
        // suites' threads come and go meanwhile: a margin, far below 60).
        let before = Self.threadCount()
        for stop in 0..<60 { _ = Self.readAll(statePath, twoThreads: true, stopAt: UInt64(1 + stop * 37 % Int(last))) }
        #expect(Self.threadCount() < before + 20, "threads before: \(before), after: \(Self.threadCount())")
    }

    /// Damage cut at every kind of place in a sealed segment — the zstd
    /// frame truncated, a checksum byte flipped, the header's counts
    /// changed — gives the same events and the same error on two threads as
    /// on one, and never an event of a later segment.
    @Test func damagedSealedSegmentsReadTheSameAndStopThere() throws {
        let texts = (0..<2500).map { "note \($0) \"q\" \\ " + String(repeating: "y", count: $0 % 70) }
        let (dir, statePath, _) = try Self.journal(texts: texts, segmentSize: 32 << 10)
        _ = dir
        let sealed = listDirectory(statePath + ".journal").filter { $0.hasSuffix(".log.zst") }.sorted()
        #expect(sealed.count >= 3)
        let path = statePath + ".journal/" + sealed[1]
        let original = try #require(readBytes(path))
        let frame = SealedSegmentHeader.frameSize
        // The first event of the segment after the damaged one.
        let nextFirst = UInt64(sealed[2].dropFirst("segment-".count).prefix(20)) ?? 0
        #expect(nextFirst > 0, "\(sealed[2])")
        var damages: [(String, [UInt8])] = []
        for cut in [1, 2, 7, 100, (original.count - frame) / 2, original.count - frame - 1] where cut < original.count - frame {
            damages.append(("truncated by \(cut)", Array(original.dropLast(cut))))
        }
        for at in [frame, frame + 1, original.count / 3, original.count - 1] {
            var b = original
            b[at] ^= 0x01
            damages.append(("bit flipped at \(at)", b))
        }
        for field in 8..<frame {
            var b = original
            b[field] ^= 0x01
            damages.append(("header byte \(field) flipped", b))
        }
        for (what, bytes) in damages {
            writeBytes(path, bytes)
            let one = Self.readAll(statePath, twoThreads: false)
            let two = Self.readAll(statePath, twoThreads: true)
            #expect(one.events == two.events, "\(what): one thread \(one.events.count) events, two \(two.events.count)")
            #expect(one.end == two.end, "\(what): one thread '\(one.end)', two '\(two.end)'")
            #expect(two.end != "end", "\(what): a damaged segment read as healthy")
            let seqs = two.events.compactMap { UInt64($0.prefix { $0 != " " }) }
            #expect(seqs.allSatisfy { $0 < nextFirst }, "\(what): an event of the segment after the damage was handed over")
        }
        writeBytes(path, original)
        #expect(Self.readAll(statePath, twoThreads: true).end == "end")
    }

    /// A record far larger than a read chunk and than zstd's output
    /// pieces (a plan of 20,000 tasks, about 2.5 MiB), between small ones,
    /// in a sealed segment: the same events on two threads as on one, as
    /// written.
    @Test func aRecordLargerThanEveryChunkReadsWhole() throws {
        let dir = TemporaryDirectory()
        let statePath = dir.file("STATE.md")
        var options = FileJournal.Options()
        options.segmentSize = 64 << 10
        let journal = FileJournal(statePath: statePath, options: options)
        let tasks = (0..<20_000).map { Event.PlannedTask(id: "task-\($0)", description: "\"\\ " + String(repeating: "d", count: 100 + $0 % 13)) }
        var events: [Event] = []
        for seq in UInt64(1)...40 {
            let payload: Event.Payload = seq == 1 || seq == 20
                ? .workflowInitialized(id: "wf", name: "big \(seq)", waves: [tasks], metadata: [])
                : .noteAdded(text: "note \(seq) " + String(repeating: "n", count: Int(seq) * 997 % 5000))
            events.append(Event(seq: seq, time: Timestamp(microseconds: Self.t0.microseconds + Int64(seq)), actor: "a", pid: 1, payload: payload))
        }
        try journal.withWriteLock(LockPolicy(timeout: 5), command: "test") {
            try journal.readEvents(after: 0) { _ in }
            for event in events { try journal.append([event]) }
        }
        let sealed = listDirectory(statePath + ".journal").filter { $0.hasSuffix(".log.zst") }
        #expect(!sealed.isEmpty, "nothing sealed: \(listDirectory(statePath + ".journal"))")
        let expected = events.map { "\($0.seq) \($0.json().compactString)" }
        for twoThreads in [false, true] {
            let read = Self.readAll(statePath, twoThreads: twoThreads)
            #expect(read.end == "end", "two threads: \(twoThreads): \(read.end)")
            #expect(read.events == expected, "two threads: \(twoThreads): \(read.events.count) events")
        }
    }

    // MARK: Records split across chunks, and at a chunk's edge

    /// Records that end exactly at a chunk's end, that start exactly at the
    /// next one, and that are split one byte either side, read as one scan
    /// of the whole stream reads them.
    @Test func recordsAtAndAcrossChunkEdgesAreHandedOverWhole() throws {
        var stream: [UInt8] = []
        var payloads: [[UInt8]] = []
        for i in 0..<40 {
            let payload = Array(String(repeating: "r\(i)", count: 1 + i % 9).utf8)
            payloads.append(payload)
            RecordFormat.appendRecord(payload, to: &stream)
        }
        // Chunk edges at every record boundary, ±1.
        var boundaries: [Int] = []
        var offset = 0
        for p in payloads {
            offset += RecordFormat.recordHeaderSize + p.count
            boundaries.append(offset)
        }
        for delta in [-1, 0, 1] {
            var seen: [[UInt8]] = []
            var assembler = RecordAssembler(startingAt: 0, maximumSize: 1 << 20)
            var start = 0
            for edge in boundaries.map({ min(max($0 + delta, 0), stream.count) }) + [stream.count] where edge >= start {
                let ok = stream.withUnsafeBytes { all in
                    assembler.feed(UnsafeRawBufferPointer(rebasing: all[start..<edge])) { payload, _ in seen.append(Array(payload)) }
                }
                #expect(ok, "delta \(delta): refused at \(edge)")
                start = edge
            }
            #expect(seen == payloads, "delta \(delta): \(seen.count) of \(payloads.count) records")
            #expect(assembler.leftover == 0)
        }
    }

    // MARK: Fold shortcuts

    /// A plan with a repeated id (in the same wave, in a later wave, with
    /// dependencies on it) is refused whole, and a refused plan leaves the
    /// state as it was; a plan whose tasks depend on later waves' tasks
    /// folds with every dependency kept.
    @Test func plansWithRepeatedIdsAndForwardDependenciesFoldAsBefore() throws {
        func fold(_ waves: [[Event.PlannedTask]]) -> Result<WorkflowState, StateJournalError> {
            let event = Event(seq: 1, time: Self.t0, actor: "a", pid: 1,
                              payload: .workflowInitialized(id: "wf", name: "n", waves: waves, metadata: []))
            do throws(StateJournalError) {
                return .success(try WorkflowState.applying(event, to: nil))
            } catch {
                return .failure(error)
            }
        }
        let repeated: [[[Event.PlannedTask]]] = [
            [[.init(id: "a", description: "1"), .init(id: "a", description: "2")]],
            [[.init(id: "a", description: "1")], [.init(id: "b", description: "2"), .init(id: "a", description: "3")]],
            [[.init(id: "a", description: "1", dependsOn: ["b"])], [.init(id: "b", description: "2")], [.init(id: "b", description: "3")]],
        ]
        for waves in repeated {
            guard case .failure(let error) = fold(waves) else { Issue.record("a plan with a repeated id folded: \(waves)"); continue }
            #expect(error.message.contains("appears twice"), "\(error.message)")
        }
        let forward: [[Event.PlannedTask]] = [
            [.init(id: "a", description: "1", dependsOn: ["c"]), .init(id: "b", description: "2")],
            [.init(id: "c", description: "3", dependsOn: ["b"])],
        ]
        let state = try fold(forward).get()
        #expect(state.tasks.map(\.id) == ["a", "b", "c"])
        #expect(state.task("a")?.dependsOn == ["c"])
        #expect(state.task("c")?.wave == 2)
        #expect(state.tasks.indices.allSatisfy { state.taskPosition(state.tasks[$0].id) == $0 })
        let cycle: [[Event.PlannedTask]] = [
            [.init(id: "a", description: "1", dependsOn: ["c"])], [.init(id: "c", description: "3", dependsOn: ["a"])],
        ]
        guard case .failure(let error) = fold(cycle) else { Issue.record("a cycle folded"); return }
        #expect(error.message.contains("a → c → a") || error.message.contains("c → a → c"), "\(error.message)")
    }

    // MARK: STATE.md rendered into one buffer

    func hostileState(_ text: String) -> WorkflowState {
        WorkflowState(workflowID: "wf_1", name: text, currentWave: 1, totalWaves: 2,
                      started: Self.t0, updated: Timestamp(microseconds: Self.t0.microseconds + 61_000_000),
                      tasks: [
                        WorkflowTask(id: "t1", description: text, status: .completed, wave: 1, commit: "abc123",
                                     files: [text, "plain.txt", text + "2"]),
                        WorkflowTask(id: "t2", description: text, status: .inProgress, wave: 1, owner: text),
                        WorkflowTask(id: "t4", description: text, status: .failed, wave: 1, error: text),
                        WorkflowTask(id: "t3", description: text, status: .pending, wave: 2),
                      ], notes: [text, "plain"],
                      metadata: [MetadataEntry(key: text, value: text), MetadataEntry(key: "k", value: text)], seq: 42)
    }

    /// Text that begins with a combining mark, a zero-width joiner or a
    /// variation selector (which Swift joins to the space before it into
    /// one Character), text with `|`, markdown specials and control bytes:
    /// STATE.md reads back to the same state, with a valid footer.
    static let oddTexts: [String] = [
        "\u{301}starts with a combining mark", "\u{301}", "ends with one e\u{301}", " \u{301}", "\u{200D}zwj", "\u{FE0F}vs",
        "*\u{301}", "\\\u{301}", "_\u{301}a", "a_\u{301}", "\u{1F1FA}\u{1F1F8} flag", "a | b | c", "|", "||\n|",
        "tab\u{301}\t", "\u{301}- list", "- \u{301}", "1.\u{301} x", "x\r\ny", "\u{0}\u{8}\u{B}\u{C}\u{1B}[31m", "\u{85}\u{2028}",
        "a, \u{301}b", "(\u{301})", "&#x301;", "&\u{301}#x41;", "<br\u{301}>", "`\u{301}`", "**\u{301}**", "~\u{301}~",
        "\u{E000}\u{FFFD}\u{10FFFF}", "ZWSP\u{200B}", "\u{202E}rtl override",
    ]

    @Test(arguments: oddTexts)
    func oddTextRoundTripsThroughStateMd(_ text: String) throws {
        let original = hostileState(text)
        let bytes = MarkdownRenderer.renderBytes(original)
        let rendered = String(decoding: bytes, as: UTF8.self)
        #expect(Array(rendered.utf8) == bytes)
        let parsed = try MarkdownParser.parse(rendered)
        #expect(parsed.footer?.matchesContent == true)
        let back = try #require(parsed.state())
        #expect(back.name == text)
        #expect(back.tasks.map(\.description) == Array(repeating: text, count: 4))
        #expect(back.task("t1")?.files == [text, "plain.txt", text + "2"], "files read back as \(back.task("t1")?.files ?? [])")
        #expect(back.task("t2")?.owner == text)
        #expect(back.task("t4")?.error == text)
        #expect(back.notes == [text, "plain"])
        #expect(back.metadata == original.metadata)
        #expect(back == original)
        #expect(MarkdownValidator.validate(rendered) == [])
    }
}
