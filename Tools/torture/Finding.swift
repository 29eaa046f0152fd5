import Foundation

/// What one run of a finding's scenario saw.
struct Outcome {
    /// The fault or situation the scenario needs happened (else the run
    /// proves nothing: a repro exits 2, a phase counts a problem).
    var fired = false
    var why = ""
    var problems: [String] = []
    /// The writes told success, each at the seq it was told: the journal
    /// must hold every one (``Scenario/checkJournal(_:_:_:lostIfUnreadable:)``).
    var acked: [(key: String, seq: UInt64)] = []
    var lost = 0
    var duplicated = 0
    /// STATE.md showing more than (or other than) the journal holds.
    var ahead = 0
    var torn = 0
    /// Simulated process deaths and real kills.
    var kills = 0
    /// Kills between an append's fdatasync and the STATE.md rename.
    var postAppendKills = 0
    /// Kills between an append's pwrite and its fdatasync.
    var syncKills = 0
    /// Simulated power losses.
    var crashes = 0
    var attempts = 0
    var acknowledged = 0
    var faults = 0

    mutating func problem(_ text: String, lost: Int = 0, duplicated: Int = 0, ahead: Int = 0, torn: Int = 0) {
        problems.append(text)
        self.lost += lost
        self.duplicated += duplicated
        self.ahead += ahead
        self.torn += torn
    }

    var failed: Bool { !problems.isEmpty }
}

/// A known durability finding (issue 10, Docs/GUARANTEES.md): a scenario
/// that puts the library exactly where the finding was, deterministically,
/// and checks what must hold there. `torture repro NAME` runs variant 0..<n
/// once; the torture phase of the same name runs many seeded variants.
struct Finding: Sendable {
    let name: String
    let summary: String
    let variants: Int
    /// A phase runs it every this many rounds (costly ones: many processes).
    var everyNthRound = 1
    let run: @Sendable (_ context: FindingContext) -> Outcome

    init(name: String, summary: String, variants: Int, everyNthRound: Int = 1, run: @escaping @Sendable (_ context: FindingContext) -> Outcome) {
        self.name = name
        self.summary = summary
        self.variants = variants
        self.everyNthRound = everyNthRound
        self.run = run
    }
}

struct FindingContext: Sendable {
    let work: String
    let variant: Int
    let seed: UInt64
    let cli: CLIRunner?
}

/// Every finding, in the order `torture repro all` runs them. The scenarios
/// live by subject: FailedSyncs.swift (a sync fails, or a process dies
/// around one), Retries.swift, GroupCommitBatches.swift, Readers.swift,
/// RestoredCopies.swift (the journal or lock file put back from a copy),
/// LockFileRemoved.swift; what they share is in Scenario.swift.
enum Findings {
    static let all: [Finding] = [
        Finding(name: "segment-dir-fsync", summary: "a failed directory fsync after a new segment loses later acknowledged appends",
                variants: 1, run: FailedSyncs.segmentDirectoryFsync),
        Finding(name: "idempotent-retry-unsynced", summary: "a retry with the same key is acknowledged from bytes nobody fsynced (issue 10 item 1)",
                variants: 3, run: Retries.afterKillBeforeSync),
        Finding(name: "group-dup-failed-batch", summary: "a duplicate in a group-commit batch whose append failed is told success (item 2)",
                variants: 1, run: GroupCommitBatches.duplicateInFailedBatch),
        Finding(name: "reader-during-failed-fdatasync", summary: "a reader renders an event whose fdatasync then fails, or a power loss takes (item 3)",
                variants: 3, run: Readers.duringWritersSync),
        Finding(name: "journal-restored-older-copy", summary: "STATE.md ahead of a journal put back from an older copy is kept; verify claims repairs (item 4)",
                variants: 3, run: RestoredCopies.olderJournal),
        Finding(name: "lock-file-removed", summary: "two writers hold the lock when its file is removed or replaced (item 5)",
                variants: 3, run: LockFileRemoved.run),
        Finding(name: "import-retry", summary: "a retried import returns without writing STATE.md (item 6)",
                variants: 1, run: Retries.importKilledAtRename),
        Finding(name: "dup-failed-batch-visible", summary: "a duplicate in a failed batch returns before STATE.md shows it (item 7)",
                variants: 1, run: GroupCommitBatches.duplicateNotVisible),
        Finding(name: "fsync-error-consumed", summary: "an fsync error consumed by one writer; the next builds on bytes the disk lost (item 8)",
                variants: 3, run: FailedSyncs.errorConsumedByAnother),
        Finding(name: "snapshot-ahead", summary: "a snapshot ahead of the journal is trusted once the journal catches up (item 9)",
                variants: 1, run: RestoredCopies.snapshotAhead),
        Finding(name: "fold-cache-restore", summary: "a long-lived process's fold cache outlives a journal put back from an older copy (review R1a, R1b)",
                variants: 2, run: RestoredCopies.underFoldCache),
        Finding(name: "reader-boundary-torn-tail", summary: "a reader's committed boundary taken over a torn tail lets an undurable event through (review R2)",
                variants: 1, run: Readers.boundaryOverTornTail),
        Finding(name: "killed-after-failed-fsync", summary: "a writer killed right after its own fsync failed leaves bytes the next writer builds on (review R3)",
                variants: 1, run: FailedSyncs.killedAfterOwnFailedSync),
        Finding(name: "rewrite-dir-fsync", summary: "a segment rewritten after a failed fsync, whose directory fsync failed, is taken as durable (review R6)",
                variants: 1, run: FailedSyncs.rewriteDirectoryFsync),
        Finding(name: "stale-watermark", summary: "an older watermark of this boot (lock file put back, or a longer journal copied over) cuts acknowledged events (review 2, W1)",
                variants: 3, run: RestoredCopies.staleWatermark),
        Finding(name: "watermark-erased", summary: "a reader killed while rewriting the lock file erases the watermark; the next writer builds on lost bytes (review 2, W2)",
                variants: 1, run: FailedSyncs.watermarkErased),
        Finding(name: "reader-lock-not-writable", summary: "a reader that may not write the lock file reads past the watermark (review 2, W3)",
                variants: 1, run: Readers.withoutLockWriteAccess),
        Finding(name: "leftover-snapshot", summary: "a snapshot of another history left beside a restored journal makes writers cut acknowledged events (review R4)",
                variants: 1, everyNthRound: 3, run: RestoredCopies.leftoverSnapshot),
    ]

    static func named(_ name: String) -> Finding? { all.first { $0.name == name } }
}
