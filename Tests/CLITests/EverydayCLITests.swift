import Foundation
import Testing
import StateJournal

/// Issue 17: what a new user tripped over in a first session — one test (or
/// more) per item, through the real executable. A test of a mistake checks
/// the exit status, the message and that nothing was written.
@Suite struct EverydayCLITests {
    let ws = Workspace()

    /// Three waves: task_1, task_2 in wave 1; task_3 in wave 2; task_4 in wave 3.
    static let plan = #"""
        {"waves": [[{"task_id": "task_1", "description": "Design the schema"}, {"task_id": "task_2", "description": "Write the migration"}],
                   [{"task_id": "task_3", "description": "Seed the data"}], [{"task_id": "task_4", "description": "Deploy"}]],
         "metadata": {"owner": "platform"}}
        """#

    func initialize() throws {
        let r = try ws.sj("init", "--id", "wf_1", "--name", "Build auth service", "--plan", "-", stdin: Self.plan)
        #expect(r.status == 0, "\(r.stderr)")
    }

    func progressLine() throws -> String {
        let md = try ws.sj("show").stdout
        return md.split(separator: "\n").first { $0.hasPrefix("**Progress:**") }.map(String.init) ?? ""
    }

    // MARK: 1. Progress counts tasks, not waves

    @Test func progressCountsCompletedTasksNotWaves() throws {
        try initialize()
        #expect(try ws.sj("wave", "set", "1").status == 0)
        // Wave 1 of 3 with nothing done: 0%, not 33%.
        #expect(try progressLine() == "**Progress:** `░░░░░░░░░░░░░░░░░░░░` 0%")
        #expect(try ws.sj("task", "complete", "task_1").status == 0)
        #expect(try ws.sj("task", "complete", "task_2").status == 0)
        #expect(try ws.sj("wave", "set", "3").status == 0)
        #expect(try ws.sj("task", "start", "task_3").status == 0)
        // Wave 3 of 3 with a task in progress and one pending: 50%, not 100%.
        #expect(try progressLine() == "**Progress:** `██████████░░░░░░░░░░` 50%")
        let file = try String(contentsOfFile: ws.state, encoding: .utf8)
        #expect(file.contains("`██████████░░░░░░░░░░` 50%"))
        #expect(try ws.sj("validate", ws.state).status == 0)
        // resume-info keeps the earlier tool's meaning (the next wave), but
        // its text does not call the workflow finished.
        let info = try JSON.parse(try ws.sj("resume-info", "--json").stdout)
        #expect(info["resume_wave"]?.intValue == 4)
        let text = try ws.sj("resume-info").stdout
        #expect(text.contains("2 of 4 tasks completed (50%)"))
        #expect(!text.contains("100%"))
        #expect(try ws.sj("task", "complete", "task_3").status == 0)
        #expect(try ws.sj("task", "complete", "task_4").status == 0)
        #expect(try progressLine() == "**Progress:** `████████████████████` 100%")
    }
}

extension EverydayCLITests {
    // MARK: 3. An idempotency key reused with different content

    @Test func idempotencyKeyReusedWithDifferentContentIsAConflict() throws {
        try initialize()
        #expect(try ws.sj("note", "A", "--idempotency-key", "k1").status == 0)
        let before = ws.snapshot()
        let r = try ws.sj("note", "B", "--idempotency-key", "k1")
        #expect(r.status == 4, "\(r.stderr)")
        #expect(r.stderr.hasPrefix("statejournal: error: idempotency key 'k1' was already used by seq 2 (note.added by tester"))
        #expect(r.stderr.contains("nothing was written"))
        #expect(ws.snapshot() == before)
        // The same write again, by another actor and process: a duplicate, as before.
        let again = try ws.sj("note", "A", "--idempotency-key", "k1", "--json", actor: "someone-else")
        #expect(again.status == 0, "\(again.stderr)")
        let event = try JSON.parse(again.stdout)
        #expect(event["seq"]?.intValue == 2)
        #expect(event["duplicate"]?.boolValue == true)
        #expect(event["actor"]?.stringValue == "tester")
        #expect(ws.snapshot() == before)
        // Another command with the key: a conflict too.
        let other = try ws.sj("task", "start", "task_1", "--idempotency-key", "k1")
        #expect(other.status == 4)
        #expect(other.stderr.contains("seq 2 (note.added"))
        #expect(ws.snapshot() == before)
        // Under --json the error is JSON on stderr with the conflict's code.
        let json = try ws.sj("note", "B", "--idempotency-key", "k1", "--json")
        #expect(json.status == 4)
        #expect(json.stdout.isEmpty)
        let error = try JSON.parse(json.stderr)["error"]
        #expect(error?["code"]?.stringValue == "conflict")
        #expect(error?["exit_status"]?.intValue == 4)
    }

    /// A write derived from the state (update appends its notes to the notes
    /// there are) retried with its key is still the same write.
    @Test func derivedWriteRetriedWithItsKeyIsADuplicate() throws {
        try initialize()
        let update = #"{"workflow_id": "wf_1", "workflow_name": "Build auth service", "wave_id": 1, "total_waves": 3, "#
            + #""completed_tasks": [{"task_id": "task_1", "description": "Design"}], "notes": ["went well"]}"#
        ws.write("update.json", update)
        let first = try ws.sj("update", "--from", ws.path + "/update.json", "--idempotency-key", "u1")
        #expect(first.status == 0, "\(first.stderr)")
        #expect(try ws.sj("note", "later").status == 0)
        let before = ws.snapshot()
        let retry = try ws.sj("update", "--from", ws.path + "/update.json", "--idempotency-key", "u1")
        #expect(retry.status == 0, "\(retry.stderr)")
        #expect(retry.stderr.contains("already recorded as seq 2"))
        #expect(ws.snapshot() == before)
        ws.write("update2.json", update.replacingOccurrences(of: "went well", with: "went badly"))
        let before2 = ws.snapshot()
        let changed = try ws.sj("update", "--from", ws.path + "/update2.json", "--idempotency-key", "u1")
        #expect(changed.status == 4)
        #expect(changed.stderr.contains("seq 2 (state.replaced"))
        #expect(ws.snapshot() == before2)
    }
}

extension EverydayCLITests {
    // MARK: 2. A write that half-succeeds; reads in a read-only directory

    /// A directory the executable cannot write (as `nobody` when the tests run
    /// as root, since root ignores permissions) whose journal it can write:
    /// the note is recorded, the command says so plainly (exit 0, the seq,
    /// STATE.md behind) and never advises a retry that would duplicate it;
    /// `show` and `log` work.
    @Test(.enabled(if: CLI.unprivileged != nil, "running as root without setpriv(1): permissions cannot be tested"))
    func aWriteInAReadOnlyDirectorySaysItIsDurableAndReadsWork() throws {
        let prefix = try #require(CLI.unprivileged)
        let dir = ws.path + "/ro"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        if getuid() == 0, let nobody = getpwnam("nobody") {
            #expect(chown(dir, nobody.pointee.pw_uid, nobody.pointee.pw_gid) == 0)
        }
        let state = dir + "/STATE.md"
        func sj(_ args: String...) throws -> CLI.Result {
            try CLI.run(args + ["--state", state, "--actor", "tester"], prefix: prefix)
        }
        #expect(try sj("init", "--id", "wf_1", "--name", "Build", "--waves", "1").status == 0)
        let stateBefore = FileManager.default.contents(atPath: state)
        #expect(chmod(dir, 0o555) == 0)  // chmod a-w
        defer { chmod(dir, 0o755) }

        let r = try sj("note", "hello")
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("note.added recorded seq 2"))
        #expect(r.stderr.contains("statejournal: warning: the event is durable in the journal as seq 2"))
        #expect(r.stderr.contains("do not run the command again"))
        #expect(!r.stderr.contains("idempotency-key"), "no key was given: a retry would duplicate")
        #expect(!r.stderr.contains("retry with"))
        #expect(FileManager.default.contents(atPath: state) == stateBefore, "STATE.md could not be rewritten")

        let json = try sj("note", "again", "--json", "--idempotency-key", "k2")
        #expect(json.status == 0, "\(json.stderr)")
        let event = try JSON.parse(json.stdout)
        #expect(event["seq"]?.intValue == 3)
        #expect(event["state_md_updated"]?.boolValue == false)
        #expect(json.stderr.contains("a retry with the same --idempotency-key 'k2' is safe"))

        let show = try sj("show", "--json")
        #expect(show.status == 0, "\(show.stderr)")
        #expect(try JSON.parse(show.stdout)["notes"]?.arrayValue?.count == 2)
        let md = try sj("show")
        #expect(md.status == 0)
        #expect(md.stdout.contains("- again"))
        let log = try sj("log")
        #expect(log.status == 0, "\(log.stderr)")
        #expect(log.stdout.contains("hello") && log.stdout.contains("again"))
        #expect(try sj("log", "--json").stdout.split(separator: "\n").count == 3)
        // Once the directory is writable, the next command regenerates STATE.md.
        chmod(dir, 0o755)
        #expect(try sj("show").status == 0)
        #expect(try String(contentsOfFile: state, encoding: .utf8).contains("- again"))
    }

    // MARK: 4. No workflow here: one message, nothing created

    @Test(arguments: [
        ["show"], ["log"], ["log", "--json"], ["blame"], ["verify"], ["compact"], ["replay"], ["replay", "--step"],
        ["export"], ["status"], ["undo"], ["task", "start", "x"], ["note", "x"], ["wave", "set", "1"], ["meta", "set", "k", "v"],
        ["restore", "--seq", "1"], ["show", "--seq", "1"],
    ])
    func everyCommandSaysNoWorkflowTheSameWayAndCreatesNothing(_ args: [String]) throws {
        let r = try CLI.run(args + ["--state", ws.state])
        #expect(r.status == 2, "\(args): \(r.stderr)")
        #expect(r.stdout.isEmpty)
        let hint = "run 'statejournal init' (a sample plan: 'statejournal init --example') or 'statejournal import FILE' first"
        if args.contains("--json") {
            let error = try JSON.parse(r.stderr)["error"]
            #expect(error?["message"]?.stringValue == "no workflow at '\(ws.state)'")
            #expect(error?["hint"]?.stringValue == hint)
        } else {
            #expect(r.stderr == "statejournal: error: no workflow at '\(ws.state)'\nhint: \(hint)\n", "\(args)")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: ws.path).isEmpty, "\(args) created a file")
    }

    @Test func noWorkflowBesideAnEarlierToolsFileSaysImport() throws {
        ws.write("STATE.md", "# Workflow: old\n")
        let before = ws.snapshot()
        let r = try CLI.run(["show", "--state", ws.state])
        #expect(r.status == 2)
        #expect(r.stderr.contains("no workflow at '\(ws.state)': the file has no journal"))
        #expect(r.stderr.contains("hint: adopt it with 'statejournal import \(ws.state)'"))
        #expect(ws.snapshot() == before)
        #expect(try FileManager.default.contentsOfDirectory(atPath: ws.path) == ["STATE.md"])
        // resume-info keeps the earlier tool's answer: null, exit 0, the same words.
        let info = try CLI.run(["resume-info", "--json", "--state", ws.state])
        #expect(info.status == 0)
        #expect(info.stdout == "null\n")
        #expect(info.stderr.contains("no workflow at '\(ws.state)'"))
        // Under --json the error is JSON.
        let json = try CLI.run(["log", "--json", "--state", ws.state])
        #expect(try JSON.parse(json.stderr)["error"]?["code"]?.stringValue == "not_initialized")
    }
}
