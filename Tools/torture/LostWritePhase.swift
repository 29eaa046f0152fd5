import Foundation
import StateJournal
import StateJournalEngine
import StateJournalTesting
import Synchronization

/// Lost writes: library writers on several threads write through a
/// ``SimulatedDisk`` (wrapped in a ``FaultInjector`` for EIO, ENOSPC and
/// torn writes; the disk adds short writes) until a simulated machine crash
/// at a random system call. Everything not fsynced is then thrown away, and
/// recovery with real system calls must find every acknowledged event.
struct LostWritePhase: Phase {
    struct Settings {
        var crashes: Int
        var threads = 3
        var writesPerThread = 8
        /// Chance that a cycle also gets an injected EIO/ENOSPC/torn write.
        var faultChance = 0.35
        /// Chance that any one write(2) is short.
        var shortWriteChance = 0.05
        /// A fresh workflow every this many crashes, so journals stay small.
        var cyclesPerWorkspace = 25
        /// Of the cycles with a fault, the share that fail a segment's
        /// writeback at the disk instead (see ``SimulatedDisk/failWriteback(ofNextSyncOf:)``).
        var writebackFailureShare = 0.25
        /// Self-test: a layer that skips some syncs (the run must then fail).
        var sabotage: Sabotage.Mode?
        /// The operations a fault may hit.
        var faultable = LostWritePhase.faultable
    }

    let settings: Settings
    let harness: Harness

    static let faultable: [FaultInjector.Operation] = [.pwrite, .fdatasync, .fsync, .rename, .link, .exchange, .open, .ftruncate, .pread, .unlink]

    func run() {
        let start = Clock.now
        var rng = SeededRandom(seed: seed)
        var ws = Workspace(root + "/lost-0")
        var ledger = Ledger()
        var callsPerWrite = 60.0
        let repairs = RepairLog()
        // What each crash left in STATE.md (its rewrites are not fsynced).
        var stateFileAfterCrash: [String: Int] = [:]
        for cycle in 0..<settings.crashes {
            if cycle % settings.cyclesPerWorkspace == 0 {
                if cycle > 0 && !keep { ws.remove() }
                ws = Workspace(root + "/lost-\(cycle / settings.cyclesPerWorkspace)")
                ledger = Ledger()
            }
            recorder.add { $0.runs += 1 }
            let disk = SimulatedDisk(root: ws.directory, seed: rng.next(), shortWriteChance: settings.shortWriteChance)
            let faults = FaultInjector(settings.sabotage.map { Sabotage(disk, mode: $0) } ?? disk)
            if rng.chance(settings.faultChance * settings.writebackFailureShare) {
                // Linux after a failed writeback: the fdatasync that sees it gets
                // EIO, the dirty bytes never reach the disk, the next sync succeeds.
                disk.failWriteback(ofNextSyncOf: "/segment-")
            } else if rng.chance(settings.faultChance) {
                let op = settings.faultable.randomElement(using: &rng) ?? .pwrite
                let errno: Errno = rng.chance(0.5) ? .ioError : .noSpace
                let after = Int.random(in: 0..<(settings.threads * settings.writesPerThread * 3), using: &rng)
                if op == .pwrite && rng.chance(0.5) {
                    faults.tearWrite(.pwrite, errno: errno, after: after)
                } else {
                    faults.fail(op, errno: errno, after: after)
                }
            }
            // Crash somewhere in the run (sometimes only after it: then every
            // acknowledged write must have been synced anyway).
            let budget = Double(settings.threads * settings.writesPerThread) * callsPerWrite
            if rng.chance(0.9) { disk.crash(afterCalls: Int.random(in: 1...max(2, Int(budget)), using: &rng)) }
            // Small segments and frequent snapshots, so that creating the
            // journal, rotating, sealing and snapshotting all happen under crashes.
            var configuration = StateManager.Configuration(statePath: ws.statePath, actor: "lost-writer", lock: LockPolicy(timeout: 30),
                                                           command: "torture lost-write", fileSystem: FileSystem(faults))
            configuration.journal.segmentSize = 6 << 10
            configuration.snapshotInterval = 20
            let manager = StateManager(configuration: configuration, logger: repairs.logger())
            let attempts = Counter()
            // The workflow is created through the simulated disk too (and
            // again after a crash that lost an unacknowledged init).
            if ledger.acknowledged["init"] == nil {
                attempts.add(1)
                if let seq = initialize(manager) {
                    ledger.acknowledge("init", seq: seq)
                    recorder.add { $0.acknowledged += 1 }
                } else {
                    ledger.uncertain("init")
                }
            }
            let crashedOut = Counter()
            onThreads(settings.threads) { [recorder, settings, ledger] t in
                for i in 0..<settings.writesPerThread {
                    if disk.hasCrashed { break }
                    let key = "x\(cycle)-\(t)-\(i)"
                    attempts.add(1)
                    do {
                        let outcome = try manager.write(Self.payload(cycle, t, i), options: .init(idempotencyKey: key))
                        ledger.acknowledge(key, seq: outcome.event.seq)
                        recorder.add { $0.acknowledged += 1 }
                    } catch let error as StateJournalError where (error.code == .badInput || error.code == .notInitialized) && !disk.hasCrashed {
                        // e.g. completing a task whose add failed by a fault
                        recorder.add { $0.refused += 1 }
                        ledger.uncertain(key)
                    } catch {
                        ledger.uncertain(key)
                        if disk.hasCrashed { crashedOut.add(1); break }
                        recorder.add { $0.failedByFault += 1 }
                        if let error = error as? StateJournalError {
                            if let seq = error.durableSeq {
                                // Said durable: it must survive the crash like an acknowledged write.
                                ledger.acknowledge(key, seq: seq)
                                recorder.add { $0.landedOnError += 1 }
                            } else {
                                ledger.failedNotDurable(key, "\(error)".replacingOccurrences(of: "\n", with: " "))
                            }
                        }
                        if ProcessInfo.processInfo.environment["TORTURE_DEBUG"] != nil { recorder.log("write \(key) failed: \(error)") }
                    }
                }
            }
            let made = disk.callCount
            if attempts.value > 0 { callsPerWrite = 0.8 * callsPerWrite + 0.2 * Double(made) / Double(attempts.value) }
            disk.crash()
            let mode = SimulatedDisk.CrashMode.allCases.randomElement(using: &rng) ?? .dropAll
            // Mostly a power loss (a reboot); sometimes the storage alone lost
            // its unsynced data (forced unmount, device reset): then anything
            // recorded for this boot — the lock file's watermark — is stale yet
            // looks current, and must still never cut an acknowledged event.
            let reboot = rng.chance(0.7)
            disk.materialize(mode, reboot: reboot)
            let injected = faults.injectedCount + disk.shortWriteCount + disk.writebackFailureCount
            recorder.add { $0.crashes += 1; $0.attempts += attempts.value; $0.faults += injected; $0.repairs += repairs.take() }
            // Keep what the crash left (before recovery touches it) and what
            // the disk saw, for a post-mortem if the checks fail.
            let crashed = ws.directory + ".crashed"
            try? FileManager.default.removeItem(atPath: crashed)
            try? FileManager.default.copyItem(atPath: ws.directory, toPath: crashed)
            let violations = recorder.figures.problems + recorder.figures.lost + recorder.figures.duplicated
            let leftInStateFile = FileManager.default.contents(atPath: ws.statePath).map { [UInt8]($0) }
            let context = "lost-write cycle \(cycle) (\(mode.rawValue)\(reboot ? "" : ", no reboot"))"
            let lastSeq = Checker(cli: cli, features: features, recorder: recorder).check(ws, ledger, context: context)
            stateFileAfterCrash[checkStateFileLeft(leftInStateFile, ws: ws, lastSeq: lastSeq, context: context), default: 0] += 1
            if recorder.figures.problems + recorder.figures.lost + recorder.figures.duplicated > violations {
                let kept = root + "/lost-cycle-\(cycle)"
                try? FileManager.default.moveItem(atPath: crashed, toPath: kept + ".crashed")
                _ = FileManager.default.createFile(atPath: kept + ".operations.txt",
                                                   contents: Data(disk.operations.joined(separator: "\n").utf8))
                recorder.log("post-mortem: \(kept).crashed (the disk after the crash) and \(kept).operations.txt")
            } else {
                try? FileManager.default.removeItem(atPath: crashed)
            }
            recorder.add { $0.repairs += checkRepairs.take() }
            if (cycle + 1) % 50 == 0 {
                let f = recorder.figures
                recorder.log("cycle \(cycle + 1): acked \(f.acknowledged), faults \(f.faults), lost \(f.lost), dup \(f.duplicated), problems \(f.problems)")
            }
        }
        if !keep { ws.remove() }
        recorder.log("STATE.md as the crashes left it (each then regenerated by the checks' first command): "
            + stateFileAfterCrash.sorted { $0.key < $1.key }.map { "\($0.value) \($0.key)" }.joined(separator: ", "))
        recorder.add { $0.seconds += Clock.now - start }
    }

    /// STATE.md as a crash left it, before any command ran: missing,
    /// damaged (its rewrite's bytes never reached the disk), behind or at
    /// the journal's last event — never showing an event the journal does
    /// not hold (counted as *ahead*). ``check(_:_:context:)`` then checked
    /// that the next command made it show the journal. Returns which it was.
    private func checkStateFileLeft(_ bytes: [UInt8]?, ws: Workspace, lastSeq: UInt64, context: String) -> String {
        guard let bytes else { return "missing" }
        guard case .success(let footer) = ProjectionFooter.inspect(bytes) else { return "damaged" }
        var identity: UInt32?
        if footer.seq <= lastSeq, footer.seq > 0 {
            _ = try? FileJournal(statePath: ws.statePath).readEvents(after: footer.seq - 1, upTo: footer.seq) { event in
                if event.seq == footer.seq { identity = event.identity }
            }
        }
        guard footer.seq <= lastSeq, identity != nil, footer.event == nil || footer.event == identity else {
            recorder.problem("\(context): after the crash STATE.md showed seq \(footer.seq), which the journal (ending at \(lastSeq)) does not hold",
                             ahead: 1)
            return "ahead"
        }
        return footer.seq == lastSeq ? "current" : "behind"
    }

    /// The init event's seq, or nil when it failed (crash or fault).
    private func initialize(_ manager: StateManager) -> UInt64? {
        let plan: [[Event.PlannedTask]] = [[.init(id: "a", description: "first")], []]
        let outcome = try? manager.write(.workflowInitialized(id: "wf_lost", name: "Lost writes", waves: plan,
                                                              metadata: [MetadataEntry(key: "mode", value: "lost-write")]),
                                         options: .init(idempotencyKey: "init"))
        return outcome?.event.seq
    }

    static func payload(_ cycle: Int, _ t: Int, _ i: Int) -> Event.Payload {
        let task = "x\(cycle)-\(t)-\(i / 3)"
        switch i % 3 {
        case 0: return .taskAdded(taskID: task, wave: 1 + t % 2, description: "lost-write task \(task)")
        case 1: return .taskCompleted(taskID: task, commit: "f00d\(i)", files: ["a.txt", "b.txt"])
        default: return .metadataSet(key: "thread-\(t)", value: "cycle \(cycle) write \(i)")
        }
    }
}

/// A thread-safe counter.
final class Counter: Sendable {
    private let box = Atomic<Int>(0)
    func add(_ n: Int) { box.add(n, ordering: .relaxed) }
    var value: Int { box.load(ordering: .relaxed) }
}
