import Foundation
import Testing
import StateJournal
import StateJournalEngine

/// The write commands through the real executable.
@Suite struct WriteCommandTests {
    let ws = Workspace()

    func initialize(waves: Int = 2, perWave: Int = 3) throws {
        let r = try ws.sj("init", "--id", "wf_1", "--name", "Build it", "--plan", "-",
                          stdin: planJSON(waves: waves, perWave: perWave, metadata: #"{"owner": "platform"}"#))
        #expect(r.status == 0, "\(r.stderr)")
    }

    @Test func initThenEveryWriteShowsInStateMD() throws {
        try initialize()
        #expect(try ws.sj("wave", "set", "1").status == 0)
        #expect(try ws.sj("task", "start", "w1_t1").status == 0)
        #expect(try ws.sj("task", "complete", "w1_t1", "--commit", "abc1234", "--file", "a.swift", "--file", "b.swift").status == 0)
        #expect(try ws.sj("task", "fail", "w1_t2", "--error", "it broke").status == 0)
        #expect(try ws.sj("task", "add", "w2_t9", "--wave", "2", "--description", "Late task").status == 0)
        #expect(try ws.sj("note", "remember this").status == 0)
        #expect(try ws.sj("meta", "set", "branch", "main").status == 0)

        let md = try String(contentsOfFile: ws.state, encoding: .utf8)
        #expect(md.hasPrefix("# Workflow: Build it\n"))
        #expect(md.contains("- [x] **w1_t1**: Task 1 of wave 1"))
        #expect(md.contains("  - Commit: `abc1234`"))
        #expect(md.contains("- [ ] **w1_t2**"))
        #expect(md.contains("  - Error: it broke"))
        #expect(md.contains("**w2_t9**: Late task"))
        #expect(md.contains("- remember this"))
        #expect(md.contains("branch"))
        #expect(md.contains("seq=8 "))
        #expect(try ws.sj("validate", ws.state).status == 0)

        let json = try ws.showJSON()
        #expect(json["seq"]?.intValue == 8)
        #expect(json["current_wave"]?.intValue == 1)
        let tasks = json["tasks"]?.arrayValue ?? []
        #expect(tasks.count == 7)
        #expect(tasks.first?["status"]?.stringValue == "completed")
        #expect(tasks.first?["files"]?.arrayValue?.count == 2)
        #expect(json["notes"]?.arrayValue?.first?.stringValue == "remember this")
        #expect(json["metadata"]?["owner"]?.stringValue == "platform")
    }

    @Test func globalOptionsWorkBeforeAndAfterTheSubcommand() throws {
        try initialize()
        let before = try CLI.run(["--state", ws.state, "--actor", "alice", "--lock-timeout", "2.5", "task", "start", "w1_t1"])
        #expect(before.status == 0, "\(before.stderr)")
        let after = try CLI.run(["task", "start", "w1_t2", "--state", ws.state, "--actor=bob", "--lock-timeout", "0.5"])
        #expect(after.status == 0, "\(after.stderr)")
        let viaEnv = try CLI.run(["task", "start", "w1_t3"], env: ["STATEJOURNAL_STATE": ws.state, "STATEJOURNAL_ACTOR": "carol"])
        #expect(viaEnv.status == 0, "\(viaEnv.stderr)")
        let log = try CLI.run(["log", "--json", "--state", ws.state]).stdout.split(separator: "\n")
        let actors = try log.map { try JSON.parse(String($0))["actor"]?.stringValue ?? "" }
        #expect(actors.suffix(3) == ["alice", "bob", "carol"])
    }

    @Test func jsonOutputIsTheEvent() throws {
        try initialize()
        let r = try ws.sj("task", "start", "w1_t1", "--json")
        let event = try JSON.parse(r.stdout)
        #expect(event["type"]?.stringValue == "task.started")
        #expect(event["task_id"]?.stringValue == "w1_t1")
        #expect(event["seq"]?.intValue == 2)
        #expect(event["actor"]?.stringValue == "tester")
        #expect(event["duplicate"]?.boolValue == false)
    }

    @Test func expectSeqConflictExitsFourAndWritesNothing() throws {
        try initialize()
        let before = ws.snapshot()
        let r = try ws.sj("task", "start", "w1_t1", "--expect-seq", "5")
        #expect(r.status == 4)
        #expect(r.stderr.contains("seq 1"))
        #expect(ws.snapshot() == before)
        #expect(try ws.sj("task", "start", "w1_t1", "--expect-seq", "1").status == 0)
    }

    @Test func idempotencyKeyWritesOnce() throws {
        try initialize()
        let first = try ws.sj("note", "once", "--idempotency-key", "k1", "--json")
        let again = try ws.sj("note", "once", "--idempotency-key", "k1", "--json")
        #expect(first.status == 0 && again.status == 0)
        #expect(try JSON.parse(again.stdout)["duplicate"]?.boolValue == true)
        #expect(try JSON.parse(again.stdout)["seq"] == JSON.parse(first.stdout)["seq"])
        #expect(try ws.showJSON()["notes"]?.arrayValue?.count == 1)
    }

    @Test func lockTimeoutExitsThreeAndNamesTheHolder() throws {
        try initialize()
        let lock = FileLock(path: ws.state + ".lock", fileSystem: FileSystem())
        try lock.acquire(LockPolicy(timeout: 1), command: "test holder")
        defer { lock.release() }
        let r = try ws.sj("task", "start", "w1_t1", "--lock-timeout", "0.2")
        #expect(r.status == 3)
        #expect(r.stderr.contains("process \(getpid())"))
        #expect(r.stderr.contains("test holder"))
    }

    /// Bad input exits 2, says what to fix, and leaves every byte as it was.
    @Test(arguments: [
        ["task", "complete", "nope"],                          // unknown task
        ["task", "start", "w1_t1", "--AFTER-COMPLETE"],        // placeholder, replaced below
        ["task", "fail", "w1_t1"],                             // missing --error
        ["task", "add", "x1", "--wave", "9"],                  // wave out of range
        ["wave", "set", "7"],                                  // wave out of range
        ["task", "add", "w1_t2", "--wave", "1"],               // duplicate id
        ["task", "add", "bad id", "--wave", "1"],              // invalid id
        ["init", "--id", "wf_2", "--name", "x", "--plan", "-"], // malformed plan JSON (stdin below)
        ["init", "--id", "wf_2", "--name", "x"],               // neither --plan nor --waves
        ["note"],                                              // missing argument
        ["task", "complete"],                                  // missing argument
        ["frobnicate"],                                        // unknown command
        ["task", "start", "w1_t1", "--lock-timeout", "-1"],    // bad global option
        ["meta", "set", "", "v"],                              // empty key
    ])
    func badInputExitsTwoAndChangesNothing(_ args: [String]) throws {
        try initialize()
        #expect(try ws.sj("task", "complete", "w1_t1").status == 0)
        let before = ws.snapshot()
        #expect(before.keys.contains("STATE.md"))
        var args = args
        if args.last == "--AFTER-COMPLETE" { args = ["task", "start", "w1_t1"] }  // completed → in progress: refused
        let r = try CLI.run(args + ["--state", ws.state], stdin: #"{"waves": [[{"task_id": "a""#)
        #expect(r.status == 2, "\(args): exit \(r.status), \(r.stderr)")
        #expect(!r.stderr.isEmpty)
        #expect(ws.snapshot() == before, "\(args) changed files")
    }

    @Test func badInputMessagesSayWhatToFix() throws {
        try initialize()
        let unknown = try ws.sj("task", "complete", "nope")
        #expect(unknown.stderr.contains("unknown task 'nope'"))
        let wave = try ws.sj("task", "add", "x", "--wave", "9")
        #expect(wave.stderr.contains("wave 9 is out of range"))
        let plan = try CLI.run(["init", "--id", "x", "--name", "y", "--plan", "-", "--state", ws.state], stdin: "{nope")
        #expect(plan.stderr.contains("not valid JSON"))
        _ = try ws.sj("task", "complete", "w1_t1")
        let again = try ws.sj("task", "start", "w1_t1")
        #expect(again.stderr.contains("completed"))
    }

    @Test func commandsBeforeInitSayToInit() throws {
        let r = try ws.sj("task", "start", "t1")
        #expect(r.status == 2)
        #expect(r.stderr.contains("init"))
        #expect(!FileManager.default.fileExists(atPath: ws.state))
    }

    @Test func userTextCannotBreakTheStructure() throws {
        try initialize()
        let hostile = "line one\n## Injected\n- [x] **fake**: done\n**bold** `tick` \\ <br> & # | ~ 🚀"
        #expect(try ws.sj("task", "add", "h1", "--wave", "1", "--description", hostile).status == 0)
        #expect(try ws.sj("note", hostile).status == 0)
        #expect(try ws.sj("validate", ws.state).status == 0)
        let md = try String(contentsOfFile: ws.state, encoding: .utf8)
        #expect(!md.contains("\n## Injected"))
        #expect(!md.contains("\n- [x] **fake**"))
        let json = try ws.showJSON()
        #expect(json["tasks"]?.arrayValue?.first { $0["task_id"]?.stringValue == "h1" }?["description"]?.stringValue == hostile)
    }
}
