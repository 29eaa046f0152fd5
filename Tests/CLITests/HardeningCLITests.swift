import Foundation
import Testing
import StateJournal
import StateJournalEngine

/// The command line in hostile surroundings (issue 7): symbolic links,
/// inputs too large for one event, a lock held by someone else.
@Suite struct HardeningCLITests {
    /// A symlinked STATE.md is refused with exit 2 and a message naming it;
    /// `--allow-symlinks` (before or after the subcommand) follows it.
    @Test func symlinkedStateFileNeedsAllowSymlinks() throws {
        let ws = Workspace()
        try ws.sj("init", "--id", "wf", "--name", "Hardening", "--plan", "-", stdin: planJSON(waves: 1, perWave: 2))
        let real = ws.path + "/real.md"
        try FileManager.default.moveItem(atPath: ws.state, toPath: real)
        try FileManager.default.createSymbolicLink(atPath: ws.state, withDestinationPath: real)
        let before = ws.snapshot()

        let refused = try ws.sj("task", "start", "w1_t1")
        #expect(refused.status == 2)
        #expect(refused.stderr.contains("'\(ws.state)'"))
        #expect(refused.stderr.contains("symbolic link"))
        #expect(refused.stderr.contains("--allow-symlinks"))
        #expect(ws.snapshot() == before)

        #expect(try ws.sj("task", "start", "w1_t1", "--allow-symlinks").status == 0)
        let r = try CLI.run(["--allow-symlinks", "--state", ws.state, "task", "complete", "w1_t1", "--actor", "t"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: ws.state) == real)
        #expect(try String(contentsOfFile: real, encoding: .utf8).contains("[x] **w1_t1**"))
    }

    /// A plan file larger than any event can be is refused before it is read.
    @Test func planLargerThanAnEventIsRefusedUnread() throws {
        let ws = Workspace()
        let plan = ws.path + "/plan.json"
        #expect(FileManager.default.createFile(atPath: plan, contents: nil))
        let handle = try #require(FileHandle(forWritingAtPath: plan))
        try handle.truncate(atOffset: 65 << 20)  // sparse: nothing is really written
        try handle.close()
        let r = try ws.sj("init", "--plan", plan)
        #expect(r.status == 2)
        #expect(r.stderr.contains("more than 64 MiB"))
        #expect(r.stderr.contains("task add"))
        #expect(!FileManager.default.fileExists(atPath: ws.state + ".journal"))
    }

    /// A description of 20 MB makes an event over the 16 MiB record limit:
    /// exit 2, with what to do, and nothing written.
    @Test func descriptionBeyondTheRecordLimitIsBadInput() throws {
        let ws = Workspace()
        let huge = String(repeating: "x", count: 20 << 20)
        ws.write("plan.json", #"{"waves": [[{"task_id": "t1", "description": "\#(huge)"}]]}"#)
        let r = try ws.sj("init", "--id", "wf", "--name", "Big", "--plan", ws.path + "/plan.json")
        #expect(r.status == 2)
        #expect(r.stderr.contains("record limit"))
        #expect(!FileManager.default.fileExists(atPath: ws.state))
    }

    /// A writer that times out exits 3 and leaves the holder's lock file as
    /// it was: same file, same note.
    @Test func lockTimeoutLeavesTheLockFileAlone() throws {
        let ws = Workspace()
        try ws.sj("init", "--id", "wf", "--name", "Hardening", "--plan", "-", stdin: planJSON(waves: 1, perWave: 1))
        let lockPath = ws.state + ".lock"
        let holder = FileLock(path: lockPath, fileSystem: FileSystem())
        try holder.acquire(LockPolicy(timeout: 1), command: "the test")
        defer { holder.release() }
        let inode = try FileManager.default.attributesOfItem(atPath: lockPath)[.systemFileNumber] as? Int
        let note = try String(contentsOfFile: lockPath, encoding: .utf8)

        #expect(FileManager.default.fileExists(atPath: ws.state))
        let r = try ws.sj("note", "late", "--lock-timeout", "0.2")
        #expect(r.status == 3)
        #expect(r.stderr.contains("the test"))
        #expect(try FileManager.default.attributesOfItem(atPath: lockPath)[.systemFileNumber] as? Int == inode)
        #expect(try String(contentsOfFile: lockPath, encoding: .utf8) == note)
    }
}
