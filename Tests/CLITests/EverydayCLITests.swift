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
        ["restore", "--seq", "1"], ["show", "--seq", "1"], ["clear"],
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

    @Test func blameOfAWorkflowWithoutTasksPrintsNoEmptyTable() throws {
        #expect(try ws.sj("init", "--id", "wf", "--name", "W", "--waves", "2").status == 0)
        let r = try ws.sj("blame")
        #expect(r.status == 0)
        #expect(r.stdout.isEmpty)
        #expect(r.stderr.contains("no tasks in the workflow"))
        #expect(try JSON.parse(ws.sj("blame", "--json").stdout).arrayValue?.isEmpty == true)
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

/// Runs `command` (a shell command line) under a pseudo-terminal, as a
/// person at a terminal would: stdout is a terminal.
func underTerminal(_ command: String, env: [String: String] = [:]) throws -> String {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/script")
    p.arguments = ["-qec", command, "/dev/null"]
    var environment = ProcessInfo.processInfo.environment
    environment["TERM"] = "xterm"
    environment["STATEJOURNAL_STATE"] = nil
    for (k, v) in env { environment[k] = v }
    p.environment = environment
    let out = Pipe()
    p.standardOutput = out
    p.standardInput = FileHandle.nullDevice
    try p.run()
    let data = out.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return String(decoding: data, as: UTF8.self)
}

let hasScript = FileManager.default.isExecutableFile(atPath: "/usr/bin/script")

/// The package root, found from this file's path.
let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

extension EverydayCLITests {
    // MARK: 5. Plans: unknown keys refused, generated ids warned

    @Test func aPlanWithIdInsteadOfTaskIdIsRefusedUnlessLenient() throws {
        ws.write("plan.json", #"{"waves": [[{"id": "migrate", "description": "Migrate"}, {"task_id": "seed"}]]}"#)
        let before = ws.snapshot()
        let r = try ws.sj("init", "--id", "wf_1", "--name", "Flow", "--plan", ws.path + "/plan.json")
        #expect(r.status == 2)
        #expect(r.stderr.hasPrefix("statejournal: error: the plan in \(ws.path)/plan.json: task 1 of wave 1 has an unknown key 'id' (did you mean 'task_id'?)"),
                "\(r.stderr)")
        #expect(r.stderr.contains("hint: fix the plan, or give --lenient to ignore unknown keys"))
        #expect(ws.snapshot() == before)
        #expect(try FileManager.default.contentsOfDirectory(atPath: ws.path) == ["plan.json"], "nothing created, not even a lock file")

        let lenient = try ws.sj("init", "--id", "wf_1", "--name", "Flow", "--plan", ws.path + "/plan.json", "--lenient")
        #expect(lenient.status == 0, "\(lenient.stderr)")
        #expect(lenient.stderr.contains("statejournal: warning: task 1 of wave 1 has an unknown key 'id' (did you mean 'task_id'?): ignored (--lenient)"))
        #expect(lenient.stderr.contains("statejournal: warning: task 1 of wave 1 has no 'task_id' (or 'agent_id'): it was named 'wave1_task1'"))
        let tasks = try ws.showJSON()["tasks"]?.arrayValue?.compactMap { $0["task_id"]?.stringValue }
        #expect(tasks == ["wave1_task1", "seed"])
    }

    @Test func theEarlierToolsFallbacksStillWorkWithAWarning() throws {
        // agent_id and prompt are the earlier tool's; a task with neither id gets one, said on stderr.
        let r = try ws.sj("init", "--plan", "-", stdin: #"""
            {"workflow_id": "wf", "workflow_name": "Old", "total_waves": 2,
             "all_waves": [[{"agent_id": "a1", "prompt": "Write it"}, {"task": "No id"}]]}
            """#)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("warning: task 2 of wave 1 has no 'task_id' (or 'agent_id'): it was named 'wave1_task2'"))
        #expect(!r.stderr.contains("a1"))
        let tasks = try ws.showJSON()["tasks"]?.arrayValue?.compactMap { $0["task_id"]?.stringValue }
        #expect(tasks == ["a1", "wave1_task2"])
    }

    // MARK: 6. replay --step: linear, --from-seq, progress

    /// A history of `count` events, imported from an export (fast).
    func longHistory(_ count: Int) throws {
        let tasks = count / 4
        var lines: [String] = []
        let waves = (0..<4).map { w in (0..<(tasks / 4)).map { #"{"task_id":"t\#(w)_\#($0)","description":"Task \#($0)"}"# }.joined(separator: ",") }
        func line(_ seq: Int, _ body: String) -> String {
            #"{"seq":\#(seq),"time":"2027-01-15T08:00:00.\#(String(format: "%06d", seq))Z","actor":"bench","pid":1,\#(body)}"#
        }
        lines.append(line(1, #""type":"workflow.initialized","workflow_id":"wf","workflow_name":"Long","waves":[[\#(waves.joined(separator: "],["))]],"metadata":{}"#))
        var next = 0
        let ids = (0..<4).flatMap { w in (0..<(tasks / 4)).map { "t\(w)_\($0)" } }
        for seq in 2...count {
            if seq % 3 == 0 || next >= ids.count {
                lines.append(line(seq, #""type":"note.added","text":"note \#(seq)""#))
            } else if seq % 3 == 1 {
                lines.append(line(seq, #""type":"task.started","task_id":"\#(ids[next])""#))
            } else {
                lines.append(line(seq, #""type":"task.completed","task_id":"\#(ids[next])","commit":"abc123""#))
                next += 1
            }
        }
        ws.write("history.jsonl", lines.joined(separator: "\n") + "\n")
        let r = try ws.sj("import", ws.path + "/history.jsonl")
        #expect(r.status == 0, "\(r.stderr)")
    }

    /// 4,000 events, each growing the state: the quadratic replay took
    /// minutes in a debug build; the linear one takes seconds.
    @Test func replayStepIsLinearWithFromSeqAndProgress() throws {
        try longHistory(4000)
        let start = Date()
        let all = try ws.sj("replay", "--step")
        let elapsed = Date().timeIntervalSince(start)
        #expect(all.status == 0, "\(all.stderr)")
        #expect(elapsed < 45, "replay --step of 4000 events took \(elapsed) s")
        #expect(all.stdout.components(separatedBy: "\nseq ").count == 4000)
        #expect(all.stderr.hasSuffix("replayed 4000 events (seq 1…4000); every event applies\n"))
        // Not a terminal: no progress unless asked.
        #expect(!all.stderr.contains("replay: "))

        let some = try ws.sj("replay", "--step", "--from-seq", "3990", "--to-seq", "3995", "--progress")
        #expect(some.status == 0, "\(some.stderr)")
        let headers = some.stdout.split(separator: "\n").filter { $0.hasPrefix("seq ") }
        #expect(headers.map { $0.split(separator: " ")[1] } == ["3990", "3991", "3992", "3993", "3994", "3995"])
        #expect(some.stderr.contains("replay: 3995/3995 events (100%)\n"))
        // The steps shown are those of the whole replay.
        let fromAll = all.stdout.components(separatedBy: "\nseq 3990 ")[1].components(separatedBy: "\nseq 3996 ")[0]
        #expect(some.stdout.hasPrefix("seq 3990 ") && some.stdout.contains(fromAll.prefix(200)))

        for (args, message) in [(["replay", "--from-seq", "5"], "--from-seq chooses the steps to print; give it with --step"),
                                (["replay", "--step", "--from-seq", "9", "--to-seq", "5"], "--from-seq 9 is after --to-seq 5"),
                                (["replay", "--step", "--from-seq", "4001"], "seq 4001 is out of range; the journal holds events 1…4000")] {
            let r = try CLI.run(args + ["--state", ws.state])
            #expect(r.status == 2, "\(args)")
            #expect(r.stdout.isEmpty)
            #expect(r.stderr.hasPrefix("statejournal: error: \(message)"), "\(r.stderr)")
        }
    }

    // MARK: 7. log: -n, --reverse, --oneline, times, pager, zone

    func severalEvents() throws {
        try initialize()
        #expect(try ws.sj("wave", "set", "1").status == 0)
        #expect(try ws.sj("task", "start", "task_1", actor: "agent-3").status == 0)
        #expect(try ws.sj("task", "complete", "task_1", "--commit", "abc1234", actor: "agent-3").status == 0)
        #expect(try ws.sj("note", "tax tables frozen").status == 0)
    }

    @Test func logLimitReverseOnelineAndTimes() throws {
        try severalEvents()
        let seqs = { (r: CLI.Result) in r.stdout.split(separator: "\n").dropFirst().map { String($0.split(separator: " ")[0]) } }
        #expect(seqs(try ws.sj("log", "-n", "2")) == ["4", "5"])
        #expect(seqs(try ws.sj("log", "--limit", "2", "--reverse")) == ["5", "4"])
        #expect(seqs(try ws.sj("log", "--reverse")) == ["5", "4", "3", "2", "1"])
        let oneline = try ws.sj("log", "--oneline", "-n", "2").stdout
        #expect(oneline == "4 task.completed task_1 (commit abc1234)\n5 note.added tax tables frozen\n")
        #expect(try ws.sj("log", "--json", "-n", "1").stdout.split(separator: "\n").count == 1)
        for since in ["1h", "2d", "30 minutes ago", "yesterday", "today"] {
            #expect(seqs(try ws.sj("log", "--since", since)).count == 5, "--since \(since)")
        }
        #expect(try ws.sj("log", "--since", "now").stdout.isEmpty)
        #expect(try ws.sj("log", "--until", "1d").stdout.isEmpty)
        let day = String(Timestamp.now().localDateTime.prefix(10))
        #expect(seqs(try ws.sj("log", "--since", day, "--until", day)).count == 5, "a date is the whole day")
        #expect(seqs(try ws.sj("log", "--until", "yesterday")).isEmpty)
        #expect(try ws.sj("show", "--at", "1h").status == 2, "before the first event")
        #expect(try ws.sj("show", "--at", "now").status == 0)

        let before = ws.snapshot()
        for (args, message) in [(["log", "--since", "last tuesday"], "--since 'last tuesday' is not a time; use RFC 3339"),
                                (["log", "--limit=-1"], "-n/--limit must be 0 or more"),
                                (["log", "--oneline", "--reverse", "--json"], "give --oneline or --json, not both")] {
            let r = try CLI.run(args + ["--state", ws.state])
            #expect(r.status == 2, "\(args)")
            if args.contains("--json") {
                #expect(try JSON.parse(r.stderr)["error"]?["message"]?.stringValue == message)
            } else {
                #expect(r.stderr.hasPrefix("statejournal: error: \(message)"), "\(r.stderr)")
            }
            #expect(r.stdout.isEmpty)
        }
        #expect(ws.snapshot() == before)
    }

    @Test func logTableNamesItsTimeZone() throws {
        try severalEvents()
        let utc = try CLI.run(["log", "--state", ws.state], env: ["TZ": "UTC"])
        #expect(utc.stdout.hasPrefix("SEQ  TIME (UTC)  "))
        let tokyo = try CLI.run(["log", "--state", ws.state], env: ["TZ": "Asia/Tokyo"])
        #expect(tokyo.stdout.hasPrefix("SEQ  TIME (JST)  "))
        #expect(try CLI.run(["blame", "--state", ws.state], env: ["TZ": "UTC"]).stdout.contains("TIME (UTC)"))
    }

    @Test(.enabled(if: hasScript, "needs script(1) (bsdutils/util-linux; `make deps` installs it)"))
    func logPagesOnATerminalOnly() throws {
        try severalEvents()
        let command = "'\(CLI.binary)' log --state '\(ws.state)'"
        let paged = try underTerminal(command, env: ["PAGER": "sed s/^/PAGED:/", "NO_COLOR": "1"])
        #expect(paged.contains("PAGED:SEQ"), "\(paged)")
        #expect(paged.contains("PAGED:5"))
        let preferred = try underTerminal(command, env: ["PAGER": "sed s/^/PAGED:/", "STATEJOURNAL_PAGER": "sed s/^/OURS:/", "NO_COLOR": "1"])
        #expect(preferred.contains("OURS:SEQ") && !preferred.contains("PAGED:"))
        let unpaged = try underTerminal(command + " --no-pager", env: ["PAGER": "sed s/^/PAGED:/", "NO_COLOR": "1"])
        #expect(unpaged.contains("SEQ") && !unpaged.contains("PAGED:"))
        // Piped: never paged.
        let piped = try CLI.run(["log", "--state", ws.state], env: ["PAGER": "sed s/^/PAGED:/"])
        #expect(piped.stdout.hasPrefix("SEQ") && !piped.stdout.contains("PAGED:"))
    }

    // MARK: 8. --version; did you mean; help <unknown>

    @Test func versionAndDidYouMean() throws {
        let version = try CLI.run(["--version"])
        #expect(version.status == 0)
        #expect(version.stdout == "statejournal \(StateManager.version)\n")

        try initialize()
        #expect(try ws.sj("task", "add", "migrate", "--wave", "1").status == 0)
        let before = ws.snapshot()
        let cases: [([String], String, String)] = [
            (["sho"], "'sho' is not a statejournal command", "did you mean 'show'?"),
            (["task", "strat", "task_1"], "'strat' is not a 'statejournal task' subcommand", "did you mean 'start'?"),
            (["task", "start", "migrat"], "unknown task 'migrat' in workflow 'wf_1'", "did you mean 'migrate'?"),
            (["log", "--type", "task.complete"], "unknown event type 'task.complete'; did you mean 'task.completed'?", ""),
            (["log", "--limt", "3"], "unknown option '--limt'", "did you mean '--limit'?"),
            (["help", "nope"], "no help for 'nope': it is not a statejournal command", "did you mean 'note'?"),
            (["help", "task", "strat"], "no help for 'strat'", "did you mean 'start'?"),
        ]
        for (args, message, hint) in cases {
            let r = try CLI.run(args + ["--state", ws.state])
            #expect(r.status == 2, "\(args): \(r.stderr)")
            #expect(r.stdout.isEmpty, "\(args)")
            #expect(r.stderr.hasPrefix("statejournal: error: \(message)"), "\(args): \(r.stderr)")
            #expect(r.stderr.contains("\nhint: \(hint)"), "\(args): \(r.stderr)")
            #expect(r.stderr.components(separatedBy: "did you mean").count <= 2, "one suggestion: \(args): \(r.stderr)")
            #expect(ws.snapshot() == before, "\(args) wrote something")
        }
        // An option argument parser itself has a suggestion for: one hint, not two.
        let misspelt = try CLI.run(["note", "x", "--jsn", "--state", ws.state])
        #expect(misspelt.status == 2)
        #expect(misspelt.stderr.components(separatedBy: "did you mean").count == 2, "\(misspelt.stderr)")
        let help = try CLI.run(["help", "task", "start"])
        #expect(help.status == 0)
        #expect(help.stdout.hasPrefix("OVERVIEW: Mark a pending or failed task in progress."))
    }

    /// What swift-argument-parser's generate-manual plugin reads to write the
    /// man page (`make man`): the commands as JSON, not the help text.
    @Test func experimentalDumpHelpDescribesEveryCommandAsJSON() throws {
        let r = try CLI.run(["--experimental-dump-help"])
        #expect(r.status == 0, "\(r.stderr)")
        let command = try JSON.parse(r.stdout)["command"]
        #expect(command?["commandName"]?.stringValue == "statejournal")
        let names = command?["subcommands"]?.arrayValue?.compactMap { $0["commandName"]?.stringValue } ?? []
        #expect(names.contains("clear") && names.contains("task") && names.contains("completion"), "\(names)")
    }

    // MARK: 9. undo and status

    @Test func undoRestoresTheStateBeforeTheLastEvent() throws {
        try severalEvents()
        let beforeNote = try ws.sj("show", "--seq", "4", "--json").stdout
        let snapshot = ws.snapshot()
        let dry = try ws.sj("undo", "--dry-run")
        #expect(dry.status == 0)
        #expect(dry.stdout.contains("-- tax tables frozen"))
        #expect(dry.stderr.contains("dry run: undoing seq 5 (note.added tax tables frozen) would restore the state of seq 4"))
        #expect(ws.snapshot() == snapshot, "a dry run writes nothing")
        let dryJSON = try JSON.parse(try ws.sj("undo", "--dry-run", "--json").stdout)
        #expect(dryJSON["undone"]?["seq"]?.intValue == 5 && dryJSON["restored_seq"]?.intValue == 4)

        let undo = try ws.sj("undo", "--idempotency-key", "u1")
        #expect(undo.status == 0, "\(undo.stderr)")
        #expect(undo.stderr.contains("state.restored recorded seq 6 in \(ws.state) (undid seq 5: the state of seq 4)"))
        func content(_ json: String) throws -> [String: JSON] {
            var object = Dictionary(uniqueKeysWithValues: (try JSON.parse(json).objectValue ?? []).map { ($0.key, $0.value) })
            object["seq"] = nil
            object["updated"] = nil
            return object
        }
        #expect(try content(ws.sj("show", "--json").stdout) == content(beforeNote))
        // A retry with the key is the same undo: nothing written.
        let afterUndo = ws.snapshot()
        let retry = try ws.sj("undo", "--idempotency-key", "u1")
        #expect(retry.status == 0, "\(retry.stderr)")
        #expect(retry.stderr.contains("already recorded as seq 6"))
        #expect(ws.snapshot() == afterUndo)
        // Undo the undo: the note is back.
        #expect(try ws.sj("undo").status == 0)
        #expect(try ws.showJSON()["notes"]?.arrayValue?.first?.stringValue == "tax tables frozen")
    }

    @Test func clearEmptiesTheWorkflowAndRestoreBringsItBack() throws {
        try severalEvents()
        let before = try ws.showJSON()
        let r = try ws.sj("clear", "--json")
        #expect(r.status == 0, "\(r.stderr)")
        let event = try JSON.parse(r.stdout)
        #expect(event["type"]?.stringValue == "state.replaced" && event["seq"]?.intValue == 6)
        let cleared = try ws.showJSON()
        #expect(cleared["workflow_id"] == before["workflow_id"] && cleared["started"] == before["started"])
        #expect(cleared["tasks"]?.arrayValue?.isEmpty == true && cleared["notes"]?.arrayValue?.isEmpty == true)
        #expect(cleared["metadata"]?.objectValue?.isEmpty == true && cleared["total_waves"]?.intValue == 0)
        #expect(try ws.sj("restore", "--seq", "5").status == 0)
        #expect(try ws.showJSON()["tasks"] == before["tasks"])
    }

    @Test func undoOfTheFirstEventIsRefused() throws {
        try initialize()
        let before = ws.snapshot()
        let r = try ws.sj("undo")
        #expect(r.status == 2)
        #expect(r.stderr == "statejournal: error: nothing to undo: seq 1 (the workflow's start) is the only event\n"
                + "hint: start over with 'statejournal init'\n")
        #expect(ws.snapshot() == before)
    }

    @Test func statusSummarisesForPeople() throws {
        try severalEvents()
        #expect(try ws.sj("task", "start", "task_2", actor: "agent-7").status == 0)
        #expect(try ws.sj("task", "fail", "task_3", "--error", "no seed data").status == 0)
        let r = try CLI.run(["status", "--state", ws.state], env: ["TZ": "UTC"])
        #expect(r.status == 0, "\(r.stderr)")
        let text = r.stdout
        #expect(text.hasPrefix("Build auth service (wf_1)\nwave 1 of 3 · seq 7 · updated "))
        #expect(text.contains("progress: 1 of 4 tasks completed (25%); 1 in progress, 1 pending, 1 failed"))
        #expect(text.contains("task_2  1     agent-7"))
        #expect(text.contains("task_3  2     no seed data"))
        #expect(text.contains("Last events"))
        #expect(text.contains("7    "))
        let json = try JSON.parse(try ws.sj("status", "--json", "-n", "2").stdout)
        #expect(json["tasks"]?["completed"]?.intValue == 1 && json["tasks"]?["total"]?.intValue == 4)
        #expect(json["percent_completed"]?.intValue == 25)
        #expect(json["in_progress"]?.arrayValue?.first?["actor"]?.stringValue == "agent-7")
        #expect(json["failed"]?.arrayValue?.first?["error"]?.stringValue == "no seed data")
        #expect(json["last_events"]?.arrayValue?.map { $0["seq"]?.intValue } == [6, 7])
    }

    // MARK: 10. First run

    @Test func aStateDirectoryThatDoesNotExistIsMadeByInit() throws {
        let state = ws.path + "/work/deeper/STATE.md"
        // A failed init leaves nothing behind.
        let bad = try CLI.run(["init", "--plan", "-", "--state", state], stdin: #"{"waves": [[{"id": "x"}]]}"#)
        #expect(bad.status == 2)
        #expect(!FileManager.default.fileExists(atPath: ws.path + "/work"))
        let r = try CLI.run(["init", "--id", "wf", "--name", "W", "--waves", "2", "--state", state])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("created directory '\(ws.path)/work' and 1 below it"))
        #expect(FileManager.default.fileExists(atPath: state))
        // Other commands do not make it: no workflow there.
        let other = try CLI.run(["show", "--state", ws.path + "/elsewhere/STATE.md"])
        #expect(other.status == 2 && other.stderr.contains("no workflow at"))
        #expect(!FileManager.default.fileExists(atPath: ws.path + "/elsewhere"))
    }

    @Test func initExamplePrintsAPlanInitAccepts() throws {
        let example = try CLI.run(["init", "--example"])
        #expect(example.status == 0)
        #expect(try JSON.parse(example.stdout)["waves"]?.arrayValue?.count == 2)
        #expect(try FileManager.default.contentsOfDirectory(atPath: ws.path).isEmpty)
        let r = try ws.sj("init", "--id", "wf", "--name", "W", "--plan", "-", stdin: example.stdout)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(!r.stderr.contains("warning"))
    }

    @Test func completionScriptsForThreeShells() throws {
        for shell in ["bash", "zsh", "fish"] {
            let r = try CLI.run(["completion", shell])
            #expect(r.status == 0)
            #expect(r.stdout.contains("statejournal") && r.stdout.contains("resume-info"), "\(shell)")
        }
        let bad = try CLI.run(["completion", "bsh"])
        #expect(bad.status == 2)
        #expect(bad.stderr.hasPrefix("statejournal: error: unknown shell 'bsh'; did you mean 'bash'"))
        if FileManager.default.isExecutableFile(atPath: "/bin/bash") {
            let script = try CLI.run(["completion", "bash"]).stdout
            ws.write("c.bash", script)
            let check = Process()
            check.executableURL = URL(fileURLWithPath: "/bin/bash")
            check.arguments = ["-n", ws.path + "/c.bash"]
            try check.run()
            check.waitUntilExit()
            #expect(check.terminationStatus == 0, "the bash script parses")
        }
    }

    @Test func helpShowsTheCommandsOwnOptionsFirstAndExamples() throws {
        for args in [["help", "task", "complete"], ["task", "complete", "--help"], ["task", "complete", "-h"]] {
            let r = try CLI.run(args)
            #expect(r.status == 0)
            let text = r.stdout
            let own = try #require(text.range(of: "--commit <sha>"))
            let write = try #require(text.range(of: "WRITE OPTIONS:"))
            let global = try #require(text.range(of: "GLOBAL OPTIONS:"))
            let examples = try #require(text.range(of: "EXAMPLES:\n  statejournal task complete task_1"))
            #expect(own.lowerBound < write.lowerBound && write.lowerBound < global.lowerBound && global.lowerBound < examples.lowerBound, "\(args)")
        }
        let log = try CLI.run(["log", "--help"]).stdout
        #expect(log.range(of: "-n, --limit <N>")!.lowerBound < log.range(of: "GLOBAL OPTIONS:")!.lowerBound)
    }

    /// The README's "First steps" and "Using it", exactly as written, on a fresh directory.
    @Test(arguments: ["## First steps", "## Using it"])
    func readmeRunsAsWritten(_ section: String) throws {
        let readme = try String(contentsOfFile: packageRoot + "/README.md", encoding: .utf8)
        let rest = try #require(readme.components(separatedBy: section + "\n").dropFirst().first)
        let block = try #require(rest.components(separatedBy: "```sh\n").dropFirst().first?.components(separatedBy: "\n```").first)
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-ec", block]
        var environment = ProcessInfo.processInfo.environment
        environment["STATEJOURNAL_STATE"] = nil
        environment["STATEJOURNAL_ACTOR"] = nil
        environment["PATH"] = URL(fileURLWithPath: CLI.binary).deletingLastPathComponent().path + ":" + (environment["PATH"] ?? "/usr/bin:/bin")
        p.environment = environment
        p.currentDirectoryURL = URL(fileURLWithPath: ws.path)
        let err = Pipe(), out = Pipe()
        p.standardError = err
        p.standardOutput = out
        try p.run()
        let outData = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0, "\(section): \(String(decoding: errData, as: UTF8.self))")
        #expect(!String(decoding: outData, as: UTF8.self).isEmpty)
    }

    // MARK: 11. One error style, JSON errors, wide characters

    @Test func everyErrorHasOneStyleAndJSONUnderJSON() throws {
        try initialize()
        let before = ws.snapshot()
        let cases: [([String], Int32, String)] = [
            (["task", "start"], 2, "usage"),                                  // argument parser
            (["task", "start", "nope"], 2, "bad_input"),                      // the library
            (["task", "start", "task_1", "--expect-seq", "9"], 4, "conflict"),
            (["wave", "set", "99"], 2, "bad_input"),
            (["show", "--at", "not a time"], 2, "usage"),
        ]
        for (args, status, code) in cases {
            let text = try ws.sj(args)
            #expect(text.status == status, "\(args)")
            let lines = text.stderr.split(separator: "\n", omittingEmptySubsequences: false)
            #expect(lines.first?.hasPrefix("statejournal: error: ") == true, "\(args): \(text.stderr)")
            #expect(lines.contains { $0.hasPrefix("hint: ") }, "\(args): \(text.stderr)")
            #expect(!text.stderr.contains("Error:"))
            let json = try ws.sj(args + ["--json"])
            #expect(json.status == status)
            #expect(json.stdout.isEmpty)
            let last = String(json.stderr.split(separator: "\n").last ?? "")
            let error = try JSON.parse(last)["error"]
            #expect(error?["code"]?.stringValue == code, "\(args): \(last)")
            #expect(error?["exit_status"]?.intValue == Int64(status))
            #expect(error?["message"]?.stringValue?.isEmpty == false)
            #expect(error?["hint"] != nil)
        }
        #expect(ws.snapshot() == before)
    }

    @Test func wideCharactersKeepTheLogTableAligned() throws {
        try initialize()
        #expect(try ws.sj("note", "日本語のノート 🎉", actor: "张伟").status == 0)
        #expect(try ws.sj("note", "plain", actor: "bob").status == 0)
        #expect(try ws.sj("note", "e\u{301}t\u{E9}", actor: "ana").status == 0)
        let lines = try ws.sj("log").stdout.split(separator: "\n").map(String.init)
        // The TYPE column starts at the same terminal column on every line.
        func column(_ line: String, of word: String) -> Int? {
            guard let range = line.range(of: word) else { return nil }
            return line[..<range.lowerBound].reduce(0) { width, ch in
                let wide = ch.unicodeScalars.first.map { (0x1100...0x115F).contains($0.value) || (0x2E80...0xA4CF).contains($0.value)
                    || (0xAC00...0xD7A3).contains($0.value) || (0xFF00...0xFF60).contains($0.value) || $0.properties.isEmojiPresentation } ?? false
                return width + (wide ? 2 : 1)
            }
        }
        let columns = lines.dropFirst().compactMap { column($0, of: "note.added") ?? column($0, of: "workflow.initialized") }
        #expect(columns.count == 4)
        #expect(Set(columns).count == 1, "\(lines.joined(separator: "\n"))")
        #expect(column(lines[0], of: "TYPE") == columns.first)
    }
}
