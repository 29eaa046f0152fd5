import StateJournalEngine
/// A point in the journal's history: right after an event, or at a time.
public enum HistoryPoint: Sendable, Equatable, CustomStringConvertible {
    /// Right after event `seq`.
    case seq(UInt64)
    /// Right after the last event at or before this time.
    case time(Timestamp)

    public var description: String {
        switch self {
        case .seq(let seq): return "seq \(seq)"
        case .time(let time): return time.rfc3339
        }
    }
}

/// What a restore would do: computed without writing, for `restore --dry-run`
/// and before every restore.
package struct RestorePlan: Sendable {
    /// The event whose state is restored.
    package let targetSeq: UInt64
    /// The state right after `targetSeq`.
    package let target: WorkflowState
    /// The state now, and the journal's last sequence number.
    package let current: WorkflowState?
    package let currentSeq: UInt64
    /// The state the restore would make current: `target`'s content, with
    /// the next sequence number and the time it would be written.
    package let result: WorkflowState

    /// The change to STATE.md, footer line left out.
    package var diff: LineDiff {
        LineDiff(old: current.map(StateProjection.bodyText) ?? "", new: StateProjection.bodyText(of: result))
    }

    /// That change as unified-diff lines (`@@ … @@` hunk headers, then lines
    /// starting with ` `, `-` or `+`); empty when STATE.md would not change.
    package var unifiedDiff: [String] { diff.unifiedLines }
}

/// STATE.md as people compare it.
package enum StateProjection {
    /// The rendered STATE.md without its last line (the footer, which changes
    /// with every event: its sequence number and checksum).
    package static func bodyText(of state: WorkflowState) -> String {
        MarkdownRenderer.renderBody(state)
    }
}

extension StateManager {
    /// Works out what restoring `point` would change, without writing.
    ///
    /// Restoring is allowed to any event before the last one. A time resolves
    /// to the last event at or before it.
    ///
    /// - Throws: `.badInput` when `point` is out of range — seq 0 or beyond
    ///   the last event, a time before the first event — or is the current
    ///   state already (the last event, or a time at or after it: nothing to
    ///   restore); `.notInitialized` when the journal is empty.
    package func planRestore(_ point: HistoryPoint) throws -> RestorePlan {
        try reading { store, current in try planRestore(point, in: store, now: current) }
    }

    /// The plan, read from `store` (one read session); `now` is the
    /// journal's current fold when the caller has it.
    package func planRestore(_ point: HistoryPoint, in store: any JournalStore, now current: Folded?) throws -> RestorePlan {
        let now = try current ?? fold(store)
        guard now.lastSeq > 0 else {
            throw StateJournalError(.notInitialized,
                "the journal at '\(statePath)' is empty; there is nothing to restore — run 'statejournal init' or 'statejournal import' first")
        }
        let seq: UInt64
        switch point {
        case .seq(let wanted):
            guard wanted >= 1 && wanted <= now.lastSeq else {
                throw StateJournalError.badInput(
                    "seq \(wanted) is out of range; the journal holds events 1…\(now.lastSeq) — give one of them (see 'statejournal log')")
            }
            guard wanted < now.lastSeq else {
                throw StateJournalError.badInput(
                    "seq \(wanted) is the journal's last event: the current state already is that state, so there is nothing to restore — give an earlier seq")
            }
            seq = wanted
        case .time(let time):
            seq = try resolve(time, in: store)
            guard seq < now.lastSeq else {
                let last = try store.bounds().map { "\($0.lastTime.rfc3339), \($0.lastTime.localDateTime) local" } ?? "?"
                throw StateJournalError.badInput(
                    "\(time.rfc3339) is at or after the last event (seq \(now.lastSeq) at \(last)): the state then is the current state, "
                    + "so there is nothing to restore — give an earlier time")
            }
        }
        guard let target = try fold(store, upTo: seq).state else {
            throw StateJournalError(.corruption, "the journal has no state after seq \(seq)", path: store.location)
        }
        let image = StateImage(target)
        let result = image.state(seq: now.lastSeq + 1, updated: max(Timestamp.now(), now.lastTime))
        return RestorePlan(targetSeq: seq, target: target, current: now.state, currentSeq: now.lastSeq, result: result)
    }

    /// Makes the state as it was at `point` the current state, recorded as a
    /// new `state.restored` event — so a restore can itself be undone by
    /// restoring the sequence number before it.
    ///
    /// The state of a past event never changes, so it is read without the
    /// lock; the event is then written like any other (``write(_:options:)``),
    /// honouring `expectSeq` and `idempotencyKey`.
    ///
    /// ```swift
    /// try manager.restore(.seq(12))              // back to after event 12
    /// try manager.restore(.time(Timestamp(parsing: "2026-11-20 10:00:00")!))
    /// ```
    /// - Throws: as ``planRestore(_:)``, and as ``write(_:options:)``.
    @discardableResult
    public func restore(_ point: HistoryPoint, options: WriteOptions = WriteOptions()) throws -> WriteOutcome {
        // One store for the plan and the write: the write's lock hold keeps
        // the plan's listing while the watermark says it is current, and
        // STATE.md is then rewritten (which heals it too) from the same view.
        let store = makeStore()
        let plan = try planRestore(point, in: store, now: nil)
        return try writeDerived(options: options, store: store) { _, _ in
            .stateRestored(fromSeq: plan.targetSeq, state: StateImage(plan.target))
        }
    }
}
