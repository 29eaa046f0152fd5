import Foundation
import Logging
import Testing
#if canImport(Glibc)
import Glibc
#endif
@testable import StateJournal
@testable import StateJournalEngine
import StateJournalTesting

/// Outside review of d543d50: STATE.md replaced by exchanging names
/// (`renameat2` `RENAME_EXCHANGE`), then the old file renamed to
/// STATE.md.backup after the older backup is unlinked.
@Suite struct ReviewExchangeTests {
    static let quiet = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })
    let dir = TemporaryDirectory()
    var path: String { dir.file("STATE.md") }
    var backup: String { path + ".backup" }

    func names() -> [String] { listDirectory(dir.path).sorted() }

    /// Whether `call` puts a file at `backup` (a rename or exchange to it):
    /// the step that keeps the previous file, however it is made.
    static func places(_ call: ScriptedCalls.Call, at backup: String) -> Bool {
        (call.operation == .rename || call.operation == .exchange) && call.target == backup
    }

    /// Every file in `dir` holding `bytes` (searches all names, temporaries included).
    func filesHolding(_ bytes: [UInt8], in directory: String) -> [String] {
        listDirectory(directory).filter { readBytes(directory + "/" + $0) == bytes }
    }

    func manager(_ path: String, _ system: any SystemCalls = RealSystemCalls(), allowSymlinks: Bool = false) -> StateManager {
        var fs = FileSystem(system)
        fs.allowsSymbolicLinks = allowSymlinks
        return StateManager(configuration: .init(statePath: path, actor: "tester", lock: LockPolicy(timeout: 5),
                                                 fileSystem: fs), logger: Self.quiet)
    }

    // MARK: A failed commit and an editor's save

    /// FINDING: a commit whose rename of the previous file to STATE.md.backup
    /// fails puts "the previous file" back by a second exchange of the
    /// temporary and STATE.md, then unlinks the temporary — without looking
    /// at what the second exchange took from STATE.md. An editor that saved
    /// (renamed its new file over STATE.md) between the two exchanges has its
    /// file swapped to the temporary name and unlinked: the edit is gone from
    /// every name, silently (the caller only sees "could not keep a copy").
    /// The old way (link, rename, rename) never touched STATE.md after a
    /// failed backup, so the editor's file stayed.
    /// Effect: a hand edit of STATE.md is lost, not recorded and not kept
    /// aside. The rename fails persistently where the backup's name cannot
    /// take a file (a directory there, a symlinked STATE.md on another file
    /// system — see `aSymlinkedStateFileOnAnotherFileSystemIsStillReplaced`),
    /// so every write runs this path.
    /// Fix: undo by `rename(temp, path)` only if `path` is still the new file
    /// (compare `lstat(path).inode` with the inode the first exchange put
    /// there, or `exchange` back and, when the file that came back is not
    /// the new one, rename it to a `.conflict-`/`.damaged-` name instead of
    /// unlinking); simplest: move the old backup aside/unlink it and check
    /// the backup's name can be used *before* the first exchange.
    @Test func aFailedBackupRenameNeverUnlinksAnEditorsSave() throws {
        let edited = Array("# edited by hand, saved by an editor's rename\n".utf8)
        let path = self.path, backup = self.backup
        let scripted = ScriptedCalls(RealSystemCalls()) { call in
            guard Self.places(call, at: backup) else { return .pass }
            // An editor saves now: writes its new file, renames it over STATE.md.
            let editorTemp = path + ".swp-editor"
            writeBytes(editorTemp, edited)
            _ = Glibc.rename(editorTemp, path)
            return .fail(.ioError)
        }
        let fs = FileSystem(scripted)
        try FileSystem().atomicReplace(path, with: Array("one\n".utf8), backup: backup, durable: false)
        try FileSystem().atomicReplace(path, with: Array("two\n".utf8), backup: backup, durable: false)
        // Fixed (cddadbe): once STATE.md shows the new file the commit
        // succeeds; nothing is exchanged back, so nothing an editor saved is
        // taken from STATE.md.
        try fs.atomicReplace(path, with: Array("three\n".utf8), backup: backup, durable: false)
        #expect(filesHolding(edited, in: dir.path) != [],
                "the editor's save is in no file any more: \(names()); calls: \(scripted.log)")
    }

    /// FINDING (the window is older than d543d50 and documented for editors
    /// that do not take the projectors' lock, but the exchange now makes it
    /// closable): an editor that saves by renaming a new file over STATE.md
    /// after the projector's last check and before its exchange has its file
    /// swapped away to STATE.md.backup — no warning, no conflict or damaged
    /// copy — and the next write unlinks that backup: the edit is gone.
    /// After the exchange, the temporary name holds exactly the file that was
    /// STATE.md, so the projector can tell: fix — compare its inode (fstat)
    /// with the file the last check read; when it differs, rename it to
    /// `STATE.md.damaged-<time>` (or record it as an edit on the next
    /// command) and warn, instead of making it the backup.
    @Test func anEditorsSaveRightBeforeTheExchangeIsNotLost() throws {
        let path = self.path, backup = self.backup
        try manager(path).write(initPayload())
        try manager(path).write(.noteAdded(text: "before the edit"))
        let marker = "an editor's note saved right before the exchange"
        let saved = Locked(false)
        let scripted = ScriptedCalls(RealSystemCalls()) { call in
            if call.operation == .exchange, call.target == path, !saved.withLock({ $0 }) {
                saved.withLock { $0 = true }
                let edited = (readText(path) ?? "").replacingOccurrences(of: "before the edit", with: "before the edit\n- " + marker)
                let editorTemp = path + ".editor-new"
                writeBytes(editorTemp, Array(edited.utf8))
                _ = Glibc.rename(editorTemp, path)
            }
            return .pass
        }
        try manager(path, scripted).write(.noteAdded(text: "the write that exchanges"))
        try #require(saved.withLock { $0 }, "no exchange of STATE.md was made: \(scripted.log)")
        // Right after it: the save is STATE.md.backup (swapped away, no warning).
        #expect((readText(backup) ?? "").contains(marker), "\(names())")
        try manager(path).write(.noteAdded(text: "the next write"))
        _ = try manager(path).loadState()
        let inJournal = try manager(path).events().contains { "\($0)".contains(marker) }
        let inAFile = names().contains { (readText(dir.file($0)) ?? "").contains(marker) }
        // Known, not fixed: the window between the projector's last look at
        // STATE.md and its exchange (Docs/GUARANTEES.md, "An edit of
        // STATE.md": editors that do not take the projectors' lock).
        withKnownIssue("an editor's save in the microseconds before the exchange becomes the backup, and the next write removes it") {
            #expect(inJournal || inAFile, "the editor's save is in no file and not in the journal: \(names())")
        }
    }

    // MARK: STATE.md.backup while a commit runs

    /// FINDING: STATE.md.backup is missing for a while at every write — the
    /// older backup is unlinked, then the previous file renamed to its name.
    /// Docs/FORMAT.md (`PATH.backup` row) says "no name is ever missing";
    /// before d543d50 the backup was renamed over the older one (never
    /// missing once it existed). A reader (`diff STATE.md.backup STATE.md`,
    /// a sync tool, a backup script) that runs then gets ENOENT; a process
    /// killed between the unlink and the rename leaves no backup at all, and
    /// the previous projection under a temporary name that the next
    /// projector deletes.
    /// Fix: `exchange(temp, backup)` when a backup exists (then unlink
    /// `temp`, which holds the older backup), `rename(temp, backup)` when
    /// none does. Not `rename` over the backup: on ext4 that is the
    /// auto_da_alloc case again (for the previous STATE.md's data), while an
    /// exchange is not — Tools/probes/replace_probe.c with that as a mode 3
    /// (1,500 writes of 30 KB, twice, loaded machine): link+renames 4.24 /
    /// 1.73 ms per write, d543d50's way 1.43 / 0.87, exchange+exchange+unlink
    /// 1.00 / 0.69. With it the backup is never missing and a failed
    /// placement leaves the older backup in place (next test).
    @Test func theBackupIsNeverMissingWhileACommitRuns() throws {
        let backup = self.backup
        let missing = Locked<[String]>([])
        let watching = Locked(false)
        let scripted = ScriptedCalls(RealSystemCalls()) { call in
            // What a reader of STATE.md.backup would find right before each call.
            if watching.withLock({ $0 }), access(backup, F_OK) != 0 {
                missing.withLock { $0.append("\(call)") }
            }
            return .pass
        }
        let fs = FileSystem(scripted)
        try fs.atomicReplace(path, with: Array("one\n".utf8), backup: backup, durable: false)
        try fs.atomicReplace(path, with: Array("two\n".utf8), backup: backup, durable: false)
        #expect(readBytes(backup) == Array("one\n".utf8))
        watching.withLock { $0 = true }
        try fs.atomicReplace(path, with: Array("three\n".utf8), backup: backup, durable: false)
        watching.withLock { $0 = false }
        #expect(readBytes(backup) == Array("two\n".utf8))
        #expect(missing.withLock { $0 } == [], "STATE.md.backup was missing before these calls")
    }

    /// FINDING: a commit that fails at the rename of the previous file to the
    /// backup's name has already unlinked the older STATE.md.backup — the
    /// only copy of the last good projection the library keeps (the damaged
    /// case commits with no backup precisely so that "the backup keeps the
    /// last good projection"). `commit` says "on failure `path` is
    /// unchanged"; the backup is not.
    /// Fix: as above — exchange with the backup, unlink the older one after.
    @Test func aFailedCommitKeepsTheOlderBackup() throws {
        let backup = self.backup
        let failing = Locked(false)
        let scripted = ScriptedCalls(RealSystemCalls()) { call in
            failing.withLock { $0 } && Self.places(call, at: backup) ? .fail(.ioError) : .pass
        }
        let fs = FileSystem(scripted)
        try fs.atomicReplace(path, with: Array("one\n".utf8), backup: backup, durable: false)
        try fs.atomicReplace(path, with: Array("two\n".utf8), backup: backup, durable: false)
        failing.withLock { $0 = true }
        // Fixed (cddadbe): the backup is exchanged, not removed first; the
        // commit succeeds (STATE.md shows the new file) and the older backup stays.
        try fs.atomicReplace(path, with: Array("three\n".utf8), backup: backup, durable: false)
        #expect(readBytes(path) == Array("three\n".utf8))
        #expect(readBytes(backup) == Array("one\n".utf8), "the older backup is gone: \(names())")
    }

    /// FINDING (minor): when the backup's rename fails and the exchange back
    /// fails too, the previous projection stays under a `.tmp-` name (with
    /// the new one as STATE.md) and the commit reports a failure although
    /// STATE.md was replaced. `commit` promises "on failure the temporary is
    /// removed". Fix: when the exchange back fails, unlink `temp` (it holds
    /// the previous projection — or rename it to the backup's name again),
    /// and report STATE.md as updated.
    @Test func aFailedUndoLeavesNoTemporary() throws {
        let path = self.path, backup = self.backup
        let failing = Locked(false)
        let scripted = ScriptedCalls(RealSystemCalls()) { call in
            guard failing.withLock({ $0 }) else { return .pass }
            // The backup cannot be placed, and putting the previous file
            // (now under the temporary name) back at STATE.md fails too.
            if Self.places(call, at: backup) { return .fail(.ioError) }
            if call.operation == .exchange, call.target == path, readBytes(call.path) == Array("two\n".utf8) { return .fail(.ioError) }
            return .pass
        }
        let fs = FileSystem(scripted)
        try fs.atomicReplace(path, with: Array("one\n".utf8), backup: backup, durable: false)
        try fs.atomicReplace(path, with: Array("two\n".utf8), backup: backup, durable: false)
        failing.withLock { $0 = true }
        _ = try? fs.atomicReplace(path, with: Array("three\n".utf8), backup: backup, durable: false)
        let shown = readBytes(path)
        #expect(shown == Array("two\n".utf8) || shown == Array("three\n".utf8))
        #expect(names().filter { $0.contains(".tmp-") } == [], "a temporary is left: \(names())")
    }

    /// Faults at each exchange/unlink/rename of a write: STATE.md is the old
    /// or the new projection, and no temporary is left (held).
    @Test(arguments: [FaultInjector.Operation.exchange, .unlink, .rename], [0, 1, 2])
    func aFaultAtAnyStepLeavesOldOrNewAndNoTemporary(operation: FaultInjector.Operation, after: Int) throws {
        let faults = FaultInjector(RealSystemCalls())
        let fs = FileSystem(faults)
        try fs.atomicReplace(path, with: Array("one\n".utf8), backup: backup, durable: false)
        try fs.atomicReplace(path, with: Array("two\n".utf8), backup: backup, durable: false)
        faults.fail(operation, errno: .ioError, after: after)
        _ = try? fs.atomicReplace(path, with: Array("three\n".utf8), backup: backup, durable: false)
        faults.reset()
        let shown = readBytes(path)
        #expect(shown == Array("two\n".utf8) || shown == Array("three\n".utf8))
        if let b = readBytes(backup) { #expect(b == Array("one\n".utf8) || b == Array("two\n".utf8)) }
        try fs.atomicReplace(path, with: Array("four\n".utf8), backup: backup, durable: false)
        #expect(readBytes(path) == Array("four\n".utf8))
        #expect(names().filter { $0.contains(".tmp-") } == [], "\(names())")
    }

    // MARK: A killed writer

    /// A writer killed between the exchange and the rename of the previous
    /// file leaves STATE.md new, no backup and the previous projection under
    /// `STATE.md.tmp-<pid>-<n>`. The next command shows the right STATE.md —
    /// and should remove the temporary.
    /// FINDING: nothing removes it while STATE.md is intact (stale
    /// temporaries are removed only on the way to regenerating a STATE.md
    /// that is not intact), so each such kill leaves one more STATE.md-sized
    /// file beside STATE.md forever (not new with d543d50 — a kill before
    /// the rename left one before too — but the window is now three calls,
    /// and the file is a whole projection). Fix: remove STATE.md.tmp-<pid>-*
    /// of pids that are not running (or older than the lock holder's start)
    /// under the projectors' lock on every projection, or at `verify`/`sync`.
    @Test func aWriterKilledAfterTheExchangeLeavesNothingBehindAfterTheNextCommand() throws {
        try manager(path).write(initPayload())
        try manager(path).write(.noteAdded(text: "before the kill"))
        let scripted = ScriptedCalls(RealSystemCalls()) { call in
            (call.operation == .rename || call.operation == .exchange) && call.target?.hasSuffix("STATE.md.backup") == true ? .die : .pass
        }
        let victim = manager(path, scripted)
        _ = try? victim.write(.noteAdded(text: "the victim's note"))
        try #require(scripted.isDead, "\(scripted.log)")
        #expect(try #require(readText(path)).contains("the victim's note"))
        #expect(names().contains { $0.hasPrefix("STATE.md.tmp-") }, "the state right after the kill: \(names())")
        // The next command: any write, then a read.
        try manager(path).write(.noteAdded(text: "after the kill"))
        _ = try manager(path).loadState()
        #expect(try #require(readText(path)).contains("after the kill"))
        #expect(names().filter { $0.contains(".tmp-") } == [], "left behind: \(names())")
    }

    // MARK: Symbolic links

    /// FINDING: with `allowSymlinks`, a STATE.md that is a link to a file on
    /// another file system (a tmpfs, another mount) can no longer be
    /// replaced. The exchange happens beside the target; the rename of the
    /// previous file to STATE.md.backup — beside the link — crosses file
    /// systems (EXDEV), so the commit exchanges back and fails, having
    /// unlinked the older backup. Every write then leaves STATE.md behind
    /// (a warning, `state_md_updated: false`). Before d543d50 the backup was
    /// a copy where a link fails (`keepCopy`) and STATE.md was replaced.
    /// Fix: exchange only when the backup's directory is the target's
    /// (`directory(of: pending.path) == directory(of: backup)` after
    /// resolving), else the old way; and fall back to it on EXDEV from the
    /// rename.
    @Test func aSymlinkedStateFileOnAnotherFileSystemIsStillReplaced() throws {
        let shm = "/dev/shm/statejournal-review-" + UUID().uuidString
        guard (try? FileManager.default.createDirectory(atPath: shm, withIntermediateDirectories: false)) != nil else { return }
        defer { try? FileManager.default.removeItem(atPath: shm) }
        var here = stat(), there = stat()
        guard Glibc.lstat(dir.path, &here) == 0, Glibc.lstat(shm, &there) == 0, here.st_dev != there.st_dev else { return }
        try manager(path).write(initPayload())
        let target = shm + "/STATE.md"
        try FileManager.default.moveItem(atPath: path, toPath: target)
        try FileManager.default.createSymbolicLink(atPath: path, withDestinationPath: target)
        let m = manager(path, allowSymlinks: true)
        try m.write(.noteAdded(text: "first through the link"))
        let previous = try #require(readBytes(target))
        try m.write(.noteAdded(text: "second through the link"))
        #expect(try #require(readText(target)).contains("second through the link"), "STATE.md was not replaced")
        #expect(readBytes(backup) == previous, "the backup is not the previous projection")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: path) == target)
    }

    /// A symlinked STATE.md in the same file system: the link stays, the
    /// backup beside the link is the previous projection (held).
    @Test func aSymlinkedStateFileOnTheSameFileSystemKeepsItsLink() throws {
        try manager(path).write(initPayload())
        let other = TemporaryDirectory()
        let target = other.file("real.md")
        try FileManager.default.moveItem(atPath: path, toPath: target)
        try FileManager.default.createSymbolicLink(atPath: path, withDestinationPath: target)
        let m = manager(path, allowSymlinks: true)
        for i in 0..<3 {
            let previous = try #require(readBytes(target))
            try m.write(.noteAdded(text: "note \(i)"))
            #expect(try #require(readText(target)).contains("note \(i)"))
            #expect(readBytes(backup) == previous)
            #expect(try FileManager.default.destinationOfSymbolicLink(atPath: path) == target)
        }
        #expect(listDirectory(other.path).filter { $0.contains(".tmp-") } == [])
        #expect(names().filter { $0.contains(".tmp-") } == [])
    }

    // MARK: Odd things at the backup's name and STATE.md

    /// STATE.md.backup is a directory (a user's, with files in it): the
    /// write is durable, STATE.md still shows a state, and nothing in the
    /// directory is touched (held).
    @Test func aDirectoryAtTheBackupsNameIsNotTouched() throws {
        try manager(path).write(initPayload())
        try FileManager.default.createDirectory(atPath: backup, withIntermediateDirectories: false)
        writeBytes(backup + "/mine", Array("mine\n".utf8))
        _ = try? manager(path).write(.noteAdded(text: "with a directory at the backup"))
        #expect(readBytes(backup + "/mine") == Array("mine\n".utf8))
        let events = try manager(path).events()
        #expect(events.contains { "\($0)".contains("with a directory at the backup") })
        #expect(readBytes(path) != nil, "STATE.md is missing: \(names())")
        #expect(names().filter { $0.contains(".tmp-") } == [], "\(names())")
    }

    /// STATE.md.backup is a symbolic link to a user's file: the file it
    /// points to is never written or removed (held).
    @Test func aSymlinkAtTheBackupsNameNeverWritesThroughIt() throws {
        try manager(path).write(initPayload())
        let other = TemporaryDirectory()
        let precious = other.file("precious.txt")
        writeBytes(precious, Array("precious\n".utf8))
        try FileManager.default.createSymbolicLink(atPath: backup, withDestinationPath: precious)
        try manager(path).write(.noteAdded(text: "one"))
        try manager(path).write(.noteAdded(text: "two"))
        #expect(readBytes(precious) == Array("precious\n".utf8))
        #expect(try #require(readText(path)).contains("two"))
    }

    /// STATE.md is a hard link to a user's file: the write replaces the
    /// name STATE.md only; the user's file keeps its bytes (held).
    @Test func aHardLinkedStateFileLeavesTheOtherNameAlone() throws {
        try manager(path).write(initPayload())
        let other = dir.file("mine.md")
        #expect(Glibc.link(path, other) == 0)
        let before = try #require(readBytes(other))
        try manager(path).write(.noteAdded(text: "after the link"))
        try manager(path).write(.noteAdded(text: "and again"))
        #expect(readBytes(other) == before)
        #expect(try #require(readText(path)).contains("and again"))
    }

    // MARK: Power loss

    /// Power lost at every call of a write that exchanges: after
    /// `materialize`, the next command heals STATE.md, and every acknowledged
    /// event is there (held).
    @Test func aPowerLossAtAnyCallOfAWriteIsHealedByTheNextCommand() throws {
        var crashSites: [String] = []
        for crashAfter in stride(from: 1, through: 100, by: 1) {
            let outer = TemporaryDirectory()
            let root = outer.file("disk")
            try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
            let statePath = root + "/STATE.md"
            try manager(statePath).write(initPayload())
            try manager(statePath).write(.noteAdded(text: "durable before"))
            let disk = SimulatedDisk(root: root, seed: UInt64(crashAfter))
            let m = manager(statePath, disk)
            var acknowledged: [UInt64] = []
            try m.write(.noteAdded(text: "warm-up"))
            disk.crash(afterCalls: crashAfter)
            for i in 0..<3 {
                if let seq = try? m.write(.noteAdded(text: "during \(i)")).event.seq { acknowledged.append(seq) }
            }
            disk.crash()
            crashSites += disk.operations.filter { $0.hasPrefix("CRASHED at") }
            disk.materialize(.tornTail)
            let next = manager(statePath)
            let state = try #require(try next.loadState())
            let seqs = Set(try next.events().map(\.seq))
            #expect(acknowledged.allSatisfy(seqs.contains), "crash after \(crashAfter): acknowledged lost")
            if case .intact(let seq, _) = StateManager.status(of: readBytes(statePath)) {
                #expect(seq == state.seq, "crash after \(crashAfter): STATE.md shows \(seq), journal \(state.seq)")
            } else {
                Issue.record("crash after \(crashAfter): STATE.md not healed: \(StateManager.status(of: readBytes(statePath)))")
            }
            if case .intact(let seq, _) = StateManager.status(of: readBytes(statePath + ".backup")) {
                #expect(seq <= state.seq, "crash after \(crashAfter): the backup is ahead of the journal")
            }
        }
        // The crashes hit the exchange and the backup's unlink and rename.
        #expect(crashSites.contains { $0.contains("exchange") && $0.contains("STATE.md.tmp-") }, "\(crashSites)")
        #expect(crashSites.contains { ($0.hasPrefix("CRASHED at rename") || $0.hasPrefix("CRASHED at exchange")) && $0.hasSuffix("STATE.md.backup") },
                "\(crashSites)")
    }
}
