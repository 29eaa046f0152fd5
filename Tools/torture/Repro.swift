import Foundation
import StateJournal
import StateJournalEngine
import StateJournalTesting

/// `torture repro NAME`: a deterministic reproduction of a known finding
/// (``Findings``). Runs every variant of its scenario once; exits 1 while
/// the bug is there, 0 once it is fixed, 2 when the fault it needs did not
/// fire (the run proves nothing). `torture repro all` runs every one and
/// exits with the worst status.
enum Repro {
    static func run(_ name: String?, work: String, cli: CLIRunner?) -> Int32 {
        let usage = "usage: torture repro NAME|all   (names: " + Findings.all.map(\.name).joined(separator: ", ") + ")\n"
        guard let name else {
            FileHandle.standardError.write(Data(usage.utf8))
            return 2
        }
        let findings = name == "all" ? Findings.all : Findings.named(name).map { [$0] } ?? []
        guard !findings.isEmpty else {
            FileHandle.standardError.write(Data(("torture: no finding named '\(name)'\n" + usage).utf8))
            return 2
        }
        try? FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        var worst: Int32 = 0
        var lines: [String] = []
        for finding in findings {
            var status: Int32 = 0
            for variant in 0..<finding.variants {
                let o = finding.run(FindingContext(work: work, variant: variant, seed: UInt64(variant + 1), cli: cli))
                let verdict: Int32 = !o.fired ? 2 : (o.failed ? 1 : 0)
                print("repro \(finding.name) variant \(variant): \(verdict == 0 ? "OK" : verdict == 1 ? "BUG PRESENT" : "FAULT DID NOT FIRE") — \(o.why)")
                for p in o.problems { print("  - \(p)") }
                status = max(status, verdict == 2 ? 2 : verdict) == 2 ? 2 : max(status, verdict)
            }
            lines.append("\(finding.name): \(status == 0 ? "fixed (exit 0)" : status == 1 ? "BUG PRESENT (exit 1)" : "did not fire (exit 2)") — \(finding.summary)")
            worst = worst == 2 || status == 2 ? 2 : max(worst, status)
        }
        if findings.count > 1 { print("\nrepro summary:\n" + lines.map { "  " + $0 }.joined(separator: "\n")) }
        if worst != 1 { try? FileManager.default.removeItem(atPath: work) } else { print("workspaces kept under \(work)") }
        return worst
    }
}
