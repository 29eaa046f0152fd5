import Foundation
import XCTest
import StateJournal
@testable import StateJournalModel

final class MigrateTests: XCTestCase {
    /// Files → PostgreSQL → files: the whole history, event by event.
    func testMigrateToPostgresAndBack() throws {
        let url = try TestServer.url()
        let dir = TempDir()
        let files = dir.path + "/STATE.md"
        func sj(_ args: [String], store: String? = nil, state: String = files) throws -> SJ.Result {
            try SJ.run(args, store: store ?? "", state: state)
        }
        XCTAssertEqual(try sj(["init", "--id", "wf_mig", "--name", "Migrate", "--waves", "2"]).status, 0)
        for i in 0..<25 { XCTAssertEqual(try sj(["note", "n\(i)", "--idempotency-key", "k\(i)"]).status, 0) }
        XCTAssertEqual(try sj(["task", "add", "t9", "--wave", "1", "--description", "late"]).status, 0)
        XCTAssertEqual(try sj(["restore", "--seq", "3"]).status, 0)
        let original = try sj(["export"]).stdout
        XCTAssertEqual(original.split(separator: "\n").count, 28)

        let migrated = try sj(["migrate", "--to", url])
        XCTAssertEqual(migrated.status, 0, migrated.stderr)
        XCTAssertTrue(migrated.stdout.contains("migrated 28 events"), migrated.stdout)
        XCTAssertEqual(try sj(["export"], store: url).stdout, original, "the database holds the same history")
        XCTAssertEqual(try sj(["verify"], store: url).status, 0)
        // Keys came along: a retry of an old write is recognised there.
        let retry = try sj(["note", "n3", "--idempotency-key", "k3", "--json"], store: url)
        XCTAssertEqual(retry.status, 0, retry.stderr)
        XCTAssertTrue(retry.stdout.contains("\"seq\":5"), retry.stdout)

        let again = try sj(["migrate", "--to", url])
        XCTAssertEqual(again.status, 4, "a target with events is refused: \(again.stderr)")

        let back = dir.path + "/back/STATE.md"
        let returned = try sj(["migrate", "--to", back], store: url)
        XCTAssertEqual(returned.status, 0, returned.stderr)
        XCTAssertEqual(try sj(["export"], state: back).stdout, original, "and back to files")
        XCTAssertEqual(try sj(["verify"], state: back).status, 0)
    }
}
