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
    var ours: [Double]
    var python: [Double]
    var pythonNoFsync: [Double]
    var trueFloor: [Double]
    var ourFloor: [Double]
    var pythonFloor: [Double]
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

    static func run(directory: String, samples: Int, tasks: Int = 200) throws -> CLIResult {
        let ours = try ourExecutable()
        let legacy = try legacyTool()
        let python3 = try python()

        let ourState = directory + "/cli/STATE.md"
        let legacyState = directory + "/legacy/STATE.md"
        let legacyStateNoFsync = directory + "/legacy-nofsync/STATE.md"
        try Files.mkdirs(directory + "/legacy")
        try Files.mkdirs(directory + "/legacy-nofsync")
        try Files.mkdirs(directory + "/cli")
        let waves = 4
        try StateManager(configuration: .init(statePath: ourState, actor: "bench-setup"), logger: benchLogger)
            .initialize(id: "wf_cli", name: "CLI benchmark", waves: Workload.plan(tasks: tasks, waves: waves))
        for state in [legacyState, legacyStateNoFsync] {
            let (_, exit) = try Child.run([python3, legacy, "init", "--tasks", String(tasks), "--waves", String(waves)],
                                          environment: ["LEGACY_STATE_FILE": state])
            guard exit.status == 0 else { throw BenchError("legacy_tool.py init exited with \(exit.status)") }
        }

        let ids = Workload.plan(tasks: tasks, waves: waves).flatMap { $0.map(\.id) }
        let warmup = 3
        guard samples + warmup <= ids.count else { throw BenchError("at most \(ids.count - warmup) CLI samples") }
        var result = CLIResult(ours: [], python: [], pythonNoFsync: [], trueFloor: [], ourFloor: [],
                               pythonFloor: [], python3: python3)
        for i in 0..<(samples + warmup) {
            let id = ids[i]
            let (tOurs, eOurs) = try Child.run([ours, "--state", ourState, "task", "complete", id])
            guard eOurs.status == 0 else { throw BenchError("statejournal task complete \(id) exited with \(eOurs.status)") }
            let (tPy, ePy) = try Child.run([python3, legacy, "complete", id], environment: ["LEGACY_STATE_FILE": legacyState])
            guard ePy.status == 0 else { throw BenchError("legacy_tool.py complete \(id) exited with \(ePy.status)") }
            let (tPyN, ePyN) = try Child.run([python3, legacy, "complete", id],
                                             environment: ["LEGACY_STATE_FILE": legacyStateNoFsync, "LEGACY_FSYNC": "0"])
            guard ePyN.status == 0 else { throw BenchError("legacy_tool.py complete \(id) exited with \(ePyN.status)") }
            let (tTrue, _) = try Child.run(["/bin/true"])
            let (tHelp, _) = try Child.run([ours, "--help"])
            let (tPass, _) = try Child.run([python3, "-c", "pass"])
            guard i >= warmup else { continue }
            result.ours.append(tOurs)
            result.python.append(tPy)
            result.pythonNoFsync.append(tPyN)
            result.trueFloor.append(tTrue)
            result.ourFloor.append(tHelp)
            result.pythonFloor.append(tPass)
        }
        // Both tools must have done the same thing.
        let shown = String(decoding: try Files.read(ourState), as: UTF8.self)
        guard shown.contains("## ✅ Completed (\(samples + warmup) tasks)") else {
            throw BenchError("STATE.md does not show \(samples + warmup) completed tasks after the CLI runs")
        }
        return result
    }
}
