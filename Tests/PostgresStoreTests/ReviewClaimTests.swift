import Foundation
import XCTest
import Synchronization
@testable import StateJournal
@testable import StateJournalModel
@testable import StateJournalPostgres

final class ReviewClaimTests: XCTestCase {
    /// Two hosts (two managers, two actors each, two STATE.md), 24 threads
    /// claiming at once: the named task once, then "the next ready task"
    /// for two tasks — each task goes to exactly one claimer, every other
    /// claim is a conflict, and both hosts' STATE.md end at the journal.
    func testClaimsFromTwoHostsAtOnceGoToOneOwnerEach() throws {
        let url = try TestServer.url(workflow: "review-" + UUID().uuidString.prefix(8).lowercased())
        let dirs = (0..<4).map { _ in TempDir() }
        let managers = try (0..<4).map { i in
            try StateManager(configuration: .init(statePath: dirs[i / 2].path + "/STATE.md", actor: "agent-\(i)"), storeURL: url)
        }
        try managers[0].initialize(id: "wf", name: "Claims", waves: [[.init(id: "t1", description: "one"), .init(id: "t2", description: "two"), .init(id: "t3", description: "three")]])
        let named = Mutex<[String]>([]), next = Mutex<[String]>([]), conflicts = Mutex(0), others = Mutex<[String]>([])
        DispatchQueue.concurrentPerform(iterations: 24) { i in
            let m = managers[i % 4]
            do {
                if i < 8 {
                    let c = try m.claim("t1", lease: .none)
                    named.withLock { $0.append(c.task.id + " by " + m.configuration.actor) }
                } else {
                    let c = try m.claim(nil, lease: .none)
                    next.withLock { $0.append(c.task.id) }
                }
            } catch let e as StateJournalError where e.code == .conflict {
                conflicts.withLock { $0 += 1 }
            } catch {
                others.withLock { $0.append("\(error)") }
            }
        }
        // A claim of a task one already holds by its own actor may succeed again (a renewal): count distinct owners.
        XCTAssertEqual(others.withLock { $0 }, [])
        let events = try Review.committed(url)
        let claimed = events.filter { $0.payload.typeName == "task.claimed" }
        var owners: [String: Set<String>] = [:]
        for e in claimed { owners[e.payload.taskIDs.first ?? "?", default: []].insert(e.actor) }
        for (task, who) in owners { XCTAssertEqual(who.count, 1, "\(task) claimed by \(who)") }
        XCTAssertEqual(Set(owners.keys), ["t1", "t2", "t3"])
        XCTAssertEqual(events.map(\.seq), Array(1...UInt64(events.count)))
        let state = try XCTUnwrap(managers[1].loadState())
        for id in ["t1", "t2", "t3"] { XCTAssertEqual(state.task(id)?.owner, owners[id]?.first) }
        for m in [managers[0], managers[2]] {
            _ = try m.loadState()
            XCTAssertEqual(try m.projectionStatus(), .intact(seq: UInt64(events.count), event: events.last?.identity))
        }
    }
}
