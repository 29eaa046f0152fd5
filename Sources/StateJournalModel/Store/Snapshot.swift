/// The folded state at a sequence number, so that opening a journal replays
/// only the events after it.
public struct Snapshot: Sendable, Equatable {
    /// The last event folded in.
    public var seq: UInt64
    /// That event's time (the next event's time is never earlier).
    public var lastTime: Timestamp
    /// The state after event `seq`; nil if no workflow was initialized yet.
    public var state: WorkflowState?
    /// Idempotency keys seen up to `seq`, with the sequence number of the
    /// event that carried each.
    public var idempotencyKeys: [String: UInt64]
    /// The identity (``Event/identity``) of event `seq`: a reader trusts the
    /// snapshot only when the journal's event `seq` has this identity, so a
    /// snapshot from another history (a journal put back from an older copy
    /// and written on since) is never folded in. Nil in snapshots written
    /// before identities existed; those are passed over.
    public var lastEventIdentity: UInt32?

    /// A snapshot of `state` after event `seq`.
    public init(seq: UInt64, lastTime: Timestamp, state: WorkflowState?, idempotencyKeys: [String: UInt64],
                lastEventIdentity: UInt32? = nil) {
        self.seq = seq
        self.lastTime = lastTime
        self.state = state
        self.idempotencyKeys = idempotencyKeys
        self.lastEventIdentity = lastEventIdentity
    }
}
