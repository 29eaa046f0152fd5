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

/// Read commands regenerate a missing, stale or damaged STATE.md first
/// (Docs/GUARANTEES.md, Self-healing: any command, read or write). A failure to do so is
/// reported but does not stop the read: the journal is what they print.
func healBeforeReading(_ manager: StateManager) {
    do {
        try manager.refreshProjection()
    } catch {
        CLILog.logger.warning("could not regenerate STATE.md before reading", metadata: ["error": "\(error)"])
    }
}
