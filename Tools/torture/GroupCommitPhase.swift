import Foundation
import StateJournal
import StateJournalEngine

/// Group commit: many threads of one process append at once through one
/// ``StateManager``. Every write lands exactly once, gap-free, in each
/// thread's order; the rate is reported (it rises when writes from several
/// threads share an fsync).
struct GroupCommitPhase: Phase {
    let threads: Int
    let eventsPerThread: Int
    let harness: Harness

    func run() {
        let ws = Workspace(root + "/group")
        let ledger = Ledger()
        let repairs = RepairLog()
        let manager = StateManager(configuration: .init(statePath: ws.statePath, actor: "group", lock: LockPolicy(timeout: 600),
                                                        command: "torture group-commit"),
                                   logger: repairs.logger())
        guard initialize(manager, .workflowInitialized(id: "wf_group", name: "Group commit", waves: [[]], metadata: []), in: ledger) else { return }
        recorder.add { $0.runs += 1 }
        let start = Clock.now
        onThreads(threads) { [recorder, eventsPerThread] t in
            for i in 0..<eventsPerThread {
                let key = "g\(t)-\(i)"
                recorder.add { $0.attempts += 1 }
                do {
                    let outcome = try manager.write(.metadataSet(key: "thread-\(t)", value: "\(i)"), options: .init(idempotencyKey: key))
                    ledger.acknowledge(key, seq: outcome.event.seq)
                    recorder.add { $0.acknowledged += 1 }
                } catch {
                    recorder.problem("group commit: thread \(t) write \(i) failed: \(error)")
                }
            }
        }
        let elapsed = Clock.now - start
        let total = threads * eventsPerThread
        recorder.add { $0.seconds += elapsed; $0.rate = Double(total) / elapsed; $0.repairs += repairs.take() }
        recorder.log(String(format: "%d threads × %d events: %.1f s, %.0f events/s", threads, eventsPerThread, elapsed, Double(total) / elapsed))

        // Each thread's writes are in its own order, and its last value won.
        do {
            var lastIndex: [String: Int] = [:]
            for event in try manager.events() {
                guard case .metadataSet(let key, let value) = event.payload, let i = Int(value) else { continue }
                if let previous = lastIndex[key], previous >= i {
                    recorder.problem("group commit: \(key) wrote \(i) after \(previous)")
                }
                lastIndex[key] = i
            }
            if lastIndex.count != threads || lastIndex.values.contains(where: { $0 != eventsPerThread - 1 }) {
                recorder.problem("group commit: not every thread's last write is in the journal: \(lastIndex.sorted { $0.key < $1.key })")
            }
        } catch {
            recorder.problem("group commit: cannot read the journal: \(error)")
        }
        check(ws, ledger, context: "group commit")
        if ledger.acknowledged.count != total + 1 {
            recorder.problem("group commit: \(ledger.acknowledged.count - 1) of \(total) writes acknowledged")
        }
        if !keep { ws.remove() }
    }
}
