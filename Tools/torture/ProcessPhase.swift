import Foundation
import StateJournal
import StateJournalEngine
import StateJournalTesting
import Synchronization

/// Contention and the crash loop: real `statejournal` processes and
/// library-writer processes (this binary re-executed) writing to one
/// workflow at once, reader processes validating STATE.md as fast as they
/// can, and — in the crash loop — SIGKILL at random instants. After each
/// round every writer is stopped and the workspace is reopened and checked.
struct ProcessPhase: Phase {
    struct Settings {
        var cliWriters: Int
        var libraryWriters: Int
        /// Intended writes per CLI writer in a round.
        var opsPerWriter: Int
        /// Writes per library writer in a round (in processes of up to `libraryBatch`).
        var libraryOps: Int
        var libraryBatch = 12
        var readers: Int
        /// Chance that a CLI process is killed at a random instant.
        var killChance: Double
        /// Chance that a library-writer process is killed at a random instant.
        var libraryKillChance: Double
        /// Keep running rounds until this many kills, within `rounds` (0:
        /// `rounds.lowerBound` rounds).
        var targetKills: Int
        var rounds: ClosedRange<Int>
        /// Lock deadlines a CLI writer picks from at random (seconds).
        var lockTimeouts: [String] = ["0.02", "0.1", "0.5", "2", "10"]
        /// Chance that a CLI writer runs `compact` instead of a write (when the CLI has it).
        var compactChance = 0.05
        /// Chance that a CLI write runs under strace with a SIGKILL injected
        /// at an exact system call: its first `fdatasync` (between the
        /// append's pwrite and its sync) or its first `link` (the STATE.md
        /// backup, after the append was made durable and before the rename).
        var targetedKillChance = 0.0
        /// Chance that a library writer kills itself right before the
        /// STATE.md rename of one of its durable appends.
        var libraryDieAtRenameChance = 0.0
        /// The crash loop must land kills between the append and the
        /// STATE.md rename.
        var minimumPostAppendKills = 0
        var minimumReads = 1
    }

    let name: String
    let settings: Settings
    let harness: Harness

    func run() {
        let start = Clock.now
        var round = 0
        while round < settings.rounds.upperBound
                && (round < settings.rounds.lowerBound || recorder.figures.kills < settings.targetKills) {
            round += 1
            runRound(round)
            let f = recorder.figures
            recorder.log("round \(round): kills \(f.kills), acked \(f.acknowledged), reads \(f.reads), lost \(f.lost), dup \(f.duplicated), torn \(f.tornReads), problems \(f.problems)")
        }
        recorder.add { $0.seconds += Clock.now - start }
        // Coverage: a run that did not reach its targets proves nothing.
        let f = recorder.figures
        if f.kills < settings.targetKills {
            recorder.problem("\(name): only \(f.kills) kills in \(round) rounds, short of the target \(settings.targetKills)")
        }
        if f.postAppendKills < settings.minimumPostAppendKills {
            recorder.problem("\(name): \(f.postAppendKills) kills landed between an append and its STATE.md rename (minimum \(settings.minimumPostAppendKills))")
        }
        if settings.readers > 0 && f.reads < settings.minimumReads {
            recorder.problem("\(name): readers made \(f.reads) reads (minimum \(settings.minimumReads))")
        }
    }

    private func runRound(_ round: Int) {
        recorder.add { $0.runs += 1 }
        let violationsBefore = recorder.figures.problems + recorder.figures.lost + recorder.figures.duplicated + recorder.figures.tornReads
        let ws = Workspace(root + "/\(name)-\(round)")
        let ledger = Ledger()
        let plan = ##"{"waves": [[{"task_id": "s1", "description": "shared one"}, {"task_id": "s2", "description": "shared - [x] two"}, {"task_id": "s3", "description": "**shared** three"}, {"task_id": "s4", "description": "# shared four"}], []], "metadata": {"round": "\##(round)"}}"##
        let planPath = ws.directory + "/plan.json"
        _ = FileManager.default.createFile(atPath: planPath, contents: Data(plan.utf8))
        let initialized = cli.run(["init", "--id", "wf_\(name)_\(round)", "--name", "Torture \(name) \(round)", "--plan", planPath,
                                   "--state", ws.statePath, "--json", "--idempotency-key", "init"])
        guard initialized.status == 0, let event = try? JSON.parse(initialized.stdout), let seq = event["seq"]?.intValue else {
            recorder.problem("\(name) round \(round): init failed: \(firstLines(initialized.stderr))")
            return
        }
        ledger.acknowledge("init", seq: UInt64(seq))

        let readers = (0..<settings.readers).compactMap { r -> Child? in
            do {
                return try Child(selfExecutable, ["reader", "--state", ws.statePath], outputIn: ws.directory, stdinPipe: true)
            } catch {
                recorder.problem("\(name) round \(round): reader \(r) did not start: \(error)")
                return nil
            }
        }
        let total = settings.cliWriters + settings.libraryWriters
        let roundSeed = seed &+ UInt64(round) &* 7919
        onThreads(total) { [self] w in
            var rng = SeededRandom(seed: roundSeed &+ UInt64(w) &* 104_729)
            if w < settings.cliWriters {
                cliWriter(w, ws, ledger, &rng)
            } else {
                libraryWriter(w, ws, ledger, &rng)
            }
        }
        for reader in readers { reader.closeStdin() }
        for reader in readers { collect(reader, context: "\(name) round \(round)") }

        check(ws, ledger, context: "\(name) round \(round)")
        let failed = recorder.figures.problems + recorder.figures.lost + recorder.figures.duplicated + recorder.figures.tornReads > violationsBefore
        if failed || keep {
            recorder.log("workspace kept: \(ws.directory)")
        } else {
            ws.remove()
        }
    }

    // MARK: Readers

    private func collect(_ reader: Child, context: String) {
        let exit = reader.wait()
        let lines = String(decoding: reader.stdout, as: UTF8.self).split(separator: "\n")
        var reads = 0, torn = 0
        for line in lines {
            let words = line.split(separator: " ", maxSplits: 1)
            if words.first == "reads", let n = Int(words.last ?? "") { reads = n }
            if words.first == "torn", let n = Int(words.last ?? "") { torn = n }
            if words.first == "problem" { recorder.problem("\(context): reader: \(words.last ?? "")", torn: 0) }
        }
        if exit.status != 0 { recorder.problem("\(context): a reader exited \(exit.status.map(String.init) ?? "by a signal"): \(firstLines(reader.stderr))") }
        if !lines.contains(where: { $0.hasPrefix("reads ") }) { recorder.problem("\(context): a reader reported nothing (did it run?)") }
        recorder.add { $0.reads += reads; $0.tornReads += torn }
    }

    // MARK: CLI writers

    /// One intended write: the same arguments and key on every retry.
    struct Intent {
        var key: String
        var args: [String]
    }

    private func intents(_ w: Int, _ i: Int, _ rng: inout SeededRandom) -> [Intent] {
        var out: [Intent] = []
        let prefix = "c\(w)"
        if rng.chance(0.25) {
            let task = "s\(Int.random(in: 1...4, using: &rng))"
            let args: [String]
            switch Int.random(in: 0..<3, using: &rng) {
            case 0: args = ["task", "start", task]
            case 1: args = ["task", "complete", task, "--commit", "sha\(w)x\(i)"]
            default: args = ["task", "fail", task, "--error", "shared failure by \(w)\n- [x] **not** a task"]
            }
            out.append(Intent(key: "\(prefix)-\(i)-s", args: args))
        }
        let cycle = i / 5, task = "\(prefix)-t\(cycle)"
        let args: [String]
        switch i % 5 {
        case 0: args = ["task", "add", task, "--wave", "\(cycle % 2 + 1)", "--description", "writer \(w) task \(cycle): # not a heading, - [ ] not a box"]
        case 1: args = ["task", "start", task]
        case 2:
            if rng.chance(0.8) {
                let files = (0..<Int.random(in: 0...5, using: &rng)).flatMap { ["--file", "src/f\($0).swift"] }
                args = ["task", "complete", task, "--commit", "c0ffee\(w)\(cycle)"] + files
            } else {
                args = ["task", "fail", task, "--error", "boom \(w)/\(cycle)\nsecond line"]
            }
        case 3: args = ["note", "note \(i) from writer \(w): **bold** `code` \\ backslash"]
        default: args = ["meta", "set", "writer-\(w)", "op \(i)"]
        }
        out.append(Intent(key: "\(prefix)-\(i)", args: args))
        return out
    }

    private func cliWriter(_ w: Int, _ ws: Workspace, _ ledger: Ledger, _ rng: inout SeededRandom) {
        var typical = 0.04  // seconds a CLI write takes; learnt as we go
        for i in 0..<settings.opsPerWriter {
            if features.compact && rng.chance(settings.compactChance) {
                compact(w, ws, &rng, &typical)
            }
            for intent in intents(w, i, &rng) {
                perform(intent, w, ws, ledger, &rng, &typical)
            }
        }
    }

    /// How the command line says a write failed after its event became
    /// durable: its message, or `durable_seq` in a `--json` error object.
    static func saysDurable(_ stderr: String, _ stdout: [UInt8]) -> Bool {
        if stderr.contains("is durable") || stderr.contains("durable in the journal") { return true }
        for line in stdout.split(separator: UInt8(ascii: "\n")) {
            if let object = try? JSON.parse(Array(line)), object["durable_seq"] != nil || object["error"]?["durable_seq"] != nil { return true }
        }
        return false
    }

    private func perform(_ intent: Intent, _ w: Int, _ ws: Workspace, _ ledger: Ledger,
                         _ rng: inout SeededRandom, _ typical: inout Double) {
        // What this intent's attempts told: a failure that did not say its
        // event was durable, after no kill, means the event is not there;
        // one that said so means it is.
        var killedBefore = false
        /// An attempt was killed after its append was durable: the retry must find it.
        var killedAfterAppend = false
        var failedNotDurable: String?
        var saidDurable: String?
        for _ in 0..<40 {
            let timeout = settings.lockTimeouts.randomElement(using: &rng) ?? "10"
            let args = intent.args + ["--state", ws.statePath, "--actor", "cli-\(w)", "--lock-timeout", timeout,
                                      "--json", "--idempotency-key", intent.key]
            // The append's fdatasync is the first or (after a sync of what
            // others wrote, before using it) the second; the trace tells which.
            let targeted: String? = Strace.available && rng.chance(settings.targetedKillChance)
                ? (rng.chance(0.5) ? "link:when=1" : "fdatasync:when=\(Int.random(in: 1...2, using: &rng))") : nil
            let killAfter: Double? = targeted == nil && rng.chance(settings.killChance) ? Double.random(in: 0...(1.3 * typical), using: &rng) : nil
            let child: Child
            let tracePath = ws.directory + "/strace-\(w)"
            do {
                if let targeted {
                    child = try Child(Strace.path, Strace.arguments(killAt: targeted, trace: tracePath) + [cli.binary] + args, outputIn: ws.directory)
                } else {
                    child = try Child(cli.binary, args, outputIn: ws.directory)
                }
            } catch {
                recorder.problem("cannot start the CLI: \(error)")
                return
            }
            recorder.add { $0.attempts += 1 }
            if let killAfter {
                Clock.sleep(killAfter)
                child.kill()
            }
            let exit = child.wait()
            let elapsed = Clock.now - child.started
            if !exit.killed && targeted == nil { typical = 0.8 * typical + 0.2 * elapsed }
            if exit.killed {
                let landing = targeted != nil ? Strace.landing(tracePath) : Landing.unknown
                recorder.landed(landing)
                if landing == Landing.postAppend { killedAfterAppend = true }
            }
            if targeted != nil { unlink(tracePath) }
            // Acknowledged = the writer printed the event (even if killed right after).
            if let line = child.stdout.split(separator: UInt8(ascii: "\n")).first,
               let event = try? JSON.parse(Array(line)), event["state_md_updated"]?.boolValue == false {
                // Recorded durably, but STATE.md could not be rewritten (exit 0
                // with a warning): as a failure that says its event is durable,
                // confirmed — and its visibility checked — by a retry with the key.
                ledger.uncertain(intent.key)
                recorder.add { $0.landedOnError += 1 }
                saidDurable = firstLines(child.stderr, 1)
                continue
            }
            if let line = child.stdout.split(separator: UInt8(ascii: "\n")).first,
               let event = try? JSON.parse(Array(line)), let seq = event["seq"]?.intValue {
                ledger.acknowledge(intent.key, seq: UInt64(seq))
                let replay = event["duplicate"]?.boolValue == true
                recorder.add { $0.acknowledged += 1; if replay { $0.idempotentReplays += 1 }; if exit.killed { $0.kills += 1 } }
                if killedAfterAppend && !replay && !exit.killed {
                    recorder.problem("\(name): `statejournal \(intent.args.joined(separator: " "))` was killed after its append was made durable, "
                                     + "yet the retry with the same key did not find it and wrote it anew (seq \(seq))", lost: 1)
                }
                if replay, let failure = failedNotDurable, !killedBefore {
                    recorder.problem("\(name): durable but not said: `statejournal \(intent.args.joined(separator: " "))` failed (\(failure)) "
                                     + "without saying its event was durable, yet the retry found it in the journal (seq \(seq))")
                }
                if !replay, let said = saidDurable, !killedBefore {
                    recorder.problem("\(name): said durable but was not: `statejournal \(intent.args.joined(separator: " "))` failed saying "
                                     + "its event was durable (\(said)), yet the retry wrote it anew (seq \(seq))")
                }
                checkVisible(ws, seq: UInt64(seq), key: intent.key)
                recorder.add { $0.repairs += countRepairs(child.stderr) }
                return
            }
            recorder.add { $0.repairs += countRepairs(child.stderr) }
            if exit.killed {
                recorder.add { $0.kills += 1 }
                ledger.uncertain(intent.key)
                killedBefore = true
                continue  // an orchestrator retries with the same key
            }
            switch exit.status {
            case 2:
                recorder.add { $0.refused += 1 }
                ledger.refused(intent.key)
                return
            case 3:
                recorder.add { $0.timeouts += 1 }
                ledger.refused(intent.key)
                continue
            default:
                ledger.uncertain(intent.key)
                if Self.saysDurable(child.stderr, child.stdout) {
                    // The event is in the journal; only rewriting STATE.md failed,
                    // and the message says so: retry with the same key to confirm.
                    recorder.add { $0.landedOnError += 1 }
                    saidDurable = firstLines(child.stderr, 1)
                    continue
                }
                failedNotDurable = firstLines(child.stderr, 1)
                recorder.error("\(name): `statejournal \(intent.args.joined(separator: " "))` exited \(exit.status.map(String.init) ?? "?") without being killed: \(firstLines(child.stderr))")
                continue  // retried with the same key, as an orchestrator would
            }
        }
        recorder.problem("\(name): `statejournal \(intent.args.joined(separator: " "))` never completed in 40 attempts")
    }

    /// Visible (Docs/GUARANTEES.md): when a write returns, STATE.md shows it or a later state.
    func checkVisible(_ ws: Workspace, seq: UInt64, key: String) {
        guard let bytes = FileManager.default.contents(atPath: ws.statePath).map({ [UInt8]($0) }) else {
            recorder.problem("\(name): STATE.md missing right after \(key) was acknowledged")
            return
        }
        switch ProjectionFooter.check(bytes) {
        case .valid(let shown) where shown >= seq: break
        case .valid(let shown): recorder.problem("\(name): STATE.md shows seq \(shown) right after \(key) was acknowledged as seq \(seq)")
        case .invalid(let why): recorder.problem("\(name): STATE.md invalid right after \(key) was acknowledged: \(why)", torn: 1)
        }
    }

    private func compact(_ w: Int, _ ws: Workspace, _ rng: inout SeededRandom, _ typical: inout Double) {
        guard let child = try? Child(cli.binary, ["compact", "--state", ws.statePath, "--actor", "cli-\(w)"], outputIn: ws.directory) else { return }
        if rng.chance(settings.killChance) {
            Clock.sleep(Double.random(in: 0...(1.5 * typical), using: &rng))
            child.kill()
        }
        let exit = child.wait()
        recorder.add { $0.repairs += countRepairs(child.stderr) }
        if exit.killed { recorder.add { $0.kills += 1 }; return }
        if exit.status != 0 && exit.status != 3 {
            recorder.problem("\(name): compact exited \(exit.status.map(String.init) ?? "?"): \(firstLines(child.stderr))")
        }
    }
}
