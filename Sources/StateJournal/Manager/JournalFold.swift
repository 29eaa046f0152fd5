import Logging
import StateJournalEngine

// The fold, written once: from a snapshot (or the first event), the events
// after it, each applied with ``WorkflowState/apply(_:to:)``; a callback sees
// every event applied. Writers, readers, history, verify and compaction all
// fold through ``StateManager/fold(_:from:upTo:keepingBefore:_:)`` (or, for
// a process's cached fold, ``StateManager/currentFold(_:)``), so that an
// event that does not apply is reported in one wording everywhere.
extension StateManager {
    /// The journal folded: the state and what writers need to know.
    package struct Folded {
        package var state: WorkflowState?
        package var lastSeq: UInt64 = 0
        package var lastTime = Timestamp(microseconds: 0)
        /// Idempotency keys and the sequence number of the event that carried each.
        package var idempotencyKeys: [String: UInt64] = [:]
        /// The snapshot the fold started from (0: none).
        package var snapshotSeq: UInt64 = 0

        /// The last event's sequence number and identity: what STATE.md's
        /// footer must name to be current.
        package var position: (seq: UInt64, event: UInt32) { (lastSeq, state?.eventIdentity ?? 0) }

        /// One step of the fold: `event` applied to the state. On error
        /// (the event does not apply) nothing changes.
        package mutating func apply(_ event: Event) throws(StateJournalError) {
            try WorkflowState.apply(event, to: &state)
            lastSeq = event.seq
            lastTime = max(lastTime, event.time)
            if let key = event.idempotencyKey { idempotencyKeys[key] = event.seq }
        }
    }

    /// Where a fold starts.
    package enum FoldStart {
        /// The newest snapshot the journal confirms (at or before the
        /// fold's limit); the first event when there is none.
        case snapshot
        /// The first event: every event is applied and checked (replay,
        /// blame, verify).
        case firstEvent
    }

    /// One event a fold applied, for its callback.
    package struct FoldStep {
        package let event: Event
        /// The state before the event, when the fold was asked to keep it
        /// (`keepingBefore`); nil otherwise, and before the first workflow.
        package let before: WorkflowState?
        /// The state after the event.
        package let after: WorkflowState?
    }

    /// The wording, everywhere, of an event of the journal that does not
    /// apply to the state before it (`location`: the store, when known).
    package static func doesNotApply(_ event: Event, _ error: StateJournalError, in location: String? = nil) -> String {
        "event \(event.seq) (\(event.payload.typeName))\(location.map { " in '\($0)'" } ?? "") does not apply to the state before it: \(error.message)"
    }

    /// Stops a fold from a snapshot whose last event is not the journal's.
    private struct SnapshotMismatch: Error {}

    /// Folds the journal up to `limit`.
    ///
    /// - Parameters:
    ///   - start: from the newest snapshot the journal confirms, or from the
    ///     first event.
    ///   - keepingBefore: whether ``FoldStep/before`` is wanted for an event
    ///     (keeping it costs a copy of the state when the event changes it
    ///     in place: ask only where needed).
    ///   - each: called after each event is applied.
    package func fold(_ store: any JournalStore, from start: FoldStart = .snapshot, upTo limit: UInt64 = .max,
                      keepingBefore: (Event) -> Bool = { _ in false },
                      _ each: ((FoldStep) throws -> Void)? = nil) throws -> Folded {
        if start == .snapshot {
            // The newest snapshot the journal confirms; an older one when it
            // does not (a snapshot newer than what a reader may see, or of
            // another history), a few times at most before replaying from
            // the start.
            var bound = limit
            for _ in 0..<3 {
                guard let snapshot = try store.latestSnapshot(atOrBefore: bound), snapshot.seq > 0 else { break }
                if let folded = try fold(store, from: snapshot, upTo: limit, keepingBefore: keepingBefore, each) { return folded }
                bound = snapshot.seq - 1
            }
        }
        var folded = Folded()
        try apply(store, upTo: limit, into: &folded, keepingBefore: keepingBefore, each) { try store.readEvents(after: 0, upTo: limit, $0) }
        return folded
    }

    /// Folds from `snapshot` if the journal's event at the snapshot's seq is
    /// the very event the snapshot was made after (same identity); nil when
    /// it is not — a snapshot of another history, or of events the journal
    /// no longer holds — so the caller replays from the start instead.
    private func fold(_ store: any JournalStore, from snapshot: Snapshot, upTo limit: UInt64,
                      keepingBefore: (Event) -> Bool, _ each: ((FoldStep) throws -> Void)?) throws -> Folded? {
        guard snapshot.seq > 0, let identity = snapshot.lastEventIdentity else {
            logger.debug("snapshot without an event identity (older format); replaying instead", metadata: ["seq": "\(snapshot.seq)"])
            return nil
        }
        var state = snapshot.state
        state?.eventIdentity = identity
        var folded = Folded(state: state, lastSeq: snapshot.seq, lastTime: snapshot.lastTime,
                            idempotencyKeys: snapshot.idempotencyKeys, snapshotSeq: snapshot.seq)
        var confirmed = false
        do {
            try apply(store, upTo: limit, into: &folded, keepingBefore: keepingBefore, each) { body in
                try store.readEvents(after: snapshot.seq - 1, upTo: limit) { event in
                    if event.seq == snapshot.seq {
                        guard event.identity == identity else { throw SnapshotMismatch() }
                        confirmed = true
                        return
                    }
                    try body(event)
                }
            }
        } catch is SnapshotMismatch {
            confirmed = false
        }
        if confirmed { return folded }
        logger.notice("a snapshot does not match the journal's event at its seq (it is newer than what this read may see, or of another history); using an older one",
                      metadata: ["snapshotSeq": "\(snapshot.seq)"])
        return nil
    }

    /// The fold loop: applies the events `read` hands over (up to `limit`)
    /// to `folded`, which changes only when every one of them applied.
    @discardableResult
    private func apply(_ store: any JournalStore, upTo limit: UInt64, into folded: inout Folded,
                       keepingBefore: (Event) -> Bool = { _ in false }, _ each: ((FoldStep) throws -> Void)? = nil,
                       _ read: ((Event) throws -> Void) throws -> UInt64) throws -> UInt64 {
        let location = store.location
        var result = folded
        let last = try withoutActuallyEscaping(keepingBefore) { keepingBefore in try read { event in
            guard event.seq <= limit else { return }
            let before = keepingBefore(event) ? result.state : nil
            do throws(StateJournalError) {
                try result.apply(event)
            } catch {
                throw StateJournalError(.corruption, Self.doesNotApply(event, error, in: location), path: location)
            }
            try each?(FoldStep(event: event, before: before, after: result.state))
        } }
        folded = result
        return last
    }

    /// The current fold, starting from this process's cached one when there
    /// is one (reading only what was appended since), else from the newest
    /// snapshot.
    package func currentFold(_ store: any JournalStore) throws -> Folded {
        if let cache = foldCache.withLock({ $0 }) {
            var folded = cache.folded
            do {
                let last = try apply(store, upTo: .max, into: &folded) { body in
                    if let positioned = store as? any PositionedJournalStore {
                        try positioned.readEvents(from: cache.position, body)
                    } else {
                        try store.readEventsChecking(cache.position, body)
                    }
                }
                if last == folded.lastSeq { return folded }
            } catch is JournalPosition.Mismatch {
                logger.notice("the journal no longer holds the event this process last saw (it was put back from an older copy?); folding it anew")
            }
            // The journal is not the one the cache was made from.
            foldCache.withLock { $0 = nil }
        }
        return try fold(store)
    }

    /// Under the lock: remembers `folded` and where the journal ends now.
    package func remember(_ folded: Folded, _ store: any JournalStore) {
        let position = (store as? any PositionedJournalStore)?.endPosition
        foldCache.withLock { cache in
            if let position, position.seq == folded.lastSeq {
                cache = FoldCache(folded: folded, position: position)
            } else {
                cache = nil
            }
        }
    }

    /// The event with sequence number `seq`.
    package func event(_ seq: UInt64, in store: any JournalStore) throws -> Event? {
        var found: Event?
        try store.readEvents(after: seq - 1, upTo: seq) { if $0.seq == seq { found = $0 } }
        return found
    }
}
