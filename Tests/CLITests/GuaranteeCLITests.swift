import Foundation
import Testing
import StateJournal

/// Documented command-line guarantees that had no test (issue 18): repair
/// notices go to stderr and leave stdout machine-readable; every command
/// that reads the journal exits 5 on corruption and changes nothing.
@Suite struct GuaranteeCLITests {
    let ws = Workspace()

    var segment: String { ws.state + ".journal/segment-00000000000000000001.log" }

    /// init (2 waves of 3 tasks) and four more events, all in one raw segment.
    func history() throws {
        #expect(try ws.sj("init", "--id", "wf", "--name", "Guarantees", "--plan", "-", stdin: planJSON(waves: 2, perWave: 3)).status == 0)
        for args in [["note", "one"], ["note", "two"], ["task", "start", "w1_t1"], ["note", "three"]] {
            let r = try CLI.run(args + ["--state", ws.state, "--actor", "tester"])
            #expect(r.status == 0, "\(args): \(r.stderr)")
        }
    }

    /// Flips a bit in the third record's payload: a damaged record with valid
    /// records after it — corruption, not a torn tail.
    func corruptAMiddleRecord() throws {
        var bytes = try #require(FileManager.default.contents(atPath: segment)).map { $0 }
        var offset = 32  // the segment header
        for _ in 0..<2 {
            let length = Int(bytes[offset]) | Int(bytes[offset + 1]) << 8 | Int(bytes[offset + 2]) << 16 | Int(bytes[offset + 3]) << 24
            offset += 8 + length
        }
        bytes[offset + 20] ^= 0x40
        _ = FileManager.default.createFile(atPath: segment, contents: Data(bytes))
    }

    static let updateJSON = #"""
        {"workflow_id": "wf", "workflow_name": "Guarantees", "wave_id": 1, "total_waves": 2, "completed_tasks": [],
         "current_wave_tasks": [{"task_id": "w1_t1", "description": "Task 1 of wave 1", "wave_id": 1, "result": {}}],
         "pending_waves": [], "notes": [], "metadata": {}}
        """#

    /// Every command that reads or writes the journal: the read commands,
    /// the write commands, and the maintenance ones. (`validate FILE` checks
    /// a markdown file's format and never reads the journal.)
    static let commands: [[String]] = [
        ["show"], ["show", "--json"], ["show", "--seq", "1"], ["show", "--at", "2999-01-01T00:00:00Z"],
        ["log"], ["log", "--json"], ["blame"], ["replay"], ["resume-info"], ["resume-info", "--json"], ["export"],
        ["verify"], ["compact"],
        ["note", "x"], ["task", "add", "t9", "--wave", "1"], ["task", "start", "w1_t2"], ["task", "complete", "w1_t1"],
        ["task", "fail", "w1_t1", "--error", "e"], ["wave", "set", "2"], ["meta", "set", "k", "v"],
        ["restore", "--seq", "2"], ["restore", "--at", "2999-01-01T00:00:00Z"],
        ["init", "--id", "wf2", "--name", "Again", "--plan", "plan.json"], ["update", "--from", "update.json"],
        ["import", "copy.md"], ["import", "export.jsonl"],
    ]

    /// "A bad record followed by valid ones stops every command with exit 5"
    /// (Docs/GUARANTEES.md, Atomic), and nothing is changed or cut.
    @Test func everyCommandExitsFiveOnCorruptionAndChangesNothing() throws {
        try history()
        ws.write("plan.json", planJSON(waves: 1, perWave: 2))
        ws.write("update.json", Self.updateJSON)
        let stateFile = try #require(FileManager.default.contents(atPath: ws.state))
        ws.write("copy.md", String(decoding: stateFile, as: UTF8.self))
        ws.write("export.jsonl", try ws.sj("export").stdout)
        try corruptAMiddleRecord()
        let before = ws.snapshot()
        var wrong: [String] = []
        for args in Self.commands {
            let r = try CLI.run(args + ["--state", ws.state, "--actor", "tester"], cwd: ws.path)
            if r.status != 5 { wrong.append("\(args.joined(separator: " ")): exit \(r.status) — \(r.stderr.prefix(200))") }
            if !(r.stderr + r.stdout).contains(segment) { wrong.append("\(args.joined(separator: " ")): the message does not name \(segment)") }
            if ws.snapshot() != before { wrong.append("\(args.joined(separator: " ")): changed the workspace") }
        }
        #expect(wrong.isEmpty, "\(wrong)")
    }

    /// A writer that cuts a torn tail says so on stderr; its --json answer
    /// on stdout is one JSON object and nothing else.
    @Test func aRepairNoticeGoesToStderrAndStdoutStaysClean() throws {
        try history()
        let handle = try #require(FileHandle(forWritingAtPath: segment))
        handle.seekToEndOfFile()
        handle.write(Data([0x40, 0, 0, 0, 1, 2, 3]))  // an interrupted append
        try handle.close()
        let r = try ws.sj("note", "after the tear", "--json")
        #expect(r.status == 0, "\(r.stderr)")
        // The notice names the segment it cut (its wording is the library's).
        #expect(r.stderr.contains("notice") && r.stderr.contains("cut") && r.stderr.contains(segment), "\(r.stderr)")
        #expect(try JSON.parse(r.stdout)["seq"]?.intValue == 6, "\(r.stdout)")
        #expect(r.stdout.split(separator: "\n").count == 1)
    }

    /// A damaged STATE.md is kept aside and regenerated by any command, with
    /// a warning on stderr; `show --json` and `export` print only their
    /// JSON on stdout.
    @Test(arguments: [["show", "--json"], ["export"], ["resume-info", "--json"], ["log", "--json"]])
    func aRegeneratedStateFileIsReportedOnStderrOnly(_ args: [String]) throws {
        try history()
        ws.write("STATE.md", "# edited by hand\n")
        let r = try CLI.run(args + ["--state", ws.state, "--actor", "tester"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("STATE.md was damaged"), "\(r.stderr)")
        #expect(!r.stdout.contains("damaged"))
        let lines = r.stdout.split(separator: "\n")
        if args.contains("export") || args.contains("log") {
            #expect(lines.count == 5)
            for line in lines { #expect((try? JSON.parse(String(line))) != nil, "\(line)") }
        } else {
            #expect((try? JSON.parse(r.stdout)) != nil, "\(r.stdout)")
        }
        let kept = try FileManager.default.contentsOfDirectory(atPath: ws.path).filter { $0.hasPrefix("STATE.md.damaged-") }
        #expect(kept.count == 1)
    }
}
