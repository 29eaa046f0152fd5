#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Logging
import StateJournal
import StateJournalEngine

/// Sets up a journal for the append scenarios: a 200-task workflow, STATE.md
/// written (so that `.manual` does not regenerate a missing file on every
/// write).
func prepareJournal(_ statePath: String) throws {
    try Files.mkdirs(Files.directory(of: statePath))
    let manager = StateManager(configuration: .init(statePath: statePath, actor: "bench-setup", projection: .eager), logger: benchLogger)
    try manager.initialize(id: "wf_bench", name: "Append benchmark", waves: Workload.plan(tasks: 200, waves: 4))
}

func benchConfiguration(_ statePath: String, actor: String, projection: StateManager.ProjectionPolicy) -> StateManager.Configuration {
    StateManager.Configuration(statePath: statePath, actor: actor,
                               lock: LockPolicy(timeout: 120), command: "bench", projection: projection)
}

/// One writer: sequential durable appends through ``StateManager/write(_:options:)``.
final class StateManagerLoop: OperationLoop {
    let manager: StateManager
    let valueLength: Int

    init(statePath: String, projection: StateManager.ProjectionPolicy) throws {
        try prepareJournal(statePath)
        manager = StateManager(configuration: benchConfiguration(statePath, actor: "bench", projection: projection), logger: benchLogger)
        valueLength = Workload.valueLength(actor: "bench")
    }

    func step(_ i: Int) throws {
        try manager.write(Workload.appendPayload(i, valueLength: valueLength))
    }

    func close() {}
}

/// Forwards to the file journal, timing how long `withWriteLock` waits
/// before its body runs (the lock wait, with the lock's backoff).
final class LockTimingStore: JournalStore {
    let inner: FileJournal
    let waits: Locked<[Double]>

    init(_ inner: FileJournal, waits: Locked<[Double]>) {
        self.inner = inner
        self.waits = waits
    }

    var location: String { inner.location }

    func withWriteLock<T>(_ policy: LockPolicy, command: String, _ body: () throws -> T) throws -> T {
        let start = now()
        var recorded = false
        return try inner.withWriteLock(policy, command: command) {
            if !recorded {
                recorded = true
                let wait = now() - start
                waits.withLock { $0.append(wait) }
            }
            return try body()
        }
    }

    func readEvents(after seq: UInt64, _ body: (Event) throws -> Void) throws -> UInt64 { try inner.readEvents(after: seq, body) }
    func append(_ events: [Event]) throws -> Bool { try inner.append(events) }
    func latestSnapshot(atOrBefore seq: UInt64) throws -> Snapshot? { try inner.latestSnapshot(atOrBefore: seq) }
    func bounds() throws -> JournalBounds? { try inner.bounds() }
    func lastSeq(atOrBefore time: Timestamp) throws -> UInt64? { try inner.lastSeq(atOrBefore: time) }
    func writeSnapshot(_ snapshot: Snapshot) throws { try inner.writeSnapshot(snapshot) }
    func sealActiveSegment() throws { try inner.sealActiveSegment() }
    func verify() throws -> [JournalProblem] { try inner.verify() }
}

// MARK: - Threads

/// `threads` threads of one process writing through one shared manager for
/// `seconds`: the group-commit scenario. Returns writes per second.
func runThreadedWriters(statePath: String, threads: Int, seconds: Double) throws -> (rate: Double, writes: Int) {
    let manager = StateManager(configuration: benchConfiguration(statePath, actor: "bench-threads", projection: .manual), logger: benchLogger)
    let valueLength = Workload.valueLength(actor: "bench-threads")
    let counts = Locked([Int](repeating: 0, count: threads))
    let failure = Locked<String?>(nil)
    let span = Locked((start: Double.infinity, end: 0.0))
    runThreads(threads) { t in
        let start = now()
        var n = 0
        while now() - start < seconds {
            do {
                try manager.write(Workload.appendPayload(t, valueLength: valueLength))
                n += 1
            } catch {
                failure.withLock { $0 = "thread \(t): \(error)" }
                break
            }
        }
        let end = now()
        counts.withLock { $0[t] = n }
        span.withLock { $0 = (min($0.start, start), max($0.end, end)) }
    }
    if let message = failure.withLock({ $0 }) { throw BenchError(message) }
    let total = counts.withLock { $0.reduce(0, +) }
    let (start, end) = span.withLock { $0 }
    return (Double(total) / (end - start), total)
}

// MARK: - Processes

struct ProcessRun {
    var rate: Double
    var writes: Int
    var lockWaits: [Double]
    /// The workers' CPU time (user + system, from wait4) over their writes.
    var cpuPerWrite: Double
}

/// `processes` copies of this executable (`bench worker append`) writing to
/// one journal for `seconds`, released together through a pipe.
func runProcessWriters(statePath: String, processes: Int, seconds: Double, resultDirectory: String) throws -> ProcessRun {
    var barrier: [Int32] = [0, 0]
    var ready: [Int32] = [0, 0]
    try makePipe(&barrier)
    try makePipe(&ready)
    var children: [Child] = []
    var resultFiles: [String] = []
    for p in 0..<processes {
        let result = resultDirectory + "/worker-\(processes)-\(p).txt"
        unlink(result)
        resultFiles.append(result)
        children.append(try Child.spawn(
            [Files.selfExecutable(), "worker", "append", "--state", statePath, "--seconds", String(seconds),
             "--actor", "bench-proc-\(p)", "--result", result],
            fds: [3: barrier[0], 4: ready[1]], quiet: false))
    }
    close(barrier[0])
    close(ready[1])
    var byte: UInt8 = 0
    for _ in 0..<processes { _ = read(ready[0], &byte, 1) }  // every worker is set up
    close(barrier[1])  // go
    close(ready[0])
    var failed: [String] = []
    var cpu = 0.0
    for (p, child) in children.enumerated() {
        let exit = try child.wait()
        if exit.status != 0 { failed.append("worker \(p) exited with status \(exit.status)") }
        cpu += exit.userSeconds + exit.systemSeconds
    }
    if !failed.isEmpty { throw BenchError(failed.joined(separator: "; ")) }
    var start = Double.infinity, end = 0.0, writes = 0
    var waits: [Double] = []
    for file in resultFiles {
        let lines = String(decoding: try Files.read(file), as: UTF8.self).split(separator: "\n")
        guard let head = lines.first else { throw BenchError("\(file) is empty") }
        let fields = head.split(separator: " ").compactMap { Double($0) }
        guard fields.count == 3 else { throw BenchError("\(file): bad header '\(head)'") }
        start = min(start, fields[0])
        end = max(end, fields[1])
        writes += Int(fields[2])
        waits += lines.dropFirst().compactMap { Double($0) }
    }
    return ProcessRun(rate: Double(writes) / (end - start), writes: writes, lockWaits: waits, cpuPerWrite: cpu / Double(writes))
}

/// `bench worker append`: the child side of ``runProcessWriters``.
func appendWorker(statePath: String, seconds: Double, actor: String, resultPath: String) throws {
    let waits = Locked<[Double]>([])
    let configuration = benchConfiguration(statePath, actor: actor, projection: .manual)
    let manager = StateManager(configuration: configuration, logger: benchLogger, store: {
        LockTimingStore(FileJournal(statePath: configuration.statePath, logger: benchLogger, options: configuration.journal), waits: waits)
    })
    let valueLength = Workload.valueLength(actor: actor)
    var byte: UInt8 = 1
    _ = write(4, &byte, 1)  // ready
    close(4)
    while read(3, &byte, 1) > 0 {}  // wait for the parent to close the barrier
    close(3)
    let start = now()
    var n = 0
    while now() - start < seconds {
        try manager.write(Workload.appendPayload(n, valueLength: valueLength))
        n += 1
    }
    let end = now()
    var text = "\(start) \(end) \(n)\n"
    for wait in waits.withLock({ $0 }) { text += "\(wait)\n" }
    try Files.write(resultPath, text)
}
