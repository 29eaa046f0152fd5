import StateJournalEngine
/// One event of a replay, with the state before and after it.
package struct ReplayStep: Sendable {
    /// The event replayed.
    package let event: Event
    /// Nil before the first workflow.
    package let before: WorkflowState?
    /// The state after it.
    package let after: WorkflowState

    /// What the event changed in STATE.md (footer line left out).
    package var diff: LineDiff {
        LineDiff(old: before.map(StateProjection.bodyText) ?? "", new: StateProjection.bodyText(of: after))
    }

    /// That change as unified-diff lines (`@@ … @@` hunk headers, then lines
    /// starting with ` `, `-` or `+`); empty when STATE.md would not change.
    package var unifiedDiff: [String] { diff.unifiedLines }
}

extension StateManager {
    /// Refolds the journal from its first event, checking that every event
    /// applies to the state before it, and calls `body` for each event up to
    /// `limit` (all of them when nil). Without `body` this is a plain refold
    /// that costs the events' size, not events × state.
    ///
    /// ```swift
    /// try manager.replay(toSeq: 40) { step in lines += step.unifiedDiff }
    /// ```
    /// - Returns: the state after the last event replayed.
    /// - Throws: `.badInput` when `limit` is 0 or beyond the last event
    ///   (checked before `body` is called); `.notInitialized` when the
    ///   journal is empty; `.corruption` when an event does not apply.
    @discardableResult
    package func replay(toSeq limit: UInt64? = nil, _ body: ((ReplayStep) throws -> Void)? = nil) throws -> WorkflowState {
        try reading { store, current in
            if let limit {
                // The range check first, so that a bad --to-seq fails before
                // anything is printed.
                let last = try current?.lastSeq ?? store.bounds()?.lastSeq ?? 0
                guard limit >= 1 && limit <= last else {
                    throw StateJournalError.badInput(
                        "seq \(limit) is out of range; the journal holds events \(last == 0 ? "none" : "1…\(last)") — give one of them")
                }
            }
            // Without a body nothing keeps the previous state, so each event
            // changes the state in place, and no step is made.
            let each: ((FoldStep) throws -> Void)? = body.map { body in
                { step in if let after = step.after { try body(ReplayStep(event: step.event, before: step.before, after: after)) } }
            }
            let folded = try fold(store, from: .firstEvent, upTo: limit ?? .max, keepingBefore: { _ in body != nil }, each)
            guard let state = folded.state else {
                throw StateJournalError(.notInitialized,
                    "the journal at '\(statePath)' is empty; there is nothing to replay — run 'statejournal init' or 'statejournal import' first")
            }
            return state
        }
    }

    /// `replay --step` in time linear in the history: refolds the journal
    /// from its first event, checking that every event applies, and calls
    /// `body` with each event from `first` to `limit` (all when nil) and
    /// what it changed in STATE.md (footer line left out), found by a
    /// ``StepDiffer`` rather than by rendering each state. `progress` is
    /// called after every event folded with its seq and the last one.
    ///
    /// - Returns: the state after the last event replayed.
    /// - Throws: `.badInput` when `first` or `limit` is 0 or beyond the last
    ///   event, or `first` is beyond `limit` (checked before `body` is
    ///   called); `.notInitialized` when the journal is empty; `.corruption`
    ///   when an event does not apply.
    @discardableResult
    package func replaySteps(from first: UInt64 = 1, toSeq limit: UInt64? = nil,
                             progress: ((_ seq: UInt64, _ last: UInt64) -> Void)? = nil,
                             _ body: (Event, LineDiff) throws -> Void) throws -> WorkflowState {
        try reading { store, current in
            let last = try current?.lastSeq ?? store.bounds()?.lastSeq ?? 0
            guard last > 0 else {
                throw StateJournalError(.notInitialized,
                    "the journal at '\(statePath)' is empty; there is nothing to replay — run 'statejournal init' or 'statejournal import' first")
            }
            for seq in [limit ?? last, first] where seq < 1 || seq > last {
                throw StateJournalError.badInput("seq \(seq) is out of range; the journal holds events 1…\(last) — give one of them")
            }
            let end = limit ?? last
            guard first <= end else {
                throw StateJournalError.badInput("--from-seq \(first) is after --to-seq \(end); give a range that runs forwards")
            }
            var differ: StepDiffer?
            // The state before `first` is kept once (a copy), to start the differ from.
            let folded = try withoutActuallyEscaping(body) { body in
                try fold(store, from: .firstEvent, upTo: end, keepingBefore: { $0.seq == first }) { step in
                    progress?(step.event.seq, end)
                    guard step.event.seq >= first, let after = step.after else { return }
                    if differ == nil { differ = StepDiffer(before: step.before) }
                    if let diff = differ?.step(step.event, after: after) { try body(step.event, diff) }
                }
            }
            guard let state = folded.state else {
                throw StateJournalError(.corruption, "the journal has no state after seq \(end)", path: store.location)
            }
            return state
        }
    }

    /// ``replay(toSeq:_:)`` without steps, calling `progress` after every
    /// event folded with its seq and the last one.
    @discardableResult
    package func replay(toSeq limit: UInt64?, progress: (_ seq: UInt64, _ last: UInt64) -> Void) throws -> WorkflowState {
        try reading { store, current in
            let last = try current?.lastSeq ?? store.bounds()?.lastSeq ?? 0
            if let limit, limit < 1 || limit > last {
                throw StateJournalError.badInput(
                    "seq \(limit) is out of range; the journal holds events \(last == 0 ? "none" : "1…\(last)") — give one of them")
            }
            let end = limit ?? last
            // Nothing keeps the previous state: each event changes the state in place.
            let folded = try withoutActuallyEscaping(progress) { progress in
                try fold(store, from: .firstEvent, upTo: end, keepingBefore: { _ in false }) { step in progress(step.event.seq, end) }
            }
            guard let state = folded.state else {
                throw StateJournalError(.notInitialized,
                    "the journal at '\(statePath)' is empty; there is nothing to replay — run 'statejournal init' or 'statejournal import' first")
            }
            return state
        }
    }
}
