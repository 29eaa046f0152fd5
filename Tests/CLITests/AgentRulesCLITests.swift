import Foundation
import Testing
import StateJournal

/// Dependencies, readiness and claims through the real executable
/// (Docs/AGENTS.md): every refused case byte for byte, with its exit
/// status, and nothing written.
@Suite struct AgentRulesCLITests {
    /// Wave 1: a; b after a; c. Wave 2: d after a.
    static let plan = #"{"waves": [[{"task_id": "a", "description": "A"}, {"task_id": "b", "description": "B", "depends_on": ["a"]}, {"task_id": "c"}], [{"task_id": "d", "depends_on": ["a"]}]]}"#

    static func workflow() throws -> Workspace {
        let ws = Workspace()
        let r = try ws.sj("init", "--id", "wf", "--name", "W", "--plan", "-", stdin: plan)
        #expect(r.status == 0, "\(r.stderr)")
        return ws
    }

    /// Runs `args` as `actor`; expects `status`, exactly `stderr` (and
    /// `stdout`), and the workspace unchanged.
    static func expectRefused(_ ws: Workspace, _ args: [String], actor: String = "tester", status: Int32,
                              stderr: String, stdout: String = "", stdin: String? = nil,
                              sourceLocation: SourceLocation = #_sourceLocation) throws {
        let before = ws.snapshot()
        let r = try ws.sj(args, stdin: stdin, actor: actor)
        #expect(r.status == status, "\(args): \(r.stderr)", sourceLocation: sourceLocation)
        #expect(r.stderr == stderr, sourceLocation: sourceLocation)
        #expect(r.stdout == stdout, sourceLocation: sourceLocation)
        #expect(ws.snapshot() == before, "\(args) wrote nothing", sourceLocation: sourceLocation)
    }

    static func nothingWritten(_ command: String) -> String { "hint: nothing was written; see 'statejournal \(command) --help'\n" }
    static let conflictHint = "hint: nothing was written; reread the state ('statejournal show --json') and retry\n"

    @Test func unknownDependenciesAndCyclesAreRefusedAndNothingIsWritten() throws {
        let ws = Workspace()
        let cases: [(String, String)] = [
            (#"{"waves": [[{"task_id": "a", "depends_on": ["zz"]}]]}"#,
             "statejournal: error: task 'a' depends on 'zz', which is not a task of the plan; give the id of an existing task\n"),
            (#"{"waves": [[{"task_id": "a", "depends_on": ["b"]}, {"task_id": "b", "depends_on": ["c"]}], [{"task_id": "c", "depends_on": ["a"]}]]}"#,
             "statejournal: error: the dependencies in the plan form a cycle: a → b → c → a; a task cannot wait for itself\n"),
            (#"{"waves": [[{"task_id": "a", "depends_on": ["a"]}]]}"#,
             "statejournal: error: task 'a' depends on itself; remove it from its depends_on\n"),
            (#"{"waves": [[{"task_id": "a"}, {"task_id": "b", "depends_on": ["a", "a"]}]]}"#,
             "statejournal: error: task 'b' lists 'a' twice in its depends_on; list each dependency once\n"),
        ]
        for (plan, message) in cases {
            try Self.expectRefused(ws, ["init", "--id", "wf", "--name", "W", "--plan", "-"], status: 2,
                                   stderr: message + Self.nothingWritten("init"), stdin: plan)
        }
        #expect(!FileManager.default.fileExists(atPath: ws.state + ".journal"))

        let wf = try Self.workflow()
        try Self.expectRefused(wf, ["task", "add", "e", "--wave", "1", "--after", "a,zz"], status: 2,
            stderr: "statejournal: error: task 'e' depends on 'zz', which is not a task of the workflow; give the id of an existing task\n"
                + Self.nothingWritten("task add"))
        try Self.expectRefused(wf, ["task", "add", "e", "--wave", "1", "--after", "e"], status: 2,
            stderr: "statejournal: error: task 'e' depends on itself; remove it from its depends_on\n" + Self.nothingWritten("task add"))
        // The update's state is checked as a whole: a cycle there is refused too.
        let update = #"{"workflow_id": "wf", "wave_id": 1, "total_waves": 1, "current_wave_tasks": [{"task_id": "a", "depends_on": ["b"]}, {"task_id": "b", "depends_on": ["a"]}]}"#
        try Self.expectRefused(wf, ["update", "--from", "-"], status: 2,
            stderr: "statejournal: error: the dependencies in the state form a cycle: a → b → a; a task cannot wait for itself\n"
                + Self.nothingWritten("update"), stdin: update)

        // Accepted: `task add --after` (repeatable, or comma-separated).
        let added = try wf.sj("task", "add", "e", "--wave", "2", "--after", "a", "--after", "c", "--json")
        #expect(added.status == 0)
        #expect(try JSON.parse(added.stdout)["depends_on"] == .array([.string("a"), .string("c")]))
        let tasks = try wf.showJSON()["tasks"]?.arrayValue ?? []
        #expect(tasks.map { $0["depends_on"]?.arrayValue?.compactMap(\.stringValue) ?? ["?"] } == [[], ["a"], [], ["a"], ["a", "c"]])
    }

    @Test func readyTasksFollowDependenciesAndWavesInPlanOrder() throws {
        let ws = try Self.workflow()
        // No wave current: wave 1's tasks whose dependencies are completed.
        #expect(try ws.sj("next").stdout == "a\twave 1\tA\nc\twave 1\t\n")
        let json = try JSON.parse(try ws.sj("next", "--json", "--limit", "1").stdout)
        #expect(json["ready"]?.arrayValue?.compactMap { $0["task_id"]?.stringValue } == ["a"])
        #expect(json["count"]?.intValue == 2)
        #expect(try ws.sj("task", "complete", "a").status == 0)
        // b's dependency is completed; d's too, but d is in wave 2.
        #expect(try ws.sj("next").stdout == "b\twave 1\tB\nc\twave 1\t\n")
        #expect(try ws.sj("wave", "set", "2").status == 0)
        #expect(try ws.sj("next").stdout == "b\twave 1\tB\nc\twave 1\t\nd\twave 2\t\n")
        for id in ["b", "c", "d"] { #expect(try ws.sj("task", "complete", id).status == 0) }
        let none = try ws.sj("next")
        #expect(none.status == 0 && none.stdout.isEmpty && none.stderr == "no task is ready: every task is completed\n")
    }

    @Test func claimsAreRefusedWithTheReasonAndTheOwner() throws {
        let ws = try Self.workflow()
        try Self.expectRefused(ws, ["task", "claim", "b"], actor: "x", status: 4,
            stderr: "statejournal: error: task 'b' is not ready: it waits for 'a' (pending)\nhint: claim it once that task is completed\n")
        try Self.expectRefused(ws, ["task", "claim", "zz"], actor: "x", status: 2,
            stderr: "statejournal: error: unknown task 'zz' in workflow 'wf'\nhint: known tasks include: a, b, c, d\n")
        try Self.expectRefused(ws, ["task", "claim", "--lease", "5x"], actor: "x", status: 2,
            stderr: "statejournal: error: invalid lease '5x'; give a duration like 30s, 15m, 2h, 1d or 1h30m (at least 1ms), or 'none' for no expiry\n"
                + Self.nothingWritten("task claim"))

        // x claims the first ready task, a, without expiry.
        let claim = try ws.sj("task", "claim", "--lease", "none", actor: "x")
        #expect(claim.status == 0 && claim.stdout == "a\n")
        let held = "statejournal: error: task 'a' is claimed by x (no expiry)"
        try Self.expectRefused(ws, ["task", "claim", "a"], actor: "y", status: 4,
            stderr: held + "\nhint: ask x to release it, or pass --force to take it over (recorded in the event)\n")
        try Self.expectRefused(ws, ["task", "claim", "a", "--json"], actor: "y", status: 4, stderr: "",
            stdout: #"{"claimed":null,"reason":"task 'a' is claimed by x (no expiry) — ask x to release it, or pass --force to take it over (recorded in the event)"}"# + "\n")
        for (verb, extra) in [("complete", [String]()), ("fail", ["--error", "e"]), ("release", [])] {
            try Self.expectRefused(ws, ["task", verb, "a"] + extra, actor: "y", status: 4,
                stderr: held + "; only its owner can \(verb) it\nhint: ask x to release it, or pass --force to override (recorded in the event)\n")
        }
        try Self.expectRefused(ws, ["task", "heartbeat", "a"], actor: "y", status: 4,
            stderr: held + "; only its owner can renew the lease\n" + Self.conflictHint)
        try Self.expectRefused(ws, ["task", "heartbeat", "c"], actor: "y", status: 4,
            stderr: "statejournal: error: task 'c' is pending and not claimed, so there is no lease to renew\nhint: claim it with 'task claim c'\n")
        try Self.expectRefused(ws, ["task", "release", "c"], actor: "y", status: 4,
            stderr: "statejournal: error: task 'c' is pending and not claimed; there is nothing to release\n" + Self.conflictHint)

        // y takes c; then nothing is ready for z.
        #expect(try ws.sj("task", "claim", "--lease", "none", actor: "y").stdout == "c\n")
        let reason = "no task is ready: 2 claimed, 1 waiting for dependencies, 1 in waves after wave 1"
        try Self.expectRefused(ws, ["task", "claim"], actor: "z", status: 4, stderr: "statejournal: error: \(reason)\n" + Self.conflictHint)
        try Self.expectRefused(ws, ["task", "claim", "--json"], actor: "z", status: 4, stderr: "",
                               stdout: #"{"claimed":null,"reason":"\#(reason)"}"# + "\n")
        // A task started without a claim is not claimable without --force.
        #expect(try ws.sj("task", "release", "c", actor: "y").status == 0)
        #expect(try ws.sj("task", "start", "c").status == 0)
        try Self.expectRefused(ws, ["task", "claim", "c"], actor: "z", status: 4,
            stderr: "statejournal: error: task 'c' is in progress without a claim (started with 'task start')\nhint: complete or fail it, or pass --force to claim it\n")
    }

    @Test func forceIsRecordedAndTheOwnerCompletes() throws {
        let ws = try Self.workflow()
        #expect(try ws.sj("task", "claim", "a", "--lease", "none", actor: "x").status == 0)
        let taken = try JSON.parse(try ws.sj("task", "claim", "a", "--force", "--json", actor: "y").stdout)
        #expect(taken["type"]?.stringValue == "task.claimed" && taken["owner"]?.stringValue == "y")
        #expect(taken["previous_owner"]?.stringValue == "x" && taken["forced"] == .bool(true))
        #expect(taken["claimed"]?["owner"]?.stringValue == "y" && taken["claimed"]?["status"]?.stringValue == "in_progress")
        // The owner needs no --force; a forced completion by another is recorded.
        let renewed = try JSON.parse(try ws.sj("task", "heartbeat", "a", "--lease", "2h", "--json", actor: "y").stdout)
        #expect(renewed["type"]?.stringValue == "task.lease_renewed" && renewed["lease_expires"]?.stringValue != nil)
        let forced = try JSON.parse(try ws.sj("task", "complete", "a", "--force", "--json", actor: "x").stdout)
        #expect(forced["forced"] == .bool(true))
        // --force without another's live claim records nothing forced.
        #expect(try ws.sj("task", "claim", "c", actor: "x").status == 0)
        let own = try JSON.parse(try ws.sj("task", "complete", "c", "--force", "--json", actor: "x").stdout)
        #expect(own["forced"] == nil)
        let task = (try ws.showJSON()["tasks"]?.arrayValue ?? []).first { $0["task_id"]?.stringValue == "a" }
        #expect(task?["status"]?.stringValue == "completed" && task?["owner"] == .null && task?["lease_expires"] == .null)
        let log = try ws.sj("log", "--oneline").stdout
        #expect(log.contains("task.claimed a by y until ") && log.contains(", from x (forced)"))
        #expect(log.contains("task.completed a (forced)"))
    }

    @Test func anExpiredLeaseIsReclaimedWithThePreviousOwnerRecorded() throws {
        let ws = try Self.workflow()
        // A lease of 1 ms has ended before the next process runs: the next
        // claim's event time is later (events are stamped under the lock).
        #expect(try ws.sj("task", "claim", "a", "--lease", "1ms", actor: "x").status == 0)
        let next = try JSON.parse(try ws.sj("task", "claim", "--json", actor: "y").stdout)
        #expect(next["task_id"]?.stringValue == "a" && next["previous_owner"]?.stringValue == "x" && next["forced"] == nil)
        // x's lease is gone: x can no longer complete, y can.
        let late = try ws.sj("task", "complete", "a", actor: "x")
        #expect(late.status == 4 && late.stderr.hasPrefix("statejournal: error: task 'a' is claimed by y until "))
        #expect(try ws.sj("task", "complete", "a", actor: "y").status == 0)
        // Released tasks are pending again, without an owner.
        #expect(try ws.sj("task", "claim", "b", actor: "y").status == 0)
        let released = try JSON.parse(try ws.sj("task", "release", "b", "--json", actor: "y").stdout)
        #expect(released["type"]?.stringValue == "task.released" && released["owner"]?.stringValue == "y")
        #expect(try ws.sj("next").stdout == "b\twave 1\tB\nc\twave 1\t\n")
    }

    @Test func stateMDShowsDependenciesOwnersAndLeases() throws {
        let ws = try Self.workflow()
        #expect(try ws.sj("task", "claim", "a", "--lease", "none", actor: "agent-1").status == 0)
        #expect(try ws.sj("task", "claim", "c", "--lease", "2h", actor: "agent 2").status == 0)
        let md = try String(contentsOfFile: ws.state, encoding: .utf8)
        #expect(md.contains("- [~] **a**: A\n  - Owner: agent-1\n- [~] **c**\n  - Owner: agent 2\n  - Lease until: "))
        #expect(md.contains("- [ ] **b**: B\n  - Depends on: a\n"))
        #expect(try ws.sj("validate", ws.state).status == 0)
        // The earlier tool's parser (Tools/bench/legacy_tool.py) still reads it.
        let legacy = try Self.legacyParse(ws.state)
        #expect(legacy["tasks"]?.arrayValue?.map { "\($0["task_id"]?.stringValue ?? "?"):\($0["status"]?.stringValue ?? "?"):\($0["wave"]?.intValue ?? -1)" }
                == ["a:in_progress:1", "c:in_progress:1", "b:pending:1", "d:pending:2"])
        #expect(legacy["tasks"]?.arrayValue?.compactMap { $0["description"]?.stringValue } == ["A", "", "B", ""])
        #expect(legacy["notes"]?.arrayValue?.isEmpty == true && legacy["metadata"]?.objectValue?.isEmpty == true)
        #expect(legacy["workflow_id"]?.stringValue == "wf")
    }

    @Test func theBriefFitsInTwentyLinesAndNamesTheActorsClaims() throws {
        let ws = Workspace()
        // 10 ready tasks, 6 of them claimed by agent-1, 2 failed.
        #expect(try ws.sj("init", "--id", "wf", "--name", "W", "--plan", "-", stdin: planJSON(waves: 1, perWave: 14)).status == 0)
        for _ in 1...6 { #expect(try ws.sj("task", "claim", "--lease", "none", actor: "agent-1").status == 0) }
        #expect(try ws.sj("task", "fail", "w1_t13", "--error", "boom").status == 0)
        #expect(try ws.sj("task", "fail", "w1_t14", "--error", "bang").status == 0)
        let text = try ws.sj("brief", actor: "agent-1")
        #expect(text.status == 0)
        let lines = text.stdout.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        #expect(lines.count <= 20, "\(lines.count) lines")
        #expect(lines.first == "Workflow wf “W”: wave 0 of 1, 0 of 14 tasks completed, 6 ready (seq 9).")
        #expect(lines.contains("Your claims (6):") && lines.contains("  w1_t1 (no expiry): Task 1 of wave 1"))
        #expect(lines.contains("Ready (6):") && lines.contains("  w1_t7 (wave 1): Task 7 of wave 1"))
        #expect(lines.contains("  w1_t13: boom"))
        #expect(text.stdout.contains("'statejournal task claim --actor agent-1'"))
        let json = try JSON.parse(try ws.sj("brief", "--json", actor: "agent-2").stdout)
        #expect(json["actor"]?.stringValue == "agent-2" && json["claimed"]?.arrayValue?.isEmpty == true)
        #expect(json["tasks"]?["ready"]?.intValue == 6 && json["ready"]?.arrayValue?.count == 4)
        #expect(json["last_events"]?.arrayValue?.count == 3 && json["failed"]?.arrayValue?.count == 2)
    }

    /// `parse_state` of the earlier tool's parser, as JSON.
    static func legacyParse(_ path: String) throws -> JSON {
        let tools = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("Tools/bench").path
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["python3", "-c", """
            import json, sys
            sys.path.insert(0, sys.argv[1])
            import legacy_tool
            print(json.dumps(legacy_tool.StateManager(sys.argv[2]).load_state()))
            """, tools, path]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0)
        return try JSON.parse(String(decoding: data, as: UTF8.self))
    }
}
