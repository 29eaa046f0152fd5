import Foundation
import StateJournal
import StateJournalEngine
import StateJournalTesting

/// Failing writes (Docs/GUARANTEES.md, "Nothing lost on bad input"): one write at a
/// time with an EIO, ENOSPC or torn write injected at a random call, plus
/// random short writes. A write that fails must leave the journal and
/// STATE.md exactly as they were — except when the library says the event is
/// in the journal and only replacing STATE.md failed.
struct FaultPhase: Phase {
    struct Settings {
        var writes: Int
        var shortWriteChance = 0.1
        var checkEvery = 25
    }

    let settings: Settings
    let harness: Harness

    func run() {
        let start = Clock.now
        var rng = SeededRandom(seed: seed)
        let ws = Workspace(root + "/faults")
        let ledger = Ledger()
        let repairs = RepairLog()
        let setup = StateManager(configuration: .init(statePath: ws.statePath, actor: "fault-writer", command: "torture"), logger: quietLogger)
        guard initialize(setup, .workflowInitialized(id: "wf_faults", name: "Faults", waves: [[], []], metadata: []), in: ledger) else { return }
        recorder.add { $0.runs += 1 }
        let disk = SimulatedDisk(root: ws.directory, seed: rng.next(), shortWriteChance: settings.shortWriteChance)
        let faults = FaultInjector(disk)
        let manager = StateManager(configuration: .init(statePath: ws.statePath, actor: "fault-writer", lock: LockPolicy(timeout: 5),
                                                        command: "torture faults", fileSystem: FileSystem(faults)),
                                   logger: repairs.logger())
        var checked = 0
        for i in 0..<settings.writes {
            let key = "f\(i)"
            let op = LostWritePhase.faultable.randomElement(using: &rng) ?? .pwrite
            let errno: Errno = rng.chance(0.5) ? .ioError : .noSpace
            let after = Int.random(in: 0..<12, using: &rng)
            if op == .pwrite && rng.chance(0.4) { faults.tearWrite(.pwrite, errno: errno, after: after) } else { faults.fail(op, errno: errno, after: after) }
            let before = snapshot(ws)
            let injectedBefore = faults.injectedCount
            let payload: Event.Payload = i % 3 == 0
                ? .taskAdded(taskID: "f\(i)", wave: 1, description: "fault task \(i)")
                : (i % 3 == 1 ? .taskCompleted(taskID: "f\(i - 1)", commit: "c\(i)", files: []) : .noteAdded(text: "fault note \(i)"))
            recorder.add { $0.attempts += 1 }
            do {
                let outcome = try manager.write(payload, options: .init(idempotencyKey: key))
                ledger.acknowledge(key, seq: outcome.event.seq)
                recorder.add { $0.acknowledged += 1 }
            } catch let error as StateJournalError {
                let fired = faults.injectedCount > injectedBefore
                if error.code == .badInput && !fired {
                    recorder.add { $0.refused += 1 }
                    ledger.refused(key)
                } else {
                    recorder.add { $0.failedByFault += 1 }
                    ledger.uncertain(key)
                    classify(failure: error, key: key, index: i, before: before, after: snapshot(ws), ws)
                }
            } catch {
                recorder.problem("faults: write \(i) threw a non-StateJournal error: \(error)")
            }
            faults.reset()
            if (i + 1) % settings.checkEvery == 0 || i + 1 == settings.writes {
                recorder.add { $0.faults += faults.injectedCount + disk.shortWriteCount - checked; $0.repairs += repairs.take() }
                checked = faults.injectedCount + disk.shortWriteCount
                check(ws, ledger, context: "faults after write \(i)")
                recorder.add { $0.repairs += checkRepairs.take() }
            }
        }
        if !keep { ws.remove() }
        recorder.add { $0.seconds += Clock.now - start }
    }

    /// A failed write must leave the journal and STATE.md as they were. The
    /// one failure that cannot be undone is one after the event became
    /// durable (e.g. replacing STATE.md failed): then the journal holds the
    /// event once, and the error must say so — the write is not lost, and a
    /// retry with the same idempotency key writes nothing.
    private func classify(failure error: StateJournalError, key: String, index i: Int,
                          before: [String: Data], after: [String: Data], _ ws: Workspace) {
        if after == before {
            if let seq = error.durableSeq {
                recorder.problem("faults: write \(i) failed saying its event is durable at seq \(seq) (\(error)), yet neither the journal nor STATE.md changed")
            }
            return
        }
        let changed = Set(before.keys).union(after.keys).filter { before[$0] != after[$0] }.sorted()
        let journalChanged = changed.contains { $0 != "STATE.md" }
        guard journalChanged else {
            recorder.problem("faults: write \(i) failed (\(error)) yet STATE.md changed while the journal did not")
            return
        }
        let events = (try? StateManager(configuration: .init(statePath: ws.statePath, actor: "torture-check"), logger: quietLogger).events()) ?? []
        guard events.last?.idempotencyKey == key, events.filter({ $0.idempotencyKey == key }).count == 1 else {
            recorder.problem("faults: write \(i) failed (\(error)) but changed \(changed.joined(separator: ", ")) without appending its event once")
            return
        }
        recorder.add { $0.landedOnError += 1 }
        // Durable but not said: the caller must learn its event was written.
        let seq = events.last?.seq
        if error.durableSeq != seq || !error.message.contains("durable") || error.message.contains("nothing was written") {
            recorder.problem("faults: durable but not said: write \(i)'s event is in the journal (seq \(seq.map(String.init) ?? "?")) but it failed with "
                + "durableSeq \(error.durableSeq.map(String.init) ?? "nil") and \"\(error)\" (Docs/GUARANTEES.md: a failing write leaves the journal as it was, "
                + "or tells the caller its event was written)")
        }
    }

    /// STATE.md and every journal segment, byte for byte. (Snapshots and
    /// indexes are caches derived from the segments; temporaries are litter.)
    private func snapshot(_ ws: Workspace) -> [String: Data] {
        var out: [String: Data] = [:]
        out["STATE.md"] = FileManager.default.contents(atPath: ws.statePath)
        let journal = ws.statePath + ".journal"
        for name in (try? FileManager.default.contentsOfDirectory(atPath: journal)) ?? []
        where name.hasPrefix("segment-") && (name.hasSuffix(".log") || name.hasSuffix(".log.zst")) {
            out["STATE.md.journal/" + name] = FileManager.default.contents(atPath: journal + "/" + name)
        }
        return out
    }
}
