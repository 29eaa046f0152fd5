#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ArgumentParser
import StateJournal

/// `statejournal replay [--to-seq N] [--step [--from-seq N]] [--json] [--progress | --no-progress]`
struct Replay: GlobalCommand, Exemplified {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Refold the journal from its first event and show the state it gives.",
        discussion: """
            Every event is checked to apply to the state before it. Without --step, prints the \
            resulting STATE.md (or show --json's object with --json). With --step, prints for each \
            event from --from-seq on a header line and the line diff of STATE.md (footer line left \
            out) it made; the cost grows with the number of events, not with events × state. On a \
            terminal, a replay that takes more than a second shows its progress on stderr.
            """)

    static let examples = [
        "statejournal replay --step --from-seq 40 --to-seq 45   # what events 40…45 changed",
        "statejournal replay --json",
    ]

    @ParentCommand var root: StateJournalCommand
    @Option(name: .customLong("to-seq"), help: ArgumentHelp("Stop after event N.", valueName: "N")) var toSeq: UInt64?
    @Option(name: .customLong("from-seq"), help: ArgumentHelp("With --step: print the steps from event N on (the replay still checks every event from 1).", valueName: "N"))
    var fromSeq: UInt64?
    @Flag(help: "Show what each event changed in STATE.md, as a line diff.") var step = false
    @Flag(help: "Print the resulting state as JSON (without --step).") var json = false
    @Flag(inversion: .prefixedNo, help: "Show progress on stderr (default: on a terminal, for runs longer than a second).")
    var progress: Bool?
    @OptionGroup(title: "Global options") var trailing: GlobalOptions<Trailing>

    func validate() throws {
        if step && json { throw ValidationError("--json prints the resulting state; give it without --step") }
        if fromSeq != nil && !step { throw ValidationError("--from-seq chooses the steps to print; give it with --step") }
        if let fromSeq, let toSeq, fromSeq > toSeq {
            throw ValidationError("--from-seq \(fromSeq) is after --to-seq \(toSeq); give a range that runs forwards")
        }
    }

    func run() throws {
        let manager = try global.existingManager(command: "replay")
        let meter = ProgressMeter(label: "replay", mode: progress)
        let state: WorkflowState
        if step {
            var out = LineBuffer()
            state = try manager.replaySteps(from: fromSeq ?? 1, toSeq: toSeq, progress: meter.update) { event, diff in
                out.append(Terminal.paint("seq \(event.seq)", .bold) + "  \(event.time.localDateTime)  \(Terminal.oneLine(event.actor, limit: 40))  "
                    + Terminal.paint(event.payload.typeName, event.typeStyle) + "  \(event.summary)")
                out.append(diff.isEmpty ? Terminal.paint("(STATE.md unchanged)", .dim) : diffText(diff))
            }
            out.flush()
        } else {
            state = try manager.replay(toSeq: toSeq, progress: meter.update)
        }
        meter.finish()
        // Sequence numbers run 1, 2, 3… without gaps: the last one is the count.
        let count = state.seq
        if !step {
            if json {
                Output.stdout(state.json().prettyString())
            } else {
                Output.stdout(MarkdownRenderer.render(state))
            }
        }
        Output.stderr("replayed \(count) event\(count == 1 ? "" : "s") (seq 1…\(state.seq)); every event applies")
    }
}

/// Progress of a long run on stderr, as git shows it: on a terminal, one
/// line rewritten in place (`replay: 4000/8000 events (50%)`), shown only
/// once the run has taken a second, at most five times a second, and
/// cleared at the end; forced (`--progress`), a line at most every second
/// and a last one at 100%, also when stderr is not a terminal; never with
/// `--no-progress`.
final class ProgressMeter {
    private let label: String
    private let forced: Bool
    private let enabled: Bool
    private let terminal = isatty(2) == 1
    private let started = ProgressMeter.now()
    private var lastShown = 0.0
    private var shown = false
    private var shownSeq: UInt64 = 0
    private var last: (seq: UInt64, total: UInt64) = (0, 0)

    init(label: String, mode: Bool?) {
        self.label = label
        forced = mode == true
        enabled = mode ?? (isatty(2) == 1)
    }

    static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// After event `seq` of `total`.
    func update(_ seq: UInt64, _ total: UInt64) {
        last = (seq, total)
        guard enabled, seq % 64 == 0 || seq == total else { return }
        let now = Self.now()
        let interval = terminal ? 0.2 : 1.0
        guard now - started >= (forced ? 0 : 1.0), now - lastShown >= interval else { return }
        lastShown = now
        show(seq, total)
    }

    private func show(_ seq: UInt64, _ total: UInt64) {
        let percent = total > 0 ? seq * 100 / total : 100
        let text = "\(label): \(seq)/\(total) events (\(percent)%)"
        Output.raw(2, terminal ? "\r" + text + "\u{1B}[K" : text + "\n")
        shown = true
        shownSeq = seq
    }

    /// The run is over: a forced meter's last line says 100%; a terminal line is cleared.
    func finish() {
        guard enabled else { return }
        if terminal {
            if shown { Output.raw(2, "\r\u{1B}[K") }
        } else if shownSeq != last.total || !shown {
            show(last.total, last.total)
        }
    }
}
