import Foundation
import StateJournal
import StateJournalEngine
import StateJournalTesting
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Items 2 and 7: group commit, a batch whose append fails with a
/// duplicate in it.
enum GroupCommitBatches {
    /// Item 2: P and Q share a key in one batch whose append fails.
    static func duplicateInFailedBatch(_ c: FindingContext) -> Outcome {
        Scenario.run(c.work + "/group-dup-\(c.seed)") { ws, o in
            try Scenario.setUp(ws, notes: 1)
            let run = failedBatch(ws, [(.noteAdded(text: "P and Q, one key"), "PQ"), (.noteAdded(text: "P and Q, one key"), "PQ")])
            o.fired = run.together
            o.why = run.why
            o.attempts = 2
            o.kills = 0
            let events = (try? Scenario.journal(ws).get()) ?? []
            let inJournal = events.contains { $0.idempotencyKey == "PQ" }
            for (i, r) in run.results.enumerated() {
                if case .success(let outcome)? = r {
                    o.acknowledged += 1
                    if !inJournal {
                        o.problem("request \(i) with key PQ was told success (seq \(outcome.event.seq), duplicate: \(outcome.wasDuplicate)) but the journal holds no event with that key", lost: 1)
                    }
                }
            }
            o.checkProjection(ws, "after the failed batch", allowBehind: true)
        }
    }

    /// Item 7: a duplicate whose original is in the journal but not yet in
    /// STATE.md, in a batch whose append fails, must not return before
    /// STATE.md shows it.
    static func duplicateNotVisible(_ c: FindingContext) -> Outcome {
        Scenario.run(c.work + "/dup-visible-\(c.seed)") { ws, o in
            try Scenario.setUp(ws, notes: 1)
            // The original write: in the journal, STATE.md not rewritten (as
            // when its writer was killed before the rename).
            let originalSeq = try Scenario.manager(ws, actor: "manual", projection: .manual)
                .write(.noteAdded(text: "original"), options: .init(idempotencyKey: "D")).event.seq
            guard case .valid(let before)? = Scenario.stateFile(ws).map(ProjectionFooter.check), before < originalSeq else {
                throw Unreached("STATE.md already showed the original event")
            }
            let run = failedBatch(ws, [(.noteAdded(text: "original"), "D"), (.noteAdded(text: "new in the failing batch"), "X")])
            o.fired = run.together
            o.why = run.why
            o.attempts = 2
            if case .success(let outcome)? = run.results.first {
                o.acknowledged += 1
                switch Scenario.stateFile(ws).map(ProjectionFooter.check) {
                case .valid(let shown)? where shown >= outcome.event.seq: break
                case .valid(let shown)?:
                    o.problem("the retry of D returned success (seq \(outcome.event.seq), duplicate) while STATE.md still shows seq \(shown)")
                default:
                    o.problem("the retry of D returned success while STATE.md is missing or invalid")
                }
            }
        }
    }

    // MARK: A failed batch, made deterministic

    /// Where the threads of a batch are: `/proc/self/task/TID/syscall`
    /// starts with the number of the system call a thread is blocked in
    /// (202, futex, on x86_64: waiting for its leader).
    static func blockedInFutex(_ tid: Int32) -> Bool {
        guard let text = try? String(contentsOfFile: "/proc/self/task/\(tid)/syscall", encoding: .utf8) else { return false }
        return text.split(separator: " ").first.map(String.init) == futexNumber
    }

    #if arch(x86_64)
    static let futexNumber = "202"
    #elseif arch(arm64)
    static let futexNumber = "98"
    #else
    static let futexNumber = "futex"  // unknown: the handshake fails and the repro says its fault did not fire
    #endif

    /// This thread's kernel id (`/proc/thread-self` names it).
    static func threadID() -> Int32 {
        let target = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/thread-self")) ?? ""
        return Int32(target.split(separator: "/").last ?? "") ?? -1
    }

    struct BatchRun {
        var results: [Result<StateManager.WriteOutcome, any Error>?]
        /// Every request of `requests` went into the one batch whose append failed.
        var together: Bool
        var why: String
    }

    /// A leader L0 is stopped at its segment fdatasync (which then fails, so
    /// it publishes nothing); meanwhile `requests` queue up behind it; once
    /// every one of their threads waits, L0 goes on, and the batch they form
    /// fails at its pwrite (ENOSPC).
    static func failedBatch(_ ws: Workspace, _ requests: [(Event.Payload, String)]) -> BatchRun {
        let gate = Gate()
        let stage = Mutex(0)
        let flocksInStage1 = Atomic<Int>(0)
        let flocksAtFault = Atomic<Int>(-1)
        let leaderWrote = Flag()
        let script = ScriptedCalls(RealSystemCalls()) { call in
            let s = stage.withLock { $0 }
            if s == 0 && call.operation == .pwrite && call.isSegment { leaderWrote.set() }
            if s == 0 && call.operation == .fdatasync && call.isSegment && leaderWrote.isSet {
                stage.withLock { $0 = 1 }
                gate.arriveAndWait()
                return .fail(.ioError)
            }
            if s == 1 && call.operation == .flock && call.target == nil && call.path.hasSuffix(".lock") && !call.path.contains("projector") {
                flocksInStage1.add(1, ordering: .sequentiallyConsistent)
            }
            if s == 1 && call.operation == .pwrite && call.isSegment {
                stage.withLock { $0 = 2 }
                flocksAtFault.store(flocksInStage1.load(ordering: .sequentiallyConsistent), ordering: .sequentiallyConsistent)
                return .fail(.noSpace)
            }
            return .pass
        }
        let manager = Scenario.manager(ws, script, actor: "batch")
        let leader = Worker { _ = try? manager.write(.noteAdded(text: "leader L0"), options: .init(idempotencyKey: "L0")) }
        guard gate.waitForArrivals(1) else {
            gate.release(); leader.join()
            return BatchRun(results: [], together: false, why: "the leader never reached its fdatasync")
        }
        let tids = Mutex<[Int32]>([])
        let results = Mutex<[Result<StateManager.WriteOutcome, any Error>?]>(Array(repeating: nil, count: requests.count))
        let workers = requests.enumerated().map { i, request in
            Worker {
                tids.withLock { $0.append(GroupCommitBatches.threadID()) }
                let r = Result { try manager.write(request.0, options: .init(idempotencyKey: request.1)) }
                results.withLock { $0[i] = r }
            }
        }
        // Handshake: every request's thread waits for the leader (several
        // looks in a row, so a brief mutex wait on the way is not mistaken).
        var steady = 0, looks = 0
        while steady < 20 && looks < 200_000 {
            looks += 1
            let ids = tids.withLock { $0 }
            steady = ids.count == requests.count && ids.allSatisfy(blockedInFutex) ? steady + 1 : 0
            usleep(200)
        }
        gate.release()
        leader.join()
        for w in workers { w.join() }
        let together = flocksAtFault.load(ordering: .sequentiallyConsistent) == 1
        return BatchRun(results: results.withLock { $0 }, together: together,
                        why: together ? "every request was in the one batch whose pwrite failed (ENOSPC)"
                                      : "the requests were not committed in one batch (\(flocksAtFault.load(ordering: .sequentiallyConsistent)) lock acquisitions before the fault)")
    }
}
