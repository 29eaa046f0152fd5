import Foundation
import StateJournal
import StateJournalEngine
import StateJournalTesting
#if canImport(Glibc)
import Glibc
#endif

/// Findings where the journal, or the lock file with its watermark, is put
/// back from an older (or another) copy — git stash, checkout, a backup
/// restored — and the commands that come next must neither cut an
/// acknowledged event nor show one the journal does not hold.
enum RestoredCopies {
    /// Item 4. Variant 0: after the older copy is put back, two
    /// `statejournal note` commands bring the journal back to STATE.md's seq.
    /// Variant 1: the next command is `show`. Variant 2: the journal catches
    /// up through the library, then `verify --json` runs; it must not claim a
    /// repair it did not make, nor pass a STATE.md the journal does not back.
    static func olderJournal(_ c: FindingContext) -> Outcome {
        Scenario.run(c.work + "/older-journal-\(c.variant)-\(c.seed)") { ws, o in
            let copy = ws.directory + "/journal-copy"
            let kept = Int(c.seed % 3) + 1  // notes in the copy
            let later = Int(c.seed % 2) + 2  // notes written after the copy, then lost
            try journalWithOlderCopy(ws, copy: copy, notes: kept, later: later)
            o.fired = Scenario.replaceDirectory(ws.journal, with: copy)
            o.why = "the journal (\(kept + 1) events) replaced by a copy older than STATE.md (\(kept + 1 + later) events)"
            guard let cli = c.cli else { throw Unreached("no statejournal binary") }
            let state = ["--state", ws.statePath]
            switch c.variant % 3 {
            case 0:
                for i in 0..<later {
                    let r = o.note(cli, ws, "NEW \(i + 1)", key: "new-\(i)")
                    if r.status != 0 { o.problem("`note` after the restore exited \(r.status.map(String.init) ?? "?"): \(firstLines(r.stderr))") }
                    o.checkProjection(ws, "after `statejournal note` \(i + 1) on the restored journal")
                }
            case 1:
                let r = cli.run(["show"] + state)
                if r.status != 0 { o.problem("`show` after the restore exited \(r.status.map(String.init) ?? "?"): \(firstLines(r.stderr))") }
                if String(decoding: r.stdout, as: UTF8.self).contains("LOST") { o.problem("`show` printed events the journal does not hold", ahead: 1) }
                o.checkProjection(ws, "after `statejournal show` on the restored journal")
            default:
                let m = Scenario.manager(ws, actor: "catch-up")
                for i in 0..<later { o.write(m, "NEW \(i + 1)", key: "new-\(i)") }
                let before = Scenario.stateFile(ws)
                let r = cli.run(["verify", "--json"] + state)
                let after = Scenario.stateFile(ws)
                let report = try? JSON.parse(r.stdout)
                let claimed = report?["state_md_regenerated"]?.boolValue == true
                if claimed && before == after {
                    o.problem("verify reported \"state_md_regenerated\": true but STATE.md is byte for byte unchanged")
                }
                if r.status == 0 {
                    var check = Outcome()
                    check.checkProjection(ws, "after `verify` exited 0")
                    for p in check.problems { o.problem("verify exited 0, yet " + p, ahead: check.ahead > 0 ? 1 : 0) }
                }
            }
        }
    }

    /// Item 9: the segments go back to an older copy; a snapshot of the lost
    /// events stays. Once the journal catches up to the snapshot's seq, the
    /// snapshot must not be trusted.
    static func snapshotAhead(_ c: FindingContext) -> Outcome {
        Scenario.run(c.work + "/snapshot-ahead-\(c.seed)") { ws, o in
            let copy = ws.directory + "/journal-copy"
            let later = 4
            let m = try journalWithOlderCopy(ws, copy: copy, notes: 5, later: later, snapshotInterval: 10_000)
            _ = try m.compact()  // a snapshot at the last seq
            // The segments go back to the older copy; the snapshot stays.
            let snapshots = Scenario.names(in: ws.journal, prefix: "snapshot-")
            for name in Scenario.names(in: ws.journal, prefix: "segment-") { try? FileManager.default.removeItem(atPath: ws.journal + "/" + name) }
            for name in Scenario.names(in: copy, prefix: "segment-") {
                try? FileManager.default.copyItem(atPath: copy + "/" + name, toPath: ws.journal + "/" + name)
            }
            try? FileManager.default.removeItem(atPath: copy)
            o.fired = !snapshots.isEmpty
            o.why = o.fired ? "the segments put back from an older copy, a snapshot of the lost events left in place" : "no snapshot was written"
            let catchUp = Scenario.manager(ws, actor: "catch-up", snapshotInterval: 10_000)
            for i in 0..<later { o.write(catchUp, "NEW \(i + 1)", key: "new-\(i)") }
            do {
                let events = try Scenario.manager(ws, actor: "check").events()
                let fresh = try Scenario.manager(ws, actor: "fresh").loadState()
                if let expected = Scenario.fold(events), let fresh, MarkdownRenderer.render(fresh) != MarkdownRenderer.render(expected) {
                    o.problem("a fresh open folds a state the journal does not hold (\(Scenario.firstDifference(MarkdownRenderer.render(fresh), MarkdownRenderer.render(expected))))", ahead: 1)
                }
            } catch {
                o.problem("the journal does not open: \(error)")
            }
            o.checkProjection(ws, "after the journal caught up")
        }
    }

    /// Review R1: a long-lived library process writes (and caches its
    /// fold); the journal is put back from an older copy — in place, same
    /// inode (variant 0), or as new files (variant 1); other processes
    /// append acknowledged events past the cached seq; the long-lived process
    /// reads and writes again. Nothing acknowledged may be cut, the journal
    /// must stay sound, and STATE.md must show exactly the journal.
    static func underFoldCache(_ c: FindingContext) -> Outcome {
        Scenario.run(c.work + "/fold-cache-\(c.variant)-\(c.seed)") { ws, o in
            let saved = ws.directory + "/saved.journal"
            let longLived = Scenario.manager(ws, actor: "long-lived")
            o.acked.append(("init", try longLived.write(Scenario.initPayload, options: .init(idempotencyKey: "init")).event.seq))
            o.acked.append(("kept", try longLived.write(.noteAdded(text: "kept"), options: .init(idempotencyKey: "kept")).event.seq))
            guard let savedSegment = FileManager.default.contents(atPath: ws.firstSegment) else { throw Unreached("no segment") }
            Scenario.copyDirectory(ws.journal, saved)
            try longLived.write(.noteAdded(text: "DROPPED-BY-RESTORE"), options: .init(idempotencyKey: "dropped"))
            if c.variant % 2 == 0 {
                // `cp saved/segment… STATE.md.journal/`: same file, same inode, older content.
                o.fired = Scenario.overwrite(ws.firstSegment, with: savedSegment, sync: true)
                o.why = "the segment put back in place (same inode) from an older copy, under a long-lived process's fold cache"
            } else {
                o.fired = Scenario.replaceDirectory(ws.journal, with: saved)
                o.why = "the journal put back as new files from an older copy, under a long-lived process's fold cache"
            }
            try? FileManager.default.removeItem(atPath: saved)
            let other = Scenario.manager(ws, actor: "other")
            for i in 3...4 { o.write(other, "new \(i)", key: "new-\(i)") }
            if c.variant % 2 == 1, let state = try? longLived.loadState(), state.notes.contains("DROPPED-BY-RESTORE") {
                o.problem("the long-lived process's loadState answered with an event the journal does not hold", ahead: 1)
            }
            o.write(longLived, "after", key: "after")
            o.checkJournal(ws, "after the long-lived process wrote again")
            if let verify = try? Scenario.manager(ws, actor: "verify").verify(), verify.hasCorruption {
                o.problem("verify finds corruption: \(verify.problems.prefix(2).map(\.description).joined(separator: "; "))")
            }
            if Scenario.stateFileShows(ws, "DROPPED-BY-RESTORE") {
                o.problem("STATE.md shows an event the journal does not hold", ahead: 1)
            } else {
                o.checkProjection(ws, "after the long-lived process wrote again")
            }
        }
    }

    /// Review R4: the journal is put back from a backup with `cp -a
    /// backup/. journal/` (files overwritten in place; a newer snapshot, not
    /// in the backup, stays). `statejournal note` processes then append:
    /// every one that exits 0 must be in the journal, and none may exit 5 on
    /// a sound journal.
    static func leftoverSnapshot(_ c: FindingContext) -> Outcome {
        Scenario.run(c.work + "/leftover-snapshot-\(c.seed)") { ws, o in
            let backup = ws.directory + "/backup"
            guard let cli = c.cli else { throw Unreached("no statejournal binary") }
            let m = Scenario.manager(ws, actor: "setup", snapshotInterval: 16)
            o.acked = try Scenario.setUp(m, notes: 1)
            Scenario.copyDirectory(ws.journal, backup)
            for i in 3...40 { try m.write(.noteAdded(text: "old \(i)"), options: .init(idempotencyKey: "old-\(i)")) }
            let snapshots = Scenario.names(in: ws.journal, prefix: "snapshot-")
            // cp -a backup/. journal/ — each file overwritten in place.
            for name in Scenario.names(in: backup, prefix: "") {
                guard let bytes = FileManager.default.contents(atPath: backup + "/" + name) else { continue }
                Scenario.overwrite(ws.journal + "/" + name, with: bytes)
            }
            try? FileManager.default.removeItem(atPath: backup)
            o.fired = !snapshots.isEmpty
            o.why = o.fired ? "the journal put back in place from a backup; \(snapshots.count) newer snapshot(s) left beside it" : "no snapshot was written"
            var fivers = 0
            for i in 3...40 {
                let r = o.note(cli, ws, "a much longer note than the old ones, number \(i)", key: "new-\(i)")
                if r.status == 5 {
                    fivers += 1
                    if fivers == 1 { o.problem("`statejournal note` exited 5 on a sound journal: \(firstLines(r.stderr, 1))") }
                }
            }
            // What the journal holds, read from seq 1 with the snapshots set aside.
            for name in Scenario.names(in: ws.journal, prefix: "snapshot-") {
                try? FileManager.default.removeItem(atPath: ws.journal + "/" + name)
            }
            o.checkJournal(ws, "after the notes")
        }
    }

    /// Review 2, W1. Variant 0: the lock file is put back as it was a moment
    /// ago (git stash, checkout, a restore tool), then `statejournal note`
    /// runs. Variant 1: the journal's segment is overwritten in place by a
    /// copy that went further elsewhere, the lock file stays, then `note`.
    /// Variant 2: as 0, then `statejournal show`. Every acknowledged event
    /// must stay in the journal and be shown.
    static func staleWatermark(_ c: FindingContext) -> Outcome {
        Scenario.run(c.work + "/stale-watermark-\(c.variant)-\(c.seed)") { ws, o in
            guard let cli = c.cli else { throw Unreached("no statejournal binary") }
            o.acked = try Scenario.setUp(ws, notes: 1)
            /// Two acknowledged notes through `m`, keys `name-1`, `name-2`.
            func acknowledgeTwo(_ m: StateManager, _ name: String) throws {
                for i in 1...2 {
                    o.acked.append(("\(name)-\(i)", try m.write(.noteAdded(text: "ACKNOWLEDGED \(name) \(i)"),
                                                                options: .init(idempotencyKey: "\(name)-\(i)")).event.seq))
                }
            }
            if c.variant % 3 == 1 {
                let elsewhere = Workspace(ws.directory + "/elsewhere")
                Scenario.copyDirectory(ws.journal, elsewhere.journal)
                try acknowledgeTwo(Scenario.manager(elsewhere, actor: "elsewhere"), "elsewhere")
                // cp back over the journal: same inode; the lock file stays.
                guard let longer = FileManager.default.contents(atPath: elsewhere.firstSegment) else { throw Unreached("no segment elsewhere") }
                o.fired = Scenario.overwrite(ws.firstSegment, with: longer)
                elsewhere.remove()
                o.why = "the segment overwritten in place by a copy that went further elsewhere; the lock file's watermark is older"
            } else {
                guard let earlier = FileManager.default.contents(atPath: ws.lock) else { throw Unreached("no lock file") }
                try acknowledgeTwo(Scenario.manager(ws, actor: "writer"), "later")
                o.fired = FileManager.default.createFile(atPath: ws.lock, contents: earlier)  // as git checkout would
                o.why = "the lock file put back as it was before two acknowledged writes (same boot)"
            }
            o.attempts += 2  // the writes after the setup's two
            o.acknowledged = 2
            if c.variant % 3 == 2 {
                let r = cli.run(["show", "--state", ws.statePath])
                let text = String(decoding: r.stdout, as: UTF8.self)
                if r.status != 0 { o.problem("`show` exited \(r.status.map(String.init) ?? "?"): \(firstLines(r.stderr))") }
                for (key, _) in o.acked where key.hasPrefix("later") && !text.contains("ACKNOWLEDGED later \(key.dropFirst(6))") {
                    o.problem("`show` does not show the acknowledged write \(key)", lost: 1)
                }
            } else {
                let r = o.note(cli, ws, "the next write", key: "next")
                if r.status != 0 { o.problem("`note` exited \(r.status.map(String.init) ?? "?"): \(firstLines(r.stderr))") }
            }
            o.checkJournal(ws, "after the next command")
            o.checkProjection(ws, "after the next command")
        }
    }

    /// The journal with `notes` notes, copied to `copy`; then `later` notes
    /// (`LOST n`) the copy does not have. Returns the writer.
    @discardableResult
    private static func journalWithOlderCopy(_ ws: Workspace, copy: String, notes: Int, later: Int,
                                             snapshotInterval: UInt64 = 128) throws -> StateManager {
        let m = Scenario.manager(ws, actor: "setup", snapshotInterval: snapshotInterval)
        try Scenario.setUp(m, notes: notes)
        Scenario.copyDirectory(ws.journal, copy)
        for i in 0..<later { try m.write(.noteAdded(text: "LOST \(i + 1)"), options: .init(idempotencyKey: "lost-\(i)")) }
        return m
    }
}
