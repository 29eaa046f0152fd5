import StateJournal
import StateJournalEngine

/// What every phase runs with.
struct Harness: Sendable {
    let cli: CLIRunner
    /// The optional commands `cli` has.
    let features: Features
    /// The phase's figures and problems.
    let recorder: Recorder
    /// Where the phase's workspaces go, the seed of its randomness, and
    /// whether to keep the workspaces of runs that passed.
    let root: String, seed: UInt64, keep: Bool
}

/// A phase of the harness: its own settings, plus the ``Harness``.
protocol Phase {
    var harness: Harness { get }
}

extension Phase {
    var cli: CLIRunner { harness.cli }
    var features: Features { harness.features }
    var root: String { harness.root }
    var seed: UInt64 { harness.seed }
    var keep: Bool { harness.keep }
    var recorder: Recorder { harness.recorder }

    /// After the writers stopped: reopens `ws` and checks the guarantees of Docs/GUARANTEES.md against
    /// what they were told (``Checker``).
    func check(_ ws: Workspace, _ ledger: Ledger, context: String) {
        Checker(cli: cli, features: features, recorder: recorder).check(ws, ledger, context: context)
    }

    /// Creates the workflow through `manager` (key `init`) and records it in
    /// `ledger`; false, with a problem recorded, when that fails.
    func initialize(_ manager: StateManager, _ payload: Event.Payload, in ledger: Ledger) -> Bool {
        do {
            let outcome = try manager.write(payload, options: .init(idempotencyKey: "init"))
            ledger.acknowledge("init", seq: outcome.event.seq)
            return true
        } catch {
            recorder.problem("\(recorder.phase): cannot initialise: \(error)")
            return false
        }
    }
}
