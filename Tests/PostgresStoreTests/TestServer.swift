import Foundation
import XCTest
@testable import StateJournalPostgres
import StateJournal

/// The PostgreSQL server the tests use: `make pg-start`'s (its password in
/// .build/pg/password, passed through PGPASSWORD), or the one named by
/// STATEJOURNAL_TEST_PG (a URL without `?workflow`). Without a server the
/// tests are skipped — unless STATEJOURNAL_TEST_PG_REQUIRED is set (by
/// `make test`), when that is a failure.
enum TestServer {
    static let root: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    static let pgDir = ProcessInfo.processInfo.environment["STATEJOURNAL_TEST_PG_DIR"] ?? root + "/.build/pg"

    /// postgres://USER@HOST:PORT/DB, without a workflow.
    static let base: String? = {
        if let url = ProcessInfo.processInfo.environment["STATEJOURNAL_TEST_PG"], !url.isEmpty { return url }
        guard FileManager.default.fileExists(atPath: pgDir + "/password") else { return nil }
        let port = ProcessInfo.processInfo.environment["PG_PORT"] ?? "54329"
        return "postgres://statejournal@127.0.0.1:\(port)/statejournal"
    }()

    static let password: String? = {
        if let pw = ProcessInfo.processInfo.environment["PGPASSWORD"] { return pw }
        return (try? String(contentsOfFile: pgDir + "/password", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
    }()

    /// Sets PGPASSWORD in this process (the library reads it there) and
    /// returns a URL for a new, unique workflow — or skips the test.
    static func url(workflow: String = "wf-" + UUID().uuidString.prefix(8).lowercased()) throws -> String {
        guard let base else {
            if ProcessInfo.processInfo.environment["STATEJOURNAL_TEST_PG_REQUIRED"] != nil {
                XCTFail("no PostgreSQL server: run `make pg-start` (make test does), or set STATEJOURNAL_TEST_PG")
            }
            throw XCTSkip("no PostgreSQL server (make pg-start)")
        }
        if let password { setenv("PGPASSWORD", password, 1) }
        return base + "?workflow=" + workflow
    }

    /// The pg_ctl command for the make-started server (as `postgres` when root).
    static func pgCtl(_ args: [String]) throws -> Int32 {
        let bin = try FileManager.default.contentsOfDirectory(atPath: "/usr/lib/postgresql").sorted().last.map { "/usr/lib/postgresql/\($0)/bin/pg_ctl" } ?? "pg_ctl"
        let argv = (getuid() == 0 ? ["/usr/sbin/runuser", "-u", "postgres", "--"] : []) + [bin, "-D", pgDir + "/data"] + args
        return try spawnAndWait(argv)
    }

    /// Runs `argv` with stdout and stderr on /dev/null and waits for it
    /// with waitpid (Foundation's Process missed the exit of runuser here).
    static func spawnAndWait(_ argv: [String]) throws -> Int32 {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)
        var pid: pid_t = 0
        let cArgs = argv.map { strdup($0) } + [nil]
        defer { cArgs.forEach { free($0) } }
        let rc = posix_spawn(&pid, argv[0], &actions, nil, cArgs, environ)
        guard rc == 0 else { throw NSError(domain: "spawn", code: Int(rc)) }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        return (status >> 8) & 0xff
    }
}

/// A fresh directory, removed afterwards.
final class TempDir {
    let path: String
    init() {
        path = NSTemporaryDirectory() + "statejournal-pg-" + UUID().uuidString
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(atPath: path) }
}
