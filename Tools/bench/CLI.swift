#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Logging
import StateJournal
import StateJournalEngine

/// `statejournal task complete` against the earlier tool run as a Python
/// process, each timed from spawn to reaped, alternating so that both see
/// the same load.
struct CLIResult {
    /// One command: its wall times (spawn to reaped) and CPU times
    /// (user + system, the getrusage(RUSAGE_CHILDREN) difference around
    /// it), one per sample; its system calls (strace -f -c, median of a few
    /// runs after the timed ones; nil when not counted).
    struct Series {
        var wall: [Double] = []
        var cpu: [Double] = []
        var syscalls: Double?
    }

    var ours = Series()
    /// Ours through argument parser (STATEJOURNAL_NO_FAST_PATH=1).
    var oursParser = Series()
    var python = Series()
    var pythonNoFsync = Series()
    var trueFloor = Series()
    var ourFloor = Series()
    var pythonFloor = Series()
    var python3: String
}

enum CLIBench {
    /// The `statejournal` executable built beside this one.
    static func ourExecutable() throws -> String {
        let path = Files.directory(of: Files.selfExecutable()) + "/statejournal"
        guard access(path, X_OK) == 0 else {
            throw BenchError("\(path) not found: build it first (swift build -c release --product statejournal)")
        }
        return path
    }

    /// The earlier tool, found from this source file (Tools/bench/legacy_tool.py).
    static func legacyTool() throws -> String {
        let path = Files.directory(of: #filePath) + "/legacy_tool.py"
        guard Files.exists(path) else { throw BenchError("\(path) not found") }
        return path
    }

    /// The real interpreter behind `python3` (not a pyenv or similar shim
    /// script, which would add its own start-up to the earlier tool's).
    static func python() throws -> String {
        let (out, exit) = try Child.output(["/usr/bin/env", "python3", "-c", "import sys; print(sys.executable)"])
        let path = out.split(separator: "\n").first.map(String.init) ?? ""
        guard exit.status == 0, !path.isEmpty else { throw BenchError("python3 not found") }
        return path
    }

    static func run(directory: String, samples: Int, tasks: Int = 200, countSyscalls: Bool) throws -> CLIResult {
        let ours = try ourExecutable()
        let legacy = try legacyTool()
        let python3 = try python()

        let ourState = directory + "/cli/STATE.md"
        let ourParserState = directory + "/cli-parser/STATE.md"
        let legacyState = directory + "/legacy/STATE.md"
        let legacyStateNoFsync = directory + "/legacy-nofsync/STATE.md"
        try Files.mkdirs(directory + "/legacy")
        try Files.mkdirs(directory + "/legacy-nofsync")
        try Files.mkdirs(directory + "/cli")
        try Files.mkdirs(directory + "/cli-parser")
        let waves = 4
        for state in [ourState, ourParserState] {
            try StateManager(configuration: .init(statePath: state, actor: "bench-setup"), logger: benchLogger)
                .initialize(id: "wf_cli", name: "CLI benchmark", waves: Workload.plan(tasks: tasks, waves: waves))
        }
        for state in [legacyState, legacyStateNoFsync] {
            let (_, exit) = try Child.run([python3, legacy, "init", "--tasks", String(tasks), "--waves", String(waves)],
                                          environment: ["LEGACY_STATE_FILE": state])
            guard exit.status == 0 else { throw BenchError("legacy_tool.py init exited with \(exit.status)") }
        }

        let ids = Workload.plan(tasks: tasks, waves: waves).flatMap { $0.map(\.id) }
        let warmup = 3
        let counted = Syscalls.strace != nil && countSyscalls ? 3 : 0
        guard samples + warmup + counted <= ids.count else { throw BenchError("at most \(ids.count - warmup - counted) CLI samples") }
        var result = CLIResult(python3: python3)
        /// Runs `argv` (which must exit 0), adding its wall and CPU time to
        /// `series` unless `record` is false.
        func sample(_ series: inout CLIResult.Series, _ argv: [String], environment: [String: String] = [:], record: Bool) throws {
            let cpuStart = childrenCPUSeconds()
            let (wall, exit) = try Child.run(argv, environment: environment)
            let cpu = childrenCPUSeconds() - cpuStart
            guard exit.status == 0 else { throw BenchError("\(argv.dropFirst().joined(separator: " ")) exited with \(exit.status)") }
            if record {
                series.wall.append(wall)
                series.cpu.append(cpu)
            }
        }
        let parserEnvironment = ["STATEJOURNAL_NO_FAST_PATH": "1"]
        for i in 0..<(samples + warmup) {
            let id = ids[i], record = i >= warmup
            try sample(&result.ours, [ours, "--state", ourState, "task", "complete", id], record: record)
            try sample(&result.python, [python3, legacy, "complete", id], environment: ["LEGACY_STATE_FILE": legacyState], record: record)
            try sample(&result.oursParser, [ours, "--state", ourParserState, "task", "complete", id], environment: parserEnvironment, record: record)
            try sample(&result.pythonNoFsync, [python3, legacy, "complete", id],
                       environment: ["LEGACY_STATE_FILE": legacyStateNoFsync, "LEGACY_FSYNC": "0"], record: record)
            try sample(&result.trueFloor, ["/bin/true"], record: record)
            try sample(&result.ourFloor, [ours, "--help"], record: record)
            try sample(&result.pythonFloor, [python3, "-c", "pass"], record: record)
        }
        // System calls per command, each a further task completed under strace.
        if counted > 0 {
            let scratch = directory + "/cli-syscalls"
            try Files.mkdirs(scratch)
            func median(_ argv: (String) -> [String], environment: [String: String] = [:]) throws -> Double {
                try (0..<counted).map { k in
                    Double(try Syscalls.count(argv(ids[samples + warmup + k]), environment: environment, scratch: scratch))
                }.median
            }
            result.ours.syscalls = try median { [ours, "--state", ourState, "task", "complete", $0] }
            result.oursParser.syscalls = try median({ [ours, "--state", ourParserState, "task", "complete", $0] }, environment: parserEnvironment)
            result.python.syscalls = try median({ [python3, legacy, "complete", $0] }, environment: ["LEGACY_STATE_FILE": legacyState])
            result.pythonNoFsync.syscalls = try median({ [python3, legacy, "complete", $0] },
                                                       environment: ["LEGACY_STATE_FILE": legacyStateNoFsync, "LEGACY_FSYNC": "0"])
            result.trueFloor.syscalls = try median { _ in ["/bin/true"] }
            result.ourFloor.syscalls = try median { _ in [ours, "--help"] }
            result.pythonFloor.syscalls = try median { _ in [python3, "-c", "pass"] }
        }
        // Both tools must have done the same thing.
        for state in [ourState, ourParserState] {
            let shown = String(decoding: try Files.read(state), as: UTF8.self)
            let done = samples + warmup + counted
            guard shown.contains("## ✅ Completed (\(done) tasks)") else {
                throw BenchError("\(state) does not show \(done) completed tasks after the CLI runs")
            }
        }
        return result
    }
}
