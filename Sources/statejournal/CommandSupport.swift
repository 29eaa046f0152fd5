import Logging
import StateJournal

/// Reports a write like ``WriteRequest/perform()``: the event as JSON on stdout with
/// `--json`, a line on stderr otherwise.
func reportWrite(_ outcome: StateManager.WriteOutcome, _ flags: WriteFlags, _ manager: StateManager, extra: String = "") {
    reportWrite(outcome, json: flags.json, manager, extra: extra)
}

func reportWrite(_ outcome: StateManager.WriteOutcome, json: Bool, _ manager: StateManager, extra: String = "") {
    if json {
        Output.json(outcome.json())
    } else {
        let what = outcome.wasDuplicate ? "already recorded as" : "recorded"
        Output.stderr("\(outcome.event.payload.typeName) \(what) seq \(outcome.event.seq) in \(manager.statePath)\(extra)")
    }
}
