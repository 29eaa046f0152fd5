import Foundation
import StateJournal

/// Runs the real `statejournal` executable.
enum CLI {
    /// Runs `script` with bash as a process of its own, `env` (and a plain
    /// PATH) its whole environment, its output discarded: the writer,
    /// reader and editor loops of the race tests.
    static func spawnScript(_ script: String, _ env: [String: String]) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/bash")
        p.arguments = ["-c", script]
        p.standardError = FileHandle.nullDevice
        p.standardOutput = FileHandle.nullDevice
        p.environment = env.merging(["PATH": "/usr/bin:/bin"]) { a, _ in a }
        try p.run()
        return p
    }

    /// The built executable: $STATEJOURNAL_BIN, else beside the test bundle.
    static let binary: String = {
        if let path = ProcessInfo.processInfo.environment["STATEJOURNAL_BIN"] { return path }
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
        // Inside an .xctest bundle directory on some layouts.
        if dir.lastPathComponent.hasSuffix(".xctest") { dir = dir.deletingLastPathComponent() }
        return dir.appendingPathComponent("statejournal").path
    }()

    /// SIGPIPE ignored in the test process, once.
    static let ignoreSIGPIPE: Void = { _ = signal(SIGPIPE, SIG_IGN) }()

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// How to run the executable as the unprivileged user `nobody` when the
    /// tests run as root (root ignores permissions): `setpriv`, when it is
    /// there. Empty when the tests do not run as root.
    static let unprivileged: [String]? = {
        guard getuid() == 0 else { return [] }
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/setpriv"), getpwnam("nobody") != nil else { return nil }
        return ["/usr/bin/setpriv", "--reuid=nobody", "--regid=\(getpwnam("nobody").map { $0.pointee.pw_gid } ?? 65534)", "--clear-groups"]
    }()

    /// - Parameter prefix: a command that runs the executable (e.g. ``unprivileged``).
    @discardableResult
    static func run(_ args: [String], stdin: String? = nil, env: [String: String] = [:], cwd: String? = nil,
                    prefix: [String] = []) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: prefix.first ?? binary)
        process.arguments = Array(prefix.dropFirst()) + (prefix.isEmpty ? [] : [binary]) + args
        var environment = ProcessInfo.processInfo.environment
        environment["STATEJOURNAL_STATE"] = nil
        environment["STATEJOURNAL_ACTOR"] = nil
        for (k, v) in env { environment[k] = v }
        process.environment = environment
        if let cwd { process.currentDirectoryURL = URL(fileURLWithPath: cwd) }
        // Output goes to files, so a large output can never block the child.
        let outPath = NSTemporaryDirectory() + "sj-out-" + UUID().uuidString
        let errPath = NSTemporaryDirectory() + "sj-err-" + UUID().uuidString
        _ = FileManager.default.createFile(atPath: outPath, contents: nil)
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)
        defer {
            try? FileManager.default.removeItem(atPath: outPath)
            try? FileManager.default.removeItem(atPath: errPath)
        }
        let out = FileHandle(forWritingAtPath: outPath), err = FileHandle(forWritingAtPath: errPath)
        process.standardOutput = out
        process.standardError = err
        let input = Pipe()
        process.standardInput = input
        try process.run()
        try? out?.close()
        try? err?.close()
        if let stdin {
            // A command may exit before it reads its input (a usage error,
            // or just a fast one): that is EPIPE here, not a SIGPIPE that
            // kills the test process.
            _ = ignoreSIGPIPE
            try? input.fileHandleForWriting.write(contentsOf: Data(stdin.utf8))
        }
        try input.fileHandleForWriting.close()
        process.waitUntilExit()
        let outData = FileManager.default.contents(atPath: outPath) ?? Data()
        let errData = FileManager.default.contents(atPath: errPath) ?? Data()
        return Result(status: process.terminationStatus, stdout: String(decoding: outData, as: UTF8.self),
                      stderr: String(decoding: errData, as: UTF8.self))
    }
}

/// A fresh directory with a STATE.md path in it.
final class Workspace {
    let path: String
    var state: String { path + "/STATE.md" }

    init() {
        path = NSTemporaryDirectory() + "statejournal-cli-" + UUID().uuidString
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    /// Runs the CLI with `--state` pointing here.
    @discardableResult
    func sj(_ args: String..., stdin: String? = nil, actor: String = "tester") throws -> CLI.Result {
        try CLI.run(args + ["--state", state, "--actor", actor], stdin: stdin)
    }

    /// ``sj(_:stdin:actor:)`` with the arguments in an array.
    @discardableResult
    func sj(_ args: [String], stdin: String? = nil, actor: String = "tester") throws -> CLI.Result {
        try CLI.run(args + ["--state", state, "--actor", actor], stdin: stdin)
    }

    func write(_ name: String, _ text: String) {
        _ = FileManager.default.createFile(atPath: path + "/" + name, contents: Data(text.utf8))
    }

    /// Every file below the workspace with its bytes, to prove nothing changed.
    func snapshot() -> [String: Data] {
        var files: [String: Data] = [:]
        let enumerator = FileManager.default.enumerator(atPath: path)
        while let name = enumerator?.nextObject() as? String {
            var isDir: ObjCBool = false
            let full = path + "/" + name
            if FileManager.default.fileExists(atPath: full, isDirectory: &isDir), !isDir.boolValue,
               !name.hasSuffix(".lock") {
                files[name] = FileManager.default.contents(atPath: full)
            }
        }
        return files
    }

    func showJSON() throws -> JSON {
        let r = try sj("show", "--json")
        return try JSON.parse(r.stdout)
    }
}

/// A plan with `waves` waves of `perWave` tasks named w<W>_t<I>.
func planJSON(waves: Int, perWave: Int, metadata: String = "{}") -> String {
    let ws = (1...waves).map { w in
        "[" + (1...perWave).map { i in #"{"task_id": "w\#(w)_t\#(i)", "description": "Task \#(i) of wave \#(w)"}"# }
            .joined(separator: ",") + "]"
    }
    return #"{"waves": [\#(ws.joined(separator: ","))], "metadata": \#(metadata)}"#
}

/// Waits (polling /proc, at most `limit` seconds — a bound for a broken
/// handshake, not a timing assertion) until every process in `pids` has
/// `lockPath` open: each is then inside its lock acquisition, waiting.
/// False when the limit passed first, or a process exited.
func waitUntilWaitingForLock(_ pids: [Int32], lockPath: String, limit: Double = 60) -> Bool {
    let target = URL(fileURLWithPath: lockPath).resolvingSymlinksInPath().path
    func hasOpen(_ pid: Int32) -> Bool {
        let fdDir = "/proc/\(pid)/fd"
        for fd in (try? FileManager.default.contentsOfDirectory(atPath: fdDir)) ?? [] {
            if let dest = try? FileManager.default.destinationOfSymbolicLink(atPath: fdDir + "/" + fd),
               dest == target || dest == lockPath { return true }
        }
        return false
    }
    let deadline = Date().addingTimeInterval(limit)
    while Date() < deadline {
        if pids.allSatisfy(hasOpen) { return true }
        if pids.contains(where: { kill($0, 0) != 0 }) { return false }
        usleep(2_000)
    }
    return false
}
