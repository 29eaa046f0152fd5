#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import StateJournal

// CPU time and system calls per write: the two costs of a write that do not
// depend on the disk (issue 12, item 6).
//
// CPU time is user + system time from getrusage: RUSAGE_SELF around an
// in-process loop (nothing else runs in the bench process meanwhile),
// wait4's rusage of each worker process, and RUSAGE_CHILDREN around each
// command-line run.
//
// System calls are counted the same way for every peer, ours and theirs:
// `strace -f -c` over a child process that runs the row's workload a fixed
// number of times (`bench worker count ROW --count N`, or the command line
// itself). A worker run twice, with N1 and N2 operations, gives
// (calls(N2) − calls(N1)) / (N2 − N1) per operation: its set-up, start-up
// and exit cancel out, and periodic work (a snapshot every few hundred
// events, STATE.md every 100 with `.everyEvents(100)`) is averaged over
// N2 − N1 operations. Failed calls count (strace's `calls` column includes
// them). strace slows every call down, which changes nothing in how many
// calls a write makes — except where waiting is done by polling (the lock's
// back-off between LOCK_NB attempts under contention), where the count is
// then an upper bound.

/// Seconds of CPU (user + system) used by this process so far.
func processCPUSeconds() -> Double { cpuSeconds(RUSAGE_SELF.rawValue) }

/// Seconds of CPU (user + system) used by this process's reaped children so far.
func childrenCPUSeconds() -> Double { cpuSeconds(RUSAGE_CHILDREN.rawValue) }

private func cpuSeconds(_ who: Int32) -> Double {
    var usage = rusage()
    getrusage(who, &usage)
    func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
    return seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

enum Syscalls {
    /// The strace executable, if there is one.
    static let strace: String? = {
        let path = getenv("PATH").map { String(cString: $0) } ?? "/usr/bin:/bin"
        let dirs = path.split(separator: ":").map(String.init) + ["/usr/bin", "/bin"]
        return dirs.map { $0 + "/strace" }.first { access($0, X_OK) == 0 }
    }()

    /// How many system calls `argv` makes, with every thread and child
    /// process it starts (`strace -f -c`); `environment` is added to ours.
    static func count(_ argv: [String], environment: [String: String] = [:], scratch: String) throws -> Int {
        guard let strace else { throw BenchError("strace not found (apt-get install strace)") }
        let summary = scratch + "/strace-summary.txt"
        unlink(summary)
        let (_, exit) = try Child.run([strace, "-f", "-c", "-o", summary, "--"] + argv, environment: environment)
        guard exit.status == 0 else { throw BenchError("\(argv.prefix(4).joined(separator: " ")) under strace exited with \(exit.status)") }
        return try total(in: String(decoding: try Files.read(summary), as: UTF8.self))
    }

    /// The `calls` column of strace -c's `total` line.
    static func total(in summary: String) throws -> Int {
        for line in summary.split(separator: "\n") {
            let fields = line.split(separator: " ")
            guard fields.last == "total" else { continue }
            // % time, seconds, usecs/call, calls, [errors,] total
            if fields.count >= 5, let calls = Int(fields[3]) { return calls }
        }
        throw BenchError("no total line in strace's summary:\n\(summary)")
    }

    /// System calls per operation of worker `row` (`bench worker count`),
    /// from two runs of `small` and `large` (`--count`), each in a fresh
    /// directory under `scratch`; `writers`: how many operations one count
    /// makes (the `processes` row: one per process).
    static func perOperation(row: String, extra: [String] = [], small: Int, large: Int, writers: Int = 1,
                             scratch: String) throws -> Double {
        var counts: [Int] = []
        for (i, n) in [small, large].enumerated() {
            let dir = scratch + "/\(row)-\(i)"
            Files.removeTree(dir)
            try Files.mkdirs(dir)
            counts.append(try count([Files.selfExecutable(), "worker", "count", row, "--dir", dir, "--count", String(n)] + extra,
                                    scratch: scratch))
            Files.removeTree(dir)
        }
        return Double(counts[1] - counts[0]) / Double((large - small) * writers)
    }
}

/// `bench worker count ROW --dir D --count N`: ROW's set-up, then N of its
/// operations, then exit; run under strace by ``Syscalls/perOperation``.
/// ROW is a one-writer loop (raw, overwrite, sqlite, earlier, earlier-as-is,
/// manual, every100, eager), `threads` (16 threads sharing one manager,
/// N writes in all), `processes` (`--processes P` workers on one journal,
/// N writes each) or `process-writer` (one of those workers, `--state`).
func countWorker(row: String, directory: String, count: Int, values: [String: String]) throws {
    switch row {
    case "threads":
        let state = directory + "/STATE.md"
        try prepareJournal(state)
        let threads = 16
        let manager = StateManager(configuration: benchConfiguration(state, actor: "bench-threads", projection: .manual), logger: benchLogger)
        let valueLength = Workload.valueLength(actor: "bench-threads")
        let failure = Locked<String?>(nil)
        runThreads(threads) { t in
            for i in 0..<(count / threads + (t < count % threads ? 1 : 0)) {
                do { try manager.write(Workload.appendPayload(i, valueLength: valueLength)) } catch {
                    failure.withLock { $0 = "thread \(t): \(error)" }
                    return
                }
            }
        }
        if let message = failure.withLock({ $0 }) { throw BenchError(message) }
    case "processes":
        let state = directory + "/STATE.md"
        try prepareJournal(state)
        let processes = Int(values["processes"] ?? "8") ?? 8
        let children = try (0..<processes).map { p in
            try Child.spawn([Files.selfExecutable(), "worker", "count", "process-writer", "--dir", directory, "--state", state,
                             "--count", String(count), "--actor", "bench-proc-\(p)"], quiet: false)
        }
        for child in children {
            let exit = try child.wait()
            guard exit.status == 0 else { throw BenchError("a process writer exited with \(exit.status)") }
        }
    case "process-writer":
        let state = values["state"] ?? directory + "/STATE.md"
        let actor = values["actor"] ?? "bench-proc"
        let manager = StateManager(configuration: benchConfiguration(state, actor: actor, projection: .manual), logger: benchLogger)
        let valueLength = Workload.valueLength(actor: actor)
        for i in 0..<count { try manager.write(Workload.appendPayload(i, valueLength: valueLength)) }
    default:
        let loop = try makeLoop(row, directory: directory)
        for i in 0..<count { try loop.step(i) }
        loop.close()
    }
}

/// The one-writer loop named `row`, set up in `directory`: the same loops
/// the timed rows run.
func makeLoop(_ row: String, directory: String) throws -> any OperationLoop {
    switch row {
    case "raw": return try RawAppendLoop(directory: directory)
    case "overwrite": return try RawOverwriteLoop(directory: directory)
    case "sqlite": return try SQLiteLoop(directory: directory)
    case "earlier": return try EarlierToolLoop(directory: directory, name: "earlier-durable", tasks: 200, durable: true)
    case "earlier-as-is": return try EarlierToolLoop(directory: directory, name: "earlier-as-is", tasks: 200, durable: false)
    case "manual": return try StateManagerLoop(statePath: directory + "/one-manual/STATE.md", projection: .manual)
    case "every100": return try StateManagerLoop(statePath: directory + "/one-every100/STATE.md", projection: .everyEvents(100))
    case "eager": return try StateManagerLoop(statePath: directory + "/one-eager/STATE.md", projection: .eager)
    default: throw BenchError("unknown row '\(row)'")
    }
}
