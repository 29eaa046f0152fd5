import ArgumentParser
import StateJournal

/// `statejournal verify`
struct Verify: GlobalCommand, Exemplified {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check every record, segment, snapshot and STATE.md; exit 5 if anything is corrupt.",
        discussion: """
            A torn tail (an interrupted append) is cut as on any open, and a missing, stale or \
            damaged STATE.md is regenerated (a damaged one is kept beside it first); neither is an error.
            """)

    static let examples = [
        "statejournal verify",
        "statejournal verify --json",
    ]

    @ParentCommand var root: StateJournalCommand
    @Flag(help: "Print the problems as JSON.") var json = false
    @OptionGroup(title: "Global options") var trailing: GlobalOptions<Trailing>

    func run() throws {
        let manager = try global.existingManager(command: "verify")
        let report = try manager.verify(repairingProjection: true)
        let healed = report.projectionRegenerated
        if json {
            Output.json(report.json())
        } else {
            for problem in report.problems {
                let label = problem.isCorruption ? "CORRUPT"
                    : problem.file == manager.statePath ? (healed ? "repaired" : "NOT repaired")
                    : "repaired"
                Output.stdout("\(label): \(problem.file): \(problem.message)")
            }
            if !report.hasCorruption { Output.stderr("verify: journal OK up to seq \(report.lastSeq)") }
        }
        if report.hasCorruption {
            throw CLIError("corruption", "verify: corruption found; nothing was changed",
                           hint: "restore the named files from a backup (Docs/OPERATIONS.md, When something is damaged)", status: 5)
        }
    }
}
