import Foundation
import Testing
@testable import StateJournal
@testable import StateJournalEngine
import StateJournalTesting

/// The journal's events are decoded straight from their bytes
/// (`CanonicalEventDecoder`) when they are in the form the journal writes,
/// and by the general JSON decoder otherwise. Which of the two decoded an
/// event must never show: these tests decode and fold both ways and compare.
@Suite struct EventDecodingTests {
    /// The general decoder: a JSON tree, then the event.
    static func general(_ bytes: [UInt8]) -> Result<Event, any Error> {
        do { return .success(try Event(json: try JSON.parse(bytes))) } catch { return .failure(error) }
    }

    static func canonical(_ bytes: [UInt8]) -> Event? {
        var decoder = CanonicalEventDecoder()
        return bytes.withUnsafeBytes { decoder.decode($0) }
    }

    /// What the scanner decoded, the general decoder decodes to the same
    /// event (every field, and the same bytes when encoded again).
    static func agree(_ bytes: [UInt8], _ comment: @autoclosure () -> String = "") -> Bool {
        guard let fast = canonical(bytes) else { return true }
        guard case .success(let slow) = general(bytes) else {
            Issue.record("the scanner decoded what the general decoder refuses: \(String(decoding: bytes, as: UTF8.self)) \(comment())")
            return false
        }
        let same = fast == slow && fast.json().encoded() == slow.json().encoded()
        if !same { Issue.record("decoded differently: \(String(decoding: bytes, as: UTF8.self)) \(comment())") }
        return same
    }

    @Test func everyKindOfEventDecodesAsTheGeneralDecoderDecodesIt() {
        var rng = SeededRandom(seed: 12)
        var history = VariedHistory(seed: 1)
        let events = history.events(count: 3000, rng: &rng)
        var scanned = 0
        for event in events {
            let bytes = event.json().encoded()
            #expect(Self.agree(bytes))
            if let fast = Self.canonical(bytes) {
                scanned += 1
                #expect(fast == event)
            }
        }
        // Events with escapes in their strings and whole-state events go the
        // general way; everything else is scanned.
        #expect(scanned > events.count / 2, "the scanner decoded only \(scanned) of \(events.count) events")
    }

    @Test func textNotInTheJournalsOwnFormIsLeftToTheGeneralDecoder() {
        let base = #"{"seq":5,"time":"2026-11-20T10:00:00.123456Z","actor":"me","pid":3,"type":"task.completed","task_id":"a","commit":"c1","files":["x","y"]}"#
        #expect(Self.canonical(Array(base.utf8)) != nil)
        let variants = [
            swap(base, ",", ", "),                                      // white space
            swap(base, #""pid":3"#, #""pid":3.0"#),                      // a double
            swap(base, #""pid":3"#, #""pid":3e0"#),
            swap(base, #""pid":3"#, #""pid":03"#),                       // not JSON
            swap(base, #""commit":"c1""#, #""commit":null"#),
            swap(base, #""task_id":"a""#, #""task_id":"a","task_id":"b""#),  // repeated: the last counts
            swap(base, #""actor":"me""#, #""actor":"m\u0065""#),         // an escape
            swap(base, "}", #","extra":1}"#),                             // an unknown member
            swap(base, "10:00:00.123456Z", "10:00:00.5+01:00"),          // another time form
            swap(base, "10:00:00.123456Z", "10:00:00Z"),
            swap(base, "2026-11-20", "2026-02-31"),                      // carried over, as timegm does
            swap(base, "10:00:00.123456Z", "23:59:60.000000Z"),
            swap(base, "2026-11-20", "2026-13-20"),                      // no such month
            swap(base, #""seq":5"#, #""seq":0"#),
            swap(base, #""seq":5"#, #""seq":99999999999999999999"#),
            base + " ",
            swap(base, "task.completed", "task.completedx"),
        ]
        for text in variants {
            let bytes = Array(text.utf8)
            #expect(Self.agree(bytes, text))
        }
        // Repeated and escaped members are not the scanner's: it gives up.
        #expect(Self.canonical(Array(variants[5].utf8)) == nil)
        #expect(Self.canonical(Array(variants[6].utf8)) == nil)
    }

    /// Random damage to encoded events (a byte changed, cut, doubled): the
    /// scanner either gives up or decodes what the general decoder decodes.
    @Test func damagedTextIsNeverDecodedDifferently() {
        var rng = SeededRandom(seed: 77)
        var history = VariedHistory(seed: 2)
        let events = history.events(count: 400, rng: &rng)
        let alphabet = Array(#"{}[]",:0123456789-.eE \"#.utf8) + [0x41, 0x7A, 0xC3, 0xA9, 0x00, 0x1F, 0xFF]
        var checked = 0
        for event in events {
            let bytes = event.json().encoded()
            for _ in 0..<40 {
                var damaged = bytes
                let at = Int.random(in: 0..<damaged.count, using: &rng)
                switch Int.random(in: 0..<3, using: &rng) {
                case 0: damaged[at] = alphabet.randomElement(using: &rng)!
                case 1: damaged.remove(at: at)
                default: damaged.insert(damaged[at], at: at)
                }
                if !Self.agree(damaged) { return }
                checked += 1
            }
        }
        #expect(checked == 400 * 40)
    }

    /// The writer encodes events straight to bytes: the bytes of the JSON tree.
    @Test func everyKindOfEventEncodesToTheBytesOfItsJSON() {
        var rng = SeededRandom(seed: 31)
        var history = VariedHistory(seed: 4)
        var events = history.events(count: 3000, rng: &rng)
        events.append(Event(seq: UInt64(Int64.max), time: Timestamp(microseconds: -62_135_596_800_000_001), actor: "", pid: Int32.min,
                            payload: .waveSet(wave: Int.min)))
        events.append(Event(seq: 1, time: Timestamp(microseconds: 253_402_300_800_000_000), actor: "\u{0}", pid: 0,
                            payload: .stateRestored(fromSeq: UInt64(Int64.max), state: StateImage(
                                workflowID: "w", name: "", currentWave: 0, totalWaves: 0, started: Timestamp(microseconds: 0),
                                tasks: [], notes: [], metadata: []))))
        for event in events {
            #expect(event.encoded() == event.json().encoded(), "\(event.json().compactString)")
        }
    }

    @Test func rfc3339IsWhatTheCLibraryWrites() {
        var rng = SeededRandom(seed: 9)
        let edges: [Int64] = [0, -1, 1, 999_999, -999_999, -1_000_000, 951_782_400_000_000, 4_107_542_400_000_000,
                              -62_135_596_800_000_000, -62_135_596_800_000_001, 253_402_300_799_999_999, 253_402_300_800_000_000]
        let random = (0..<50_000).map { _ in Int64.random(in: -70_000_000_000_000_000...260_000_000_000_000_000, using: &rng) }
        for us in edges + random {
            let t = Timestamp(microseconds: us)
            #expect(t.rfc3339 == t.rfc3339ByCLibrary, "\(us)")
        }
    }

    @Test func theCanonicalTimeIsTheTimeTimestampParsingReads() {
        var rng = SeededRandom(seed: 5)
        for _ in 0..<20_000 {
            let text = String(format4: Int.random(in: 1...9999, using: &rng)) + "-" + String(format2: Int.random(in: 1...12, using: &rng))
                + "-" + String(format2: Int.random(in: 1...31, using: &rng)) + "T" + String(format2: Int.random(in: 0...23, using: &rng))
                + ":" + String(format2: Int.random(in: 0...59, using: &rng)) + ":" + String(format2: Int.random(in: 0...60, using: &rng))
                + "." + String(String(Int.random(in: 1_000_000...1_999_999, using: &rng)).dropFirst()) + "Z"
            let fast = Array(text.utf8).withUnsafeBytes { Timestamp(canonical: $0) }
            #expect(fast != nil && fast == Timestamp(parsing: text), "\(text)")
        }
        let now = Timestamp.now()
        #expect(Array(now.rfc3339.utf8).withUnsafeBytes { Timestamp(canonical: $0) } == now)
        // Year 0: outside what the journal writes; both refuse it.
        let zero = "0000-03-01T00:00:00.000000Z"
        #expect(Array(zero.utf8).withUnsafeBytes { Timestamp(canonical: $0) } == nil && Timestamp(parsing: zero) == nil)
    }

    /// A varied journal — sealed and raw segments, every kind of event,
    /// escapes, non-ASCII text, whole-state events — replayed through the
    /// journal gives, byte for byte, the state that folding the general
    /// decoder's events gives.
    @Test func aVariedJournalFoldsToTheSameStateBothWays() throws {
        let dir = TemporaryDirectory()
        let statePath = dir.file("STATE.md")
        var options = FileJournal.Options()
        options.segmentSize = 16 << 10
        let journal = FileJournal(statePath: statePath, options: options)
        var rng = SeededRandom(seed: 2026)
        var history = VariedHistory(seed: 3)
        let events = history.foldable(count: 4000, rng: &rng)
        try journal.withWriteLock(LockPolicy(timeout: 5), command: "test") {
            try journal.readEvents(after: 0) { _ in }
            for batch in stride(from: 0, to: events.count, by: 50) {
                try journal.append(Array(events[batch..<min(batch + 50, events.count)]))
            }
        }
        #expect(listDirectory(statePath + ".journal").contains { $0.hasSuffix(".log.zst") }, "no sealed segment to read")

        // The general way: every event's bytes through the JSON tree.
        var expected: WorkflowState?
        var expectedStates: [[UInt8]] = []
        for event in events {
            guard case .success(let decoded) = Self.general(event.json().encoded()) else {
                Issue.record("event \(event.seq) does not decode"); return
            }
            try WorkflowState.apply(decoded, to: &expected)
            expectedStates.append(expected?.json().encoded() ?? [])
        }
        // The journal's way.
        var state: WorkflowState?
        var seen = 0
        try FileJournal(statePath: statePath).readEvents(after: 0) { event in
            #expect(event == events[seen])
            try WorkflowState.apply(event, to: &state)
            if seen % 7 == 0 || seen == events.count - 1 {
                #expect(state?.json().encoded() == expectedStates[seen], "state after seq \(event.seq)")
            }
            seen += 1
        }
        #expect(seen == events.count)
        #expect(state == expected)
        #expect(state?.json().encoded() == expected?.json().encoded())
        // And through the manager's replay.
        let replayed = try StateManager(configuration: .init(statePath: statePath, actor: "tester", projection: .manual)).replay()
        #expect(replayed.json().encoded() == expected?.json().encoded())
    }
}

private func swap(_ text: String, _ old: String, _ new: String) -> String {
    text.components(separatedBy: old).joined(separator: new)
}

private extension String {
    init(format2 v: Int) { self = v < 10 ? "0\(v)" : "\(v)" }
    init(format4 v: Int) { let s = "\(v)"; self = String(repeating: "0", count: 4 - s.count) + s }
}

/// Events of every kind, with text that needs escaping or is not ASCII now
/// and then.
struct VariedHistory {
    var seq: UInt64 = 0
    var time: Int64 = 1_795_000_000_000_000
    var tasks: [String] = []
    var started: Set<String> = []
    var completed: Set<String> = []
    var waves = 0
    let seed: UInt64

    init(seed: UInt64) { self.seed = seed }

    static let texts = ["plain", "with \"quotes\"", "back\\slash", "line\nbreak\ttab", "café ☕", "日本語のメモ", "ctl\u{01}x",
                        "", "emoji 🧪 test", "a/b.c:d@e+f=g#h", "</script>", "\u{7F}del"]

    func text(_ rng: inout SeededRandom) -> String {
        rng.chance(0.7) ? "text \(Int.random(in: 0..<1000, using: &rng))" : Self.texts.randomElement(using: &rng)!
    }

    mutating func envelope(_ payload: Event.Payload, _ rng: inout SeededRandom) -> Event {
        seq += 1
        time += Int64.random(in: 0..<5_000_000, using: &rng)
        let actors = ["agent-1@build-host", "agent-2@build-host", "me", "ünïcode@host"]
        return Event(seq: seq, time: Timestamp(microseconds: time), actor: actors.randomElement(using: &rng)!,
                     pid: Int32.random(in: -5...100_000, using: &rng),
                     idempotencyKey: rng.chance(0.2) ? "key-\(seq)" + (rng.chance(0.2) ? " \"q\"" : "") : nil, payload: payload)
    }

    mutating func initialize(_ rng: inout SeededRandom) -> Event {
        waves = Int.random(in: 1...4, using: &rng)
        tasks = []
        started = []
        completed = []
        var plan: [[Event.PlannedTask]] = []
        for w in 0..<waves {
            plan.append((0..<Int.random(in: 0...6, using: &rng)).map { t in
                let id = "w\(w + 1)_t\(t)_\(seq)"
                tasks.append(id)
                return Event.PlannedTask(id: id, description: text(&rng))
            })
        }
        let metadata = (0..<Int.random(in: 0...3, using: &rng)).map { MetadataEntry(key: "k\($0 % 2)", value: text(&rng)) }
        return envelope(.workflowInitialized(id: "wf_\(seq)", name: text(&rng), waves: plan, metadata: metadata), &rng)
    }

    /// Any event, valid or not for a fold.
    mutating func events(count: Int, rng: inout SeededRandom) -> [Event] {
        var out = [initialize(&rng)]
        while out.count < count {
            let id = tasks.randomElement(using: &rng) ?? "t"
            let payload: Event.Payload
            switch Int.random(in: 0..<11, using: &rng) {
            case 0: out.append(initialize(&rng)); continue
            case 1: payload = .taskAdded(taskID: id + "x", wave: Int.random(in: -1...5, using: &rng), description: text(&rng),
                                         dependsOn: rng.chance(0.3) ? [id] : [])
            case 2: payload = .taskStarted(taskID: id)
            case 3: payload = .taskCompleted(taskID: id, commit: rng.chance(0.5) ? "abc\(seq)" : nil,
                                             files: (0..<Int.random(in: 0...3, using: &rng)).map { _ in text(&rng) })
            case 4: payload = .taskFailed(taskID: id, error: text(&rng), force: rng.chance(0.2))
            case 5: payload = .waveSet(wave: Int.random(in: 0...4, using: &rng))
            case 6: payload = .noteAdded(text: text(&rng))
            case 7: payload = .metadataSet(key: text(&rng), value: text(&rng))
            case 8: payload = .stateReplaced(StateImage(
                workflowID: "wf", name: text(&rng), currentWave: 0, totalWaves: 1, started: Timestamp(microseconds: time),
                tasks: [WorkflowTask(id: "r1", description: text(&rng), wave: 1)], notes: [text(&rng)], metadata: []))
            case 9: payload = .stateRestored(fromSeq: seq, state: StateImage(
                workflowID: "wf", name: "restored", currentWave: 1, totalWaves: 1, started: Timestamp(microseconds: time),
                tasks: [], notes: [], metadata: [MetadataEntry(key: "a", value: text(&rng))]))
            default: payload = .taskCompleted(taskID: id, commit: nil, files: [])
            }
            out.append(envelope(payload, &rng))
        }
        return out
    }

    /// Events that all apply, in order.
    mutating func foldable(count: Int, rng: inout SeededRandom) -> [Event] {
        var out = [initialize(&rng)]
        while out.count < count {
            let roll = Int.random(in: 0..<100, using: &rng)
            if roll < 2 { out.append(initialize(&rng)); continue }
            if roll < 3 {
                let image = StateImage(workflowID: "wf_r\(seq)", name: text(&rng), currentWave: 0, totalWaves: 1,
                                       started: Timestamp(microseconds: time),
                                       tasks: [WorkflowTask(id: "r\(seq)", description: text(&rng), wave: 1)], notes: [text(&rng)],
                                       metadata: [MetadataEntry(key: "m", value: text(&rng))])
                tasks = ["r\(seq)"]; started = []; completed = []; waves = 1
                out.append(envelope(rng.chance(0.5) ? .stateReplaced(image) : .stateRestored(fromSeq: seq, state: image), &rng))
                continue
            }
            let open = tasks.filter { !completed.contains($0) }
            let payload: Event.Payload
            if roll < 10 {
                let id = "added_\(seq)"
                tasks.append(id)
                payload = .taskAdded(taskID: id, wave: Int.random(in: 1...waves, using: &rng), description: text(&rng))
            } else if roll < 15 {
                payload = .waveSet(wave: Int.random(in: 0...waves, using: &rng))
            } else if roll < 25 {
                payload = .noteAdded(text: rng.chance(0.8) ? "note \(seq)" : (Self.texts.filter { !$0.isEmpty }.randomElement(using: &rng)!))
            } else if roll < 32 {
                payload = .metadataSet(key: "key\(Int.random(in: 0..<4, using: &rng))", value: text(&rng))
            } else if let id = open.randomElement(using: &rng) {
                if !started.contains(id) {
                    started.insert(id)
                    payload = .taskStarted(taskID: id)
                } else if roll < 45 {
                    started.remove(id)
                    payload = .taskFailed(taskID: id, error: text(&rng))
                } else {
                    completed.insert(id)
                    payload = .taskCompleted(taskID: id, commit: rng.chance(0.7) ? "c0ffee\(seq)" : nil,
                                             files: (0..<Int.random(in: 0...3, using: &rng)).map { "Sources/F\($0)_\(seq).swift" })
                }
            } else {
                let id = "added_\(seq)"
                tasks.append(id)
                payload = .taskAdded(taskID: id, wave: 1, description: text(&rng))
            }
            out.append(envelope(payload, &rng))
        }
        return out
    }
}
