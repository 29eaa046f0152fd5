import Logging
import StateJournal

/// Reports a write like ``performWrite``: the event as JSON on stdout with
/// `--json`, a line on stderr otherwise.
func reportWrite(_ outcome: StateManager.WriteOutcome, _ flags: WriteFlags, _ manager: StateManager, extra: String = "") {
    if flags.json {
        var members = outcome.event.json().objectValue ?? []
        members.append(JSON.Member("duplicate", .bool(outcome.wasDuplicate)))
        Output.json(.object(members))
    } else {
        let what = outcome.wasDuplicate ? "already recorded as" : "recorded"
        Output.stderr("\(outcome.event.payload.typeName) \(what) seq \(outcome.event.seq) in \(manager.statePath)\(extra)")
    }
}
