import Foundation
import Testing
@testable import StateJournal
@testable import StateJournalEngine

/// Many threads of one process appending through one ``StateManager``.
///
/// Writes from many threads share fsyncs (group commit). Whatever
/// the batching, every write must land exactly once, gap-free, each thread's
/// writes in its own order. (16 × 100 here, about 10 s in a debug build on
/// a 2-core machine; 16 × 1,000 takes minutes there, so `torture --long`
/// runs that and reports the rate.)
@Suite struct GroupCommitTests {
    static let threads = 16
    static let eventsPerThread = 100

    @Test func sixteenThreadsAppendingAtOnceAllLandGapFree() throws {
        let dir = TemporaryDirectory()
        let manager = StateManager(configuration: .init(statePath: dir.file("STATE.md"), actor: "group",
                                                        lock: LockPolicy(timeout: 300)))
        try manager.write(.workflowInitialized(id: "wf_group", name: "Group commit", waves: [[]], metadata: []))

        // All threads wait at the gate, then append at once.
        let gate = DispatchSemaphore(value: 0)
        let done = DispatchGroup()
        let failures = FailureList()
        for t in 0..<Self.threads {
            done.enter()
            Thread {
                gate.wait()
                for i in 0..<Self.eventsPerThread {
                    do {
                        try manager.write(.metadataSet(key: "thread-\(t)", value: "\(i)"),
                                          options: .init(idempotencyKey: "g\(t)-\(i)"))
                    } catch {
                        failures.append("thread \(t) write \(i): \(error)")
                    }
                }
                done.leave()
            }.start()
        }
        for _ in 0..<Self.threads { gate.signal() }
        done.wait()
        #expect(failures.items.isEmpty, "\(failures.items.prefix(3))")

        let events = try manager.events()
        let total = Self.threads * Self.eventsPerThread
        #expect(events.map(\.seq) == Array(1...UInt64(total + 1)))
        let keys = events.compactMap(\.idempotencyKey)
        #expect(keys.count == total)
        #expect(Set(keys).count == total)

        // Each thread's writes appear in the order it made them.
        var last: [String: Int] = [:]
        for event in events {
            guard case .metadataSet(let key, let value) = event.payload, let i = Int(value) else { continue }
            #expect(i == (last[key] ?? -1) + 1, "\(key) wrote \(i) after \(last[key] ?? -1)")
            last[key] = i
        }
        let state = try #require(try manager.loadState())
        #expect(state.seq == UInt64(total + 1))
        for t in 0..<Self.threads {
            #expect(state.metadataValue("thread-\(t)") == "\(Self.eventsPerThread - 1)")
        }
    }
}

/// Failures collected from several threads.
final class FailureList: @unchecked Sendable {
    private let lock = NSLock()
    private var list: [String] = []
    func append(_ item: String) { lock.lock(); list.append(item); lock.unlock() }
    var items: [String] { lock.lock(); defer { lock.unlock() }; return list }
}
