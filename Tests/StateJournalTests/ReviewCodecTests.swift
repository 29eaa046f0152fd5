import Testing
@testable import StateJournal
@testable import StateJournalEngine
import StateJournalTesting

/// Outside review of the direct event codec (EventBytes.swift) and the
/// hardware CRC-32C: the scanner against the general decoder, `encoded()`
/// against `json().encoded()`, the crc32 instruction against the tables,
/// and what is written against what can be read back.
@Suite struct ReviewCodecTests {
    static func general(_ bytes: [UInt8]) -> Event? {
        do { return try Event(json: try JSON.parse(bytes)) } catch { return nil }
    }

    static func fast(_ bytes: [UInt8], _ decoder: inout CanonicalEventDecoder) -> Event? {
        bytes.withUnsafeBytes { decoder.decode($0) }
    }

    /// nil when both agree; else what went wrong.
    static func disagreement(_ bytes: [UInt8], decoder: inout CanonicalEventDecoder) -> String? {
        guard let f = fast(bytes, &decoder) else { return nil }
        guard let g = general(bytes) else { return "scanner accepts, general refuses" }
        if f != g { return "different events" }
        if f.encoded() != g.encoded() { return "same event, different bytes" }
        if f.actor.utf8.elementsEqual(g.actor.utf8) == false { return "actor bytes differ" }
        return nil
    }

    static func expectAgree(_ bytes: [UInt8], sourceLocation: SourceLocation = #_sourceLocation) {
        var decoder = CanonicalEventDecoder()
        if let why = disagreement(bytes, decoder: &decoder) {
            Issue.record("\(why): \(bytes)", sourceLocation: sourceLocation)
        }
    }

    static let time = Array("\"2026-11-20T10:00:00.000000Z\"".utf8)

    /// `{"seq":S,"time":T,"actor":A,"pid":P,"type":"note.added","text":X}` with raw bytes put in.
    static func note(seq: [UInt8] = Array("1".utf8), time: [UInt8] = time, actor: [UInt8] = Array("\"a\"".utf8),
                     pid: [UInt8] = Array("7".utf8), text: [UInt8] = Array("\"t\"".utf8)) -> [UInt8] {
        Array("{\"seq\":".utf8) + seq + Array(",\"time\":".utf8) + time + Array(",\"actor\":".utf8) + actor
            + Array(",\"pid\":".utf8) + pid + Array(",\"type\":\"note.added\",\"text\":".utf8) + text + Array("}".utf8)
    }

    static func quoted(_ raw: [UInt8]) -> [UInt8] { [0x22] + raw + [0x22] }

    static let oddStrings: [[UInt8]] = [
        [], Array("é".utf8), Array("\u{2028}\u{2029}".utf8), Array("😀".utf8), [0x7F], [0x00], [0x1F], [0x09],
        [0xC0, 0xAF], [0xED, 0xA0, 0x80], [0xED, 0xBF, 0xBF], [0xF4, 0x90, 0x80, 0x80], [0xE2, 0x82], [0xFF], [0x80],
        [0xF0, 0x9F, 0x98], [0xEF, 0xBB, 0xBF], [0xEF, 0xBF, 0xBE], Array("\\u0000".utf8), Array("\\\"".utf8), [0x5C],
        [0x22], Array("e\u{301}".utf8), Array("\u{E9}".utf8),
    ]

    @Test func oddBytesInEveryStringDecodeTheSameBothWays() {
        for odd in Self.oddStrings {
            for pad in 0...17 {
                for at in [0, pad / 2, pad] {
                    var raw = Array(repeating: UInt8(ascii: "x"), count: pad)
                    raw.insert(contentsOf: odd, at: at)
                    Self.expectAgree(Self.note(text: Self.quoted(raw)))
                    Self.expectAgree(Self.note(actor: Self.quoted(raw)))
                    Self.expectAgree(Self.note(time: Self.quoted(Array("2026-11-20T10:00:00.000000Z".utf8) + raw)))
                }
            }
        }
    }

    @Test func everyByteAtEveryPositionOfALongString() {
        for byte in UInt8(0)...UInt8(255) {
            for at in 0..<24 {
                var raw = Array(repeating: UInt8(ascii: "y"), count: 24)
                raw[at] = byte
                Self.expectAgree(Self.note(text: Self.quoted(raw)))
                Self.expectAgree(Self.note(actor: Self.quoted(raw)))
            }
        }
    }

    @Test func oneDecoderKeptAcrossRecordsGivesEachRecordItsOwnActor() {
        var decoder = CanonicalEventDecoder()
        let actors = ["alice", "alicf", "bob", "", "ålice", "alice", "ALICE", String(repeating: "a", count: 40),
                      String(repeating: "a", count: 39) + "b"] + (0..<20).map { "w\($0)" } + ["alice", "w3"]
        for actor in actors {
            var raw: [UInt8] = []
            JSON.writeString(actor, into: &raw)
            let bytes = Self.note(actor: raw)
            let decoded = Self.fast(bytes, &decoder)
            #expect(decoded?.actor == actor, "actor \(actor)")
            #expect(decoded.map { Array($0.actor.utf8) } == Array(actor.utf8))
        }
    }

    @Test func numbersAtTheEdges() {
        let numbers = ["0", "-0", "1", "-1", "00", "01", "-01", "1.0", "1e2", "1E2", "1e", "-", "+1", "1.", " 1",
                       "9223372036854775807", "9223372036854775808", "-9223372036854775808", "-9223372036854775809",
                       "18446744073709551615", "18446744073709551616", "4294967295", "2147483648", "-2147483649",
                       "99999999999999999999999", "9007199254740993", "1.5", "0.0", "-0.0", "1e0", "true", "null", "\"1\""]
        for n in numbers {
            Self.expectAgree(Self.note(seq: Array(n.utf8)))
            Self.expectAgree(Self.note(pid: Array(n.utf8)))
            let wave = Array("{\"seq\":3,\"time\":\"2026-11-20T10:00:00.000000Z\",\"actor\":\"a\",\"pid\":1,\"type\":\"wave.set\",\"wave\":".utf8)
                + Array(n.utf8) + Array("}".utf8)
            Self.expectAgree(wave)
            let added = Array("{\"seq\":3,\"time\":\"2026-11-20T10:00:00.000000Z\",\"actor\":\"a\",\"pid\":1,\"type\":\"task.added\",\"task_id\":\"T1\",\"wave\":".utf8)
                + Array(n.utf8) + Array(",\"description\":\"d\"}".utf8)
            Self.expectAgree(added)
        }
    }

    @Test func timesAtTheEdges() {
        let times = ["0000-01-01T00:00:00.000000Z", "0001-01-01T00:00:00.000000Z", "9999-12-31T23:59:59.999999Z",
                     "9999-12-31T23:59:60.999999Z", "2016-12-31T23:59:60.000000Z", "2026-02-29T00:00:00.000000Z",
                     "2024-02-29T00:00:00.000000Z", "2026-02-31T00:00:00.000000Z", "2026-04-31T23:59:60.999999Z",
                     "1969-12-31T23:59:59.999999Z", "1970-01-01T00:00:00.000000Z", "1900-02-29T00:00:00.000000Z",
                     "2000-02-29T00:00:00.000000Z", "0000-02-29T00:00:00.000000Z", "2026-00-01T00:00:00.000000Z",
                     "2026-13-01T00:00:00.000000Z", "2026-01-00T00:00:00.000000Z", "2026-01-32T00:00:00.000000Z",
                     "2026-01-01T24:00:00.000000Z", "2026-01-01T00:60:00.000000Z", "2026-01-01T00:00:61.000000Z",
                     "2026-11-20t10:00:00.000000z", "2026-11-20 10:00:00.000000Z", "2026-11-20T10:00:00Z",
                     "2026-11-20T10:00:00.1234567Z", "2026-11-20T10:00:00.00000Z", "2026-11-20T10:00:00.000000+01:00",
                     "2026-11-20T10:00:00.00000aZ", "2026-11-20T10:00:00.000000ZZ", "2026-11-20T10:00:00.000000",
                     "-001-01-01T00:00:00.000000Z", "10000-01-01T00:00:00.000000Z", "2026-11-20T10:0:00.0000000Z",
                     "2026-1١-20T10:00:00.000000Z", "2026-11-20T10:00:00.+00000Z", "2026-11-20T10:00:00.-00000Z"]
        for t in times {
            Self.expectAgree(Self.note(time: Self.quoted(Array(t.utf8))))
        }
    }

    @Test func payloadsWithEmptyAndRepeatedParts() {
        let head = "{\"seq\":9,\"time\":\"2026-11-20T10:00:00.000000Z\",\"actor\":\"a\",\"pid\":1,"
        let bodies = [
            "\"type\":\"workflow.initialized\",\"workflow_id\":\"\",\"workflow_name\":\"\",\"waves\":[],\"metadata\":{}}",
            "\"type\":\"workflow.initialized\",\"workflow_id\":\"w\",\"workflow_name\":\"n\",\"waves\":[[]],\"metadata\":{}}",
            "\"type\":\"workflow.initialized\",\"workflow_id\":\"w\",\"workflow_name\":\"n\",\"waves\":[[],[]],\"metadata\":{\"a\":\"1\",\"a\":\"2\"}}",
            "\"type\":\"workflow.initialized\",\"workflow_id\":\"w\",\"workflow_name\":\"n\",\"waves\":[[{\"task_id\":\"T\",\"description\":\"\"}]],\"metadata\":{\"\":\"\"}}",
            "\"type\":\"workflow.initialized\",\"workflow_id\":\"w\",\"workflow_name\":\"n\",\"waves\":[[{\"task_id\":\"T\",\"description\":\"d\"},{\"task_id\":\"T\",\"description\":\"d\"}]],\"metadata\":{}}",
            "\"type\":\"workflow.initialized\",\"workflow_id\":\"w\",\"workflow_name\":\"n\",\"waves\":[],\"metadata\":{\"workflow_id\":\"x\"}}",
            "\"type\":\"task.completed\",\"task_id\":\"T\",\"commit\":\"\",\"files\":[]}",
            "\"type\":\"task.completed\",\"task_id\":\"T\",\"files\":[\"\",\"\"]}",
            "\"type\":\"task.completed\",\"task_id\":\"T\",\"files\":[\"a\",]}",
            "\"type\":\"task.completed\",\"task_id\":\"T\"}",
            "\"idempotency_key\":\"\",\"type\":\"task.started\",\"task_id\":\"T\"}",
            "\"type\":\"task.started\",\"idempotency_key\":\"k\",\"task_id\":\"T\"}",
            "\"type\":\"task.started\",\"idempotency_key\":\"k\",\"task_id\":\"T\",\"idempotency_key\":\"j\"}",
            "\"type\":\"task.failed\",\"task_id\":\"T\",\"error\":\"\"}",
            "\"type\":\"metadata.set\",\"key\":\"\",\"value\":\"\"}",
            "\"type\":\"note.added\",\"text\":\"\"}",
            "\"type\":\"note.added\",\"text\":\"a\",\"text\":\"b\"}",
            "\"type\":\"task.startedx\",\"task_id\":\"T\"}",
            "\"type\":\"task.claimed\",\"task_id\":\"T\",\"owner\":\"o\",\"lease_expires\":null}",
        ]
        for body in bodies { Self.expectAgree(Array((head + body).utf8)) }
    }

    /// Events the library can build: the direct encoder writes the bytes of
    /// `json().encoded()`, and reading them back gives the event.
    @Test func edgeEventsEncodeAsTheirJSONAndReadBack() {
        let strings = ["", "\u{0}", "\u{7F}", "\u{1F}\u{1}", "\u{2028}", "😀", "e\u{301}", "\\\"", "\r\n\t",
                       String(repeating: "\u{7F}", count: 9), String(repeating: "é", count: 9)]
        let times = [Int64(0), -1, 1, -1_000_000, 253_402_300_799_999_999, -62_135_596_800_000_000]
            .map { Timestamp(microseconds: $0) }
        var events: [Event] = []
        for s in strings {
            for t in times {
                events.append(Event(seq: 1, time: t, actor: s, pid: Int32.min, idempotencyKey: s, payload: .noteAdded(text: s)))
                events.append(Event(seq: UInt64(Int64.max), time: t, actor: s, pid: -1,
                                    payload: .workflowInitialized(id: s, name: s, waves: [[], [Event.PlannedTask(id: s, description: s)]],
                                                                  metadata: [MetadataEntry(key: s, value: s), MetadataEntry(key: s, value: "")])))
                events.append(Event(seq: 2, time: t, actor: "a", pid: 0, payload: .taskCompleted(taskID: s, commit: s, files: [s, s], force: false)))
                events.append(Event(seq: 2, time: t, actor: "a", pid: 0, payload: .taskCompleted(taskID: s, commit: nil, files: [], force: false)))
                events.append(Event(seq: 3, time: t, actor: "a", pid: 0, payload: .waveSet(wave: Int.min)))
                events.append(Event(seq: 3, time: t, actor: "a", pid: 0, payload: .taskAdded(taskID: s, wave: Int.max, description: s, dependsOn: [])))
                events.append(Event(seq: 3, time: t, actor: "a", pid: 0, payload: .metadataSet(key: s, value: s)))
                events.append(Event(seq: 3, time: t, actor: "a", pid: 0, payload: .taskFailed(taskID: s, error: s, force: false)))
            }
        }
        var decoder = CanonicalEventDecoder()
        for event in events {
            let bytes = event.encoded()
            #expect(bytes == event.json().encoded(), "\(event)")
            #expect(Self.general(bytes) == event, "\(String(decoding: bytes, as: UTF8.self))")
            if let f = Self.fast(bytes, &decoder) { #expect(f == event) }
            #expect(Self.disagreement(bytes, decoder: &decoder) == nil)
        }
    }

    /// A lease whose end the journal could not write and read back (after
    /// 9999-12-31, or wrapping the clock) is refused when given, and a claim
    /// event carrying one is refused by the fold: never acknowledged.
    @Test func aLeaseEndingAfterYear9999IsRefused() throws {
        for text in ["3000000d", "106751991d"] {
            #expect(throws: StateJournalError.self) { try LeaseDuration(parsing: text) }
        }
        let longest = try LeaseDuration(parsing: "36500d")
        let taken = Timestamp(microseconds: 1_795_000_000_000_000)  // 2026-11
        let expiry = try #require(longest.expiry(from: taken))
        let event = Event(seq: 5, time: taken, actor: "a", pid: 1,
                          payload: .taskClaimed(taskID: "T1", owner: "o", leaseExpires: expiry, previousOwner: nil, force: false))
        #expect(Self.general(event.encoded()) == event)
        // Near the end of time the expiry stops at the last time the journal holds.
        let late = try #require(longest.expiry(from: Timestamp(microseconds: Timestamp.latest.microseconds - 1_000_000)))
        #expect(late == Timestamp.latest)
        #expect(Timestamp(parsing: late.rfc3339) == late)
    }

    /// The fold refuses a claim event whose lease ends after year 9999
    /// (an import, or a library caller building the payload itself).
    @Test func aClaimEventWithALeaseAfterYear9999IsRefusedByTheFold() throws {
        let state = try WorkflowState.applying(Event(seq: 1, time: Timestamp(microseconds: 1_795_000_000_000_000), actor: "a", pid: 1,
            payload: .workflowInitialized(id: "wf", name: "n", waves: [[Event.PlannedTask(id: "T1", description: "d")]], metadata: [])), to: nil)
        let far = Timestamp(microseconds: Timestamp.latest.microseconds + 1)
        let claim = Event(seq: 2, time: Timestamp(microseconds: 1_795_000_000_000_001), actor: "o", pid: 1,
                          payload: .taskClaimed(taskID: "T1", owner: "o", leaseExpires: far, previousOwner: nil, force: false))
        #expect(throws: StateJournalError.self) { try WorkflowState.applying(claim, to: state) }
    }

    /// Every time from year 1 to 9999 reads back as it was written; text
    /// naming a time outside them is refused by the parser (so nothing
    /// outside them is ever accepted, written, then unreadable).
    @Test func rfc3339OfEveryYearReadsBack() {
        for year in [1, 2, 1969, 1970, 2026, 9998, 9999] {
            let days = Int64((Double(year) - 1970) * 365.2425) + 180
            let t = Timestamp(microseconds: days * 86_400_000_000 + 123_456)
            let text = t.rfc3339
            #expect(Timestamp(parsing: text) == t, "\(year): \(text)")
        }
        for text in ["0000-06-30T00:00:00.123456Z", "0000-01-01T00:00:00.000000+00:01", "0001-01-01T00:00:00.000000+00:01"] {
            #expect(Timestamp(parsing: text) == nil, "\(text)")
        }
        #expect(Timestamp(parsing: Timestamp.earliest.rfc3339) == Timestamp.earliest)
        #expect(Timestamp(parsing: Timestamp.latest.rfc3339) == Timestamp.latest)
    }

    /// Random edits (replace, insert, delete, with bytes that matter to the
    /// scanner) of encoded events: whatever the scanner decodes, the general
    /// decoder decodes to the same event.
    @Test func mutatedEventsNeverDecodeDifferently() {
        var rng = SeededRandom(seed: 4242)
        var history = VariedHistory(seed: 9)
        let events = history.events(count: 400, rng: &rng)
        let interesting: [UInt8] = Array("\"\\,:{}[]0123456789-.eE+ \tZT".utf8) + [0x00, 0x1F, 0x7F, 0x80, 0xC3, 0xA9, 0xED, 0xFF]
        var decoder = CanonicalEventDecoder()
        var failures = 0
        for i in 0..<60_000 {
            var bytes = events[i % events.count].encoded()
            for _ in 0...Int(rng.next() % 3) {
                let at = Int(rng.next() % UInt64(bytes.count))
                let b = rng.next() % 2 == 0 ? interesting[Int(rng.next() % UInt64(interesting.count))] : UInt8(truncatingIfNeeded: rng.next())
                switch rng.next() % 3 {
                case 0: bytes[at] = b
                case 1: bytes.insert(b, at: at)
                default: if bytes.count > 1 { bytes.remove(at: at) }
                }
            }
            if let why = Self.disagreement(bytes, decoder: &decoder), failures < 5 {
                failures += 1
                Issue.record("\(why): \(String(decoding: bytes, as: UTF8.self))")
            }
        }
    }

    @Test func hardwareCRCIsTheSoftwareCRC() {
        var rng = SeededRandom(seed: 77)
        let buffer: [UInt8] = (0..<200).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        buffer.withUnsafeBytes { all in
            for start in 0..<16 {
                for length in 0...64 {
                    let slice = UnsafeRawBufferPointer(rebasing: all[start..<(start + length)])
                    for seed: UInt32 in [0, 0xFFFF_FFFF, 0x1234_5678] {
                        #expect(CRC32C.update(seed, slice) == CRC32C.software(seed, slice), "start \(start) length \(length)")
                    }
                    // Split anywhere: the same as whole.
                    for cut in [0, length / 3, length] {
                        let a = UnsafeRawBufferPointer(rebasing: slice[0..<cut])
                        let b = UnsafeRawBufferPointer(rebasing: slice[cut...])
                        #expect(CRC32C.update(CRC32C.update(0, a), b) == CRC32C.software(0, slice))
                    }
                }
            }
        }
        // The standard check value: "123456789" -> 0xE3069283.
        #expect(CRC32C.checksum(Array("123456789".utf8)) == 0xE306_9283)
        #expect(CRC32C.software(0, UnsafeRawBufferPointer(start: nil, count: 0)) == 0)
        #expect(CRC32C.checksum([UInt8]()) == 0)
    }
}
