#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import StateJournal
import StateJournalEngine

/// The events and states the scenarios write, shared by every peer so that
/// they move the same bytes.
enum Workload {
    /// Bytes per record in the append scenarios: the raw loop and SQLite
    /// write this many bytes per operation; our events are padded so that a
    /// framed record (8-byte header + JSON) is this size too.
    static let recordSize = 200

    /// A workflow of `tasks` tasks over `waves` waves, ids `w{W}_t{N}`.
    static func plan(tasks: Int, waves: Int) -> [[Event.PlannedTask]] {
        let perWave = max(tasks / waves, 1)
        return (1...waves).map { w in
            (1...perWave).map { t in
                Event.PlannedTask(id: "w\(w)_t\(t)", description: "Task \(t) of wave \(w): implement and test component \(w).\(t)")
            }
        }
    }

    /// A `metadata.set` event whose framed record is `recordSize` bytes for
    /// `actor` and this process's pid (seq and time vary by a few digits).
    /// Metadata keeps the state bounded however many are written.
    static func appendPayload(_ i: Int, valueLength: Int) -> Event.Payload {
        .metadataSet(key: "k\(i % 8)", value: String(repeating: "v", count: valueLength))
    }

    /// The value length that makes an append event's record `recordSize`
    /// bytes, measured on an event of seq ~10⁴ (a 5-digit seq).
    static func valueLength(actor: String) -> Int {
        func size(_ n: Int) -> Int {
            let event = Event(seq: 12_345, time: .now(), actor: actor, pid: getpid(), payload: appendPayload(0, valueLength: n))
            return RecordFormat.recordHeaderSize + event.json().encoded().count
        }
        return max(1, recordSize - size(0))
    }

    /// A state of `count` tasks with every status and detail shown in
    /// STATE.md (commits, files beyond three, errors), notes and metadata.
    static func bigState(tasks count: Int, waves: Int = 10, seq: UInt64 = 1) -> WorkflowState {
        let perWave = max(count / waves, 1)
        var tasks: [WorkflowTask] = []
        for i in 0..<count {
            let wave = min(i / perWave + 1, waves)
            let status: TaskStatus
            switch wave {
            case ..<(waves / 2): status = .completed
            case waves / 2: status = i % 10 == 0 ? .failed : (i % 3 == 0 ? .inProgress : .completed)
            default: status = .pending
            }
            var task = WorkflowTask(id: "w\(wave)_t\(i)", description: "Task \(i) of wave \(wave): implement and test component \(wave).\(i)",
                                    status: status, wave: wave)
            if status == .completed {
                task.commit = hex(UInt64(i) &* 0x9E37_79B9_7F4A_7C15, digits: 7)
                task.files = (0..<(i % 5)).map { "Sources/Module\(wave)/File\(i)_\($0).swift" }
            }
            if status == .failed { task.error = "exit status 1: test_component_\(i) failed" }
            tasks.append(task)
        }
        let t = Timestamp.now()
        return WorkflowState(workflowID: "wf_bench", name: "Benchmark workflow", currentWave: waves / 2, totalWaves: waves,
                             started: t, updated: t, tasks: tasks, notes: ["Benchmark state of \(count) tasks"],
                             metadata: [MetadataEntry(key: "branch", value: "bench/main")], seq: seq)
    }

    static func hex(_ value: UInt64, digits: Int) -> String {
        let s = String(value, radix: 16)
        return String(repeating: "0", count: max(0, digits - s.count)) + String(s.suffix(digits))
    }
}

/// A repeatable stream of realistic events for building long histories:
/// workflows of 100 tasks over 4 waves, each task started and completed
/// (with a commit and files), one in seven failing once first, a wave set
/// per wave and a note now and then; then a new workflow starts.
struct HistoryGenerator {
    private(set) var seq: UInt64 = 0
    private var time: Int64
    private var rng: UInt64 = 0x2545_F491_4F6C_DD1D
    private var workflow = 0
    private var queue: [Event.Payload] = []
    private var queueIndex = 0
    private let actors = (0..<8).map { "agent-\($0)@build-host" }
    /// Events since (and including) the last `workflow.initialized`: folding
    /// them gives the current state without refolding the whole history.
    private(set) var sinceInit: [Event] = []

    init(startTime: Timestamp = Timestamp(microseconds: 1_795_000_000_000_000)) {
        time = startTime.microseconds
    }

    private mutating func random() -> UInt64 {
        rng ^= rng << 13
        rng ^= rng >> 7
        rng ^= rng << 17
        return rng
    }

    private mutating func nextWorkflow() {
        workflow += 1
        let waves = Workload.plan(tasks: 100, waves: 4)
        queue = [.workflowInitialized(id: "wf_\(workflow)", name: "Nightly build \(workflow)", waves: waves,
                                      metadata: [MetadataEntry(key: "branch", value: "release/\(workflow % 17)"),
                                                 MetadataEntry(key: "owner", value: "orchestrator")])]
        for (w, tasks) in waves.enumerated() {
            queue.append(.waveSet(wave: w + 1))
            for (t, task) in tasks.enumerated() {
                queue.append(.taskStarted(taskID: task.id))
                if random() % 7 == 0 {
                    queue.append(.taskFailed(taskID: task.id, error: "exit status 1: \(random() % 40) tests failed in \(task.id)"))
                    queue.append(.taskStarted(taskID: task.id))
                }
                let files = (0..<Int(random() % 4)).map { "Sources/Module\(w + 1)/Component\(t)_\($0).swift" }
                queue.append(.taskCompleted(taskID: task.id, commit: Workload.hex(random(), digits: 12), files: files))
                if t % 25 == 24 { queue.append(.noteAdded(text: "wave \(w + 1): \(t + 1) tasks done, \(random() % 100) warnings")) }
            }
        }
        queueIndex = 0
    }

    mutating func next() -> Event {
        if queueIndex >= queue.count { nextWorkflow() }
        let payload = queue[queueIndex]
        queueIndex += 1
        seq += 1
        time += 1_000 + Int64(random() % 50_000)
        let event = Event(seq: seq, time: Timestamp(microseconds: time), actor: actors[Int(seq % 8)],
                          pid: 10_000 + Int32(seq % 8), payload: payload)
        if case .workflowInitialized = payload { sinceInit.removeAll(keepingCapacity: true) }
        sinceInit.append(event)
        return event
    }

    /// The state after the last event returned.
    func state() throws -> WorkflowState? {
        var state: WorkflowState?
        for event in sinceInit { state = try WorkflowState.applying(event, to: state) }
        return state
    }
}
