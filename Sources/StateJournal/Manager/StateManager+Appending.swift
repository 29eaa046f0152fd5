import Logging
import StateJournalEngine

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
    ///
    /// With an idempotency key, a retry is recognised: when the journal
    /// already holds what this import writes (`isRetry` says so, given the
    /// journal's events), nothing is written and that history is returned
    /// with `wasDuplicate`.
    /// - Throws: `.conflict` when `expectSeq` is not the journal's last
    ///   sequence number (0: no journal); `.badInput` when the journal
    ///   already holds events, or when an event does not apply (the message
    ///   names its sequence number).
    package func appendHistory(_ events: [Event], source: String, options: WriteOptions = WriteOptions(),
                       isRetry: ([Event]) -> Bool = { _ in false }) throws -> (state: WorkflowState, wasDuplicate: Bool) {
        if let key = options.idempotencyKey, key.isEmpty {
            throw StateJournalError.badInput("the idempotency key is empty; give a non-empty key")
        }
        guard !events.isEmpty else {
            throw StateJournalError.badInput("\(source) holds no events; nothing to import")
        }
        // Identities as the journal will give them (STATE.md's footer names the last).
        let events = events.map { $0.withIdentity() }
        var folded = Folded()
        var keys: [String: UInt64] = [:]
        for (i, event) in events.enumerated() {
            guard event.seq == UInt64(i + 1) else {
                throw StateJournalError.badInput(
                    "\(source): event \(i + 1) has seq \(event.seq); an import needs seq 1, 2, 3… without gaps, oldest first")
            }
            // A key names one write: no store keeps two events under one
            // (a database's unique index would refuse the copy half-way).
            if let key = event.idempotencyKey {
                if let first = keys[key] {
                    throw StateJournalError.badInput(
                        "\(source): events seq \(first) and \(event.seq) carry the same idempotency key '\(key)'; a key names one write — remove it from one of them")
                }
                keys[key] = event.seq
            }
            do {
                try folded.apply(event)
            } catch {
                throw StateJournalError.badInput("\(source): " + Self.doesNotApply(event, error))
            }
        }
        guard let final = folded.state else {
            throw StateJournalError.badInput("\(source) holds no workflow; nothing to import")
        }
        let store = makeStore()
        let outcome: (state: WorkflowState, wasDuplicate: Bool) = try store.withWriteLock(configuration.lock, command: configuration.command) {
            // The journal's events are kept only when a retry is to be recognised.
            var existing: [Event] = []
            let keep = options.idempotencyKey != nil
            let last = try store.readEvents(after: 0) { if keep { existing.append($0) } }
            if last > 0, keep, isRetry(existing), let state = try fold(store).state {
                return (state, true)
            }
            if let expected = options.expectSeq, expected != last {
                throw StateJournalError(.conflict,
                    "the journal is at seq \(last), not \(expected) as expected; nothing was imported — an import needs an empty journal (--expect-seq 0)")
            }
            guard last == 0 else {
                throw StateJournalError.badInput(
                    "a journal already exists at '\(store.location)' (its last event is seq \(last)); import only starts a new journal — "
                    + "give another --state path, or see its history with 'statejournal log'")
            }
            try appendEvents(events, after: Folded(), reaching: final, to: store)
            return (final, false)
        }
        // Projected after the writers' lock is released (projectors take the
        // writers' lock for a moment to read what is committed). The file
        // that was at the path (usually an earlier tool's, without a footer)
        // is the previous projection: kept as the backup, not as damaged.
        // A retry — also one whose first attempt died before STATE.md was
        // written — returns only once STATE.md shows the import.
        do {
            try publish((outcome.state.seq, outcome.state.eventIdentity), policy: .eager, previousIsProjection: true)
        } catch {
            logger.warning("journal imported but STATE.md was not replaced; it will be regenerated", metadata: ["error": "\(error)"])
            throw StateJournalError(.io, "the import is durable in the journal (seq 1…\(outcome.state.seq)) and will not be lost, but replacing '\(statePath)' failed (\(error)); "
                + "do not import it again — STATE.md is regenerated by the next statejournal command that can write its directory", path: statePath,
                durableSeq: outcome.state.seq)
        }
        return outcome
    }
}
