import StateJournalEngine

/// What `undo` would do: the event it undoes and the restore that does it.
package struct UndoPlan: Sendable {
    /// The event undone: the journal's last when the plan was made.
    package let undone: Event
    /// The restore of the state right before it.
    package let restore: RestorePlan
}

extension StateManager {
    /// Works out what ``undo(options:)`` would write, without writing.
    ///
    /// - Throws: `.notInitialized` when the journal is empty; `.badInput`
    ///   when the last event is the first (there is no state before it).
    package func planUndo() throws -> UndoPlan {
        try reading { store, current in
            let now = try current ?? fold(store)
            guard now.lastSeq > 0 else {
                throw StateJournalError(.notInitialized, "no workflow at '\(statePath)'", path: statePath)
            }
            guard now.lastSeq > 1, let last = try event(now.lastSeq, in: store) else {
                throw StateJournalError.badInput(
                    "nothing to undo: seq 1 (the workflow's start) is the only event — start over with 'statejournal init'")
            }
            return UndoPlan(undone: last, restore: try planRestore(.seq(now.lastSeq - 1), in: store, now: now))
        }
    }

    /// Undoes the journal's last event: makes the state right before it the
    /// current state, as a new `state.restored` event (nothing is deleted; an
    /// undo is itself undone by another `undo`, like a revert of a revert).
    ///
    /// The last event is the one there is when the write takes the lock: if
    /// another write lands between the plan and the write, nothing is
    /// written (`.conflict`; run it again). A retry with the idempotency key
    /// of an undo that was written writes nothing and returns that event.
    ///
    /// ```swift
    /// try manager.undo()
    /// ```
    /// - Throws: as ``planUndo()``; `.conflict` as above or when
    ///   `expectSeq` does not match; as ``write(_:options:)``.
    @discardableResult
    public func undo(options: WriteOptions = WriteOptions()) throws -> WriteOutcome {
        let store = makeStore()
        let now = try currentFold(store)
        // A retry of an undo written with this key: the same write (the
        // state before the event that was last then), answered as a duplicate.
        if let key = options.idempotencyKey, let seq = now.idempotencyKeys[key], seq >= 3,
           let original = try event(seq, in: store), case .stateRestored(let from, _) = original.payload, from == seq - 2 {
            let target = try planRestore(.seq(from), in: store, now: nil)
            return try writeDerived(options: options, store: store) { _, _ in
                .stateRestored(fromSeq: target.targetSeq, state: StateImage(target.target))
            }
        }
        guard now.lastSeq > 0 else {
            throw StateJournalError(.notInitialized, "no workflow at '\(statePath)'", path: statePath)
        }
        guard now.lastSeq > 1 else {
            throw StateJournalError.badInput(
                "nothing to undo: seq 1 (the workflow's start) is the only event — start over with 'statejournal init'")
        }
        let plan = try planRestore(.seq(now.lastSeq - 1), in: store, now: now)
        var conditional = options
        conditional.expectSeq = options.expectSeq ?? now.lastSeq
        do {
            return try writeDerived(options: conditional, store: store) { _, _ in
                .stateRestored(fromSeq: plan.targetSeq, state: StateImage(plan.target))
            }
        } catch let error as StateJournalError where error.code == .conflict && options.expectSeq == nil
                    && !error.message.hasPrefix("idempotency key") {
            throw StateJournalError(.conflict,
                "another write landed while undo looked (the last event was seq \(now.lastSeq)); nothing was written — "
                + "run undo again to undo the newest event (see 'statejournal log -n 3')")
        }
    }
}
