import Foundation
import Testing
@testable import StateJournal
@testable import StateJournalEngine

/// `replay --step`'s differ (issue 17, item 6): the blocks it keeps always
/// render exactly STATE.md's body, and the diff it gives turns each body
/// into the next — over random histories of every event type.
@Suite struct StepDifferTests {
    /// A deterministic random source (SplitMix64).
    struct Random {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func int(_ range: Range<Int>) -> Int { range.lowerBound + Int(next() % UInt64(range.count)) }
        mutating func chance(_ p: Double) -> Bool { Double(next() % 1_000_000) / 1_000_000 < p }
    }

    /// Applies `diff` to `old`: what the new text must be.
    static func apply(_ diff: LineDiff, to old: [String]) -> [String] {
        var out: [String] = []
        var i = 0
        for hunk in diff.hunks {
            let start = hunk.oldCount == 0 ? hunk.oldStart : hunk.oldStart - 1
            while i < start { out.append(old[i]); i += 1 }
            var removed = 0
            for line in hunk.lines {
                switch line {
                case .removed(let text):
                    #expect(old[i] == text, "the diff removes a line that is not there")
                    i += 1
                    removed += 1
                case .added(let text):
                    out.append(text)
                }
            }
            #expect(removed == hunk.oldCount)
        }
        while i < old.count { out.append(old[i]); i += 1 }
        return out
    }

    /// A random valid history of `count` events.
    static func history(seed: UInt64, count: Int) -> [Event] {
        var rng = Random(state: seed)
        var state: WorkflowState?
        var events: [Event] = []
        var images: [StateImage] = []
        var time: Int64 = 1_800_000_000_000_000
        var added = 0
        func plan() -> Event.Payload {
            let waves = rng.int(1..<5)
            return .workflowInitialized(id: "wf\(rng.int(0..<3))", name: "Flow \(rng.int(0..<9))", waves: (1...waves).map { w in
                (0..<rng.int(0..<6)).map { i in Event.PlannedTask(id: "w\(w)_t\(i)", description: rng.chance(0.2) ? "" : "Task \(i) of \(w)") }
            }, metadata: rng.chance(0.5) ? [MetadataEntry(key: "owner", value: "platform")] : [])
        }
        while events.count < count {
            var payload: Event.Payload
            if let current = state {
                let task = current.tasks.isEmpty ? nil : current.tasks[rng.int(0..<current.tasks.count)]
                switch rng.int(0..<100) {
                case 0..<15 where task != nil: payload = .taskStarted(taskID: task!.id)
                case 15..<30 where task != nil: payload = .taskCompleted(taskID: task!.id, commit: rng.chance(0.5) ? "abc\(rng.int(0..<99))" : nil,
                                                                   files: (0..<rng.int(0..<5)).map { "f\($0).swift" })
                case 30..<40 where task != nil: payload = .taskFailed(taskID: task!.id, error: "boom \(rng.int(0..<9))")
                case 40..<50 where current.totalWaves > 0:
                    added += 1
                    payload = .taskAdded(taskID: "added_\(added)", wave: rng.int(1..<(current.totalWaves + 1)), description: "late \(added)")
                case 50..<60: payload = .waveSet(wave: rng.int(0..<(current.totalWaves + 1)))
                case 60..<72: payload = .noteAdded(text: "note \(events.count)" + (rng.chance(0.1) ? "\n- [x] **fake**" : ""))
                case 72..<84: payload = .metadataSet(key: "k\(rng.int(0..<4))", value: "v\(events.count)")
                case 84..<88: payload = .stateReplaced(StateImage(current))
                case 88..<92 where !images.isEmpty:
                    payload = .stateRestored(fromSeq: UInt64(rng.int(1..<(events.count + 1))), state: images[rng.int(0..<images.count)])
                case 92..<94: payload = plan()
                default: payload = .noteAdded(text: "filler \(events.count)")
                }
            } else {
                payload = plan()
            }
            time += Int64(rng.int(0..<1_500_000))
            let event = Event(seq: UInt64(events.count + 1), time: Timestamp(microseconds: time), actor: "a", pid: 1, payload: payload)
            var next = state
            do {
                try WorkflowState.apply(event, to: &next)
            } catch {
                continue  // not allowed in this state: draw again
            }
            state = next
            events.append(event)
            if let next, rng.chance(0.2) { images.append(StateImage(next)) }
        }
        return events
    }

    @Test(arguments: [1, 2, 3, 4, 5, 6, 7, 8] as [UInt64])
    func blocksRenderTheBodyAndDiffsTurnEachBodyIntoTheNext(_ seed: UInt64) throws {
        var state: WorkflowState?
        var differ = StepDiffer(before: nil)
        var old: [String] = []
        var mismatches = 0
        for event in Self.history(seed: seed, count: 400) {
            try WorkflowState.apply(event, to: &state)
            let after = try #require(state)
            let diff = differ.step(event, after: after)
            let body = LineDiff.lines(MarkdownRenderer.renderBody(after))
            #expect(differ.bodyLines == body, "seed \(seed), event \(event.seq) (\(event.payload.typeName))")
            #expect(Self.apply(diff, to: old) == body, "seed \(seed), event \(event.seq) (\(event.payload.typeName))")
            // As short as a diff of the whole files (Myers): as many lines removed and added.
            let full = LineDiff(oldLines: old, newLines: body)
            let size = { (d: LineDiff) in d.hunks.reduce(0) { $0 + $1.lines.count } }
            if size(diff) != size(full) { mismatches += 1 }
            #expect(size(diff) <= size(full) + 4, "seed \(seed), event \(event.seq) (\(event.payload.typeName)): \(size(diff)) lines, a full diff \(size(full))")
            // Hunks are in order and do not touch: a unified diff.
            for (a, b) in zip(diff.hunks, diff.hunks.dropFirst()) {
                #expect(a.oldStart + max(a.oldCount, 1) <= b.oldStart, "seed \(seed), event \(event.seq)")
            }
            old = body
        }
        print("seed \(seed): \(mismatches) of 400 diffs differ in size from a full diff")
    }

    /// Where the diff is unambiguous it is the one LineDiff gives (what
    /// `replay --step` printed before): a task moving between sections that
    /// stay, a wave, a note, a metadata value.
    @Test func eventsThatLeaveTheSectionsGiveTheSameHunksAsAFullDiff() throws {
        var state: WorkflowState?
        var differ = StepDiffer(before: nil)
        let t0: Int64 = 1_800_000_000_000_000
        // (A wave group that empties, or a section that appears, can be
        // shown by equally short diffs that keep different blank lines:
        // those are checked by the random histories above.)
        let setUp: [Event.Payload] = [
            .workflowInitialized(id: "wf", name: "W", waves: [["a", "b", "c", "d"].map { .init(id: $0, description: $0.uppercased()) },
                                                             [.init(id: "e", description: "E")]], metadata: []),
            .waveSet(wave: 1), .taskStarted(taskID: "a"), .taskStarted(taskID: "b"), .taskCompleted(taskID: "c", commit: nil, files: []),
            .noteAdded(text: "first"), .metadataSet(key: "k", value: "v"),
        ]
        let checked: [Event.Payload] = [
            .taskCompleted(taskID: "a", commit: "abc", files: ["x", "y", "z", "w"]), .waveSet(wave: 2), .noteAdded(text: "second"), .metadataSet(key: "k", value: "w"), .metadataSet(key: "j", value: "new"),
        ]
        for (i, payload) in (setUp + checked).enumerated() {
            let event = Event(seq: UInt64(i + 1), time: Timestamp(microseconds: t0 + Int64(i) * 1_000_000), actor: "a", pid: 1, payload: payload)
            let before = state.map(MarkdownRenderer.renderBody) ?? ""
            try WorkflowState.apply(event, to: &state)
            let after = try #require(state)
            let diff = differ.step(event, after: after)
            if i >= setUp.count {
                #expect(diff == LineDiff(old: before, new: MarkdownRenderer.renderBody(after)), "event \(i + 1): \(payload)")
            }
        }
    }
}
