import Foundation
import XCTest
@testable import StateJournal
@testable import StateJournalModel
@testable import StateJournalPostgres

final class ReviewMigrateTests: XCTestCase {
    /// A history that carries one idempotency key twice (an export edited,
    /// or put together by another tool) is imported by the file journal;
    /// the same history must go to PostgreSQL too (that is what `migrate`
    /// does), or both stores must refuse it the same way, saying why.
    ///
    /// Was a bug (review, fixed): the file journal imports it, PostgreSQL refuses
    /// it through its unique index with "already holds seq N or its
    /// idempotency key (another writer got past the lock?); nothing was
    /// written — retry" (exit 4): a retry never succeeds, and such a file
    /// journal can never be migrated.
    func testAHistoryWithARepeatedKeyIsTreatedAlikeByBothStores() throws {
        let url = try TestServer.url(workflow: "review-" + UUID().uuidString.prefix(8).lowercased())
        let t0 = Timestamp(microseconds: 1_780_000_000_000_000)
        let events = [
            Event(seq: 1, time: t0, actor: "x", pid: 1, payload: .workflowInitialized(id: "wf", name: "Dup", waves: [[.init(id: "t1", description: "one")]], metadata: [])),
            Event(seq: 2, time: t0, actor: "x", pid: 1, idempotencyKey: "k", payload: .noteAdded(text: "one")),
            Event(seq: 3, time: t0, actor: "x", pid: 1, idempotencyKey: "k", payload: .noteAdded(text: "two")),
        ]
        let files = TempDir()
        let fileResult = Result { try StateManager(statePath: files.path + "/STATE.md").appendHistory(events, source: "test") }
        let pg = TempDir()
        let pgResult = Result { try StateManager(configuration: .init(statePath: pg.path + "/STATE.md"), storeURL: url).appendHistory(events, source: "test") }
        switch (fileResult, pgResult) {
        case (.success, .success), (.failure, .failure):
            if case .failure(let e) = pgResult {
                XCTAssertFalse("\(e)".contains("another writer got past the lock"), "\(e)")
            }
        case (.success, .failure(let error)):
            return XCTFail("fixed bug back (review): the file journal imports a history with idempotency key 'k' twice; PostgreSQL refuses it: \(error)")
        case (.failure(let error), .success):
            XCTFail("only the file journal refuses: \(error)")
        }
    }
}
