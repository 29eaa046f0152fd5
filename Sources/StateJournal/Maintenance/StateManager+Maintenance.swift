import StateJournalEngine
/// What `verify` found.
public struct VerifyReport: Sendable {
    /// Problems, each naming its file; empty when everything checked out.
    public var problems: [JournalProblem]
    /// The journal's last sequence number.
    public var lastSeq: UInt64
    /// Whether STATE.md was checked and matched the journal.
    public var projectionMatches: Bool
    /// Whether STATE.md did not match and was regenerated (only by
    /// ``StateManager/verify(repairingProjection:)`` with `true`, and only
    /// when the journal is sound); true only when the file on disk was
    /// replaced and now matches.
    public var projectionRegenerated = false

    /// Whether anything is damaged beyond what an open repairs.
    public var hasCorruption: Bool { problems.contains { $0.isCorruption } }
}

extension StateManager {
    /// Folds the journal now: seals and compresses the active segment,
    /// writes a snapshot at the last event, and rewrites STATE.md.
    ///
    /// - Returns: the journal's last sequence number.
    @discardableResult
    public func compact() throws -> UInt64 {
        let store = makeStore()
        let folded: Folded = try store.withWriteLock(configuration.lock, command: configuration.command + " (compact)") {
            let folded = try fold(store)
            guard folded.lastSeq > 0 else { return folded }
            try (store as? any SegmentedJournalStore)?.sealActiveSegment()
            try store.writeSnapshot(Snapshot(seq: folded.lastSeq, lastTime: folded.lastTime, state: folded.state,
                                             idempotencyKeys: folded.idempotencyKeys, lastEventIdentity: folded.position.event))
            return folded
        }
        if folded.state != nil { try publish(nil, policy: .eager, cleanUp: true) }
        return folded.lastSeq
    }

    /// Checks every record, segment and snapshot, that every event applies
    /// to the state before it, that the newest snapshot equals a full replay,
    /// and that STATE.md shows the journal. A torn tail is cut first, as on
    /// any open under the lock; nothing else is changed — unless
    /// `repairingProjection`: then a STATE.md that does not show the journal
    /// is regenerated when the journal is sound (a damaged one kept beside it
    /// first), checked again, and ``VerifyReport/projectionRegenerated`` says
    /// whether that worked; and temporary files a killed writer left beside
    /// STATE.md are removed.
    public func verify(repairingProjection: Bool = false) throws -> VerifyReport {
        var report = try verifyJournal()
        guard repairingProjection, !report.hasCorruption, report.lastSeq > 0 else { return report }
        // Regenerates STATE.md if it does not show the journal (reported as
        // regenerated only when the file was really replaced and now matches).
        try publish(nil, policy: .eager, cleanUp: true)
        guard !report.projectionMatches else { return report }
        let again = try verifyJournal()
        report.projectionMatches = again.projectionMatches
        report.projectionRegenerated = again.projectionMatches
        return report
    }

    private func verifyJournal() throws -> VerifyReport {
        let store = makeStore()
        return try store.withWriteLock(configuration.lock, command: configuration.command + " (verify)") {
            var problems = try store.verify()
            var full = Folded()
            var replayFailed = false
            do {
                // A full replay from seq 1 (no snapshot) checks every event's meaning.
                full = try fold(store, from: .firstEvent)
            } catch let error as StateJournalError {
                replayFailed = true
                if !problems.contains(where: { $0.message == error.message }) {
                    problems.append(JournalProblem(file: error.path ?? store.location, message: error.message))
                }
            }
            if !replayFailed, let snapshot = try store.latestSnapshot(), snapshot.seq <= full.lastSeq {
                let upTo = try fold(store, upTo: snapshot.seq)
                let replayed = try fold(store, from: .firstEvent, upTo: snapshot.seq).state
                if upTo.state != replayed {
                    problems.append(JournalProblem(file: store.location,
                        message: "the snapshot at seq \(snapshot.seq) differs from a full replay of the journal up to it"))
                }
            }
            var matches = false
            if !replayFailed, let state = full.state {
                switch try projectionStatus() {
                case .intact(let shown, let event) where shown == full.lastSeq && event == state.eventIdentity:
                    let expected = Array(MarkdownRenderer.render(state).utf8)
                    matches = try fs.readFileIfExists(statePath) == expected
                    if !matches {
                        problems.append(JournalProblem(file: statePath, message: "its checksum is intact but it differs from the journal's state at seq \(shown)", isCorruption: false))
                    }
                case .intact(let shown, let event) where shown > full.lastSeq || (shown == full.lastSeq && event != nil):
                    problems.append(JournalProblem(file: statePath, message: "shows seq \(shown)\(event.map { " (event \(StateMarkdown.hex8($0)))" } ?? ""), which the journal (at seq \(full.lastSeq)) does not hold — the journal was put back from an older copy or lost its tail; any command keeps a copy and regenerates it", isCorruption: false))
                case .intact(let shown, _):
                    problems.append(JournalProblem(file: statePath, message: "shows seq \(shown) but the journal is at seq \(full.lastSeq); any command regenerates it", isCorruption: false))
                case .missing:
                    problems.append(JournalProblem(file: statePath, message: "is missing; any command regenerates it", isCorruption: false))
                case .damaged(let reason):
                    problems.append(JournalProblem(file: statePath, message: "\(reason); any command keeps a copy and regenerates it", isCorruption: false))
                }
            }
            return VerifyReport(problems: problems, lastSeq: full.lastSeq, projectionMatches: matches)
        }
    }

}
