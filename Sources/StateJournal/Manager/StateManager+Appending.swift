import Logging

// `import`: the one write that appends a whole history, to a journal that
// has none. It follows ``StateManager/writeDerived(options:_:)``: lock →
// check → ``StateManager/appendEvents(_:after:reaching:to:)`` → STATE.md.
extension StateManager {
    /// Appends `events` — a complete history for a journal that has none —
    /// in one durable append, and writes STATE.md for the state they fold
    /// to. The STATE.md that was at the path (often the very file imported)
    /// is kept byte for byte as `STATE.md.backup`.
    ///
    /// Every event is checked first (sequence numbers 1, 2, 3… without gaps;
    /// each applies to the state before it); on any problem nothing is
    /// written.
    /// - Throws: `.badInput` when the journal already holds events, or when
    ///   an event does not apply (the message names its sequence number).
    /// - Returns: the state after the last event.
    func appendHistory(_ events: [Event], source: String) throws -> WorkflowState {
        guard !events.isEmpty else {
            throw StateJournalError.badInput("\(source) holds no events; nothing to import")
        }
        var state: WorkflowState?
        for (i, event) in events.enumerated() {
            guard event.seq == UInt64(i + 1) else {
                throw StateJournalError.badInput(
                    "\(source): event \(i + 1) has seq \(event.seq); an import needs seq 1, 2, 3… without gaps, oldest first")
            }
            do {
                try WorkflowState.apply(event, to: &state)
            } catch {
                throw StateJournalError.badInput("\(source): event \(event.seq) (\(event.payload.typeName)) does not apply to the state before it: \(error.message)")
            }
        }
        guard let final = state else {
            throw StateJournalError.badInput("\(source) holds no workflow; nothing to import")
        }
        let store = makeStore()
        try store.withWriteLock(configuration.lock, command: configuration.command) {
            let last = try store.readEvents(after: 0) { _ in }
            guard last == 0 else {
                throw StateJournalError.badInput(
                    "a journal already exists at '\(store.location)' (its last event is seq \(last)); import only starts a new journal — "
                    + "give another --state path, or see its history with 'statejournal log'")
            }
            try appendEvents(events, after: Folded(), reaching: final, to: store)
            // Projected here rather than by `publish`, which would take the
            // file that was there (usually an earlier tool's, without a
            // footer) for a damaged one: it is the previous projection.
            // Lock order: writers' lock, then the projector's; nothing takes
            // them the other way round.
            let projector = FileLock(path: projectorLockPath, fileSystem: fs)
            try projector.acquire(configuration.lock, command: configuration.command + " (projecting STATE.md)")
            defer { projector.release() }
            do {
                try fs.atomicReplace(statePath, with: Array(MarkdownRenderer.render(final).utf8), backup: backupPath)
            } catch {
                logger.warning("journal imported but STATE.md was not replaced; it will be regenerated", metadata: ["error": "\(error)"])
                throw StateJournalError(.io, "the import is in the journal (seq 1…\(final.seq)), but replacing '\(statePath)' failed (\(error)); "
                    + "the next statejournal command regenerates it", path: statePath)
            }
        }
        return final
    }
}
