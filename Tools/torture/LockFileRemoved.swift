import Foundation
import StateJournal
import StateJournalEngine
import StateJournalTesting
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Item 5: the lock file removed or replaced while held.
enum LockFileRemoved {
    /// Holder A is stopped after folding, before appending; the lock file
    /// is removed (variant 0) or replaced by another file (variant 1); B
    /// writes; then A goes on. Two writers must never both hold the lock:
    /// both acknowledged, each at its own seq, both in the journal.
    static func run(_ c: FindingContext) -> Outcome {
        c.variant % 3 == 2 ? processes(c) : inProcess(c)
    }

    /// Variant 2, with real processes: a library writer stops itself
    /// (SIGSTOP) holding the lock, before it appends; the lock file is
    /// removed; `statejournal note` runs; the writer is continued.
    static func processes(_ c: FindingContext) -> Outcome {
        Scenario.run(c.work + "/lock-removed-processes-\(c.seed)") { ws, o in
            guard let cli = c.cli else { throw Unreached("no statejournal binary") }
            try Scenario.setUp(ws, notes: Int(c.seed % 3))
            let a: Child
            do {
                a = try Child(selfExecutable, ["lib-writer", "--state", ws.statePath, "--writer", "0", "--from", "0", "--to", "1",
                                              "--stop-at", "availableSpace"], outputIn: ws.directory)
            } catch {
                throw Unreached("the library writer did not start: \(error)")
            }
            guard a.waitUntilStopped() else {
                let why = "the library writer ended before it stopped: \(firstLines(a.stderr))"
                _ = a.wait()
                throw Unreached(why)
            }
            o.fired = unlink(ws.lock) == 0
            o.why = "STATE.md.lock removed while a stopped library writer held it; then `statejournal note` ran"
            o.attempts = 1
            o.note(cli, ws, "B, the second writer", key: "B", ["--lock-timeout", "1"])
            a.resume()
            let exit = a.wait()
            for line in String(decoding: a.stdout, as: UTF8.self).split(separator: "\n") {
                let words = line.split(separator: " ")
                if words.count == 5, words[0] == "ack", let seq = UInt64(words[2]) { o.acked.append((String(words[1]), seq)) }
            }
            if exit.status != 0 { o.problem("the library writer exited \(exit.status.map(String.init) ?? "by a signal"): \(firstLines(a.stderr))") }
            o.checkBothWriters(ws, "the library writer and `statejournal note`")
        }
    }

    static func inProcess(_ c: FindingContext) -> Outcome {
        Scenario.run(c.work + "/lock-removed-\(c.variant)-\(c.seed)") { ws, o in
            try Scenario.setUp(ws, notes: Int(c.seed % 3))
            let gate = Gate()
            let stopped = Flag()
            let a = ScriptedCalls(RealSystemCalls()) { call in
                if call.operation == .availableSpace && !stopped.isSet {
                    stopped.set()
                    gate.arriveAndWait()
                }
                return .pass
            }
            let aResult = Mutex<Result<StateManager.WriteOutcome, any Error>?>(nil)
            let worker = Worker {
                let r = Result { try Scenario.manager(ws, a, actor: "A").write(.noteAdded(text: "A, the delayed holder"), options: .init(idempotencyKey: "A")) }
                aResult.withLock { $0 = r }
            }
            guard gate.waitForArrivals(1) else {
                gate.release(); worker.join()
                throw Unreached("A never got to append")
            }
            if c.variant % 2 == 0 {
                o.fired = unlink(ws.lock) == 0
                o.why = "STATE.md.lock removed while A held it"
            } else {
                let other = ws.directory + "/other.lock"
                _ = FileManager.default.createFile(atPath: other, contents: Data())
                o.fired = rename(other, ws.lock) == 0
                o.why = "STATE.md.lock replaced by another file while A held it"
            }
            o.attempts = 1
            // B must wait for A (its lock deadline only bounds a broken run).
            o.write(Scenario.manager(ws, actor: "B", lockTimeout: 1), "B, the second writer", key: "B")
            gate.release()
            worker.join()
            if case .success(let outcome)? = aResult.withLock({ $0 }) { o.acked.append(("A", outcome.event.seq)) }
            o.checkBothWriters(ws, "A and B")
        }
    }
}

private extension Outcome {
    /// Both writers (``acked``) acknowledged at seqs of their own, both in
    /// the journal.
    mutating func checkBothWriters(_ ws: Workspace, _ names: String) {
        acknowledged = acked.count
        if acked.count == 2 && acked[0].seq == acked[1].seq {
            problem("\(names) were both acknowledged as seq \(acked[0].seq): both held the lock", duplicated: 1)
        }
        checkJournal(ws, "after both writers")
    }
}
