#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Logging
import PostgresNIO
import StateJournal
import StateJournalEngine
import StateJournalPostgres

// `bench --only postgres --pg URL` (`make bench-postgres`): the PostgreSQL
// store's writes per second — one writer, 16 threads of one process, 8
// processes — beside a plain `INSERT` per transaction on the same server in
// the same run (issue 15). The URL names no workflow; each scenario gets its
// own. The password comes from PGPASSWORD.

/// One writer through a manager on the PostgreSQL store.
final class PostgresManagerLoop: OperationLoop {
    let manager: StateManager
    let valueLength: Int

    init(url: String, actor: String = "bench") throws {
        manager = try StateManager(configuration: benchConfiguration(Files.tempStatePath(), actor: actor, projection: .manual),
                                   storeURL: url, logger: benchLogger)
        try manager.initialize(id: "wf_bench", name: "PostgreSQL benchmark", waves: Workload.plan(tasks: 200, waves: 4))
        valueLength = Workload.valueLength(actor: actor)
    }

    func step(_ i: Int) throws { try manager.write(Workload.appendPayload(i, valueLength: valueLength)) }
    func close() {}
}

/// The floor: one `INSERT` of a row as large as an event, one transaction
/// each (autocommit, `synchronous_commit = on`), on one connection.
final class PlainInsertLoop: OperationLoop {
    let connection: PostgresConnection
    let logger = Logger(label: "bench.plain")
    let payload: String

    init(url: String) throws {
        let address = try PostgresStoreAddress(parsing: url)
        connection = try PostgresConnector.shared.connection(address, logger: logger)
        _ = try connection.query("CREATE TABLE IF NOT EXISTS bench_plain_insert (id bigserial PRIMARY KEY, body text NOT NULL)", logger: logger).wait()
        _ = try connection.query("SET synchronous_commit = on", logger: logger).wait()
        payload = String(repeating: "x", count: 200)
    }

    func step(_ i: Int) throws {
        _ = try connection.query("INSERT INTO bench_plain_insert (body) VALUES (\(payload))", logger: logger).wait()
    }

    func close() {
        _ = try? connection.query("DROP TABLE IF EXISTS bench_plain_insert", logger: logger).wait()
        _ = try? connection.close().wait()
    }
}

extension Files {
    /// A STATE.md path in a new temporary directory (each bench manager its own host).
    static func tempStatePath() throws -> String {
        var template = Array("/tmp/statejournal-bench-pg.XXXXXX".utf8CString)
        guard template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) != nil else {
            throw BenchError("mkdtemp: \(String(cString: strerror(errno)))")
        }
        return String(decoding: template.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self) + "/STATE.md"
    }
}

func postgresURL(_ base: String, workflow: String) -> String {
    base + (base.contains("?") ? "&" : "?") + "workflow=" + workflow
}

/// The PostgreSQL rows of the table.
func runPostgresBench(_ options: Options, base: String, report: inout Report) throws {
    let run = String(UInt64(now() * 1000))
    let loops: [(name: String, loop: any OperationLoop)] = [
        ("plain-insert", try PlainInsertLoop(url: postgresURL(base, workflow: "unused"))),
        ("pg-one", try PostgresManagerLoop(url: postgresURL(base, workflow: "bench-one-\(run)"))),
    ]
    let results = try interleavedRates(loops, rounds: options.rounds, seconds: options.seconds)
    for (_, loop) in loops { loop.close() }
    let plain = results["plain-insert"]!.rate
    func ratio(_ rate: Double) -> String { Format.fixed(rate / plain, 2) + "× plain" }
    report.section("PostgreSQL store (issue 15), same server, same run")
    report.add("PostgreSQL: plain INSERT, one per transaction", Format.grouped(plain) + " writes/s",
               detail: "autocommit, synchronous_commit on, one connection: the server's commit is the floor", ratio: "1.00× plain")
    let one = results["pg-one"]!.rate
    report.add("PostgreSQL store, 1 writer", Format.grouped(one) + " writes/s",
               detail: "BEGIN, lock, read, INSERT, COMMIT per write", ratio: ratio(one))

    // 16 threads of one process, one manager: group commit.
    let threadsURL = postgresURL(base, workflow: "bench-threads-\(run)")
    let threadState = try Files.tempStatePath()
    let setup = try StateManager(configuration: benchConfiguration(threadState, actor: "bench-setup", projection: .eager),
                                 storeURL: threadsURL, logger: benchLogger)
    try setup.initialize(id: "wf_bench", name: "PostgreSQL threads", waves: Workload.plan(tasks: 200, waves: 4))
    var threadRates: [Double] = []
    for round in 1...options.rounds {
        let rate = try runThreadedPostgres(url: threadsURL, statePath: threadState, threads: 16, seconds: options.seconds)
        progress("round \(round)/\(options.rounds) pg-16-threads: \(Format.grouped(rate)) writes/s")
        threadRates.append(rate)
    }
    report.add("PostgreSQL store, 16 threads, one process", Format.grouped(threadRates.median) + " writes/s",
               detail: "one manager: group commit, one transaction per batch", ratio: ratio(threadRates.median))

    // 8 processes, each its own connection and manager.
    let procURL = postgresURL(base, workflow: "bench-procs-\(run)")
    let procState = try Files.tempStatePath()
    let procSetup = try StateManager(configuration: benchConfiguration(procState, actor: "bench-setup", projection: .eager),
                                     storeURL: procURL, logger: benchLogger)
    try procSetup.initialize(id: "wf_bench", name: "PostgreSQL processes", waves: Workload.plan(tasks: 200, waves: 4))
    var procRates: [Double] = []
    for round in 1...options.rounds {
        let rate = try runPostgresProcesses(url: procURL, processes: 8, seconds: options.seconds)
        progress("round \(round)/\(options.rounds) pg-8-processes: \(Format.grouped(rate)) writes/s")
        procRates.append(rate)
    }
    report.add("PostgreSQL store, 8 processes", Format.grouped(procRates.median) + " writes/s",
               detail: "the workflow's advisory lock serialises them", ratio: ratio(procRates.median))
}

func runThreadedPostgres(url: String, statePath: String, threads: Int, seconds: Double) throws -> Double {
    let manager = try StateManager(configuration: benchConfiguration(statePath, actor: "bench-threads", projection: .manual),
                                   storeURL: url, logger: benchLogger)
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
    return Double(total) / (end - start)
}

func runPostgresProcesses(url: String, processes: Int, seconds: Double) throws -> Double {
    var barrier: [Int32] = [0, 0]
    var ready: [Int32] = [0, 0]
    try makePipe(&barrier)
    try makePipe(&ready)
    var children: [Child] = []
    var resultFiles: [String] = []
    for p in 0..<processes {
        let result = try Files.tempStatePath() + ".result"
        resultFiles.append(result)
        children.append(try Child.spawn(
            [Files.selfExecutable(), "worker", "pg-append", "--url", url, "--seconds", String(seconds),
             "--actor", "bench-pg-\(p)", "--result", result],
            fds: [3: barrier[0], 4: ready[1]], quiet: false))
    }
    close(barrier[0])
    close(ready[1])
    var byte: UInt8 = 0
    for _ in 0..<processes { _ = read(ready[0], &byte, 1) }
    close(barrier[1])
    close(ready[0])
    for (p, child) in children.enumerated() {
        let exit = try child.wait()
        if exit.status != 0 { throw BenchError("pg worker \(p) exited with status \(exit.status)") }
    }
    var start = Double.infinity, end = 0.0, writes = 0
    for file in resultFiles {
        let fields = String(decoding: try Files.read(file), as: UTF8.self).split(whereSeparator: { $0 == " " || $0 == "\n" })
            .compactMap { Double($0) }
        guard fields.count == 3 else { throw BenchError("\(file): bad result") }
        start = min(start, fields[0])
        end = max(end, fields[1])
        writes += Int(fields[2])
    }
    return Double(writes) / (end - start)
}

/// `bench worker pg-append`: the child side of ``runPostgresProcesses``.
func postgresAppendWorker(url: String, seconds: Double, actor: String, resultPath: String) throws {
    let manager = try StateManager(configuration: benchConfiguration(try Files.tempStatePath(), actor: actor, projection: .manual),
                                   storeURL: url, logger: benchLogger)
    _ = try manager.loadState()  // connected, tables checked
    let valueLength = Workload.valueLength(actor: actor)
    var byte: UInt8 = 1
    _ = write(4, &byte, 1)
    close(4)
    while read(3, &byte, 1) > 0 {}
    close(3)
    let start = now()
    var n = 0
    while now() - start < seconds {
        try manager.write(Workload.appendPayload(n, valueLength: valueLength))
        n += 1
    }
    try Files.write(resultPath, "\(start) \(now()) \(n)\n")
}
