import Foundation
import XCTest
import Logging
import Synchronization
@testable import StateJournal
@testable import StateJournalEngine
@testable import StateJournalPostgres

/// The store conformance suite: the same checks, through the library, on
/// the file journal and on PostgreSQL (FileStoreConformanceTests,
/// PostgresStoreConformanceTests). Each check makes its own workflow.
struct StoreConformance {
    /// Makes a manager for a new workflow whose STATE.md is in `dir`; the
    /// same store (workflow) each call for the same `dir`.
    let makeManager: (_ dir: String, _ snapshotInterval: UInt64) throws -> StateManager

    private func plan() -> [[Event.PlannedTask]] {
        [[.init(id: "t1", description: "one"), .init(id: "t2", description: "two")], [.init(id: "t3", description: "three")]]
    }

    func appendAndRead() throws {
        let dir = TempDir()
        let manager = try makeManager(dir.path, 128)
        try manager.initialize(id: "wf", name: "Conformance", waves: plan())
        for i in 0..<20 { try manager.write(.noteAdded(text: "note \(i)")) }
        try manager.write(.taskStarted(taskID: "t1"))
        let events = try manager.events()
        XCTAssertEqual(events.map(\.seq), Array(1...22), "gap-free, in order")
        XCTAssertEqual(events.last?.payload, .taskStarted(taskID: "t1"))
        XCTAssertTrue(events.allSatisfy { $0.identity != 0 }, "every event read carries its checksum")
        // Another manager (a new process's view) reads the same state.
        let other = try makeManager(dir.path, 128)
        let state = try XCTUnwrap(other.loadState())
        XCTAssertEqual(state.seq, 22)
        XCTAssertEqual(state.notes.count, 20)
        XCTAssertEqual(state.tasks.first { $0.id == "t1" }?.status, .inProgress)
        let text = try String(contentsOfFile: dir.path + "/STATE.md", encoding: .utf8)
        XCTAssertEqual(text, MarkdownRenderer.render(state), "STATE.md shows the journal")
        XCTAssertEqual(try other.state(atSeq: 3)?.notes.count, 2, "history reads any earlier state")
    }

    func snapshots() throws {
        let dir = TempDir()
        let manager = try makeManager(dir.path, 4)
        try manager.initialize(id: "wf", name: "Snapshots", waves: plan())
        // Writes that do not grow the state: a snapshot every 4 events.
        for i in 0..<30 { try manager.write(.waveSet(wave: i % 2 + 1)) }
        let store = manager.makeStore()
        let snapshot = try XCTUnwrap(store.latestSnapshot(), "a snapshot was written")
        XCTAssertGreaterThanOrEqual(snapshot.seq, 4)
        XCTAssertLessThanOrEqual(snapshot.seq, 31)
        XCTAssertEqual(snapshot.state, try manager.state(atSeq: snapshot.seq), "the snapshot is the fold up to it")
        XCTAssertNil(try store.latestSnapshot(atOrBefore: 3))
        // A fresh manager folds from the snapshot to the same state as a full replay.
        let fresh = try makeManager(dir.path, 4)
        XCTAssertEqual(try fresh.loadState(), try fresh.state(atSeq: 31))
    }

    func expectSeq() throws {
        let dir = TempDir()
        let manager = try makeManager(dir.path, 128)
        try manager.initialize(id: "wf", name: "Expect", waves: plan())
        XCTAssertThrowsError(try manager.write(.noteAdded(text: "late"), options: .init(expectSeq: 7))) { error in
            XCTAssertEqual((error as? StateJournalError)?.code, .conflict)
        }
        XCTAssertEqual(try manager.events().count, 1, "nothing was written")
        let outcome = try manager.write(.noteAdded(text: "on time"), options: .init(expectSeq: 1))
        XCTAssertEqual(outcome.event.seq, 2)
    }

    func idempotency() throws {
        let dir = TempDir()
        let manager = try makeManager(dir.path, 128)
        try manager.initialize(id: "wf", name: "Keys", waves: plan())
        let first = try manager.write(.taskStarted(taskID: "t1"), options: .init(idempotencyKey: "k1"))
        XCTAssertFalse(first.wasDuplicate)
        try manager.write(.noteAdded(text: "between"))
        // A retry from another process: the original is reported, nothing written.
        let again = try makeManager(dir.path, 128).write(.taskStarted(taskID: "t1"), options: .init(idempotencyKey: "k1"))
        XCTAssertTrue(again.wasDuplicate)
        XCTAssertEqual(again.event.seq, first.event.seq)
        XCTAssertThrowsError(try manager.write(.taskStarted(taskID: "t2"), options: .init(idempotencyKey: "k1"))) { error in
            XCTAssertEqual((error as? StateJournalError)?.code, .conflict, "the same key for another write is a conflict")
        }
        XCTAssertEqual(try manager.events().count, 3)
    }

    func restore() throws {
        let dir = TempDir()
        let manager = try makeManager(dir.path, 128)
        try manager.initialize(id: "wf", name: "Restore", waves: plan())
        try manager.write(.taskStarted(taskID: "t1"))
        let before = try manager.state(atSeq: 2)
        try manager.write(.taskCompleted(taskID: "t1", commit: "abc", files: []))
        try manager.write(.noteAdded(text: "regret"))
        let outcome = try manager.restore(.seq(2))
        XCTAssertEqual(outcome.event.seq, 5, "a restore is a new event")
        let now = try XCTUnwrap(try makeManager(dir.path, 128).loadState())
        XCTAssertEqual(now.tasks.map(\.status), before?.tasks.map(\.status))
        XCTAssertEqual(now.notes, before?.notes)
        XCTAssertEqual(try manager.events().count, 5, "history is kept")
    }

    func verify() throws {
        let dir = TempDir()
        let manager = try makeManager(dir.path, 4)
        try manager.initialize(id: "wf", name: "Verify", waves: plan())
        for i in 0..<10 { try manager.write(.noteAdded(text: "note \(i)")) }
        let report = try manager.verify()
        XCTAssertEqual(report.problems, [])
        XCTAssertEqual(report.lastSeq, 11)
        XCTAssertTrue(report.projectionMatches)
    }
}

final class FileStoreConformanceTests: XCTestCase {
    private let suite = StoreConformance { dir, interval in
        StateManager(configuration: .init(statePath: dir + "/STATE.md", actor: "conformance", snapshotInterval: interval))
    }
    func testAppendAndRead() throws { try suite.appendAndRead() }
    func testSnapshots() throws { try suite.snapshots() }
    func testExpectSeq() throws { try suite.expectSeq() }
    func testIdempotency() throws { try suite.idempotency() }
    func testRestore() throws { try suite.restore() }
    func testVerify() throws { try suite.verify() }
}

final class PostgresStoreConformanceTests: XCTestCase {
    /// One workflow per STATE.md directory.
    private static let workflows = Mutex<[String: String]>([:])

    private let suite = StoreConformance { dir, interval in
        let url = try PostgresStoreConformanceTests.workflows.withLock { map in
            if let known = map[dir] { return known }
            let made = try TestServer.url()
            map[dir] = made
            return made
        }
        return try StateManager(configuration: .init(statePath: dir + "/STATE.md", actor: "conformance", snapshotInterval: interval),
                                storeURL: url)
    }

    override func setUpWithError() throws { _ = try TestServer.url() }

    func testConnects() throws {
        let address = try PostgresStoreAddress(parsing: try TestServer.url())
        let store = PostgresJournalStore(address: address, logger: Logger(label: "test"))
        XCTAssertEqual(try store.readEvents(after: 0) { _ in XCTFail("a new workflow holds no event") }, 0)
        XCTAssertNil(try store.bounds())
    }

    func testAppendAndRead() throws { try suite.appendAndRead() }
    func testSnapshots() throws { try suite.snapshots() }
    func testExpectSeq() throws { try suite.expectSeq() }
    func testIdempotency() throws { try suite.idempotency() }
    func testRestore() throws { try suite.restore() }
    func testVerify() throws { try suite.verify() }
}
