import Foundation
import StateJournal
import StateJournalEngine
import StateJournalTesting

/// Findings where a sync fails — a directory fsync, a segment's writeback —
/// or a process dies right around one, and the power then goes: every
/// acknowledged write must survive on the simulated disk.
enum FailedSyncs {
    /// A failed directory fsync after a new segment; the writes that follow
    /// are acknowledged and must survive a power loss.
    static func segmentDirectoryFsync(_ c: FindingContext) -> Outcome {
        Scenario.run(c.work + "/segment-dir-fsync-\(c.variant)", diskSeed: c.seed) { ws, disk, o in
            let failing = DirectorySyncFault(disk)
            let manager = Scenario.manager(ws, failing, segmentSize: 2 << 10)
            o.acked = [("init", try manager.write(Scenario.initPayload, options: .init(idempotencyKey: "init")).event.seq)]
            var afterFailure = 0, failed = false
            for i in 0..<200 where afterFailure < 3 {
                switch o.write(manager, "note \(i) " + String(repeating: "x", count: 100), key: "n\(i)") {
                case .success: if failed { afterFailure += 1 }
                case .failure: failed = true
                }
            }
            o.fired = failing.fired
            o.why = failing.fired ? "the directory fsync after a new segment failed once" : "no second segment was created"
            o.acknowledged = o.acked.count
            o.powerLoss(disk, ws)
        }
    }

    /// Item 8: A is killed after its pwrite; the writeback of its bytes fails
    /// and B's fdatasync gets the EIO; C appends and its fdatasync succeeds;
    /// the power goes. C's acknowledged event must survive, and the journal
    /// must open. Variant 1: A is not killed — B's own pwrite is what the
    /// writeback loses, and C comes after B's failure. Variant 2: as 0, but
    /// B dies right after its fdatasync returned the EIO (nobody repairs).
    static func errorConsumedByAnother(_ c: FindingContext) -> Outcome {
        Scenario.run(c.work + "/fsync-error-\(c.variant)-\(c.seed)", diskSeed: c.seed) { ws, disk, o in
            o.acked = try Scenario.setUp(ws, disk, notes: Int(c.seed % 3))
            var killedA = true
            if c.variant % 3 != 1 {
                let a = Scenario.killedAtOwnSync(disk).calls
                o.attempts += 1
                _ = try? Scenario.manager(ws, a, actor: "A").write(.noteAdded(text: "A, killed after its pwrite"), options: .init(idempotencyKey: "A"))
                killedA = a.diedAt?.operation == .fdatasync
                o.kills = 1
                o.syncKills = killedA ? 1 : 0
            }
            disk.failWriteback(ofNextSyncOf: "/segment-")
            // B may fail, or recover (e.g. by rewriting the segment to a new
            // file and syncing that); if it is acknowledged, it must survive too.
            // Variant 2: B dies right after its fdatasync returned the EIO —
            // the error is consumed and nobody repaired anything.
            let bSynced = Flag()
            let b: any SystemCalls = c.variant % 3 == 2 ? ScriptedCalls(disk) { call in
                if bSynced.isSet { return .die }
                if call.operation == .fdatasync && call.isSegment { bSynced.set() }
                return .pass
            } : disk
            if c.variant % 3 == 2 { o.kills += 1 }
            o.write(Scenario.manager(ws, b, actor: "B"), "B, whose fdatasync gets the EIO", key: "B")
            o.fired = killedA && disk.writebackFailureCount == 1
            o.faults = disk.writebackFailureCount
            o.why = o.fired ? "\(c.variant % 3 != 1 ? "A killed after its pwrite; " : "")the writeback failed and B's fdatasync got the EIO\(c.variant % 3 == 2 ? ", then B died" : "")" : "the writeback failure never fired"
            // C may refuse (e.g. it cannot tell what is durable); it must not lie.
            o.write(Scenario.manager(ws, disk, actor: "C"), "C, acknowledged", key: "C")
            o.powerLoss(disk, ws, lostIfUnreadable: o.acked.contains { $0.key == "C" } ? 1 : 0)
        }
    }

    /// Review R3: the append's own fdatasync fails as a lost writeback and
    /// the writer is killed right there, before it cuts its bytes; the next
    /// writer's sync succeeds (the error was consumed) and it appends behind
    /// the dead writer's bytes. After a power loss its acknowledged event
    /// must be there and the journal must open.
    static func killedAfterOwnFailedSync(_ c: FindingContext) -> Outcome {
        Scenario.run(c.work + "/killed-after-failed-sync-\(c.seed)", diskSeed: c.seed) { ws, disk, o in
            o.acked = try Scenario.setUp(ws, disk, notes: Int(c.seed % 3))
            o.attempts += 1
            let (a, synced) = Scenario.writerKilledAfterOwnFailedSync(ws, disk)
            o.fired = synced.isSet && disk.writebackFailureCount == 1 && a.isDead
            o.why = o.fired ? "A's own fdatasync failed (lost writeback) and A was killed before it cut its bytes" : "A's sync never failed"
            o.kills = 1
            o.faults = disk.writebackFailureCount
            o.write(Scenario.manager(ws, disk, actor: "B"), "B", key: "B")
            o.powerLoss(disk, ws, lostIfUnreadable: o.acked.contains { $0.key == "B" } ? 1 : 0)
        }
    }

    /// Review R6: a long-lived process's write meets another process's
    /// unsynced bytes; its sync of them fails (lost writeback), so it
    /// rewrites the segment to a new file — and that rewrite's directory
    /// fsync fails. The process's next write is acknowledged; after a power
    /// loss it must be there.
    static func rewriteDirectoryFsync(_ c: FindingContext) -> Outcome {
        Scenario.run(c.work + "/rewrite-dir-fsync-\(c.seed)", diskSeed: c.seed) { ws, disk, o in
            let armed = Flag(), fired = Flag(), renamed = Flag()
            let longLivedCalls = ScriptedCalls(disk) { call in
                guard armed.isSet && !fired.isSet else { return .pass }
                if call.operation == .rename, call.target.map({ $0.contains("/segment-") }) == true { renamed.set() }
                if renamed.isSet && call.operation == .fsync && call.path == ws.journal {
                    fired.set()
                    return .fail(.ioError)
                }
                return .pass
            }
            let longLived = Scenario.manager(ws, longLivedCalls, actor: "long-lived")
            o.acked = try Scenario.setUp(longLived, notes: Int(c.seed % 2))
            // Another process killed between its pwrite and its fdatasync.
            let killed = Scenario.killedAtOwnSync(disk).calls
            _ = try? Scenario.manager(ws, killed, actor: "killed").write(.noteAdded(text: "K"), options: .init(idempotencyKey: "K"))
            o.kills = 1
            // The long-lived process's next write syncs those bytes: the writeback
            // fails, it rewrites the segment, the rewrite's directory fsync fails.
            disk.failWriteback(ofNextSyncOf: "/segment-")
            armed.set()
            o.write(longLived, "A", key: "A")  // it may recover; then it must survive too
            o.fired = fired.isSet && disk.writebackFailureCount == 1
            o.faults = disk.writebackFailureCount + (fired.isSet ? 1 : 0)
            o.why = o.fired ? "the segment was rewritten after a failed writeback and the rewrite's directory fsync failed"
                            : "the rewrite's directory fsync never came (writeback failures: \(disk.writebackFailureCount))"
            o.write(longLived, "B", key: "B")
            o.powerLoss(disk, ws, lostIfUnreadable: o.acked.count)
        }
    }

    /// Review 2, W2: R3 (a writer's own sync fails as a lost writeback; it
    /// dies right there), then a reader is killed as it rewrites the lock
    /// file (at its pwrite: after the ftruncate, when the rewrite has one,
    /// the watermark is gone); the next writer is acknowledged; after a
    /// power loss its event must be there.
    static func watermarkErased(_ c: FindingContext) -> Outcome {
        Scenario.run(c.work + "/watermark-erased-\(c.seed)", diskSeed: c.seed) { ws, disk, o in
            o.acked = try Scenario.setUp(ws, disk, notes: Int(c.seed % 2))
            let a = Scenario.writerKilledAfterOwnFailedSync(ws, disk).calls
            // Killed at its first write of the lock file (after the ftruncate
            // that came before it, when the rewrite has one).
            let reader = ScriptedCalls(disk) { call in
                call.operation == .pwrite && call.path == ws.lock ? .die : .pass
            }
            try? Scenario.manager(ws, reader, actor: "reader", lockTimeout: 0.5).forEachEvent(matching: EventFilter()) { _ in }
            o.kills = 2
            o.fired = a.isDead && disk.writebackFailureCount == 1 && reader.isDead
            o.why = o.fired ? "A died after its own failed fsync; a reader died as it rewrote the lock file"
                            : "A or the reader did not die where planned (A: \(a.isDead), reader: \(reader.isDead))"
            o.write(Scenario.manager(ws, disk, actor: "B"), "B", key: "B")
            o.powerLoss(disk, ws, lostIfUnreadable: o.acked.contains { $0.key == "B" } ? 1 : 0, checkingProjection: false)
        }
    }
}
