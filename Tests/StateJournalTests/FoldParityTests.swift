import Testing
@testable import StateJournal
@testable import StateJournalEngine
import StateJournalTesting

/// The fold's results are pinned: every kind of event, valid and not
/// (unknown tasks, refused transitions, live and expired claims, bad
/// dependencies and cycles, duplicate plan ids, bad commits, empty keys and
/// notes, reserved sections), folded one after the other; the state after
/// each event, byte for byte, or the error it gave (code and message), goes
/// into one checksum. A change to how the fold finds tasks or builds a plan
/// must leave it as it is: the figures were taken from the fold before the
/// single-lookup and plan-append changes (main at f4dbb99).
@Suite struct FoldParityTests {
    /// The checksum over every outcome, and how many events applied and how
    /// many were refused (so that neither side is left untested).
    static func outcomes(seed: UInt64, count: Int) -> (digest: UInt32, applied: Int, refused: Int, reasons: Set<String>) {
        var generator = AnyEventHistory(seed: seed)
        var state: WorkflowState?
        var digest: UInt32 = 0
        var applied = 0, refused = 0
        var reasons = Set<String>()
        func add(_ bytes: [UInt8]) { digest = bytes.withUnsafeBytes { CRC32C.update(digest, $0) } }
        for _ in 0..<count {
            var event = generator.next(state)
            event.identity = UInt32(truncatingIfNeeded: event.seq &* 2_654_435_761)
            do {
                try WorkflowState.apply(event, to: &state)
                applied += 1
                add(Array("ok \(event.seq) \(state?.eventIdentity ?? 0)\n".utf8))
                add(state?.json().encoded() ?? [])
            } catch {
                refused += 1
                for reason in Self.reasons where error.message.contains(reason) { reasons.insert(reason) }
                add(Array("refused \(event.seq) \(error.code) \(error.message)\n".utf8))
            }
        }
        add(state?.json().encoded() ?? [])
        return (digest, applied, refused, reasons)
    }

    /// Every reason the fold has to refuse an event, each of which the
    /// histories must reach.
    static let reasons = [
        "appears twice in the plan", "form a cycle", "depends on itself", "which is not a task of the plan",
        "which is not a task of the workflow", "twice in its depends_on", "exists already", "unknown task", "did you mean",
        "cannot become", "is claimed by", "no lease to renew", "only its owner can renew", "there is nothing to release",
        "the claim's owner is empty", "lease would end outside", "is out of range", "commit 'bad commit'", "task id 'bad id",
        "workflow id 'bad id", "the note is empty", "there is no note", "metadata key is empty", "there is no metadata key",
        "one of STATE.md's own sections", "cannot follow", "one line of text", "there is no section", "appears twice;",
        "current wave",
    ]

    @Test func everyKindOfEventFoldsAsBefore() {
        let expected: [(seed: UInt64, digest: UInt32)] = [(1, 3680312258), (2, 3516594706), (3, 3972114516)]
        var reached = Set<String>()
        for (seed, digest) in expected {
            let result = Self.outcomes(seed: seed, count: 6000)
            reached.formUnion(result.reasons)
            #expect(result.applied > 1500 && result.refused > 1000, "seed \(seed): applied \(result.applied), refused \(result.refused)")
            #expect(result.digest == digest, "seed \(seed): digest \(result.digest) (applied \(result.applied), refused \(result.refused))")
        }
        #expect(Set(Self.reasons).subtracting(reached).isEmpty, "never refused: \(Set(Self.reasons).subtracting(reached).sorted())")
    }

    /// The same history, written to a journal (sealed and raw segments) and
    /// replayed by a manager, ends in the state the fold above reaches.
    @Test func aJournalOfEveryKindOfEventReplaysToTheFoldsState() throws {
        let dir = TemporaryDirectory()
        let statePath = dir.file("STATE.md")
        var options = FileJournal.Options()
        options.segmentSize = 16 << 10
        var generator = AnyEventHistory(seed: 9)
        var state: WorkflowState?
        var events: [Event] = []
        // Only the events that apply go into the journal (a writer refuses
        // the others before appending).
        while events.count < 3000 {
            var event = generator.next(state)
            event.seq = UInt64(events.count + 1)
            var next = state
            guard (try? WorkflowState.apply(event, to: &next)) != nil else { continue }
            state = next
            events.append(event)
        }
        let journal = FileJournal(statePath: statePath, options: options)
        try journal.withWriteLock(LockPolicy(timeout: 5), command: "test") {
            try journal.readEvents(after: 0) { _ in }
            for batch in stride(from: 0, to: events.count, by: 40) {
                try journal.append(Array(events[batch..<min(batch + 40, events.count)]))
            }
        }
        #expect(listDirectory(statePath + ".journal").contains { $0.hasSuffix(".log.zst") }, "no sealed segment to read")
        let replayed = try StateManager(configuration: .init(statePath: statePath, actor: "tester", projection: .manual)).replay()
        #expect(replayed.json().encoded() == state?.json().encoded())
        #expect(replayed == state)
    }
}

/// Events of every kind for the state they follow, most of them valid and
/// the rest refused for every reason the fold has. Uses its own arithmetic
/// on ``SeededRandom`` (not the standard library's ranges), so that the
/// sequence, and the pinned checksums, do not depend on the toolchain.
struct AnyEventHistory {
    var rng: SeededRandom
    var seq: UInt64 = 0
    var time: Int64 = 1_800_000_000_000_000
    let actors = ["agent-1", "agent-2", "agent-3"]

    init(seed: UInt64) { rng = SeededRandom(seed: seed) }

    mutating func below(_ n: Int) -> Int { n <= 0 ? 0 : Int(rng.next() % UInt64(n)) }
    mutating func percent(_ p: Int) -> Bool { below(100) < p }
    mutating func pick<T>(_ items: [T]) -> T { items[below(items.count)] }

    mutating func text() -> String {
        percent(80) ? "text \(below(1000))" : pick(["", "café ☕", "with \"quotes\"", "line\nbreak", "日本語"])
    }

    /// A task id: mostly one the state has, else a near miss, a new one or
    /// one the identifier rules refuse.
    mutating func taskID(_ state: WorkflowState?) -> String {
        let known = state?.tasks.map(\.id) ?? []
        switch below(100) {
        case ..<80 where !known.isEmpty: return pick(known)
        case ..<88 where !known.isEmpty: return pick(known) + "x"
        case ..<94: return "new_\(seq)"
        case ..<97: return "bad id \(seq)"
        default: return pick(["", "t`", "a*b", "x,y"])
        }
    }

    mutating func dependencies(of id: String, among ids: [String]) -> [String] {
        guard !ids.isEmpty, percent(35) else { return [] }
        var out: [String] = []
        for _ in 0..<(1 + below(3)) {
            switch below(100) {
            case ..<80: out.append(pick(ids))
            case ..<88: out.append(id)
            default: out.append("missing_\(below(5))")
            }
        }
        return out
    }

    mutating func lease(at time: Int64) -> Timestamp? {
        switch below(10) {
        case 0, 1: return nil
        case 2: return Timestamp(microseconds: time - 1_000_000)
        case 3: return Timestamp(microseconds: 253_402_300_800_000_000 + 5)  // after year 9999
        default: return Timestamp(microseconds: time + Int64(1 + below(60)) * 1_000_000)
        }
    }

    mutating func plan() -> Event.Payload {
        let waves = 1 + below(4)
        var ids: [String] = []
        var plan: [[Event.PlannedTask]] = []
        for w in 0..<waves {
            var wave: [Event.PlannedTask] = []
            for t in 0..<below(7) {
                var id = "p\(seq)_w\(w + 1)_t\(t)"
                if percent(3), let taken = ids.last { id = taken }            // a duplicate
                if percent(2) { id = "bad id" }
                ids.append(id)
                wave.append(.init(id: id, description: text()))
            }
            plan.append(wave)
        }
        // Dependencies on any task of the plan (cycles possible), now and then a bad one.
        for w in plan.indices {
            for t in plan[w].indices where percent(30) {
                plan[w][t].dependsOn = dependencies(of: plan[w][t].id, among: ids)
            }
        }
        // Now and then a cycle of two (and sometimes a longer one through the others).
        let planned = plan.flatMap { $0 }
        if planned.count >= 2, percent(8), let w = plan.lastIndex(where: { !$0.isEmpty }) {
            plan[w][plan[w].count - 1].dependsOn = [planned[0].id]
            if let f = plan.firstIndex(where: { !$0.isEmpty }) { plan[f][0].dependsOn = [plan[w][plan[w].count - 1].id] }
        }
        let metadata = (0..<below(3)).map { MetadataEntry(key: percent(5) ? "" : "k\($0 % 2)", value: text()) }
        return .workflowInitialized(id: percent(3) ? "bad id" : "wf_\(seq)", name: text(), waves: plan, metadata: metadata)
    }

    mutating func image(_ state: WorkflowState?) -> StateImage {
        let base = state.map(StateImage.init) ?? StateImage(workflowID: "wf_img", name: "image", currentWave: 0, totalWaves: 1,
                                                            started: Timestamp(microseconds: time), tasks: [], notes: [], metadata: [])
        var image = base
        if percent(30), !image.tasks.isEmpty {
            let i = below(image.tasks.count)
            image.tasks[i].dependsOn = dependencies(of: image.tasks[i].id, among: image.tasks.map(\.id))
        }
        if percent(20) { image.tasks.append(WorkflowTask(id: "img_\(seq)", description: text(), wave: 1 + below(max(image.totalWaves, 1)))) }
        if percent(5), let first = image.tasks.first { image.tasks.append(first) }
        if image.tasks.count >= 2, percent(5) {
            image.tasks[0].dependsOn = [image.tasks[1].id]
            image.tasks[1].dependsOn = [image.tasks[0].id]
        }
        if percent(5) { image.currentWave = image.totalWaves + 1 }
        return image
    }

    mutating func next(_ state: WorkflowState?) -> Event {
        seq += 1
        time += Int64(below(20)) * 1_000_000 + Int64(below(1000))
        let actor = pick(actors)
        let waves = state?.totalWaves ?? 1
        let payload: Event.Payload
        let roll = below(1000)
        if state == nil || roll < 8 {
            payload = plan()
        } else if roll < 11 {
            payload = percent(50) ? .stateReplaced(image(state)) : .stateRestored(fromSeq: seq - 1, state: image(state))
        } else if roll < 80 {
            let id = taskID(state)
            payload = .taskAdded(taskID: percent(70) ? "add_\(seq)" : id, wave: below(waves + 2) - (percent(5) ? 1 : 0),
                                 description: text(), dependsOn: dependencies(of: "add_\(seq)", among: state?.tasks.map(\.id) ?? []))
        } else if roll < 250 {
            payload = .taskStarted(taskID: taskID(state))
        } else if roll < 420 {
            payload = .taskCompleted(taskID: taskID(state), commit: percent(60) ? (percent(95) ? "c0ffee\(seq)" : "bad commit") : nil,
                                     files: (0..<below(3)).map { "Sources/F\($0)_\(seq).swift" }, force: percent(15))
        } else if roll < 500 {
            payload = .taskFailed(taskID: taskID(state), error: text(), force: percent(15))
        } else if roll < 620 {
            let owner = percent(95) ? actor : ""
            payload = .taskClaimed(taskID: taskID(state), owner: owner, leaseExpires: lease(at: time),
                                   previousOwner: percent(30) ? pick(actors) : nil, force: percent(15))
        } else if roll < 670 {
            payload = .taskLeaseRenewed(taskID: taskID(state), owner: percent(80) ? actor : pick(actors), leaseExpires: lease(at: time))
        } else if roll < 720 {
            payload = .taskReleased(taskID: taskID(state), owner: pick(actors), force: percent(30))
        } else if roll < 760 {
            payload = .waveSet(wave: below(waves + 2) - (percent(5) ? 1 : 0))
        } else if roll < 820 {
            payload = .noteAdded(text: percent(95) ? "note \(below(20))" : "")
        } else if roll < 850 {
            payload = .noteRemoved(text: "note \(below(20))")
        } else if roll < 890 {
            payload = .metadataSet(key: percent(95) ? "key\(below(5))" : "", value: text())
        } else if roll < 910 {
            payload = .metadataRemoved(key: "key\(below(6))")
        } else if roll < 950 {
            payload = .taskEdited(taskID: taskID(state), description: text(), commit: percent(50) ? (percent(90) ? "e\(seq)" : "bad commit") : nil,
                                  files: (0..<below(3)).map { "E\($0).swift" }, error: percent(30) ? text() : nil)
        } else if roll < 965 {
            payload = .workflowRenamed(name: text())
        } else {
            let name = pick(["Decisions", "Risks", "Completed", "Notes (old)", "", "two\nlines"])
            payload = .sectionSet(FreeSection(name: name, after: percent(95) ? pick(FreeSection.places) : "nowhere",
                                              markdown: percent(25) ? "" : pick(["- a decision", "text\n## Heading", "plain"])))
        }
        return Event(seq: seq, time: Timestamp(microseconds: time), actor: actor, pid: 1, payload: payload)
    }
}
