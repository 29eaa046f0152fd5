import Foundation
import XCTest
import Logging
import StateJournal
@testable import StateJournalModel
@testable import StateJournalPostgres

/// The CLI (the real executable, real processes) on a PostgreSQL journal.
enum SJ {
    static let binary: String = {
        if let path = ProcessInfo.processInfo.environment["STATEJOURNAL_BIN"] { return path }
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
        if dir.lastPathComponent.hasSuffix(".xctest") { dir = dir.deletingLastPathComponent() }
        return dir.appendingPathComponent("statejournal").path
    }()

    struct Result { var status: Int32; var stdout: String; var stderr: String }

    /// Starts `/bin/sh -c script` with the store and state in its environment;
    /// its stdout goes to the file `output` (made empty first), or nowhere.
    static func start(_ script: String, store: String, state: String, output: String?) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", script]
        var env = ProcessInfo.processInfo.environment
        env["STATEJOURNAL_STORE"] = store
        env["STATEJOURNAL_STATE"] = state
        env["SJ"] = binary
        process.environment = env
        // Never createFile on a device: as root it replaces /dev/null with
        // a regular file (Foundation writes a new file and renames it).
        if let output {
            _ = FileManager.default.createFile(atPath: output, contents: nil)
            process.standardOutput = FileHandle(forWritingAtPath: output)
        } else {
            process.standardOutput = FileHandle.nullDevice
        }
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
    }

    @discardableResult
    static func run(_ args: [String], store: String, state: String, env extra: [String: String] = [:]) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = args
        var env = ProcessInfo.processInfo.environment
        env["STATEJOURNAL_STORE"] = store
        env["STATEJOURNAL_STATE"] = state
        env["STATEJOURNAL_ACTOR"] = "tester"
        for (k, v) in extra { env[k] = v }
        process.environment = env
        let out = NSTemporaryDirectory() + "sj-pg-out-" + UUID().uuidString
        let err = NSTemporaryDirectory() + "sj-pg-err-" + UUID().uuidString
        _ = FileManager.default.createFile(atPath: out, contents: nil)
        _ = FileManager.default.createFile(atPath: err, contents: nil)
        defer { try? FileManager.default.removeItem(atPath: out); try? FileManager.default.removeItem(atPath: err) }
        process.standardOutput = FileHandle(forWritingAtPath: out)
        process.standardError = FileHandle(forWritingAtPath: err)
        try process.run()
        process.waitUntilExit()
        return Result(status: process.terminationStatus,
                      stdout: (try? String(contentsOfFile: out, encoding: .utf8)) ?? "",
                      stderr: (try? String(contentsOfFile: err, encoding: .utf8)) ?? "")
    }

    /// Every event's JSON object, from `log --json` (oldest first).
    static func events(store: String, state: String) throws -> [JSON] {
        let r = try run(["export"], store: store, state: state)
        XCTAssertEqual(r.status, 0, r.stderr)
        return try r.stdout.split(separator: "\n").map { try JSON.parse(String($0)) }
    }
}

extension JSON {
    subscript(key: String) -> JSON? {
        if case .object(let members) = self { return members.first { $0.key == key }?.value }
        return nil
    }
    var intValue: Int64? { if case .int(let v) = self { return v }; return nil }
    var stringValue: String? { if case .string(let v) = self { return v }; return nil }
}

final class MultiHostTests: XCTestCase {
    /// Two "hosts" (two directories, two STATE.md) × 8 processes, one workflow.
    func testTwoHostsEightProcessesEachLoseNothing() throws {
        let url = try TestServer.url()
        let hostA = TempDir(), hostB = TempDir()
        let stateA = hostA.path + "/STATE.md", stateB = hostB.path + "/STATE.md"
        let initialized = try SJ.run(["init", "--id", "wf_multi", "--name", "Two hosts", "--waves", "2"], store: url, state: stateA)
        XCTAssertEqual(initialized.status, 0, initialized.stderr)
        let perProcess = 12
        var writers: [Process] = []
        for (host, state) in [("a", stateA), ("b", stateB)] {
            for p in 0..<8 {
                let script = "i=0; while [ $i -lt \(perProcess) ]; do \"$SJ\" note \"\(host)\(p)-$i\" --actor \(host)\(p) || exit 1; i=$((i+1)); done"
                writers.append(try SJ.start(script, store: url, state: state, output: nil))
            }
        }
        for writer in writers { writer.waitUntilExit() }
        XCTAssertEqual(writers.map(\.terminationStatus), Array(repeating: 0, count: 16), "every write succeeded")
        let events = try SJ.events(store: url, state: stateA)
        XCTAssertEqual(events.compactMap { $0["seq"]?.intValue }, Array(1...Int64(1 + 16 * perProcess)), "seq gap-free and unique")
        let notes = events.compactMap { $0["text"]?.stringValue }
        XCTAssertEqual(Set(notes).count, 16 * perProcess, "no lost update, none twice")
        // A final command on each host; both STATE.md equal to show.
        for state in [stateA, stateB] {
            let status = try SJ.run(["status"], store: url, state: state)
            XCTAssertEqual(status.status, 0, status.stderr)
            let shown = try SJ.run(["show"], store: url, state: state)
            let file = try String(contentsOfFile: state, encoding: .utf8)
            XCTAssertEqual(shown.stdout, file, "STATE.md at \(state) shows the shared journal")
            let json = try JSON.parse(try SJ.run(["show", "--json"], store: url, state: state).stdout)
            XCTAssertEqual(json["seq"]?.intValue ?? json["last_seq"]?.intValue, Int64(1 + 16 * perProcess))
            let verify = try SJ.run(["verify"], store: url, state: state)
            XCTAssertEqual(verify.status, 0, verify.stdout + verify.stderr)
        }
        XCTAssertEqual(try String(contentsOfFile: stateA, encoding: .utf8), try String(contentsOfFile: stateB, encoding: .utf8))
    }

    /// The server restarted (`pg_ctl restart -m immediate`) while 8 writers
    /// run: every acknowledged event is in the journal afterwards, none
    /// twice; a retry with the same idempotency key completes the rest.
    func testServerRestartLosesNoAcknowledgedEvent() throws {
        let url = try TestServer.url()
        guard TestServer.base?.contains("127.0.0.1:\(ProcessInfo.processInfo.environment["PG_PORT"] ?? "54329")") == true,
              FileManager.default.fileExists(atPath: TestServer.pgDir + "/data/PG_VERSION") else {
            throw XCTSkip("restarts only the server make pg-start runs")
        }
        let dir = TempDir()
        let state = dir.path + "/STATE.md"
        XCTAssertEqual(try SJ.run(["init", "--id", "wf_restart", "--name", "Restart", "--waves", "2"], store: url, state: state).status, 0)
        let perProcess = 40
        var writers: [Process] = []
        var outputs: [String] = []
        for p in 0..<8 {
            let output = dir.path + "/acks-\(p)"
            outputs.append(output)
            let script = "i=0; while [ $i -lt \(perProcess) ]; do k=p\(p)-$i; \"$SJ\" note \"$k\" --idempotency-key \"$k\" --lock-timeout 30 >/dev/null 2>&1 && echo \"$k\"; i=$((i+1)); done"
            writers.append(try SJ.start(script, store: url, state: state, output: output))
        }
        // Restart once the writers are under way (some events acknowledged).
        while (try? String(contentsOfFile: outputs[0], encoding: .utf8))?.isEmpty ?? true {
            if !writers[0].isRunning { break }
            usleep(1000)
        }
        XCTAssertEqual(try TestServer.pgCtl(["restart", "-m", "immediate", "-w", "-t", "60"]), 0, "pg_ctl restart")
        for writer in writers { writer.waitUntilExit() }
        var acknowledged: [String] = []
        for output in outputs {
            acknowledged += (try String(contentsOfFile: output, encoding: .utf8)).split(separator: "\n").map(String.init)
        }
        XCTAssertGreaterThan(acknowledged.count, 0)
        var events = try SJ.events(store: url, state: state)
        var notes = events.compactMap { $0["text"]?.stringValue }
        XCTAssertEqual(notes.count, Set(notes).count, "no event twice")
        XCTAssertTrue(Set(acknowledged).isSubset(of: Set(notes)), "every acknowledged event is in the journal: missing \(Set(acknowledged).subtracting(notes).sorted())")
        // The rest, retried with their keys: written once, or reported as already there.
        for p in 0..<8 {
            for i in 0..<perProcess where !acknowledged.contains("p\(p)-\(i)") {
                let r = try SJ.run(["note", "p\(p)-\(i)", "--idempotency-key", "p\(p)-\(i)"], store: url, state: state)
                XCTAssertEqual(r.status, 0, r.stderr)
            }
        }
        events = try SJ.events(store: url, state: state)
        notes = events.compactMap { $0["text"]?.stringValue }
        XCTAssertEqual(notes.count, 8 * perProcess)
        XCTAssertEqual(Set(notes).count, 8 * perProcess)
        XCTAssertEqual(events.compactMap { $0["seq"]?.intValue }, Array(1...Int64(1 + 8 * perProcess)))
    }

    /// Credentials: a URL with a password is refused (exit 2) without
    /// echoing it; a wrong PGPASSWORD says where to put the right one and
    /// never shows either.
    func testCredentialsNeverShown() throws {
        let url = try TestServer.url()
        let dir = TempDir()
        let withPassword = url.replacingOccurrences(of: "statejournal@", with: "statejournal:hunter2secret@")
        let refused = try SJ.run(["status"], store: withPassword, state: dir.path + "/STATE.md")
        XCTAssertEqual(refused.status, 2, refused.stderr)
        XCTAssertFalse((refused.stdout + refused.stderr).contains("hunter2secret"))
        XCTAssertTrue(refused.stderr.contains("PGPASSWORD"), refused.stderr)
        let wrong = try SJ.run(["status"], store: url, state: dir.path + "/STATE.md",
                               env: ["PGPASSWORD": "wrong-password-xyz", "PGPASSFILE": "/nonexistent"])
        XCTAssertEqual(wrong.status, 1, wrong.stderr)
        XCTAssertFalse((wrong.stdout + wrong.stderr).contains("wrong-password-xyz"))
        XCTAssertTrue(wrong.stderr.contains("PGPASSWORD"), wrong.stderr)
    }

    /// The lock held longer than --lock-timeout by another session: exit 3.
    func testLockTimeoutIsExitThree() throws {
        let url = try TestServer.url()
        let dir = TempDir()
        let state = dir.path + "/STATE.md"
        XCTAssertEqual(try SJ.run(["init", "--id", "wf_lock", "--name", "Lock", "--waves", "2"], store: url, state: state).status, 0)
        // This process holds the workflow's lock while the CLI tries to write.
        let store = PostgresJournalStore(address: try PostgresStoreAddress(parsing: url), logger: Logger(label: "test"))
        let r = try store.withWriteLock(LockPolicy(), command: "test (holding the lock)") {
            try SJ.run(["note", "blocked", "--lock-timeout", "0.5"], store: url, state: state)
        }
        XCTAssertEqual(r.status, 3, r.stderr)
        XCTAssertTrue(r.stderr.contains("lock"), r.stderr)
        XCTAssertEqual(try SJ.run(["note", "after"], store: url, state: state).status, 0)
    }
}
