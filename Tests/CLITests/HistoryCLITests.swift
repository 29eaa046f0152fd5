import Foundation
import Testing
import StateJournal
import StateJournalEngine

/// Audit, time travel, import and the earlier tool's shapes through the real
/// executable, on journals written by several actors.
@Suite struct HistoryCLITests {
    let ws = Workspace()

    static let fixtureRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Fixtures/seed-format").path
    static let fixtures: [String] = ((try? FileManager.default.contentsOfDirectory(atPath: fixtureRoot)) ?? []).sorted()

    /// seq 1 init (alice) · 2 wave set 1 (alice) · 3 start w1_t1 (bob) · 4 complete w1_t1 (bob)
    /// · 5 start w1_t2 (carol) · 6 fail w1_t2 (carol) · 7 note (alice) · 8 complete w1_t3 (bob)
    func severalActors() throws {
        let steps: [([String], String)] = [
            (["wave", "set", "1"], "alice"),
            (["task", "start", "w1_t1"], "bob"),
            (["task", "complete", "w1_t1", "--commit", "abc1234", "--file", "a.swift"], "bob"),
            (["task", "start", "w1_t2"], "carol"),
            (["task", "fail", "w1_t2", "--error", "flaky test"], "carol"),
            (["note", "wave 1 nearly done"], "alice"),
            (["task", "complete", "w1_t3"], "bob"),
        ]
        let r = try CLI.run(["init", "--id", "wf_h", "--name", "History", "--plan", "-", "--state", ws.state, "--actor", "alice"],
                            stdin: planJSON(waves: 2, perWave: 3))
        #expect(r.status == 0, "\(r.stderr)")
        for (args, actor) in steps {
            let w = try CLI.run(args + ["--state", ws.state, "--actor", actor])
            #expect(w.status == 0, "\(args): \(w.stderr)")
        }
    }

    func logJSON(_ extra: String...) throws -> [JSON] {
        let r = try CLI.run(["log", "--json", "--state", ws.state] + extra)
        #expect(r.status == 0, "\(r.stderr)")
        return try r.stdout.split(separator: "\n").map { try JSON.parse(String($0)) }
    }

    /// show --json without the fields a new event changes.
    func content(_ json: JSON) -> JSON {
        .object((json.objectValue ?? []).filter { $0.key != "seq" && $0.key != "updated" })
    }

    func show(_ args: String...) throws -> JSON {
        let r = try CLI.run(["show", "--json", "--state", ws.state] + args)
        #expect(r.status == 0, "\(args): \(r.stderr)")
        return try JSON.parse(r.stdout)
    }

    // MARK: Import

    @Test(arguments: fixtures)
    func importOfFixtureReproducesExpectedJSON(_ name: String) throws {
        let source = Self.fixtureRoot + "/" + name + "/STATE.md"
        let r = try ws.sj("import", source)
        #expect(r.status == 0, "\(r.stderr)")
        let shown = try ws.showJSON()
        let expected = try JSON.parse(String(contentsOfFile: Self.fixtureRoot + "/" + name + "/expected.json", encoding: .utf8))
        for key in ["workflow_id", "workflow_name", "current_wave", "total_waves", "notes", "metadata"] {
            #expect(shown[key] == expected[key], "\(name): \(key)")
        }
        for key in ["started", "updated"] {
            let got = try #require(shown[key]?.stringValue.flatMap(Timestamp.init(parsing:)), "\(name): \(key)")
            let want = try #require(expected[key]?.stringValue.flatMap(Timestamp.init(parsing:)), "\(name): \(key)")
            #expect(got == want, "\(name): \(key)")
        }
        let tasks = try #require(shown["tasks"]?.arrayValue)
        let wanted = try #require(expected["tasks"]?.arrayValue)
        #expect(tasks.count == wanted.count, "\(name)")
        for (task, want) in zip(tasks, wanted) {
            for key in ["task_id", "description", "status", "wave", "commit", "files", "error"] {
                #expect(task[key] == want[key], "\(name): task \(want["task_id"]?.stringValue ?? "?") \(key)")
            }
        }
        #expect(try ws.sj("validate", ws.state).status == 0)
        let log = try logJSON()
        #expect(log.count == 1 && log[0]["type"]?.stringValue == "state.replaced" && log[0]["actor"]?.stringValue == "tester")
    }

    @Test func importInPlaceKeepsTheOriginalAsTheBackup() throws {
        let original = try String(contentsOfFile: Self.fixtureRoot + "/02-mid-progress/STATE.md", encoding: .utf8)
        ws.write("STATE.md", original)
        #expect(try ws.sj("import", ws.state).status == 0)
        #expect(try String(contentsOfFile: ws.state + ".backup", encoding: .utf8) == original)
        #expect(try String(contentsOfFile: ws.state, encoding: .utf8).contains("<!-- statejournal v1 seq=1 "))
    }

    @Test func importOfAnExportReproducesStateAndHistory() throws {
        try severalActors()
        #expect(try ws.sj("restore", "--seq", "4", actor: "dave").status == 0)
        let export = try CLI.run(["export", "--state", ws.state]).stdout
        let copy = Workspace()
        ws.write("export.jsonl", export)
        let r = try copy.sj("import", ws.path + "/export.jsonl", "--json", actor: "zed")
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try JSON.parse(r.stdout)["events"]?.intValue == 9)
        #expect(try CLI.run(["export", "--state", copy.state]).stdout == export)
        #expect(try copy.showJSON() == ws.showJSON())
        #expect(try String(contentsOfFile: copy.state, encoding: .utf8) == String(contentsOfFile: ws.state, encoding: .utf8))
        // From stdin too.
        let third = Workspace()
        #expect(try third.sj("import", "-", stdin: export).status == 0)
        #expect(try CLI.run(["export", "--state", third.state]).stdout == export)
    }

    @Test func importTakesExpectSeqAndIdempotencyKeysLikeEveryWrite() throws {
        let source = Self.fixtureRoot + "/01-initialized/STATE.md"
        let first = try ws.sj("import", source, "--expect-seq", "0", "--idempotency-key", "adopt-1", "--json")
        #expect(first.status == 0, "\(first.stderr)")
        #expect(try JSON.parse(first.stdout)["duplicate"]?.boolValue == false)
        let before = ws.snapshot()
        let retry = try ws.sj("import", source, "--idempotency-key", "adopt-1", "--json")
        #expect(retry.status == 0, "\(retry.stderr)")
        #expect(try JSON.parse(retry.stdout)["duplicate"]?.boolValue == true)
        let conflict = try ws.sj("import", source, "--expect-seq", "0")
        #expect(conflict.status == 4)
        #expect(ws.snapshot() == before)
        #expect(try logJSON().first?["idempotency_key"]?.stringValue == "adopt-1")
    }

    @Test func importRefusesAJournalThatExistsAndFilesThatAreNotStateFiles() throws {
        try severalActors()
        let before = ws.snapshot()
        let again = try ws.sj("import", Self.fixtureRoot + "/01-initialized/STATE.md")
        #expect(again.status == 2)
        #expect(again.stderr.contains("a journal already exists"))
        #expect(ws.snapshot() == before)

        let fresh = Workspace()
        fresh.write("notes.txt", "just some notes\n")
        let notState = try fresh.sj("import", fresh.path + "/notes.txt")
        #expect(notState.status == 2)
        #expect(notState.stderr.contains("neither a STATE.md file") && notState.stderr.contains("export"))
        fresh.write("bad.jsonl", "{\"seq\": 1, \"type\": \"nope\"}\n")
        let badExport = try fresh.sj("import", fresh.path + "/bad.jsonl")
        #expect(badExport.status == 2)
        #expect(badExport.stderr.contains("bad.jsonl':1"))
        #expect(try fresh.sj("import", fresh.path + "/missing.md").status == 2)
        #expect(fresh.snapshot().keys.sorted() == ["bad.jsonl", "notes.txt"])
    }

    // MARK: Restore

    @Test func restoreRoundTrips() throws {
        try severalActors()
        let atThree = try show("--seq", "3")
        let atEight = try show()
        let r = try ws.sj("restore", "--seq", "3", "--json", actor: "dave")
        #expect(r.status == 0, "\(r.stderr)")
        let event = try JSON.parse(r.stdout)
        #expect(event["type"]?.stringValue == "state.restored" && event["seq"]?.intValue == 9)
        #expect(event["restored_seq"]?.intValue == 3)
        #expect(content(try show()) == content(atThree))
        #expect(try ws.sj("validate", ws.state).status == 0)

        // Restore to before the restore: back where we were.
        #expect(try ws.sj("restore", "--seq", "8", actor: "erin").status == 0)
        #expect(content(try show()) == content(atEight))
        #expect(try show()["seq"]?.intValue == 10)
        let log = try logJSON("--type", "state.restored")
        #expect(log.map { $0["actor"]?.stringValue } == ["dave", "erin"])
    }

    @Test func restoreAtATime() throws {
        try severalActors()
        let log = try logJSON()
        let time = try #require(log[4]["time"]?.stringValue)
        let expectedSeq = log.filter { $0["time"]?.stringValue.flatMap(Timestamp.init(parsing:))! ?? Timestamp(microseconds: 0)
            <= Timestamp(parsing: time)! }.last?["seq"]?.intValue
        let r = try ws.sj("restore", "--at", time, "--json")
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try JSON.parse(r.stdout)["restored_seq"]?.intValue == expectedSeq)
    }

    @Test func restoreDryRunPrintsTheChangeAndWritesNothing() throws {
        try severalActors()
        let before = ws.snapshot()
        let r = try ws.sj("restore", "--seq", "2", "--dry-run")
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("-- [x] **w1_t1**: Task 1 of wave 1"))
        #expect(r.stdout.contains("-- wave 1 nearly done"))
        #expect(r.stdout.contains("@@ "))
        #expect(!r.stdout.contains("<!--"))
        #expect(!r.stdout.contains("\u{1B}["))  // no colour when not a terminal
        #expect(r.stderr.contains("nothing was written"))
        let json = try JSON.parse(try ws.sj("restore", "--seq", "2", "--dry-run", "--json").stdout)
        #expect(json["dry_run"]?.boolValue == true && json["restored_seq"]?.intValue == 2 && json["current_seq"]?.intValue == 8)
        #expect(json["state"]?["seq"]?.intValue == 9)
        #expect(ws.snapshot() == before)
    }

    @Test(arguments: [
        ["restore", "--seq", "0"],
        ["restore", "--seq", "9"],
        ["restore", "--seq", "8"],                       // the last event: nothing to restore
        ["restore", "--at", "2001-01-01T00:00:00Z"],     // before the first event
        ["restore", "--at", "2999-01-01 00:00:00"],      // after the last event
        ["restore", "--at", "yesterday"],
        ["restore"],
        ["restore", "--seq", "2", "--at", "2001-01-01T00:00:00Z"],
        ["show", "--at", "2001-01-01T00:00:00Z"],
        ["show", "--seq", "99"],
        ["replay", "--to-seq", "99"],
        ["replay", "--to-seq", "0"],
        ["update", "--from", "-"],                       // malformed (stdin below)
    ])
    func badHistoryInputExitsTwoAndChangesNothing(_ args: [String]) throws {
        try severalActors()
        let before = ws.snapshot()
        let r = try CLI.run(args + ["--state", ws.state], stdin: #"{"wave_id": "x"}"#)
        #expect(r.status == 2, "\(args): exit \(r.status) \(r.stderr)")
        #expect(r.stderr.contains("give") || r.stderr.contains("expected") || r.stderr.contains("Usage"), "\(args): \(r.stderr)")
        #expect(ws.snapshot() == before)
    }

    @Test func restoreMessagesSayWhatWasExpected() throws {
        try severalActors()
        #expect(try ws.sj("restore", "--seq", "9").stderr.contains("the journal holds events 1…8"))
        #expect(try ws.sj("restore", "--at", "2001-01-01T00:00:00Z").stderr.contains("before the first event"))
        #expect(try ws.sj("restore", "--at", "2999-01-01T00:00:00Z").stderr.contains("nothing to restore"))
    }

    // MARK: Races and retries

    /// Two processes write with the same --expect-seq at once: exactly one
    /// wins, the other exits 4 and writes nothing. The test holds the lock
    /// while both start and releases it only once both are waiting for it
    /// (each has the lock file open, seen in /proc/PID/fd): run one after
    /// the other, they would never both wait, and the test fails.
    @Test func twoProcessesRacingWithTheSameExpectSeqExactlyOneWins() throws {
        try severalActors()
        for round in 0..<4 {
            let seq = 8 + round
            let lock = FileLock(path: ws.state + ".lock", fileSystem: FileSystem())
            try lock.acquire(LockPolicy(timeout: 5), command: "race referee")
            var racers: [Process] = []
            for racer in ["r1", "r2"] {
                let p = Process()
                p.executableURL = URL(fileURLWithPath: CLI.binary)
                p.arguments = ["note", "round \(round) by \(racer)", "--expect-seq", String(seq),
                               "--state", ws.state, "--actor", racer, "--lock-timeout", "60"]
                p.standardError = FileHandle.nullDevice
                try p.run()
                racers.append(p)
            }
            let bothWaiting = waitUntilWaitingForLock(racers.map(\.processIdentifier), lockPath: ws.state + ".lock")
            #expect(bothWaiting, "round \(round): the two racers were never both waiting for the lock")
            lock.release()
            for p in racers { p.waitUntilExit() }
            #expect(racers.map(\.terminationStatus).sorted() == [0, 4], "round \(round)")
            #expect(try show()["seq"]?.intValue == Int64(seq + 1))
        }
        let notes = try show()["notes"]?.arrayValue?.compactMap(\.stringValue) ?? []
        #expect(notes.filter { $0.hasPrefix("round ") }.count == 4)
    }

    /// A retry of a write whose outcome was not seen, with the same
    /// --idempotency-key, writes nothing and reports the original event —
    /// for the bulk update and restore as for any write, and also when the
    /// two tries race.
    @Test func retriedIdempotencyKeyWritesOnce() throws {
        try severalActors()
        ws.write("update.json", #"{"wave_id": 1, "total_waves": 2, "notes": ["once"], "current_wave_tasks": [{"task_id": "w1_t1"}]}"#)
        let first = try ws.sj("update", "--from", ws.path + "/update.json", "--idempotency-key", "upd-1", "--json")
        let retry = try ws.sj("update", "--from", ws.path + "/update.json", "--idempotency-key", "upd-1", "--json")
        #expect(first.status == 0 && retry.status == 0, "\(first.stderr) \(retry.stderr)")
        #expect(try JSON.parse(retry.stdout)["duplicate"]?.boolValue == true)
        #expect(try JSON.parse(retry.stdout)["seq"] == JSON.parse(first.stdout)["seq"])
        #expect(try show()["notes"]?.arrayValue?.filter { $0.stringValue == "once" }.count == 1)

        let undo = try ws.sj("restore", "--seq", "8", "--idempotency-key", "undo-1", "--json")
        let undoAgain = try ws.sj("restore", "--seq", "8", "--idempotency-key", "undo-1", "--json")
        #expect(undo.status == 0 && undoAgain.status == 0)
        #expect(try JSON.parse(undoAgain.stdout)["seq"]?.intValue == 10)
        #expect(try logJSON().count == 10)

        // Racing retries: one event.
        var racers: [Process] = []
        for _ in 0..<3 {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: CLI.binary)
            p.arguments = ["note", "raced", "--idempotency-key", "race-1", "--state", ws.state, "--lock-timeout", "60"]
            p.standardError = FileHandle.nullDevice
            try p.run()
            racers.append(p)
        }
        for p in racers { p.waitUntilExit() }
        #expect(racers.allSatisfy { $0.terminationStatus == 0 })
        #expect(try logJSON().count == 11)
    }

    // MARK: log, blame, replay, show --at

    @Test func logPrintsAnAlignedTableAndFilters() throws {
        try severalActors()
        let r = try ws.sj("log")
        #expect(r.status == 0)
        let lines = r.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 9)
        #expect(lines[0].hasPrefix("SEQ") && lines[0].contains("ACTOR") && lines[0].contains("TYPE"))
        // Aligned: every row's TYPE column starts where the header's does.
        let typeColumn = try #require(lines[0].range(of: "TYPE")).lowerBound.utf16Offset(in: lines[0])
        for line in lines.dropFirst() {
            let type = line.utf16.dropFirst(typeColumn).prefix(4)
            #expect(["work", "wave", "task", "note"].contains(String(decoding: Array(type), as: UTF16.self)), "\(line)")
        }
        #expect(lines[4].contains("bob") && lines[4].contains("task.completed") && lines[4].contains("w1_t1 (commit abc1234, 1 file)"))
        #expect(lines[6].contains("carol") && lines[6].contains("w1_t2: flaky test"))
        #expect(!r.stdout.contains("\u{1B}["))
        // Local times, as STATE.md shows them.
        let first = try #require(logJSON().first?["time"]?.stringValue.flatMap(Timestamp.init(parsing:)))
        #expect(lines[1].contains(first.localDateTime))

        #expect(try logJSON("--by", "bob").map { $0["seq"]?.intValue } == [3, 4, 8])
        #expect(try logJSON("--task", "w1_t2").map { $0["seq"]?.intValue } == [1, 5, 6])
        #expect(try logJSON("--type", "task.completed").map { $0["seq"]?.intValue } == [4, 8])
        #expect(try logJSON("--by", "bob", "--type", "task.started").map { $0["seq"]?.intValue } == [3])
        let all = try logJSON()
        let t3 = try #require(all[2]["time"]?.stringValue), t6 = try #require(all[5]["time"]?.stringValue)
        let window = try logJSON("--since", t3, "--until", t6).compactMap { $0["seq"]?.intValue }
        #expect(window.first == 3 && window.last == 6)  // inclusive at both ends
        for event in all {
            for key in ["seq", "time", "actor", "pid", "type"] { #expect(event[key] != nil) }
        }
        #expect(try ws.sj("log", "--by", "nobody").stdout.isEmpty)
    }

    /// Colour only on a terminal: under a pseudo-terminal (`script`) the
    /// table is coloured; piped (every other test) it is not.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/script"),
                   "needs script(1) (bsdutils/util-linux; `make deps` installs it)"))
    func logIsColouredOnlyOnATerminal() throws {
        try severalActors()
        let command = "'\(CLI.binary)' log --state '\(ws.state)'"
        func underTerminal(noColour: String) throws -> String {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/script")
            p.arguments = ["-qec", command, "/dev/null"]
            var environment = ProcessInfo.processInfo.environment
            environment["TERM"] = "xterm"
            environment["NO_COLOR"] = noColour
            environment["PAGER"] = "cat"  // no pager (EverydayCLITests checks the pager)
            p.environment = environment
            let out = Pipe()
            p.standardOutput = out
            p.standardInput = FileHandle.nullDevice
            try p.run()
            let data = out.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            return String(decoding: data, as: UTF8.self)
        }
        let coloured = try underTerminal(noColour: "")
        #expect(coloured.contains("\u{1B}[32mtask.completed\u{1B}[0m"), "\(coloured)")
        let plain = try underTerminal(noColour: "1")
        #expect(!plain.contains("\u{1B}["))
        #expect(plain.contains("task.completed"))
    }

    @Test func blameNamesTheLastChangeOfEachTask() throws {
        try severalActors()
        let r = try ws.sj("blame", "--json")
        #expect(r.status == 0, "\(r.stderr)")
        let entries = try #require(try JSON.parse(r.stdout).arrayValue)
        #expect(entries.count == 6)
        let byTask = Dictionary(uniqueKeysWithValues: entries.map { ($0["task_id"]?.stringValue ?? "", $0) })
        #expect(byTask["w1_t1"]?["actor"]?.stringValue == "bob")
        #expect(byTask["w1_t1"]?["seq"]?.intValue == 4)
        #expect(byTask["w1_t1"]?["type"]?.stringValue == "task.completed")
        #expect(byTask["w1_t2"]?["actor"]?.stringValue == "carol")
        #expect(byTask["w1_t2"]?["type"]?.stringValue == "task.failed")
        #expect(byTask["w2_t1"]?["actor"]?.stringValue == "alice")
        #expect(byTask["w2_t1"]?["seq"]?.intValue == 1)
        for entry in entries {
            #expect(entry["time"]?.stringValue.flatMap(Timestamp.init(parsing:)) != nil)
            #expect(entry.objectValue?.map(\.key) == ["task_id", "seq", "type", "actor", "time"])
        }
        let table = try ws.sj("blame").stdout.split(separator: "\n")
        #expect(table.first?.hasPrefix("TASK") == true && table.count == 7)
        #expect(table.contains { $0.hasPrefix("w1_t2") && $0.contains("carol") && $0.contains("task.failed") })
    }

    @Test func replayStepShowsWhatEachEventChanged() throws {
        try severalActors()
        let r = try ws.sj("replay", "--step")
        #expect(r.status == 0, "\(r.stderr)")
        let out = r.stdout
        for seq in 1...8 { #expect(out.contains("seq \(seq)  "), "no header for seq \(seq)") }
        #expect(out.contains("+# Workflow: History"))                 // the first event creates the file
        #expect(out.contains("+## 🔄 In Progress (1 task)"))          // seq 3
        #expect(out.contains("+- [x] **w1_t1**: Task 1 of wave 1"))   // seq 4
        #expect(out.contains("+  - Error: flaky test"))               // seq 6
        #expect(out.contains("+- wave 1 nearly done"))                // seq 7
        #expect(!out.contains("<!--"))
        // The block of seq 3 is bob's task.started and shows only its change.
        let blocks = out.components(separatedBy: "\nseq ")
        let three = try #require(blocks.first { $0.hasPrefix("3  ") })
        #expect(three.contains("bob") && three.contains("task.started"))
        #expect(three.contains("-- [ ] **w1_t1**") && three.contains("+- [~] **w1_t1**"))
        #expect(!three.contains("w1_t2"))
        #expect(r.stderr.contains("replayed 8 events"))

        let partial = try ws.sj("replay", "--step", "--to-seq", "3")
        #expect(partial.stdout.contains("seq 3  ") && !partial.stdout.contains("seq 4  "))
        let state = try ws.sj("replay", "--to-seq", "4", "--json")
        #expect(content(try JSON.parse(state.stdout)) == content(try show("--seq", "4")))
        let markdown = try ws.sj("replay")
        #expect(markdown.stdout == (try String(contentsOfFile: ws.state, encoding: .utf8)))
    }

    @Test func showAtATimeIsTheStateAfterTheLastEventAtOrBeforeIt() throws {
        try severalActors()
        let log = try logJSON()
        let times = log.map { ($0["seq"]?.intValue ?? 0, Timestamp(parsing: $0["time"]?.stringValue ?? "")!) }
        for (seq, time) in times {
            let expectedSeq = times.last { $0.1 <= time }!.0
            let shown = try show("--at", time.rfc3339)
            #expect(shown["seq"]?.intValue == expectedSeq, "at the time of seq \(seq)")
            #expect(shown == (try show("--seq", String(expectedSeq))))
        }
        // After the last event: the current state.
        #expect(try show("--at", "2999-01-01 00:00:00") == show())
        // Local time to the second is accepted too.
        // (to the second: one second after the last event shows it).
        let local = Timestamp(microseconds: times[7].1.microseconds + 1_000_000).localDateTime
        #expect(try show("--at", local)["seq"]?.intValue == 8)
        // Markdown by default.
        let md = try ws.sj("show", "--at", times[3].1.rfc3339)
        #expect(md.stdout.contains("- [x] **w1_t1**") && md.stdout.contains("seq=4 "))
    }

    /// Read commands regenerate a missing or damaged STATE.md before
    /// reading, keeping a damaged one under a new name, and record an edit
    /// of it as events first.
    @Test(arguments: [["log"], ["log", "--json"], ["blame"], ["replay", "--step"], ["show", "--seq", "2"],
                      ["show", "--at", "2999-01-01T00:00:00Z"], ["export"], ["resume-info", "--json"]])
    func readCommandsRegenerateTheStateFile(_ args: [String]) throws {
        try severalActors()
        let good = try String(contentsOfFile: ws.state, encoding: .utf8)
        try FileManager.default.removeItem(atPath: ws.state)
        #expect(try CLI.run(args + ["--state", ws.state]).status == 0)
        #expect(try String(contentsOfFile: ws.state, encoding: .utf8) == good, "\(args) after a delete")
        ws.write("STATE.md", good.replacingOccurrences(of: "# Workflow:", with: "# Workflw:"))
        #expect(try CLI.run(args + ["--state", ws.state]).status == 0)
        #expect(try String(contentsOfFile: ws.state, encoding: .utf8) == good, "\(args) after damage")
        #expect(ws.snapshot().keys.contains { $0.hasPrefix("STATE.md.damaged-") })
        ws.write("STATE.md", good.replacingOccurrences(of: "flaky test", with: "edited by hand"))
        #expect(try CLI.run(args + ["--state", ws.state]).status == 0)
        let after = try String(contentsOfFile: ws.state, encoding: .utf8)
        #expect(after.contains("edited by hand") && !after.contains("flaky test"), "\(args) after an edit")
        let last = try JSON.parse(try CLI.run(["log", "--json", "-n", "1", "--state", ws.state]).stdout)
        #expect(last["via"]?.stringValue == "edit")
    }

    // MARK: The earlier tool's shapes

    @Test func initReadsTheInitializeShape() throws {
        ws.write("init.json", """
            {"workflow_id": "wf_old", "workflow_name": "Old tool", "total_waves": 2,
             "all_waves": [[{"agent_id": "agent_1", "prompt": "Write the parser"}, {"task_id": "t2", "task": "Test it"}]],
             "metadata": {"owner": "me", "attempt": 2}}
            """)
        let r = try ws.sj("init", "--plan", ws.path + "/init.json")
        #expect(r.status == 0, "\(r.stderr)")
        let json = try ws.showJSON()
        #expect(json["workflow_id"]?.stringValue == "wf_old" && json["workflow_name"]?.stringValue == "Old tool")
        #expect(json["total_waves"]?.intValue == 2)
        #expect(json["tasks"]?.arrayValue?.map { $0["task_id"]?.stringValue } == ["agent_1", "t2"])
        #expect(json["tasks"]?.arrayValue?.first?["description"]?.stringValue == "Write the parser")
        #expect(json["metadata"]?["attempt"]?.stringValue == "2")
        // Flags override the file.
        #expect(try ws.sj("init", "--plan", ws.path + "/init.json", "--id", "wf_new", "--name", "New").status == 0)
        #expect(try ws.showJSON()["workflow_id"]?.stringValue == "wf_new")
        // Neither gives an id: exit 2.
        let none = try ws.sj("init", "--plan", "-", stdin: #"{"waves": []}"#)
        #expect(none.status == 2 && none.stderr.contains("workflow id"))
    }

    @Test func updateAndResumeInfoSpeakTheEarlierToolsShapes() throws {
        try severalActors()
        ws.write("update.json", """
            {"workflow_id": "wf_h", "workflow_name": "History", "wave_id": 2, "total_waves": 2,
             "completed_tasks": [{"task_id": "w1_t1", "description": "Task 1 of wave 1", "wave_id": 1, "commit_hash": "abc1234"}],
             "current_wave_tasks": [{"agent_id": "w2_t1", "prompt": "Do it", "result": {"success": true, "files_created": ["n.py"]}},
                                    {"task_id": "w2_t2", "description": "Two", "result": {"error": "nope"}},
                                    {"task_id": "w2_t3", "description": "Three"}],
             "pending_waves": [], "commit_hash": "ffff000", "notes": ["moved to wave 2"], "metadata": {"phase": "2"}}
            """)
        let r = try ws.sj("update", "--from", ws.path + "/update.json", actor: "orchestrator")
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("state.replaced recorded seq 9"))
        let state = try ws.showJSON()
        let tasks = state["tasks"]?.arrayValue ?? []
        #expect(tasks.map { $0["task_id"]?.stringValue } == ["w1_t1", "w2_t1", "w2_t2", "w2_t3"])
        #expect(tasks[1]["status"]?.stringValue == "completed" && tasks[1]["commit"]?.stringValue == "ffff000")
        #expect(tasks[1]["files"] == .array([.string("n.py")]))
        #expect(tasks[2]["status"]?.stringValue == "failed" && tasks[2]["error"]?.stringValue == "nope")
        #expect(tasks[3]["status"]?.stringValue == "in_progress")
        #expect(state["notes"]?.arrayValue?.compactMap(\.stringValue) == ["wave 1 nearly done", "moved to wave 2"])
        #expect(state["metadata"] == .obj(["phase": .string("2")]))

        let info = try JSON.parse(try ws.sj("resume-info", "--json").stdout)
        #expect(info["workflow_id"]?.stringValue == "wf_h")
        #expect(info["current_wave"]?.intValue == 2 && info["resume_wave"]?.intValue == 2)  // a task failed
        #expect(info["total_waves"]?.intValue == 2)
        #expect(info["completed_tasks"] == .array([.string("w1_t1"), .string("w2_t1")]))
        #expect(info["failed_tasks"] == .array([.string("w2_t2")]))
        #expect(info["in_progress_tasks"] == .array([.string("w2_t3")]))
        #expect(info["pending_tasks"] == .array([]))
        #expect(info["started_at"]?.stringValue.flatMap(Timestamp.init(parsing:)) != nil)
        #expect(info["updated_at"]?.stringValue.flatMap(Timestamp.init(parsing:)) != nil)
        #expect(try ws.sj("resume-info").stdout.contains("resume at wave 2"))
        let empty = Workspace()
        let none = try empty.sj("resume-info", "--json")
        #expect(none.status == 0 && none.stdout == "null\n")
    }
}
