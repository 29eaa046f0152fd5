import Foundation
import Synchronization
import StateJournal
import StateJournalEngine

/// The CLI commands the harness uses when the binary has them. `verify`
/// and `compact` arrive with segment rotation; supporting a new command is
/// one entry here plus its use where ``Features`` is consulted.
struct Features: Sendable {
    static let optionalCommands = ["verify", "compact"]

    var available: Set<String>
    var verify: Bool { available.contains("verify") }
    var compact: Bool { available.contains("compact") }

    static func detect(cli: String, scratch: String) -> Features {
        guard let child = try? Child(cli, ["--help"], outputIn: scratch) else { return Features(available: []) }
        _ = child.wait()
        let help = String(decoding: child.stdout, as: UTF8.self)
        let listed = Set(help.split(separator: "\n").compactMap { line -> String? in
            let words = line.split(separator: " ")
            guard line.hasPrefix("  "), let first = words.first else { return nil }
            return String(first)
        })
        return Features(available: Set(optionalCommands.filter(listed.contains)))
    }
}

/// One workflow directory: STATE.md and its journal, lock and backups.
struct Workspace: Sendable {
    let directory: String
    var statePath: String { directory + "/STATE.md" }

    init(_ directory: String) {
        self.directory = directory
        try? FileManager.default.removeItem(atPath: directory)
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    }

    func remove() { try? FileManager.default.removeItem(atPath: directory) }

    /// Files a crash left behind that nothing will ever clean (temporaries).
    func litter() -> [String] {
        let names = (try? FileManager.default.subpathsOfDirectory(atPath: directory)) ?? []
        return names.filter { $0.contains(".tmp-") }
    }
}

/// What writers were told, to compare with the journal afterwards.
final class Ledger: Sendable {
    private struct State {
        /// Idempotency key → the sequence number the writer was told.
        var acknowledged: [String: UInt64] = [:]
        /// Keys whose every attempt ended cleanly without writing (exit 2 or 3,
        /// never killed, never hit by a fault): they must not be in the journal.
        var refusedCleanly: Set<String> = []
        /// Keys with an attempt of unknown outcome (killed, crashed, faulted).
        var uncertain: Set<String> = []
        /// Keys whose write failed without a crash and without saying its
        /// event was durable (`durableSeq` nil): the event must not be there.
        var failedNotDurable: [String: String] = [:]
        var conflicts: [String] = []
    }
    private let state = Mutex(State())

    init() {}

    func acknowledge(_ key: String, seq: UInt64) {
        state.withLock { s in
            if let old = s.acknowledged[key], old != seq {
                s.conflicts.append("key \(key) was acknowledged as seq \(old) and later as seq \(seq)")
            }
            s.acknowledged[key] = seq
            s.refusedCleanly.remove(key)
        }
    }

    func refused(_ key: String) {
        state.withLock { s in
            if s.acknowledged[key] == nil && !s.uncertain.contains(key) { s.refusedCleanly.insert(key) }
        }
    }

    func uncertain(_ key: String) {
        state.withLock { s in
            s.uncertain.insert(key)
            s.refusedCleanly.remove(key)
        }
    }

    func failedNotDurable(_ key: String, _ error: String) {
        state.withLock { s in s.failedNotDurable[key] = error }
    }

    var failedWithoutDurable: [String: String] { state.withLock { $0.failedNotDurable } }

    func forgetFailure(_ key: String) { state.withLock { _ = $0.failedNotDurable.removeValue(forKey: key) } }

    /// Stops checking these keys (a loss already reported).
    func forget(_ keys: [String]) {
        state.withLock { s in for key in keys { s.acknowledged[key] = nil } }
    }

    var acknowledged: [String: UInt64] { state.withLock { $0.acknowledged } }
    var refusedCleanly: Set<String> { state.withLock { $0.refusedCleanly } }
    var conflicts: [String] { state.withLock { $0.conflicts } }
}

/// Counts the repair messages the library logs (torn tails cut, STATE.md
/// regenerated or kept aside) in a command's stderr.
func countRepairs(_ stderr: String) -> Int {
    stderr.split(separator: "\n").filter { line in
        let l = line.lowercased()
        return ["torn", "regenerat", "repair", "interrupted", "damaged"].contains { l.contains($0) }
    }.count
}

/// Runs the CLI to completion (never killed).
struct CLIRunner: Sendable {
    let binary: String
    let scratch: String

    struct Result {
        var status: Int32?
        var stdout: [UInt8]
        var stderr: String
    }

    func run(_ args: [String]) -> Result {
        do {
            let child = try Child(binary, args, outputIn: scratch)
            let exit = child.wait()
            return Result(status: exit.status, stdout: child.stdout, stderr: child.stderr)
        } catch {
            return Result(status: nil, stdout: [], stderr: "\(error)")
        }
    }
}

/// After writers stopped (killed, crashed or done): reopens the workspace
/// and checks Docs/GUARANTEES.md against what writers were told.
struct Checker {
    let cli: CLIRunner
    let features: Features
    let recorder: Recorder

    /// Returns the journal's last sequence number.
    @discardableResult
    func check(_ ws: Workspace, _ ledger: Ledger, context: String) -> UInt64 {
        recorder.add { $0.checks += 1 }
        let state = ["--state", ws.statePath]
        var repairs = 0
        defer { let r = repairs; recorder.add { $0.repairs += r } }

        // 1. verify, on the state exactly as the crash left it.
        if features.verify {
            let r = cli.run(["verify"] + state)
            repairs += countRepairs(r.stderr)
            let noWorkflowYet = r.status == 2 && r.stderr.contains("no workflow") && ledger.acknowledged.isEmpty
            if r.status != 0 && !noWorkflowYet {  // a crash before the first write was acknowledged leaves no workflow
                recorder.problem("\(context): verify exited \(r.status.map(String.init) ?? "by a signal"): \(firstLines(r.stderr + String(decoding: r.stdout, as: UTF8.self)))")
            }
        }

        // 2. show --json: any command heals STATE.md.
        let shown = cli.run(["show", "--json"] + state)
        repairs += countRepairs(shown.stderr)
        if shown.status == 2, ledger.acknowledged.isEmpty {
            // No write was acknowledged and none survived: there is no workflow yet.
            let exported = cli.run(["export"] + state)
            if exported.status != 0 && exported.status != 2 || !exported.stdout.isEmpty {
                recorder.problem("\(context): show says there is no workflow, but export exited \(exported.status.map(String.init) ?? "?") with \(exported.stdout.count) bytes")
            }
            return 0
        }
        if shown.status == 2, shown.stderr.contains("no workflow") {
            let acknowledged = ledger.acknowledged
            recorder.problem("\(context): the journal holds no workflow, but \(acknowledged.count) writes were acknowledged", lost: acknowledged.count)
            ledger.forget(Array(acknowledged.keys))
            return 0
        }
        guard shown.status == 0, let show = try? JSON.parse(shown.stdout) else {
            // A journal no command can read: every acknowledged write in it is
            // out of reach (counted as lost, once).
            let unreadable = shown.status == 5 ? ledger.acknowledged.count : 0
            recorder.problem("\(context): show --json exited \(shown.status.map(String.init) ?? "by a signal")"
                             + (unreadable > 0 ? " — the \(unreadable) acknowledged writes cannot be read back" : "") + ": \(firstLines(shown.stderr))",
                             lost: unreadable, other: 1)
            if unreadable > 0 { ledger.forget(Array(ledger.acknowledged.keys)) }
            return 0
        }

        // 3. The journal: gap-free, every key once, every acknowledged write there.
        let exported = cli.run(["export"] + state)
        repairs += countRepairs(exported.stderr)
        guard exported.status == 0 else {
            recorder.problem("\(context): export exited \(exported.status.map(String.init) ?? "by a signal"): \(firstLines(exported.stderr))")
            return 0
        }
        var seqs: [UInt64] = []
        var keyAt: [UInt64: String] = [:]
        var keyCount: [String: Int] = [:]
        for line in exported.stdout.split(separator: UInt8(ascii: "\n")) {
            guard let event = try? JSON.parse(Array(line)), let seq = event["seq"]?.intValue else {
                recorder.problem("\(context): export printed a line that is not an event: \(String(decoding: line.prefix(200), as: UTF8.self))")
                continue
            }
            seqs.append(UInt64(seq))
            if let key = event["idempotency_key"]?.stringValue {
                keyAt[UInt64(seq)] = key
                keyCount[key, default: 0] += 1
            }
        }
        let last = seqs.last ?? 0
        if seqs != (0..<seqs.count).map({ UInt64($0 + 1) }) {
            let firstGap = zip(seqs, 1...).first { $0.0 != UInt64($0.1) }
            recorder.problem("\(context): sequence numbers are not 1…\(last) without gaps (first difference: \(firstGap.map { "seq \($0.0) at position \($0.1)" } ?? "count"))")
        }
        let duplicated = keyCount.values.reduce(0) { $0 + max(0, $1 - 1) }
        if duplicated > 0 {
            let examples = keyCount.filter { $0.value > 1 }.prefix(3).map { "\($0.key)×\($0.value)" }
            recorder.problem("\(context): \(duplicated) events are in the journal more than once: \(examples.joined(separator: ", "))",
                             duplicated: duplicated)
        }
        var lost = 0
        var lostExamples: [String] = []
        for (key, seq) in ledger.acknowledged where keyAt[seq] != key {
            lost += 1
            if lostExamples.count < 3 { lostExamples.append("\(key)@\(seq) (journal has \(keyAt[seq] ?? "nothing") there)") }
        }
        if lost > 0 {
            recorder.problem("\(context): \(lost) acknowledged events are missing: \(lostExamples.joined(separator: "; "))", lost: lost)
            ledger.forget(ledger.acknowledged.filter { keyAt[$0.value] != $0.key }.map(\.key))  // count each loss once
        }
        for conflict in ledger.conflicts { recorder.problem("\(context): \(conflict)") }
        let phantoms = ledger.refusedCleanly.filter { keyCount[$0] != nil }
        if !phantoms.isEmpty {
            recorder.problem("\(context): \(phantoms.count) writes that were refused or timed out are in the journal: \(phantoms.prefix(3).joined(separator: ", "))")
        }
        for (key, error) in ledger.failedWithoutDurable where keyCount[key] != nil && ledger.acknowledged[key] == nil {
            recorder.problem("\(context): durable but not said: write \(key) failed with StateJournalError.durableSeq nil, yet its event is in the journal (its error: \(error.prefix(240)))")
            ledger.forgetFailure(key)  // reported once
        }
        if let shownSeq = show["seq"]?.intValue, UInt64(shownSeq) != last {
            recorder.problem("\(context): show --json is at seq \(shownSeq) but the journal ends at \(last)")
        }

        // 4. STATE.md: complete, valid, and the projection of the journal.
        checkProjection(ws, show: show, lastSeq: last, context: context)
        // Every command above ran after the crash; `show` removes STATE.md's
        // temporaries, anything under the writers' lock the journal's.
        let litter = ws.litter()
        if !litter.isEmpty {
            recorder.problem("\(context): temporary files are left behind after the checks' commands ran: \(litter.prefix(3).joined(separator: ", "))")
        }
        return last
    }

    func checkProjection(_ ws: Workspace, show: JSON, lastSeq: UInt64, context: String) {
        guard let bytes = FileManager.default.contents(atPath: ws.statePath).map({ [UInt8]($0) }) else {
            recorder.problem("\(context): STATE.md is missing after a command ran")
            return
        }
        switch ProjectionFooter.check(bytes) {
        case .valid(let seq) where seq == lastSeq: break
        case .valid(let seq): recorder.problem("\(context): STATE.md shows seq \(seq), the journal ends at \(lastSeq)")
        case .invalid(let why): recorder.problem("\(context): STATE.md footer: \(why)")
        }
        let text = String(decoding: bytes, as: UTF8.self)
        let problems = MarkdownValidator.validate(text)
        if !problems.isEmpty {
            recorder.problem("\(context): STATE.md does not validate: \(problems.prefix(3).map(\.description).joined(separator: "; "))")
        }
        // Parsing STATE.md gives what show --json gives.
        do {
            let parsed = try MarkdownParser.parse(text)
            let fromFile = summary(parsed)
            let fromShow = summary(show)
            if fromFile != fromShow {
                let diff = zip(fromFile, fromShow).first { $0.0 != $0.1 }
                recorder.problem("\(context): STATE.md differs from show --json: \(diff.map { "'\($0.0)' vs '\($0.1)'" } ?? "\(fromFile.count) vs \(fromShow.count) lines")"
                    .replacingOccurrences(of: "\n", with: "\\n"))
            }
        } catch {
            recorder.problem("\(context): STATE.md does not parse: \(error)")
        }
        // And it is byte for byte what the renderer makes of the journal.
        let manager = StateManager(configuration: .init(statePath: ws.statePath, actor: "torture-check", command: "torture check"),
                                   logger: quietLogger)
        do {
            if let state = try manager.loadState(), MarkdownRenderer.render(state) != text {
                recorder.problem("\(context): STATE.md is not the rendering of the journal's state")
            }
        } catch {
            recorder.problem("\(context): the library cannot load the state: \(error)")
        }
    }

    /// Comparable lines: header fields, one line a task (files as STATE.md
    /// shows them: the first three), notes, metadata.
    func summary(_ file: ParsedStateFile) -> [String] {
        var out = ["id \(file.workflowID)", "name \(file.name)", "wave \(file.currentWave)/\(file.totalWaves)",
                   "seq \(file.footer?.seq ?? 0)"]
        // STATE.md lists tasks by section, show --json in plan order: compare as sets.
        // Failed tasks are listed flat (as the earlier tool writes them): their wave is not in the file.
        out += file.tasks.map { t in
            "task \(t.id)|\(t.status.rawValue)|\(t.status == .failed ? "-" : String(t.wave))|\(t.description)|\(t.commit ?? "-")|\(t.error ?? "-")|\(t.files.prefix(3).joined(separator: ","))"
        }.sorted()
        out += file.notes.map { "note \($0)" }
        out += file.metadata.map { "meta \($0.key)=\($0.value)" }
        return out
    }

    func summary(_ show: JSON) -> [String] {
        var out = ["id \(show["workflow_id"]?.stringValue ?? "")", "name \(show["workflow_name"]?.stringValue ?? "")",
                   "wave \(show["current_wave"]?.intValue ?? -1)/\(show["total_waves"]?.intValue ?? -1)",
                   "seq \(show["seq"]?.intValue ?? -1)"]
        out += (show["tasks"]?.arrayValue ?? []).map { t in
            let files = (t["files"]?.arrayValue ?? []).compactMap(\.stringValue)
            let failed = t["status"]?.stringValue == "failed"
            return "task \(t["task_id"]?.stringValue ?? "")|\(t["status"]?.stringValue ?? "")|\(failed ? "-" : String(t["wave"]?.intValue ?? -1))|"
                + "\(t["description"]?.stringValue ?? "")|\(t["commit"]?.stringValue ?? "-")|\(t["error"]?.stringValue ?? "-")|"
                + files.prefix(3).joined(separator: ",")
        }.sorted()
        out += (show["notes"]?.arrayValue ?? []).map { "note \($0.stringValue ?? "")" }
        if let members = show["metadata"]?.objectValue {
            out += members.map { "meta \($0.key)=\($0.value.stringValue ?? "")" }
        }
        return out
    }
}

func firstLines(_ text: String, _ n: Int = 3) -> String {
    text.split(separator: "\n").prefix(n).joined(separator: " / ")
}
