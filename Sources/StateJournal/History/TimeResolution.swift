import StateJournalEngine

extension StateManager {
    /// The sequence number of the last event at or before `time`, from the
    /// store's sequence ↔ time index (it decodes at most one segment).
    ///
    /// - Throws: `.notInitialized` when the journal is empty; `.badInput`
    ///   when `time` is before the first event (the message names that
    ///   event's time).
    package func lastSeq(atOrBefore time: Timestamp) throws -> UInt64 {
        try reading { store, _ in try resolve(time, in: store) }
    }

    package func resolve(_ time: Timestamp, in store: any JournalStore) throws -> UInt64 {
        guard let bounds = try store.bounds() else {
            throw StateJournalError(.notInitialized,
                "the journal at '\(statePath)' is empty; there is no state at \(time.rfc3339) — run 'statejournal init' or 'statejournal import' first")
        }
        guard let seq = try store.lastSeq(atOrBefore: time) else {
            throw StateJournalError.badInput(
                "\(time.rfc3339) is before the first event (seq \(bounds.firstSeq) at \(bounds.firstTime.rfc3339), "
                + "\(bounds.firstTime.localDateTime) local); give a time at or after it")
        }
        return seq
    }
}
