#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Logging
import Synchronization
import StateJournalModel

// Reading and writing snapshot files.
extension FileJournal {
    package func latestSnapshot(atOrBefore seq: UInt64) throws -> Snapshot? {
        for entry in try currentListing().snapshots.reversed() where entry.seq <= seq {
            let file = path(entry.name)
            guard let bytes = try fs.readFileIfExists(file) else { continue }
            switch SnapshotFormat.decode(bytes) {
            case .success(let (snapshot, position)):
                guard snapshot.seq == entry.seq else {
                    logger.warning("snapshot's name and content disagree; using an older one", metadata: ["file": "\(file)"])
                    continue
                }
                // The position is where event `seq` starts: reading after
                // `seq - 1` begins there, and checks that event's identity.
                if var position, snapshot.seq > 0, let identity = snapshot.lastEventIdentity {
                    position.identity = identity
                    snapshotPositions[snapshot.seq - 1] = position
                }
                return snapshot
            case .failure(let problem):
                logger.warning("snapshot is unreadable; falling back to an older one or to a full replay",
                               metadata: ["file": "\(file)", "problem": "\(problem)"])
            }
        }
        return nil
    }

    package func writeSnapshot(_ snapshot: Snapshot) throws {
        guard locked else {
            throw StateJournalError(.io, "snapshot of '\(directory)' without holding the lock; call it inside withWriteLock")
        }
        try fs.ensureDirectory(directory)
        var position: SnapshotFormat.Position?
        if let tail, tail.lastSeq == snapshot.seq, tail.lastSeq >= tail.firstSeq {
            // Where the snapshot's own last event starts: a reader checks
            // that event's identity before trusting the snapshot.
            position = SnapshotFormat.Position(segmentFirstSeq: tail.firstSeq, offset: UInt64(tail.lastRecordStart))
        }
        try fs.atomicReplace(path(Self.snapshotName(seq: snapshot.seq)),
                             with: SnapshotFormat.encode(snapshot, position: position), backup: nil)
        forgetListing()
        defer { forgetListing() }
        // Older snapshots beyond the ones kept are no longer needed, except
        // checkpoints — the first snapshot within each segment — which let
        // reads of the past (`show --seq`, `--at`, `restore`) start near
        // their point instead of at seq 1.
        let list = try listing()
        let starts = list.segments.map(\.firstSeq)
        var segmentsWithCheckpoint = Set<UInt64>()
        var checkpoints = Set<UInt64>()
        for entry in list.snapshots {
            // The segment where replay from this snapshot starts.
            guard let segment = starts.last(where: { $0 <= entry.seq + 1 }) else { continue }
            if segmentsWithCheckpoint.insert(segment).inserted { checkpoints.insert(entry.seq) }
        }
        let older = list.snapshots.filter { $0.seq < snapshot.seq }
        for old in older.dropLast(max(options.snapshotsKept - 1, 0)) where !checkpoints.contains(old.seq) {
            try fs.unlinkIfExists(path(old.name))
        }
    }
}
