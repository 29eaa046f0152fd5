import StateJournalEngine
/// Which events `log` shows; every given condition must hold.
public struct EventFilter: Sendable {
    /// Only events written by this actor.
    public var actor: String?
    /// Only events about this task.
    public var taskID: String?
    /// Only events of this type, e.g. `task.completed` (``Event/Payload/typeName``).
    public var type: String?
    /// Inclusive bounds.
    public var since: Timestamp?
    /// Only events at or before this time.
    public var until: Timestamp?

    /// A filter; every condition left nil matches all events.
    public init(actor: String? = nil, taskID: String? = nil, type: String? = nil,
                since: Timestamp? = nil, until: Timestamp? = nil) {
        self.actor = actor
        self.taskID = taskID
        self.type = type
        self.since = since
        self.until = until
    }

    package func matches(_ event: Event) -> Bool {
        if let actor, event.actor != actor { return false }
        if let type, event.payload.typeName != type { return false }
        if let since, event.time < since { return false }
        if let until, event.time > until { return false }
        if let taskID, !event.payload.taskIDs.contains(taskID) { return false }
        return true
    }
}

extension StateManager {
    /// The events that match `filter`, oldest first.
    package func events(matching filter: EventFilter) throws -> [Event] {
        var events: [Event] = []
        try forEachEvent(matching: filter) { events.append($0) }
        return events
    }

    /// Calls `body` with each event that matches `filter`, oldest first,
    /// without holding them all. With `since`, reading starts at the first
    /// event at or after that time (found in the store's time index), so
    /// older history is not decoded.
    public func forEachEvent(matching filter: EventFilter, _ body: (Event) throws -> Void) throws {
        try reading { store, _ in
            var start: UInt64 = 0
            if let since = filter.since {
                start = try store.lastSeq(atOrBefore: Timestamp(microseconds: since.microseconds - 1)) ?? 0
            }
            try store.readEvents(after: start) { if filter.matches($0) { try body($0) } }
        }
    }

    /// The journal's last `count` events, oldest first, read from where
    /// they start (not from the first event): `log -n` without filters,
    /// `status`.
    package func lastEvents(_ count: Int) throws -> [Event] {
        try reading { store, current in
            guard count > 0 else { return [] }
            let last = try current?.lastSeq ?? store.bounds()?.lastSeq ?? 0
            var events: [Event] = []
            try store.readEvents(after: last > UInt64(count) ? last - UInt64(count) : 0, upTo: last) { events.append($0) }
            return events
        }
    }

    /// The state right after event `seq`.
    ///
    /// - Throws: `.badInput` when `seq` is 0 or beyond the journal's last event.
    public func state(atSeq seq: UInt64) throws -> WorkflowState? {
        let folded = try reading { store, _ in try fold(store, upTo: seq) }
        guard seq >= 1, seq <= folded.lastSeq else {
            throw StateJournalError.badInput(folded.lastSeq == 0
                ? "seq \(seq) is out of range: the journal is empty — run 'statejournal init' or 'statejournal import' first"
                : "seq \(seq) is out of range; the journal holds events 1…\(folded.lastSeq) — give one of them (see 'statejournal log')")
        }
        return folded.state
    }

    /// The state at `time`: right after the last event at or before it. A
    /// time after the last event gives the current state.
    ///
    /// The time is looked up in the store's sequence ↔ time index, then the
    /// journal is folded up to that event from the nearest snapshot.
    /// - Throws: `.badInput` when `time` is before the first event;
    ///   `.notInitialized` when the journal is empty.
    public func state(at time: Timestamp) throws -> WorkflowState? {
        try reading { store, _ in try fold(store, upTo: try resolve(time, in: store)).state }
    }
}
