import Foundation
import XCTest
@testable import StateJournalPostgres

final class ReviewCLITests: XCTestCase {
    /// A long --lock-timeout (here 35 days, then 10^16 s) works on the
    /// PostgreSQL store as on the file journal (it only bounds the wait):
    /// the write succeeds; at worst the value is refused as bad input
    /// (exit 2) — never a crash, never an exit 1 that blames the disk.
    ///
    /// Was a bug (review, fixed): `PostgresJournalStore.withWriteLock` converts
    /// the timeout with `Int64(Double)` (traps above Int64.max ms: exit 132,
    /// "Fatal error: Double value cannot be converted to Int64") and passes
    /// any value to `lock_timeout`, whose limit is 2147483647 ms: 35 days is
    /// exit 1 "invalid value for parameter lock_timeout", with the hint
    /// "check the disk and the permissions of the state file's directory".
    func testALongLockTimeoutIsNotACrashNorAnError() throws {
        let url = try TestServer.url(workflow: "review-" + UUID().uuidString.prefix(8).lowercased())
        let dir = TempDir()
        let state = dir.path + "/STATE.md"
        try "{\"workflow_id\":\"wf\",\"workflow_name\":\"LT\",\"waves\":[[{\"task_id\":\"t1\",\"description\":\"one\"}]]}"
            .write(toFile: dir.path + "/plan.json", atomically: true, encoding: .utf8)
        XCTAssertEqual(try SJ.run(["init", "--plan", dir.path + "/plan.json"], store: url, state: state).status, 0)
        var problems: [String] = []
        for timeout in ["3000000", "1e16"] {
            let r = try SJ.run(["note", "with --lock-timeout \(timeout)", "--lock-timeout", timeout], store: url, state: state)
            if r.status == 0 || r.status == 2 { continue }
            problems.append("--lock-timeout \(timeout): exit \(r.status): \(r.stderr.split(separator: "\n").prefix(2).joined(separator: " / "))")
        }
        if !problems.isEmpty {
            return XCTFail("fixed bug back (review): " + problems.joined(separator: "; "))
        }
    }
}
