import Foundation
import Synchronization

/// What one phase counted. Every field only grows; phases add into one
/// value under a lock.
struct Figures: Sendable {
    /// Rounds (processes phases), simulated crash cycles, thread runs.
    var runs = 0
    /// Processes ended by SIGKILL while working.
    var kills = 0
    /// Kills that landed after the append's fdatasync and before the
    /// STATE.md rename (the event durable, STATE.md not yet showing it).
    var postAppendKills = 0
    /// Kills that landed between the append's pwrite and its fdatasync.
    var syncKills = 0
    /// Simulated machine crashes (lost-write mode).
    var crashes = 0
    /// Faults injected (EIO, ENOSPC, torn writes, short writes).
    var faults = 0
    /// Write attempts: one CLI process or one library call.
    var attempts = 0
    /// Writes whose writer was told "success".
    var acknowledged = 0
    /// Of those, retries answered with the original event (idempotency key seen).
    var idempotentReplays = 0
    /// Exit 2: a transition the state does not allow (expected on shared tasks).
    var refused = 0
    /// Exit 3: the lock deadline passed.
    var timeouts = 0
    /// Writes that failed because of an injected fault.
    var failedByFault = 0
    /// Writes that failed with nothing injected and nothing killed (e.g. a
    /// reader racing a seal). A problem under `--strict` (the long run).
    var errors = 0
    /// Writes that failed after their event became durable (see FaultPhase).
    var landedOnError = 0
    /// Acknowledged events missing from the journal (must be 0).
    var lost = 0
    /// Events present more than once, by idempotency key (must be 0).
    var duplicated = 0
    /// STATE.md reads by the reader processes.
    var reads = 0
    /// Reads that saw a partial, missing or invalid STATE.md (must be 0).
    var tornReads = 0
    /// STATE.md showing an event the journal does not hold, or other events
    /// than the journal's at the same seq (must be 0).
    var ahead = 0
    /// Repairs the library reported: torn tails cut, STATE.md regenerated.
    var repairs = 0
    /// Consistency checks run after a round (verify, projection, gap-free).
    var checks = 0
    /// Every other violated property: gaps, failed verify, STATE.md not
    /// equal to the journal's projection, unexpected exit codes, writes that
    /// were refused yet landed, stale STATE.md after an acknowledged write.
    var problems = 0
    /// Wall-clock seconds.
    var seconds = 0.0
    /// Events a second, where a phase measures a rate.
    var rate: Double?

    static func + (a: Figures, b: Figures) -> Figures {
        var r = a
        r.postAppendKills += b.postAppendKills; r.syncKills += b.syncKills; r.ahead += b.ahead
        r.runs += b.runs; r.kills += b.kills; r.crashes += b.crashes; r.faults += b.faults
        r.attempts += b.attempts; r.acknowledged += b.acknowledged; r.idempotentReplays += b.idempotentReplays
        r.refused += b.refused; r.timeouts += b.timeouts; r.failedByFault += b.failedByFault
        r.landedOnError += b.landedOnError
        r.errors += b.errors
        r.lost += b.lost; r.duplicated += b.duplicated; r.reads += b.reads; r.tornReads += b.tornReads
        r.repairs += b.repairs; r.checks += b.checks; r.problems += b.problems; r.seconds += b.seconds
        r.rate = nil
        return r
    }

    var failed: Bool { lost > 0 || duplicated > 0 || tornReads > 0 || ahead > 0 || problems > 0 }
}

/// Collects figures and the first problems found, from any thread.
final class Recorder: Sendable {
    private struct State {
        var figures = Figures()
        var problems: [String] = []
        var notes: [String] = []
        var landings: [String: Int] = [:]
    }
    private let state = Mutex(State())
    let phase: String
    /// Whether unexplained write errors count as problems.
    let strict: Bool

    init(phase: String, strict: Bool = false) {
        self.phase = phase
        self.strict = strict
    }

    /// A write that failed with no fault injected and no kill: a problem
    /// in every configuration (issue 18).
    func error(_ message: String) {
        add { $0.errors += 1 }
        problem("unexplained write error: " + message)
    }

    func add(_ body: (inout Figures) -> Void) { state.withLock { body(&$0.figures) } }

    /// Records a violated property; the first ones are printed at the end.
    /// Counted as lost, duplicated, torn or ahead when it is one of those,
    /// else (or also, with `other`) as a problem.
    func problem(_ message: String, lost: Int = 0, duplicated: Int = 0, torn: Int = 0, ahead: Int = 0, other: Int? = nil) {
        state.withLock {
            $0.figures.problems += other ?? (lost == 0 && duplicated == 0 && torn == 0 && ahead == 0 ? 1 : 0)
            $0.figures.lost += lost
            $0.figures.duplicated += duplicated
            $0.figures.tornReads += torn
            $0.figures.ahead += ahead
            if $0.problems.count < 50 { $0.problems.append(message) }
        }
        log("PROBLEM: \(message)")
    }

    /// Something worth telling that is not a violation (e.g. litter left by a crash).
    func note(_ message: String) {
        state.withLock { s in
            if !s.notes.contains(where: { $0.prefix(60) == message.prefix(60) }) && s.notes.count < 20 { s.notes.append(message) }
        }
    }

    /// Records where a kill landed (and counts it in the figures when it is
    /// a post-append or a between-pwrite-and-fdatasync kill).
    func landed(_ place: String) {
        state.withLock { s in
            s.landings[place, default: 0] += 1
            if place == Landing.postAppend { s.figures.postAppendKills += 1 }
            if place == Landing.sync { s.figures.syncKills += 1 }
        }
    }

    var landings: [String: Int] { state.withLock { $0.landings } }

    var figures: Figures { state.withLock { $0.figures } }
    var problems: [String] { state.withLock { $0.problems } }
    var notes: [String] { state.withLock { $0.notes } }

    func log(_ message: String) {
        FileHandle.standardError.write(Data("[torture \(phase)] \(message)\n".utf8))
    }
}

enum Report {
    static let columns: [(String, @Sendable (Figures) -> String)] = [
        ("runs", { "\($0.runs)" }),
        ("kills", { "\($0.kills)" }),
        ("post-append kills", { "\($0.postAppendKills)" }),
        ("sync kills", { "\($0.syncKills)" }),
        ("simulated crashes", { "\($0.crashes)" }),
        ("faults", { "\($0.faults)" }),
        ("attempts", { "\($0.attempts)" }),
        ("acked", { "\($0.acknowledged)" }),
        ("replays", { "\($0.idempotentReplays)" }),
        ("refused", { "\($0.refused)" }),
        ("timeouts", { "\($0.timeouts)" }),
        ("landed on error", { "\($0.landedOnError)" }),
        ("errors", { "\($0.errors)" }),
        ("lost", { "\($0.lost)" }),
        ("duplicated", { "\($0.duplicated)" }),
        ("reads", { "\($0.reads)" }),
        ("torn reads", { "\($0.tornReads)" }),
        ("STATE.md ahead", { "\($0.ahead)" }),
        ("repairs", { "\($0.repairs)" }),
        ("checks", { "\($0.checks)" }),
        ("problems", { "\($0.problems)" }),
        ("seconds", { String(format: "%.0f", $0.seconds) }),
    ]

    /// A markdown table: one row a phase, then the total.
    static func table(_ rows: [(String, Figures)]) -> String {
        let total = rows.map(\.1).reduce(Figures(), +)
        let all = rows + [("**total**", total)]
        let header = ["phase"] + columns.map(\.0)
        let lines = all.map { name, f in [name] + columns.map { $0.1(f) } }
        let widths = (0..<header.count).map { c in ([header[c]] + lines.map { $0[c] }).map(\.count).max() ?? 0 }
        func row(_ cells: [String]) -> String {
            "| " + cells.enumerated().map { i, s in
                i == 0 ? s.padding(toLength: widths[i], withPad: " ", startingAt: 0)
                       : String(repeating: " ", count: widths[i] - s.count) + s
            }.joined(separator: " | ") + " |"
        }
        var out = [row(header)]
        out.append("|" + widths.enumerated().map { i, w in i == 0 ? " " + String(repeating: "-", count: w) + " " : " " + String(repeating: "-", count: w - 1) + ": " }.joined(separator: "|") + "|")
        out += lines.map(row)
        return out.joined(separator: "\n")
    }
}

/// Where a kill landed.
enum Landing {
    static let sync = "between pwrite and fdatasync"
    static let postAppend = "after the append, before the STATE.md rename"
    static let unknown = "at a random instant (not stamped)"
}
