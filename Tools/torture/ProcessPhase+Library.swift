import Foundation
import StateJournal
import StateJournalEngine
import StateJournalTesting
import Synchronization

// Writers that link the library (a manager per process, group commit).
extension ProcessPhase {
    func libraryWriter(_ w: Int, _ ws: Workspace, _ ledger: Ledger, _ rng: inout SeededRandom) {
        var next = 0
        var typical = 0.3
        var restarts = 0
        /// The key whose append a kill found durable: the next ack of it must be a replay.
        var expectReplay: String?
        while next < settings.libraryOps && restarts < 200 {
            restarts += 1
            let to = min(next + settings.libraryBatch, settings.libraryOps)
            let child: Child
            let markers = ws.directory + "/markers-\(w)"
            unlink(markers)
            var args = ["lib-writer", "--state", ws.statePath, "--writer", "\(w)", "--from", "\(next)", "--to", "\(to)", "--markers", markers]
            let dieAtRename = rng.chance(settings.libraryDieAtRenameChance)
            if dieAtRename { args += ["--die-at-rename", "\(Int.random(in: 1...max(1, to - next), using: &rng))"] }
            do {
                child = try Child(selfExecutable, args, outputIn: ws.directory)
            } catch {
                recorder.problem("cannot start a library writer: \(error)")
                return
            }
            let kill = !dieAtRename && rng.chance(settings.libraryKillChance)
            if kill {
                Clock.sleep(Double.random(in: 0...typical, using: &rng))
                child.kill()
            }
            let exit = child.wait()
            if !exit.killed { typical = 0.7 * typical + 0.3 * (Clock.now - child.started) }
            let output = String(decoding: child.stdout, as: UTF8.self)
            // Only whole lines count: a line cut by the kill was never printed.
            var lines = output.split(separator: "\n", omittingEmptySubsequences: false)
            if !output.hasSuffix("\n") { lines.removeLast() }
            for line in lines where !line.isEmpty {
                let words = line.split(separator: " ")
                if words.count == 5, words[0] == "ack", let seq = UInt64(words[2]), let index = Int(words[4]) {
                    if let expected = expectReplay, expected == words[1] {
                        expectReplay = nil
                        if words[3] != "1" {
                            recorder.problem("\(name): library writer \(w) was killed after the append of \(expected) was made durable, "
                                             + "yet its restart did not find it and wrote it anew (seq \(seq))", lost: 1)
                        }
                    }
                    ledger.acknowledge(String(words[1]), seq: seq)
                    recorder.add { $0.acknowledged += 1; $0.attempts += 1; if words[3] == "1" { $0.idempotentReplays += 1 } }
                    next = max(next, index + 1)
                    checkVisible(ws, seq: seq, key: String(words[1]))
                } else if words.first == "error-durable" {
                    recorder.add { $0.landedOnError += 1 }
                } else if words.first == "error" && (line.contains("durable in the journal") || line.contains("is durable")) {
                    recorder.problem("\(name): library writer \(w): durable but not said: the message says the event is durable, "
                                     + "StateJournalError.durableSeq is nil: \(line)")
                } else if words.first == "error" {
                    recorder.error("\(name): library writer \(w): \(line)")
                } else {
                    recorder.problem("\(name): library writer \(w): \(line)")
                }
            }
            recorder.add { $0.repairs += countRepairs(child.stderr) }
            if exit.killed {
                recorder.add { $0.kills += 1; $0.attempts += 1 }
                let landing = PhaseMarkers.landing(markers)
                recorder.landed(landing)
                // The write in progress was durable: the restart must answer it as a replay.
                if landing == Landing.postAppend && next < settings.libraryOps { expectReplay = LibraryWriter.key(w, next) }
                if next < settings.libraryOps { ledger.uncertain(LibraryWriter.key(w, next)) }
            } else if exit.status != 0 {
                recorder.problem("\(name): library writer \(w) exited \(exit.status.map(String.init) ?? "?"): \(firstLines(child.stderr))")
                return
            }
            if lines.contains(where: { $0.hasPrefix("error") }), next < settings.libraryOps {
                ledger.uncertain(LibraryWriter.key(w, next))
            }
        }
    }
}
