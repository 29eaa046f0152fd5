#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import StateJournal
import StateJournalEngine

// `make bench`: StateJournal against its peers, measured in one run on one
// directory, printed as one table with ratios and the targets of issue 6
// (and issue 3's open-time and size figures). See Docs/PERFORMANCE.md.
//
//   bench [--dir DIR] [--rounds N] [--seconds S] [--events N] [--cli-samples N]
//         [--only peers,threads,processes,cli,history,render] [--no-syscalls] [--keep]
//   bench worker append --state P --seconds S --actor A --result FILE   (child of the process scenario)
//   bench --only postgres --pg URL                                       (the PostgreSQL store's rows, `make bench-postgres`)
//   bench worker pg-append --url U --seconds S --actor A --result FILE   (child of the PostgreSQL process scenario)
//   bench worker replay --state P                                        (child of the replay scenario)
//   bench worker count ROW --dir D --count N                             (run under strace: syscalls per write)
//   bench profile writes|history|open|render --state P --count N         (reduced workloads for callgrind)

struct Options {
    var directory: String?
    var rounds = 3
    var seconds = 1.0
    var events = 1_000_000
    var cliSamples = 40
    var only: Set<String> = ["peers", "threads", "processes", "cli", "history", "render"]
    var keep = false
    /// Count system calls per write with strace (Syscalls.swift).
    var syscalls = true
    var positional: [String] = []
    var values: [String: String] = [:]

    init(_ args: [String]) throws {
        var i = 0
        func value() throws -> String {
            guard i + 1 < args.count else { throw BenchError("\(args[i]) needs a value") }
            i += 1
            return args[i]
        }
        while i < args.count {
            let a = args[i]
            switch a {
            case "--dir": directory = try value()
            case "--rounds": rounds = max(1, Int(try value()) ?? 3)
            case "--seconds": seconds = Double(try value()) ?? 1
            case "--events": events = max(20_000, Int(try value()) ?? 1_000_000)
            case "--cli-samples": cliSamples = max(5, Int(try value()) ?? 40)
            case "--only": only = Set(try value().split(separator: ",").map(String.init))
            case "--keep": keep = true
            case "--no-syscalls": syscalls = false
            case "-h", "--help":
                print("usage: bench [--dir DIR] [--rounds N] [--seconds S] [--events N] [--cli-samples N] [--only LIST] [--no-syscalls] [--keep]")
                exit(0)
            default:
                if a.hasPrefix("--") { values[String(a.dropFirst(2))] = try value() } else { positional.append(a) }
            }
            i += 1
        }
    }

    func required(_ key: String) throws -> String {
        guard let v = values[key] else { throw BenchError("--\(key) is required") }
        return v
    }
}

func progress(_ text: String) {
    let line = "bench: " + text + "\n"
    _ = line.utf8CString.withUnsafeBufferPointer { write(2, $0.baseAddress!, $0.count - 1) }
}

/// A loop's median rate (operations per second) and median CPU time per
/// operation (user + system, getrusage(RUSAGE_SELF)) over its rounds.
struct LoopResult {
    var rate: Double
    var cpuPerOp: Double
}

/// Runs each loop for `seconds` per round, the loops interleaved round by
/// round; returns each loop's medians.
func interleavedRates(_ loops: [(name: String, loop: any OperationLoop)], rounds: Int, seconds: Double) throws -> [String: LoopResult] {
    var rates: [String: [Double]] = [:]
    var cpu: [String: [Double]] = [:]
    var counters: [String: Int] = [:]
    for round in 1...rounds {
        for (name, loop) in loops {
            var n = 0
            let cpuStart = processCPUSeconds()
            let start = now()
            var elapsed = 0.0
            while elapsed < seconds || n < 20 {
                try loop.step(counters[name, default: 0] + n)
                n += 1
                elapsed = now() - start
            }
            let cpuPerOp = (processCPUSeconds() - cpuStart) / Double(n)
            counters[name, default: 0] += n
            rates[name, default: []].append(Double(n) / elapsed)
            cpu[name, default: []].append(cpuPerOp)
            progress("round \(round)/\(rounds) \(name): \(Format.grouped(Double(n) / elapsed)) ops/s, \(Format.ms(cpuPerOp)) CPU per op")
        }
    }
    var results: [String: LoopResult] = [:]
    for (name, list) in rates { results[name] = LoopResult(rate: list.median, cpuPerOp: cpu[name]!.median) }
    return results
}

/// System calls per operation of each worker row, counted under strace
/// (Syscalls.swift); empty when counting is off or strace is missing.
func countSyscalls(_ rows: [(row: String, small: Int, large: Int, extra: [String])], options: Options, scratch: String,
                   key: (String, [String]) -> String = { row, _ in row }, writers: ([String]) -> Int = { _ in 1 }) -> [String: Double] {
    guard options.syscalls else { return [:] }
    guard Syscalls.strace != nil else {
        progress("warning: strace not found: no system-call counts (apt-get install strace, or make bench installs it)")
        return [:]
    }
    var result: [String: Double] = [:]
    for (row, small, large, extra) in rows {
        do {
            let perOp = try Syscalls.perOperation(row: row, extra: extra, small: small, large: large, writers: writers(extra), scratch: scratch)
            result[key(row, extra)] = perOp
            progress("syscalls \(key(row, extra)): \(Format.fixed(perOp, 1)) per op (strace -f -c, \(large) − \(small) operations)")
        } catch {
            progress("warning: counting the system calls of \(row) failed: \(error)")
        }
    }
    return result
}

func runBench(_ options: Options) throws {
    let started = now()
    let directory: String
    if let dir = options.directory {
        try Files.mkdirs(dir)
        directory = dir
    } else {
        // In the current directory (the package root under make), on the disk
        // the project lives on: /tmp is often a tmpfs, where fsync is free.
        // `.build-*` is ignored by git.
        var template = Array("./.build-bench-data.XXXXXX".utf8CString)
        guard template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) != nil else {
            throw BenchError("mkdtemp: \(String(cString: strerror(errno)))")
        }
        let relative = String(decoding: template.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        var resolved = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        directory = realpath(relative, &resolved) != nil
            ? String(decoding: resolved.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self) : relative
    }
    defer { if !options.keep && options.directory == nil { Files.removeTree(directory) } }
    let machine = Machine.describe(directory: directory)
    for line in machine { progress(line) }
    if Machine.mount(of: directory).contains(" tmpfs ") {
        progress("warning: \(directory) is on a tmpfs, where fsync costs nothing: the durable figures mean nothing; give --dir on a real disk")
    }

    var report = Report()
    let only = options.only
    var oneWriter = Double.nan

    // MARK: Peers and one writer, interleaved
    var raw = Double.nan
    if only.contains("peers") || only.contains("threads") || only.contains("processes") {
        let peers = directory + "/peers"
        try Files.mkdirs(peers)
        var names = ["raw", "manual"]
        if only.contains("peers") { names += ["overwrite", "sqlite", "earlier", "earlier-as-is", "every100", "eager"] }
        let loops = try names.map { (name: $0, loop: try makeLoop($0, directory: peers)) }
        let results = try interleavedRates(loops, rounds: options.rounds, seconds: options.seconds)
        for (_, loop) in loops { loop.close() }
        // Counted after the timed rounds, so that strace's children do not
        // load the machine while they run. Multiples of 100 operations, so
        // that .everyEvents(100) rewrites STATE.md the same number of times
        // per operation in both runs.
        let syscalls = countSyscalls(names.map { (row: $0, small: 100, large: 400, extra: []) }, options: options,
                                     scratch: directory + "/syscalls")
        raw = results["raw"]!.rate
        let r = raw
        oneWriter = results["manual"]!.rate
        /// The row of loop `key`, when it ran: its rate and its ratio to raw
        /// (`detail`: the time per operation unless given), its CPU time and
        /// system calls per operation; its rate.
        @discardableResult
        func rateRow(_ key: String, _ label: String, detail: String? = nil, target: String = "", met: ((Double) -> Bool)? = nil) -> Double? {
            guard let result = results[key] else { return nil }
            let rate = result.rate
            report.add(label, Format.grouped(rate) + " ops/s", detail: detail ?? Format.ms(1 / rate) + " per op",
                       ratio: Format.ratio(rate / r) + " raw", target: target, met: met.map { $0(rate) },
                       cpu: Format.ms(result.cpuPerOp), syscalls: syscalls[key].map { Format.fixed($0, 1) } ?? "—")
            return rate
        }
        report.section("Durable appends, one writer (200-byte records; median of \(options.rounds) interleaved rounds of \(Format.fixed(options.seconds, 1)) s)")
        rateRow("raw", "physical limit: pwrite 200 B at end of file + fdatasync")
        rateRow("overwrite", "(info) overwrite of a preallocated file + fdatasync", detail: "no size change to commit")
        let sqliteRate = rateRow("sqlite", "SQLite WAL, synchronous=FULL, 1 insert per txn")
        let earlierRate = rateRow("earlier", "earlier tool's approach (Swift), 200 tasks, durable", detail: "lock, copy, render, write+fsync, rename, fsync dir")
        rateRow("earlier-as-is", "(info) earlier tool's approach, as it was (no fsync)", detail: "not durable")
        rateRow("manual", "StateJournal one writer, .manual projection", detail: Format.ms(1 / oneWriter) + " per write",
                target: "≥ 0.9× raw (#12)", met: { $0 / r >= 0.9 })
        if let sqliteRate {
            report.add("  .manual vs SQLite", "", ratio: Format.ratio(oneWriter / sqliteRate) + " SQLite",
                       target: "≥ 1.1× SQLite (#12)", met: oneWriter / sqliteRate >= 1.1)
        }
        if let earlierRate {
            report.add("  .manual vs earlier tool's approach (durable), 200 tasks", "", ratio: Format.ratio(oneWriter / earlierRate) + " earlier",
                       target: "≥ 5× earlier (#6)", met: oneWriter / earlierRate >= 5)
        }
        rateRow("every100", "StateJournal one writer, .everyEvents(100)", detail: "STATE.md rewritten every 100 events")
        if let eagerRate = rateRow("eager", "StateJournal one writer, .eager (CLI policy)", detail: "append + STATE.md rewrite per write"),
           let earlierRate {
            report.add("  .eager vs earlier tool's approach (durable), 200 tasks", "", ratio: Format.ratio(eagerRate / earlierRate) + " earlier",
                       target: "≥ 2× earlier (#12)", met: eagerRate / earlierRate >= 2)
        }
    }

    // MARK: Threads
    if only.contains("threads") {
        let state = directory + "/threads/STATE.md"
        try prepareJournal(state)
        var rates: [Double] = [], cpu: [Double] = []
        for round in 1...options.rounds {
            let cpuStart = processCPUSeconds()
            let (rate, writes) = try runThreadedWriters(statePath: state, threads: 16, seconds: options.seconds)
            rates.append(rate)
            cpu.append((processCPUSeconds() - cpuStart) / Double(writes))
            progress("round \(round)/\(options.rounds) 16 threads: \(Format.grouped(rate)) writes/s (\(writes) writes), \(Format.ms(cpu.last!)) CPU per write")
        }
        let syscalls = countSyscalls([(row: "threads", small: 320, large: 1600, extra: [])], options: options,
                                     scratch: directory + "/syscalls")
        let rate = rates.median
        report.section("Concurrency")
        report.add("16 threads, one process, one shared StateManager", Format.grouped(rate) + " writes/s",
                   detail: "group commit, \(Format.ms(1 / rate)) per write", ratio: Format.ratio(rate / oneWriter) + " one writer",
                   target: "≥ 20× one writer (#6)", met: rate / oneWriter >= 20,
                   cpu: Format.ms(cpu.median), syscalls: syscalls["threads"].map { Format.fixed($0, 1) } ?? "—")
        if raw.isFinite {
            report.add("  16 threads vs raw one-at-a-time fdatasync", "", ratio: Format.ratio(rate / raw) + " raw",
                       target: "≥ 10× raw (#12)", met: rate / raw >= 10)
        }
    }

    // MARK: Processes
    if only.contains("processes") {
        let state = directory + "/processes/STATE.md"
        try prepareJournal(state)
        var runs: [Int: [ProcessRun]] = [:]
        let seconds = max(options.seconds * 1.5, 0.5)
        for round in 1...options.rounds {
            for n in [1, 4, 8] {
                let run = try runProcessWriters(statePath: state, processes: n, seconds: seconds, resultDirectory: directory + "/processes")
                runs[n, default: []].append(run)
                progress("round \(round)/\(options.rounds) \(n) processes: \(Format.grouped(run.rate)) writes/s, \(Format.ms(run.cpuPerWrite)) CPU per write, lock wait p50 \(Format.ms(run.lockWaits.median)) p99 \(Format.ms(run.lockWaits.quantile(0.99)))")
            }
        }
        let syscalls = countSyscalls([1, 4, 8].map { (row: "processes", small: 50, large: 200, extra: ["--processes", String($0)]) },
                                     options: options, scratch: directory + "/syscalls",
                                     key: { _, extra in "processes-" + extra[1] }, writers: { Int($0[1]) ?? 1 })
        if !only.contains("threads") { report.section("Concurrency") }
        let one = runs[1]!.map(\.rate).median
        for n in [1, 4, 8] {
            let rate = runs[n]!.map(\.rate).median
            let waits = runs[n]!.flatMap(\.lockWaits)
            let detail = "lock wait p50 \(Format.ms(waits.median)), p99 \(Format.ms(waits.quantile(0.99)))"
            let cpu = Format.ms(runs[n]!.map(\.cpuPerWrite).median)
            let calls = syscalls["processes-\(n)"].map { Format.fixed($0, 1) } ?? "—"
            let toRaw = raw.isFinite ? Format.ratio(rate / raw) + " raw" : ""
            let ratio = n == 1 ? toRaw : Format.ratio(rate / one) + " 1 process" + (toRaw.isEmpty ? "" : ", " + toRaw)
            if n == 8 {
                report.add("8 processes contending, aggregate", Format.grouped(rate) + " writes/s", detail: detail,
                           ratio: ratio, target: "≥ 0.7× 1 process (#6)", met: rate / one >= 0.7, cpu: cpu, syscalls: calls)
            } else {
                report.add("\(n) process\(n == 1 ? "" : "es")\(n == 1 ? " (baseline)" : " contending, aggregate")",
                           Format.grouped(rate) + " writes/s", detail: detail, ratio: ratio, cpu: cpu, syscalls: calls)
            }
        }
    }

    // MARK: CLI
    if only.contains("cli") {
        progress("CLI: \(options.cliSamples) runs each of statejournal (fast path and argument parser) and the earlier tool (python)")
        let cli = try CLIBench.run(directory: directory, samples: options.cliSamples, countSyscalls: options.syscalls)
        let ours = cli.ours.wall.median, py = cli.python.wall.median
        func cpu(_ series: CLIResult.Series) -> String { Format.ms(series.cpu.median) }
        func calls(_ series: CLIResult.Series) -> String { series.syscalls.map { Format.grouped($0) } ?? "—" }
        func p90(_ series: CLIResult.Series) -> String { "p90 " + Format.ms(series.wall.quantile(0.9)) }
        report.section("Command line, 200-task workflow, process start to exit (\(cli.ours.wall.count) runs each, alternating; CPU and syscalls per command)")
        report.add("statejournal task complete (median)", Format.ms(ours), detail: p90(cli.ours),
                   target: "≤ 5 ms (#12)", met: ours <= 0.005, cpu: cpu(cli.ours), syscalls: calls(cli.ours))
        report.add("earlier tool, python3 legacy_tool.py complete, durable", Format.ms(py), detail: p90(cli.python),
                   ratio: Format.ratio(py / ours) + " slower than ours", target: "ours ≥ 10× faster (#12)", met: py / ours >= 10,
                   cpu: cpu(cli.python), syscalls: calls(cli.python))
        report.add("(info) statejournal task complete through argument parser", Format.ms(cli.oursParser.wall.median),
                   detail: p90(cli.oursParser) + "; STATEJOURNAL_NO_FAST_PATH=1",
                   ratio: Format.ratio(cli.oursParser.wall.median / ours) + " fast path",
                   cpu: cpu(cli.oursParser), syscalls: calls(cli.oursParser))
        report.add("(info) earlier tool as it was (no fsync)", Format.ms(cli.pythonNoFsync.wall.median), detail: p90(cli.pythonNoFsync),
                   ratio: Format.ratio(cli.pythonNoFsync.wall.median / ours) + " slower than ours",
                   cpu: cpu(cli.pythonNoFsync), syscalls: calls(cli.pythonNoFsync))
        report.add("(info) process start floor: /bin/true", Format.ms(cli.trueFloor.wall.median), detail: p90(cli.trueFloor),
                   cpu: cpu(cli.trueFloor), syscalls: calls(cli.trueFloor))
        report.add("(info) statejournal --help: start-up + argument parser", Format.ms(cli.ourFloor.wall.median),
                   detail: p90(cli.ourFloor) + "; no journal touched", cpu: cpu(cli.ourFloor), syscalls: calls(cli.ourFloor))
        report.add("(info) process start floor: python3 -c pass", Format.ms(cli.pythonFloor.wall.median), detail: p90(cli.pythonFloor),
                   cpu: cpu(cli.pythonFloor), syscalls: calls(cli.pythonFloor))
    }

    // MARK: History: 1M events, replay, open, size
    if only.contains("history") {
        progress("generating \(Format.grouped(Double(options.events))) events of history")
        let big = try History.generate(statePath: directory + "/history-big/STATE.md", events: options.events)
        progress("generated in \(Format.fixed(big.seconds, 1)) s: \(big.sealedSegments) sealed segments, \(Format.mib(Double(big.sealedBytes))) of \(Format.mib(Double(big.rawBytes))) raw")
        let small = try History.generate(statePath: directory + "/history-small/STATE.md", events: 10_000)
        // Interleave the opens, so that both see the same load.
        var openBig: [Double] = [], openSmall: [Double] = []
        var seqBig: UInt64 = 0, seqSmall: UInt64 = 0
        for _ in 0..<10 {
            let b = try History.openTime(statePath: big.statePath, runs: 3)
            let s = try History.openTime(statePath: small.statePath, runs: 3)
            openBig.append(b.median); openSmall.append(s.median)
            seqBig = b.seq; seqSmall = s.seq
        }
        guard seqBig == UInt64(big.events), seqSmall == UInt64(small.events) else {
            throw BenchError("open read seq \(seqBig)/\(seqSmall), expected \(big.events)/\(small.events)")
        }
        progress("replaying \(Format.grouped(Double(options.events))) events in a child process")
        var replays: [History.ReplayResult] = []
        for _ in 0..<2 { replays.append(try History.replay(statePath: big.statePath)) }
        let replay = replays.max { $0.rate < $1.rate }!
        guard replay.events == UInt64(big.events) else { throw BenchError("replay folded \(replay.events) events, expected \(big.events)") }
        let maxRSS = replays.map(\.maxRSS).max()!

        report.section("History (\(Format.grouped(Double(big.events))) events written with FileJournal in batches of \(History.batch), sealed at 4 MiB)")
        report.add("replay \(Format.grouped(Double(big.events))) events from compressed segments", Format.grouped(replay.rate) + " events/s",
                   detail: "\(Format.fixed(replay.seconds, 2)) s in the child (\(Format.fixed(replay.wallSeconds, 2)) s wall), best of 2",
                   target: "≥ 1,000,000 events/s (#12)", met: replay.rate >= 1_000_000)
        report.add("  peak RSS of the replaying process", Format.mib(Double(maxRSS)), detail: "getrusage of the child (wait4)",
                   target: "< 64 MiB (#12)", met: Double(maxRSS) < 64 * 1_048_576)
        let ratio = openBig.median / openSmall.median
        report.add("open: \(Format.grouped(Double(big.events))) events + snapshot \(big.events - Int(big.snapshotSeq)) events back",
                   Format.ms(openBig.median), detail: "p90 \(Format.ms(openBig.quantile(0.9))); loadState() on a new manager",
                   ratio: Format.ratio(ratio) + " 10k", target: "≈ 10k (≤ 1.5×) (#3)", met: ratio <= 1.5)
        report.add("open: 10,000 events + snapshot \(small.events - Int(small.snapshotSeq)) events back", Format.ms(openSmall.median),
                   detail: "p90 \(Format.ms(openSmall.quantile(0.9)))")
        report.add("sealed segments: compressed / raw size", Format.fixed(big.compressionRatio * 100, 1) + " %",
                   detail: "\(Format.mib(Double(big.sealedBytes))) of \(Format.mib(Double(big.rawBytes))), \(big.sealedSegments) segments, zstd level 3",
                   target: "≤ 25 % (#3)", met: big.compressionRatio <= 0.25)
        report.add("(info) writing the history directly", Format.grouped(Double(big.events) / big.seconds) + " events/s",
                   detail: "encode + append 1000/fdatasync + seal")
    }

    // MARK: Render
    if only.contains("render") {
        let state = Workload.bigState(tasks: 10_000, waves: 10)
        var renderTimes: [Double] = [], replaceTimes: [Double] = []
        var bytes: [UInt8] = []
        let path = directory + "/render/STATE.md"
        try Files.mkdirs(directory + "/render")
        let fs = FileSystem()
        for _ in 0..<7 {
            renderTimes.append(timed { bytes = Array(MarkdownRenderer.render(state).utf8) })
            replaceTimes.append(try timed { try fs.atomicReplace(path, with: bytes, backup: path + ".backup") })
        }
        report.section("Projection, 10,000 tasks (median of 7)")
        report.add("render STATE.md (MarkdownRenderer.render)", Format.ms(renderTimes.median), detail: "\(Format.mib(Double(bytes.count))), CPU only")
        report.add("replace STATE.md (write, fsync, link backup, rename, fsync dir)", Format.ms(replaceTimes.median),
                   detail: "FileSystem.atomicReplace")
    }

    if only.contains("postgres") {
        guard let base = options.values["pg"] else { throw BenchError("--only postgres needs --pg postgres://USER@HOST:PORT/DB (the password in PGPASSWORD)") }
        try runPostgresBench(options, base: base, report: &report)
    }
    print("StateJournal bench — one run, one directory, ratios from the same run")
    for line in machine { print(line) }
    print("")
    print(report.render())
    let (met, missed) = report.targets
    print("")
    print("targets: \(met) met, \(missed) missed; total bench time \(Format.fixed(now() - started, 0)) s")
}

// MARK: - Entry

do {
    let options = try Options(Array(CommandLine.arguments.dropFirst()))
    switch options.positional.first {
    case nil:
        try runBench(options)
    case "worker":
        switch options.positional.dropFirst().first {
        case "append":
            try appendWorker(statePath: try options.required("state"), seconds: options.seconds,
                             actor: options.values["actor"] ?? "bench-worker", resultPath: try options.required("result"))
        case "pg-append":
            try postgresAppendWorker(url: try options.required("url"), seconds: options.seconds,
                                     actor: options.values["actor"] ?? "bench-pg", resultPath: try options.required("result"))
        case "replay":
            try History.replayWorker(statePath: try options.required("state"))
        case "count":
            guard let row = options.positional.dropFirst(2).first else { throw BenchError("worker count needs a row") }
            guard let dir = options.directory else { throw BenchError("worker count needs --dir") }
            try countWorker(row: row, directory: dir, count: Int(try options.required("count")) ?? 0,
                            values: options.values)
        default:
            throw BenchError("unknown worker; use 'worker append', 'worker replay' or 'worker count'")
        }
    case "profile":
        // A reduced, untimed workload for valgrind --tool=callgrind.
        let state = try options.required("state")
        let count = Int(options.values["count"] ?? "500") ?? 500
        switch options.positional.dropFirst().first {
        case "writes":
            let projection: StateManager.ProjectionPolicy = options.values["projection"] == "eager" ? .eager : .manual
            let loop = try StateManagerLoop(statePath: state, projection: projection)
            for i in 0..<count { try loop.step(i) }
        case "history":
            let h = try History.generate(statePath: state, events: max(count, 20_000))
            print("generated \(h.events) events")
        case "open":
            let t = try History.openTime(statePath: state, runs: count)
            print("open median \(Format.ms(t.median)) at seq \(t.seq)")
        case "render":
            let s = Workload.bigState(tasks: count, waves: 10)
            print(MarkdownRenderer.render(s).utf8.count)
        default:
            throw BenchError("unknown profile; use 'profile writes', 'profile history', 'profile open' or 'profile render'")
        }
    default:
        throw BenchError("unknown command '\(options.positional[0])'")
    }
} catch {
    progress("error: \(error)")
    exit(1)
}
