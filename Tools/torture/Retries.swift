import Foundation
import StateJournal
import StateJournalEngine
import StateJournalTesting

/// Findings where a process is killed mid-write and an orchestrator retries
/// with the same idempotency key.
enum Retries {
    /// Item 1: A is killed between its pwrite and its fdatasync; the retry
    /// with the same key is acknowledged, then the power goes. Variant: how
    /// many events come before (0, 1, 5) and, for variant 2, a second retry
    /// by yet another process.
    static func afterKillBeforeSync(_ c: FindingContext) -> Outcome {
        Scenario.run(c.work + "/retry-after-kill-\(c.variant)-\(c.seed)", diskSeed: c.seed) { ws, disk, o in
            o.acked = try Scenario.setUp(ws, disk, notes: [0, 1, 5][c.variant % 3])
            // Writer A: killed right after its pwrite, at its fdatasync.
            let (a, wrote) = Scenario.killedAtOwnSync(disk)
            o.attempts += 1
            _ = try? Scenario.manager(ws, a, actor: "A").write(.noteAdded(text: "the write A was killed in"), options: .init(idempotencyKey: "K"))
            o.fired = a.diedAt?.operation == .fdatasync && wrote.isSet
            o.why = o.fired ? "A pwrote its record and was killed at its fdatasync" : "A did not reach its fdatasync"
            o.kills += 1
            o.syncKills += o.fired ? 1 : 0
            // The orchestrator retries with the same key (once or twice).
            for retry in 0..<(c.variant == 2 ? 2 : 1) {
                if case .failure(let error) = o.write(Scenario.manager(ws, disk, actor: "retry\(retry)"), "the write A was killed in", key: "K") {
                    o.problem("the retry with the same key failed: \(error)")
                }
            }
            o.powerLoss(disk, ws)
            // The next write must not reuse an acknowledged seq.
            if let next = try? Scenario.manager(ws, actor: "next").write(.noteAdded(text: "next"), options: .init(idempotencyKey: "next")),
               o.acked.contains(where: { $0.seq == next.event.seq && $0.key != "next" }) {
                o.problem("the next write after the power loss got seq \(next.event.seq), already acknowledged to another write", duplicated: 0)
            }
        }
    }

    /// Item 6: the first import is killed at its STATE.md rename; the
    /// retried import must not return before STATE.md is written.
    static func importKilledAtRename(_ c: FindingContext) -> Outcome {
        Scenario.run(c.work + "/import-retry-\(c.seed)") { ws, o in
            // The export to import, made in a scratch workspace.
            let source = Workspace(c.work + "/import-source-\(c.seed)")
            let m = Scenario.manager(source, actor: "source")
            try Scenario.setUp(m, notes: 3)
            let bytes = Array(try m.events().map { $0.json().compactString + "\n" }.joined().utf8)
            source.remove()
            let statePath = ws.statePath
            let a = ScriptedCalls(RealSystemCalls()) { call in
                call.operation == .rename && call.target == statePath ? .die : .pass
            }
            o.attempts += 1
            _ = try? Scenario.manager(ws, a, actor: "A").importHistory(bytes, source: "export", options: .init(idempotencyKey: "import"))
            o.fired = a.diedAt?.operation == .rename
            o.why = o.fired ? "the first import was killed at its STATE.md rename" : "the first import never renamed STATE.md"
            o.kills = 1
            o.postAppendKills = o.fired ? 1 : 0
            o.attempts += 1
            do {
                _ = try Scenario.manager(ws, actor: "retry").importHistory(bytes, source: "export", options: .init(idempotencyKey: "import"))
                o.acknowledged += 1
                if Scenario.stateFile(ws) == nil { o.problem("the retried import succeeded but STATE.md is missing") }
                o.checkProjection(ws, "after the retried import")
                o.checkLitter(ws, "after the retried import")
            } catch {
                o.problem("the retried import failed: \(error)")
            }
        }
    }
}
