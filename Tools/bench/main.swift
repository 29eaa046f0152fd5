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
//         [--only peers,threads,processes,cli,history,render] [--keep]
//   bench worker append --state P --seconds S --actor A --result FILE   (child of the process scenario)
//   bench worker replay --state P                                        (child of the replay scenario)
//   bench profile writes|history|open|render --state P --count N         (reduced workloads for callgrind)

struct Options {
    var directory: String?
    var rounds = 3
    var seconds = 1.0
    var events = 1_000_000
    var cliSamples = 40
    var only: Set<String> = ["peers", "threads", "processes", "cli", "history", "render"]
    var keep = false
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
            case "-h", "--help":
                print("usage: bench [--dir DIR] [--rounds N] [--seconds S] [--events N] [--cli-samples N] [--only LIST] [--keep]")
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

/// Runs each loop for `seconds` per round, the loops interleaved round by
/// round; returns each loop's median rate (operations per second).
func interleavedRates(_ loops: [(name: String, loop: any OperationLoop)], rounds: Int, seconds: Double) throws -> [String: Double] {
    var rates: [String: [Double]] = [:]
    var counters: [String: Int] = [:]
    for round in 1...rounds {
        for (name, loop) in loops {
            var n = 0
            let start = now()
            var elapsed = 0.0
            while elapsed < seconds || n < 20 {
                try loop.step(counters[name, default: 0] + n)
                n += 1
                elapsed = now() - start
            }
            counters[name, default: 0] += n
            rates[name, default: []].append(Double(n) / elapsed)
            progress("round \(round)/\(rounds) \(name): \(Format.grouped(Double(n) / elapsed)) ops/s")
        }
    }
    return rates.mapValues { $0.median }
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
    if only.contains("peers") || only.contains("threads") || only.contains("processes") {
        let peers = directory + "/peers"
        try Files.mkdirs(peers)
        let raw = try RawAppendLoop(directory: peers)
        let overwrite = try RawOverwriteLoop(directory: peers)
        let sqlite = try SQLiteLoop(directory: peers)
        let earlier = try EarlierToolLoop(directory: peers, name: "earlier-durable", tasks: 200, durable: true)
        let earlierAsIs = try EarlierToolLoop(directory: peers, name: "earlier-as-is", tasks: 200, durable: false)
        let manual = try StateManagerLoop(statePath: directory + "/one-manual/STATE.md", projection: .manual)
        let every = try StateManagerLoop(statePath: directory + "/one-every100/STATE.md", projection: .everyEvents(100))
        let eager = try StateManagerLoop(statePath: directory + "/one-eager/STATE.md", projection: .eager)
        var loops: [(name: String, loop: any OperationLoop)] = [("raw", raw), ("manual", manual)]
        if only.contains("peers") {
            loops += [("overwrite", overwrite), ("sqlite", sqlite), ("earlier", earlier), ("earlier-as-is", earlierAsIs),
                      ("every100", every), ("eager", eager)]
        }
        let rates = try interleavedRates(loops, rounds: options.rounds, seconds: options.seconds)
        for (_, loop) in loops { loop.close() }
        let r = rates["raw"]!
        oneWriter = rates["manual"]!
        /// The row of loop `key`, when it ran: its rate and its ratio to raw
        /// (`detail`: the time per operation unless given); its rate.
        @discardableResult
        func rateRow(_ key: String, _ label: String, detail: String? = nil) -> Double? {
            guard let rate = rates[key] else { return nil }
            report.add(label, Format.grouped(rate) + " ops/s", detail: detail ?? Format.ms(1 / rate) + " per op",
                       ratio: Format.ratio(rate / r) + " raw")
            return rate
        }
        report.section("Durable appends, one writer (200-byte records; median of \(options.rounds) interleaved rounds of \(Format.fixed(options.seconds, 1)) s)")
        rateRow("raw", "physical limit: pwrite 200 B at end of file + fdatasync")
        rateRow("overwrite", "(info) overwrite of a preallocated file + fdatasync", detail: "no size change to commit")
        let sqliteRate = rateRow("sqlite", "SQLite WAL, synchronous=FULL, 1 insert per txn")
        let earlierRate = rateRow("earlier", "earlier tool's approach (Swift), 200 tasks, durable", detail: "lock, copy, render, write+fsync, rename, fsync dir")
        rateRow("earlier-as-is", "(info) earlier tool's approach, as it was (no fsync)", detail: "not durable")
        report.add("StateJournal one writer, .manual projection", Format.grouped(oneWriter) + " ops/s",
                   detail: Format.ms(1 / oneWriter) + " per write", ratio: Format.ratio(oneWriter / r) + " raw",
                   target: "≥ 0.85× raw", met: oneWriter / r >= 0.85)
        if let sqliteRate {
            report.add("  vs SQLite", "", ratio: Format.ratio(oneWriter / sqliteRate) + " SQLite", target: "≥ 1.3× SQLite", met: oneWriter / sqliteRate >= 1.3)
        }
        if let earlierRate {
            report.add("  vs earlier tool's approach (durable), 200 tasks", "", ratio: Format.ratio(oneWriter / earlierRate) + " earlier",
                       target: "≥ 5× earlier", met: oneWriter / earlierRate >= 5)
        }
        rateRow("every100", "StateJournal one writer, .everyEvents(100)", detail: "STATE.md rewritten every 100 events")
        if let eagerRate = rateRow("eager", "StateJournal one writer, .eager (CLI policy)", detail: "append + STATE.md rewrite per write"),
           let earlierRate {
            report.add("  .eager vs earlier tool's approach (durable)", "", ratio: Format.ratio(eagerRate / earlierRate) + " earlier")
        }
    }

    // MARK: Threads
    if only.contains("threads") {
        let state = directory + "/threads/STATE.md"
        try prepareJournal(state)
        var rates: [Double] = []
        for round in 1...options.rounds {
            let (rate, writes) = try runThreadedWriters(statePath: state, threads: 16, seconds: options.seconds)
            rates.append(rate)
            progress("round \(round)/\(options.rounds) 16 threads: \(Format.grouped(rate)) writes/s (\(writes) writes)")
        }
        let rate = rates.median
        report.section("Concurrency")
        report.add("16 threads, one process, one shared StateManager", Format.grouped(rate) + " writes/s",
                   detail: "group commit", ratio: Format.ratio(rate / oneWriter) + " one writer",
                   target: "≥ 20× one writer", met: rate / oneWriter >= 20)
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
                progress("round \(round)/\(options.rounds) \(n) processes: \(Format.grouped(run.rate)) writes/s, lock wait p50 \(Format.ms(run.lockWaits.median)) p99 \(Format.ms(run.lockWaits.quantile(0.99)))")
            }
        }
        if !only.contains("threads") { report.section("Concurrency") }
        let one = runs[1]!.map(\.rate).median
        for n in [1, 4, 8] {
            let rate = runs[n]!.map(\.rate).median
            let waits = runs[n]!.flatMap(\.lockWaits)
            let detail = "lock wait p50 \(Format.ms(waits.median)), p99 \(Format.ms(waits.quantile(0.99)))"
            if n == 8 {
                report.add("8 processes contending, aggregate", Format.grouped(rate) + " writes/s", detail: detail,
                           ratio: Format.ratio(rate / one) + " 1 process", target: "≥ 0.7× 1 process", met: rate / one >= 0.7)
            } else {
                report.add("\(n) process\(n == 1 ? "" : "es")\(n == 1 ? " (baseline)" : " contending, aggregate")",
                           Format.grouped(rate) + " writes/s", detail: detail, ratio: n == 1 ? "" : Format.ratio(rate / one) + " 1 process")
            }
        }
    }

    // MARK: CLI
    if only.contains("cli") {
        progress("CLI: \(options.cliSamples) runs each of statejournal and the earlier tool (python)")
        let cli = try CLIBench.run(directory: directory, samples: options.cliSamples)
        let ours = cli.ours.median, py = cli.python.median
        report.section("Command line, 200-task workflow, process start to exit (\(cli.ours.count) runs each, alternating)")
        report.add("statejournal task complete (median)", Format.ms(ours), detail: "p90 \(Format.ms(cli.ours.quantile(0.9)))",
                   target: "≤ 10 ms", met: ours <= 0.010)
        report.add("earlier tool, python3 legacy_tool.py complete, durable", Format.ms(py),
                   detail: "p90 \(Format.ms(cli.python.quantile(0.9)))", ratio: Format.ratio(py / ours) + " slower than ours",
                   target: "ours ≥ 7× faster", met: py / ours >= 7)
        report.add("(info) earlier tool as it was (no fsync)", Format.ms(cli.pythonNoFsync.median),
                   detail: "p90 \(Format.ms(cli.pythonNoFsync.quantile(0.9)))", ratio: Format.ratio(cli.pythonNoFsync.median / ours) + " slower than ours")
        report.add("(info) process start floor: /bin/true", Format.ms(cli.trueFloor.median), detail: "p90 \(Format.ms(cli.trueFloor.quantile(0.9)))")
        report.add("(info) statejournal --help: start-up + argument parser", Format.ms(cli.ourFloor.median),
                   detail: "p90 \(Format.ms(cli.ourFloor.quantile(0.9))); no journal touched")
        report.add("(info) process start floor: python3 -c pass", Format.ms(cli.pythonFloor.median), detail: "p90 \(Format.ms(cli.pythonFloor.quantile(0.9)))")
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
                   target: "≥ 1,000,000 events/s", met: replay.rate >= 1_000_000)
        report.add("  peak RSS of the replaying process", Format.mib(Double(maxRSS)), detail: "getrusage of the child (wait4)",
                   target: "< 64 MiB", met: Double(maxRSS) < 64 * 1_048_576)
        let ratio = openBig.median / openSmall.median
        report.add("open: \(Format.grouped(Double(big.events))) events + snapshot \(big.events - Int(big.snapshotSeq)) events back",
                   Format.ms(openBig.median), detail: "p90 \(Format.ms(openBig.quantile(0.9))); loadState() on a new manager",
                   ratio: Format.ratio(ratio) + " 10k", target: "≈ 10k (≤ 1.5×)", met: ratio <= 1.5)
        report.add("open: 10,000 events + snapshot \(small.events - Int(small.snapshotSeq)) events back", Format.ms(openSmall.median),
                   detail: "p90 \(Format.ms(openSmall.quantile(0.9)))")
        report.add("sealed segments: compressed / raw size", Format.fixed(big.compressionRatio * 100, 1) + " %",
                   detail: "\(Format.mib(Double(big.sealedBytes))) of \(Format.mib(Double(big.rawBytes))), \(big.sealedSegments) segments, zstd level 3",
                   target: "≤ 25 %", met: big.compressionRatio <= 0.25)
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
        case "replay":
            try History.replayWorker(statePath: try options.required("state"))
        default:
            throw BenchError("unknown worker; use 'worker append' or 'worker replay'")
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
