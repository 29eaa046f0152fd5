#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import StateJournalEngine

/// How long a claim holds a task before others may take it over.
///
/// ```swift
/// let lease = try LeaseDuration(parsing: "30s")   // also "15m", "2h", "1d", "1h30m", "none"
/// ```
public struct LeaseDuration: Sendable, Equatable, CustomStringConvertible {
    /// The duration in microseconds; nil: the claim never expires.
    public let microseconds: Int64?

    /// A claim without expiry: it ends only when its owner completes, fails
    /// or releases the task, or another actor forces it.
    public static let none = LeaseDuration(microseconds: nil)
    /// The lease when none is given: 15 minutes.
    public static let standard = LeaseDuration(microseconds: 15 * 60 * 1_000_000)

    private init(microseconds: Int64?) { self.microseconds = microseconds }

    /// A lease of `seconds` seconds (at least 1).
    public static func seconds(_ seconds: Int64) -> LeaseDuration {
        LeaseDuration(microseconds: max(seconds, 1) * 1_000_000)
    }

    /// Reads `none` or a duration made of numbers with units `ms`, `s`, `m`,
    /// `h`, `d` (`30s`, `15m`, `1h30m`, `500ms`); a bare number is seconds.
    ///
    /// - Throws: `.badInput` naming the accepted forms.
    public init(parsing text: String) throws(StateJournalError) {
        let trimmed = text.lowercased()
        if trimmed == "none" { self = .none; return }
        let bad = StateJournalError.badInput(
            "invalid lease '\(text)'; give a duration like 30s, 15m, 2h, 1d or 1h30m (at least 1ms), or 'none' for no expiry")
        var total: Int64 = 0
        var number: Int64? = nil
        var sawUnit = false
        var chars = Array(trimmed.unicodeScalars)[...]
        while let c = chars.first {
            if let digit = c.properties.numericType != nil ? Int64(String(c)) : nil {
                let (m, o1) = (number ?? 0).multipliedReportingOverflow(by: 10)
                let (a, o2) = m.addingReportingOverflow(digit)
                guard !o1, !o2 else { throw bad }
                number = a
                chars = chars.dropFirst()
                continue
            }
            guard let value = number else { throw bad }
            let unit: Int64
            if chars.starts(with: "ms".unicodeScalars) { unit = 1_000; chars = chars.dropFirst(2) }
            else {
                switch c {
                case "s": unit = 1_000_000
                case "m": unit = 60_000_000
                case "h": unit = 3_600_000_000
                case "d": unit = 86_400_000_000
                default: throw bad
                }
                chars = chars.dropFirst()
            }
            let (m, o1) = value.multipliedReportingOverflow(by: unit)
            let (a, o2) = total.addingReportingOverflow(m)
            guard !o1, !o2 else { throw bad }
            total = a
            number = nil
            sawUnit = true
        }
        if let value = number {
            guard !sawUnit else { throw bad }  // "1h30": a number without its unit
            let (m, o) = value.multipliedReportingOverflow(by: 1_000_000)
            guard !o else { throw bad }
            total = m
        } else if !sawUnit { throw bad }
        guard total > 0 else { throw bad }
        guard total <= Self.longest else {
            throw StateJournalError(.badInput, "lease '\(text)' is too long; give at most 36500d (100 years), or 'none' for no expiry")
        }
        self.init(microseconds: total)
    }

    /// `none`, or the shortest form: `15m`, `30s`, `1h30m`, `500ms`.
    public var description: String {
        guard var rest = microseconds else { return "none" }
        var out = ""
        for (unit, name) in [(Int64(86_400_000_000), "d"), (3_600_000_000, "h"), (60_000_000, "m"), (1_000_000, "s"), (1_000, "ms")] {
            if rest >= unit { out += "\(rest / unit)\(name)"; rest %= unit }
        }
        return out.isEmpty ? "0s" : out
    }

    /// The longest lease: 100 years (its end must be a time the journal can
    /// write and read back: at most the end of year 9999).
    package static let longest: Int64 = 36_500 * 86_400_000_000

    /// When a lease taken at `time` ends (nil: never), at the latest the
    /// last time the journal can hold.
    package func expiry(from time: Timestamp) -> Timestamp? {
        microseconds.map {
            let (end, overflow) = time.microseconds.addingReportingOverflow($0)
            return overflow ? Timestamp.latest : min(Timestamp(microseconds: end), Timestamp.latest)
        }
    }
}

/// What a claim or a heartbeat did: the task as the claim left it, and the
/// event recorded.
public struct ClaimOutcome: Sendable {
    /// The task after the event: in progress, ``WorkflowTask/owner`` the
    /// claiming actor, ``WorkflowTask/leaseExpires`` its lease's end.
    public let task: WorkflowTask
    /// The actor whose claim this one replaced (an expired lease, or a
    /// forced take-over); nil otherwise.
    public let previousOwner: String?
    /// The event written and the state after it.
    public let write: StateManager.WriteOutcome

    package init(task: WorkflowTask, previousOwner: String?, write: StateManager.WriteOutcome) {
        self.task = task
        self.previousOwner = previousOwner
        self.write = write
    }
}

// Claims and leases (Docs/AGENTS.md). Each call is one write: under the
// writers' lock the state is folded, the task chosen and checked, and the
// event is stamped with the time it carries — so a lease's expiry is decided
// against that time, by the one writer that holds the lock: two claims of
// one task can never both succeed.
extension StateManager {
    /// Claims `taskID` for this manager's actor, or — with nil — the first
    /// task in plan order that is ready or whose lease expired
    /// (`task.claimed`). The task becomes in progress, owned by the actor
    /// until `lease` ends.
    ///
    /// ```swift
    /// let claim = try manager.claim(lease: .seconds(600))
    /// // … work on claim.task.id …
    /// try manager.completeTask(claim.task.id, commit: "abc1234")
    /// ```
    /// - Parameters:
    ///   - taskID: the task to claim; nil: the first one that can be.
    ///   - lease: how long the claim holds without a heartbeat.
    ///   - force: take the task over although another actor's lease is live
    ///     (the event records `forced` and the previous owner).
    /// - Throws: `.conflict` when nothing is ready, or the named task is
    ///   completed, waits for dependencies, or is held by another actor's
    ///   live lease (the message names the owner and the expiry); `.badInput`
    ///   for an unknown task; `.notInitialized`; as ``write(_:options:)``.
    @discardableResult
    public func claim(_ taskID: String? = nil, lease: LeaseDuration = .standard, force: Bool = false,
                      options: WriteOptions = WriteOptions()) throws -> ClaimOutcome {
        let owner = configuration.actor
        let outcome = try writeDerived(options: options) { state, time in
            guard let state else { throw Self.noWorkflow(statePath) }
            let task: WorkflowTask
            if let taskID {
                guard let named = state.task(taskID) else {
                    // The fold words the unknown-task error (with its suggestions).
                    return .taskClaimed(taskID: taskID, owner: owner, leaseExpires: nil, previousOwner: nil, force: force)
                }
                if let refusal = state.claimRefusal(named, for: owner, at: time, force: force) { throw refusal }
                task = named
            } else {
                guard let first = state.firstClaimable(at: time) else {
                    throw StateJournalError(.conflict, state.nothingClaimable(at: time))
                }
                task = first
            }
            let previous = task.status == .inProgress && task.owner != owner ? task.owner : nil
            return .taskClaimed(taskID: task.id, owner: owner, leaseExpires: lease.expiry(from: time),
                                previousOwner: previous, force: force && previous != nil && task.isClaimed(at: time))
        }
        return try Self.claimOutcome(outcome)
    }

    /// Extends the lease of a task this manager's actor has claimed
    /// (`task.lease_renewed`): it now ends `lease` after the event's time.
    /// An owner may renew an expired lease as long as nobody claimed the
    /// task meanwhile.
    ///
    /// - Throws: `.conflict` when the task is not claimed, or claimed by
    ///   another actor; `.badInput` for an unknown task; as ``write(_:options:)``.
    @discardableResult
    public func heartbeat(_ taskID: String, lease: LeaseDuration = .standard,
                          options: WriteOptions = WriteOptions()) throws -> ClaimOutcome {
        let owner = configuration.actor
        let outcome = try writeDerived(options: options) { state, time in
            guard state != nil else { throw Self.noWorkflow(statePath) }
            return .taskLeaseRenewed(taskID: taskID, owner: owner, leaseExpires: lease.expiry(from: time))
        }
        return try Self.claimOutcome(outcome)
    }

    /// Gives a claimed task back (`task.released`): pending again, without
    /// an owner.
    ///
    /// - Parameter force: release a task another actor holds by a live lease.
    /// - Throws: `.conflict` when the task is not claimed, or is held by
    ///   another actor's live lease without `force`; `.badInput` for an
    ///   unknown task; as ``write(_:options:)``.
    @discardableResult
    public func release(_ taskID: String, force: Bool = false, options: WriteOptions = WriteOptions()) throws -> WriteOutcome {
        let actor = configuration.actor
        return try writeDerived(options: options) { state, time in
            guard let state else { throw Self.noWorkflow(statePath) }
            let task = state.task(taskID)
            let owner = task?.owner ?? actor
            let overrides = force && owner != actor && task?.isClaimed(at: time) == true
            return .taskReleased(taskID: taskID, owner: owner, force: overrides)
        }
    }

    /// The ready tasks in plan order (see ``WorkflowState/isReady(_:)``), at
    /// most `limit` (nil: all). Reads without the writers' lock.
    ///
    /// - Throws: `.notInitialized` when there is no workflow; as ``loadState()``.
    public func nextReady(limit: Int? = nil) throws -> [WorkflowTask] {
        guard let state = try loadState() else { throw Self.noWorkflow(statePath) }
        return state.readyTasks(limit: limit)
    }

    /// Marks a task completed (`task.completed`); `force` completes a task
    /// another actor holds by a live lease (recorded in the event).
    @discardableResult
    package func completeTask(_ id: String, commit: String? = nil, files: [String] = [], force: Bool,
                              options: WriteOptions = WriteOptions()) throws -> WriteOutcome {
        try writeDerived(options: options) { state, time in
            .taskCompleted(taskID: id, commit: commit, files: files,
                           force: force && Self.heldByOther(state?.task(id), actor: self.configuration.actor, at: time))
        }
    }

    /// Marks a task failed (`task.failed`); `force` as for ``completeTask(_:commit:files:force:options:)``.
    @discardableResult
    package func failTask(_ id: String, error: String, force: Bool, options: WriteOptions = WriteOptions()) throws -> WriteOutcome {
        try writeDerived(options: options) { state, time in
            .taskFailed(taskID: id, error: error, force: force && Self.heldByOther(state?.task(id), actor: self.configuration.actor, at: time))
        }
    }

    /// Whether `task` is held by a live claim of another actor than `actor`
    /// at `time`: only then does a forced write record `forced`.
    package static func heldByOther(_ task: WorkflowTask?, actor: String, at time: Timestamp) -> Bool {
        guard let task, let owner = task.owner else { return false }
        return owner != actor && task.isClaimed(at: time)
    }

    private static func claimOutcome(_ outcome: WriteOutcome) throws -> ClaimOutcome {
        let previous: String?
        let id: String
        switch outcome.event.payload {
        case .taskClaimed(let taskID, _, _, let previousOwner, _): id = taskID; previous = previousOwner
        case .taskLeaseRenewed(let taskID, _, _): id = taskID; previous = nil
        default: throw StateJournalError(.conflict, "the idempotency key belongs to a \(outcome.event.payload.typeName) event, not a claim")
        }
        guard let task = outcome.state.task(id) else { throw StateJournalError(.io, "internal: the claimed task is not in the state") }
        return ClaimOutcome(task: task, previousOwner: previous, write: outcome)
    }

    package static func noWorkflow(_ path: String) -> StateJournalError {
        StateJournalError(.notInitialized,
            "no workflow is initialized at '\(path)'; run 'statejournal init --id ID --name NAME --plan FILE' first")
    }
}
