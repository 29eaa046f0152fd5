import ArgumentParser
import StateJournal

/// `statejournal replay [--to-seq N] [--step] [--json]`
struct Replay: GlobalCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Refold the journal from its first event and show the state it gives.",
        discussion: """
            Every event is checked to apply to the state before it. Without --step, prints the \
            resulting STATE.md (or show --json's object with --json). With --step, prints for each \
            event a header line and the line diff of STATE.md (footer line left out) it made.
            """)

    @ParentCommand var root: StateJournalCommand
    @Option(name: .customLong("to-seq"), help: ArgumentHelp("Stop after event N.", valueName: "N")) var toSeq: UInt64?
    @Flag(help: "Show what each event changed in STATE.md, as a line diff.") var step = false
    @Flag(help: "Print the resulting state as JSON (without --step).") var json = false
    @OptionGroup(title: "Global options") var trailing: GlobalOptions<Trailing>

    func validate() throws {
        if step && json { throw ValidationError("--json prints the resulting state; give it without --step") }
    }

    func run() throws {
        let manager = try global.existingManager(command: "replay")
        let state: WorkflowState
        if step {
            state = try manager.replay(toSeq: toSeq) { replayStep in
                let event = replayStep.event
                var block = [Terminal.paint("seq \(event.seq)", .bold) + "  \(event.time.localDateTime)  \(event.actor)  "
                    + Terminal.paint(event.payload.typeName, event.typeStyle) + "  \(event.summary)"]
                let diff = replayStep.diff
                block.append(diff.isEmpty ? Terminal.paint("(STATE.md unchanged)", .dim) : diffText(diff))
                Output.stdout(block.joined(separator: "\n") + "\n")
            }
        } else {
            state = try manager.replay(toSeq: toSeq)
        }
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
