import StateJournalEngine

// Idempotency keys: a retry with a key already in the journal writes
// nothing and returns the original event — but only when it is the same
// write. A key reused with different content is a conflict naming the
// original event (issue 17, item 3).
extension StateManager {
    /// Throws `.conflict` unless `makePayload` makes `original`'s payload
    /// again.
    ///
    /// The payload is made over the state there is now, and, when that
    /// differs (a write derived from the state, like `update`, appends its
    /// notes to the notes there are), over the state right before the
    /// original event (read from `store`; nil when the original is not
    /// durable yet), at the original's time: a retry of the same request
    /// makes the same payload there. Payloads are compared as the journal
    /// stores them; the envelope (time, actor, pid) never counts.
    package func checkSameWrite(_ original: Event, key: String,
                                _ makePayload: (WorkflowState?, Timestamp) throws -> Event.Payload,
                                now current: WorkflowState?, in store: (any JournalStore)?) throws {
        let stored = Self.content(original.payload)
        if let again = try? makePayload(current, original.time), Self.content(again) == stored { return }
        if let store, original.seq > 1, let before = try? fold(store, upTo: original.seq - 1).state,
           let again = try? makePayload(before, original.time), Self.content(again) == stored { return }
        if store != nil, original.seq == 1, let again = try? makePayload(nil, original.time), Self.content(again) == stored { return }
        throw StateJournalError(.conflict,
            "idempotency key '\(key)' was already used by seq \(original.seq) (\(original.payload.typeName) by \(original.actor) at \(original.time.rfc3339)) "
            + "for a different write; nothing was written — use a new key for a new write, or repeat the original write exactly to get its result")
    }

    /// A payload as the journal stores it (the envelope fixed), for comparing.
    private static func content(_ payload: Event.Payload) -> [UInt8] {
        Event(seq: 1, time: Timestamp(microseconds: 0), actor: "", pid: 0, payload: payload).json().encoded()
    }
}
