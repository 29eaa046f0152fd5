import StateJournalEngine
/// One event of a replay, with the state before and after it.
public struct ReplayStep: Sendable {
    /// The event replayed.
    public let event: Event
    /// Nil before the first workflow.
    public let before: WorkflowState?
    /// The state after it.
    public let after: WorkflowState

    /// What the event changed in STATE.md (footer line left out).
    package var diff: LineDiff {
        LineDiff(old: before.map(StateProjection.bodyText) ?? "", new: StateProjection.bodyText(of: after))
    }

    /// That change as unified-diff lines (`@@ … @@` hunk headers, then lines
    /// starting with ` `, `-` or `+`); empty when STATE.md would not change.
    public var unifiedDiff: [String] { diff.unifiedLines }
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
    public func replay(toSeq limit: UInt64? = nil, _ body: ((ReplayStep) throws -> Void)? = nil) throws -> WorkflowState {
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
            // changes the state in place.
            let folded = try fold(store, from: .firstEvent, upTo: limit ?? .max, keepingBefore: { _ in body != nil }) { step in
                if let body, let after = step.after { try body(ReplayStep(event: step.event, before: step.before, after: after)) }
            }
            guard let state = folded.state else {
                throw StateJournalError(.notInitialized,
                    "the journal at '\(statePath)' is empty; there is nothing to replay — run 'statejournal init' or 'statejournal import' first")
            }
            return state
        }
    }
}
