import Foundation

/// The phases that would have caught the durability findings (issue 10,
/// "Harness"): each runs the scenarios of ``Findings`` many times, with
/// seeded variations (events before, crash points, which command comes
/// next), and counts what they saw. A run whose fault did not fire is a
/// problem: the phase must prove it reached the situation it tests.
struct FindingsPhase: Phase {
    let name: String
    let findings: [Finding]
    let rounds: Int
    let harness: Harness

    /// Phase name (for `--phases`) → its table row and findings.
    static let phases: [(option: String, row: String, findings: [String])] = [
        ("retry", "kill, retry, power loss", ["idempotent-retry-unsynced"]),
        ("reader", "reader vs failing sync", ["reader-during-failed-fdatasync", "reader-boundary-torn-tail", "reader-lock-not-writable"]),
        ("lockfile", "lock file removed", ["lock-file-removed"]),
        ("older", "older journal copy", ["journal-restored-older-copy", "snapshot-ahead", "fold-cache-restore", "leftover-snapshot", "stale-watermark"]),
        ("fsyncerror", "fsync error consumed", ["fsync-error-consumed", "killed-after-failed-fsync", "rewrite-dir-fsync", "watermark-erased"]),
        ("findings", "other findings", ["group-dup-failed-batch", "dup-failed-batch-visible", "import-retry", "segment-dir-fsync"]),
    ]

    func run() {
        let start = Clock.now
        var fired: [String: Int] = [:]
        for round in 0..<rounds {
            for finding in findings where round % finding.everyNthRound == 0 {
                let variant = (round / finding.everyNthRound) % finding.variants
                let o = finding.run(FindingContext(work: root, variant: variant, seed: seed &+ UInt64(round) &* 7_919 &+ 1, cli: cli))
                recorder.add { f in
                    f.runs += 1; f.kills += o.kills; f.postAppendKills += o.postAppendKills; f.syncKills += o.syncKills; f.crashes += o.crashes
                    f.faults += o.faults; f.attempts += o.attempts; f.acknowledged += o.acknowledged
                }
                if o.fired { fired[finding.name, default: 0] += 1 } else {
                    recorder.problem("\(finding.name) round \(round) (variant \(variant)): the situation it tests was not reached: \(o.why)")
                }
                // One figure a problem: lost, duplicated, ahead and torn are counted as such.
                for p in o.problems.prefix(3) { recorder.log("\(finding.name) round \(round) variant \(variant): \(p)") }
                if o.failed {
                    let text = "\(finding.name) round \(round) (variant \(variant), \(o.why)): " + o.problems.prefix(2).joined(separator: "; ")
                    recorder.problem(text, lost: o.lost, duplicated: o.duplicated, torn: o.torn, ahead: o.ahead,
                                     other: o.lost + o.duplicated + o.torn + o.ahead == 0 ? 1 : 0)
                }
            }
        }
        for finding in findings where fired[finding.name, default: 0] == 0 {
            recorder.problem("\(finding.name): no round reached the situation it tests (minimum: 1)")
        }
        recorder.add { $0.seconds += Clock.now - start }
    }
}
