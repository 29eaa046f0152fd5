import Foundation
import Testing
import StateJournal

/// Outside review of d4c2cad..566be08, command line side: the `.eager`
/// writer that renders first and reads STATE.md once right before its
/// rename, STATE.md rendered into one byte buffer, the journal listing.
/// Real processes throughout.
@Suite struct ReviewEagerCLITests {
    static func readText(_ path: String) -> String? {
        FileManager.default.contents(atPath: path).map { String(decoding: $0, as: UTF8.self) }
    }

    static func eventCount(_ ws: Workspace) throws -> Int {
        try CLI.run(["log", "--json", "--state", ws.state]).stdout.split(separator: "\n").count
    }

    static func initialized(tasks: [String] = ["a", "b"]) throws -> Workspace {
        let ws = Workspace()
        let plan = #"{"waves": [["# + tasks.map { #"{"task_id": "\#($0)", "description": "task \#($0)"}"# }.joined(separator: ",") + "]]}"
        ws.write("plan.json", plan)
        let r = try ws.sj("init", "--id", "wf", "--name", "Review", "--plan", ws.path + "/plan.json")
        #expect(r.status == 0, "\(r.stderr)")
        return ws
    }

    // MARK: STATE.md that is not a regular file

    /// A symbolic link at STATE.md: the write is refused before anything is
    /// appended, and the link's target is left byte for byte.
    @Test func aSymlinkedStateMdIsRefusedBeforeTheAppend() throws {
        let ws = try Self.initialized()
        let target = ws.path + "/elsewhere.md"
        try FileManager.default.moveItem(atPath: ws.state, toPath: target)
        try FileManager.default.createSymbolicLink(atPath: ws.state, withDestinationPath: target)
        let before = try #require(FileManager.default.contents(atPath: target))
        let events = try Self.eventCount(ws)
        let r = try ws.sj("note", "through a link")
        #expect(r.status == 2, "status \(r.status): \(r.stderr)")
        #expect(try Self.eventCount(ws) == events, "a refused write appended an event")
        #expect(FileManager.default.contents(atPath: target) == before, "the link's target changed")
        #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: ws.state)) == target, "the link was replaced")
    }

    /// With `--allow-symlinks`, the write goes through the link: the link
    /// stays a link, its target shows the event, and `verify` is clean.
    @Test func aSymlinkedStateMdWithAllowSymlinksIsWrittenThroughTheLink() throws {
        let ws = try Self.initialized()
        let target = ws.path + "/elsewhere.md"
        try FileManager.default.moveItem(atPath: ws.state, toPath: target)
        try FileManager.default.createSymbolicLink(atPath: ws.state, withDestinationPath: target)
        let r = try ws.sj("note", "through a link", "--allow-symlinks")
        #expect(r.status == 0, "\(r.stderr)")
        #expect((try? FileManager.default.destinationOfSymbolicLink(atPath: ws.state)) == target, "the link was replaced")
        #expect(Self.readText(target)?.contains("- through a link\n") == true, "the target does not show the write")
        #expect(try ws.sj("verify", "--allow-symlinks").status == 0)
        #expect(try ws.sj("sync", "--allow-symlinks").status == 0)
        #expect(try Self.eventCount(ws) == 2, "sync recorded an edit nobody made")
    }

    /// STATE.md replaced by a directory (a user's mistake, a tool's): a
    /// write either refuses before it appends, or appends and says the
    /// event is durable (exit 0, the warning) — never an error exit for a
    /// write that landed (the user would run it again: a second event).
    /// The directory and what it holds are left alone.
    @Test func aStateMdThatIsADirectoryNeverHidesADurableWrite() throws {
        let ws = try Self.initialized()
        try FileManager.default.removeItem(atPath: ws.state)
        try FileManager.default.createDirectory(atPath: ws.state, withIntermediateDirectories: false)
        ws.write("STATE.md/inside.txt", "mine")
        let events = try Self.eventCount(ws)
        let r = try ws.sj("note", "with a directory in the way", "--idempotency-key", "dir-1")
        let after = try Self.eventCount(ws)
        if r.status == 0 {
            #expect(after == events + 1)
            #expect(r.stderr.contains("durable"), "a landed write without the durable warning: \(r.stderr)")
        } else {
            #expect(after == events, "exit \(r.status) but the event landed: \(r.stderr)")
        }
        #expect(Self.readText(ws.path + "/STATE.md/inside.txt") == "mine", "the directory's content changed")
        // Reads still answer from the journal, and name the problem.
        let show = try ws.sj("show", "--json")
        #expect(show.status == 0, "show: \(show.status) \(show.stderr)")
    }

    /// Runs the CLI; kills it when it has not exited after `limit` seconds
    /// (a bound for a hang, not a timing assertion). Nil: it hung.
    static func runBounded(_ args: [String], limit: Double = 15) throws -> Int32? {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: CLI.binary)
        p.arguments = args
        p.standardInput = FileHandle.nullDevice
        p.standardOutput = FileHandle.nullDevice
        p.standardError = FileHandle.nullDevice
        let exited = DispatchSemaphore(value: 0)
        p.terminationHandler = { _ in exited.signal() }
        try p.run()
        if exited.wait(timeout: .now() + limit) == .timedOut {
            kill(p.processIdentifier, SIGKILL)
            exited.wait()
            return nil
        }
        return p.terminationStatus
    }

    /// FINDING: a STATE.md that is a FIFO (named pipe) — put there by a
    /// mistake, a tool, or another user — makes every command hang forever:
    /// `note` appends its event (durable) and then blocks in `open(2)` of
    /// STATE.md (O_RDONLY on a FIFO waits for a writer) while holding the
    /// projectors' lock; `show`, `log` and every read block the same way
    /// (healing STATE.md before answering). User-visible: the write is never
    /// acknowledged — the user interrupts it and runs it again, recording the
    /// event twice — and no read answers. Pre-existing (d4c2cad reads the
    /// same way), not introduced by the range under review.
    /// Proposed fix: treat a STATE.md that exists and is neither a regular
    /// file nor an allowed symbolic link like a symbolic link — refuse it in
    /// the look under the writers' lock, before the append
    /// (`recordEditBeforeWriting` already `lstat`s it), with "STATE.md is a
    /// FIFO, not a file; move it away"; and open STATE.md for reading with
    /// `O_NONBLOCK` (no effect on regular files) in `readStateFile`,
    /// `readStateFileWhole`, `stateFileIsStill` and `footerPosition`, so no
    /// read can block on one (reads then answer from the journal, as with a
    /// directory).
    /// Status: red on main (61e0f4b); the `O_NONBLOCK` half is done on this
    /// branch (the write then exits 0 with the "durable, STATE.md could not
    /// be rewritten" warning, reads answer from the journal): green. The
    /// refusal before the append is left to the lead (a policy choice).
    @Test func aStateMdThatIsAFifoNeitherHangsAWriteNorARead() throws {
        let ws = try Self.initialized()
        let events = try Self.eventCount(ws)
        try FileManager.default.removeItem(atPath: ws.state)
        #expect(mkfifo(ws.state, 0o644) == 0)
        let common = ["--state", ws.state, "--actor", "tester"]
        let write = try Self.runBounded(["note", "with a FIFO in the way", "--idempotency-key", "fifo-1"] + common)
        #expect(write != nil, "the write hung (killed after the bound)")
        let read = try Self.runBounded(["show", "--json"] + common)
        #expect(read != nil, "`show` hung (killed after the bound)")
        // What landed, seen with the FIFO out of the way.
        try FileManager.default.removeItem(atPath: ws.state)
        let after = try Self.eventCount(ws)
        if write == 0 {
            #expect(after == events + 1)
        } else {
            #expect(after == events, "the write did not say it succeeded, but its event is durable: a retry records it twice")
        }
    }

    // MARK: Reads of a large sealed segment (on two threads) while writers write

    static let reader = """
        for k in $(seq 1 $N); do
          "$SJ" log --json --state "$ST" > "$OUT.$k" 2> "$OUT.$k.err" || exit 1
        done
        """

    /// A journal whose first sealed segment holds 40,000 events (about
    /// 6 MiB raw: decoded on a second thread), read by `log --json` in two
    /// processes while two others append: every read shows seq 1, 2, …, N
    /// without a gap or a repeat, each event as imported, N at least the
    /// imported count; afterwards `verify` and `replay` are clean.
    @Test func readersOfALargeSealedSegmentSeeEveryEventWhileWritersWrite() throws {
        let ws = Workspace()
        let count = 40_000
        var export = #"{"seq":1,"time":"2026-11-30T10:00:00.000000Z","actor":"t","pid":1,"type":"workflow.initialized","workflow_id":"wf","workflow_name":"Big","waves":[[{"task_id":"a","description":"A"}]],"metadata":{}}"# + "\n"
        func text(_ i: Int) -> String { "note \(i) \\\"q\\\" \\\\ é " + String(repeating: "x", count: i % 97) }
        for i in 2...count {
            let micros = i * 1000
            let time = String(format: "2026-11-30T10:%02d:%02d.%06dZ", micros / 60_000_000 % 60, micros / 1_000_000 % 60, micros % 1_000_000)
            export += #"{"seq":\#(i),"time":"\#(time)","actor":"actor-\#(i % 3)","pid":1,"type":"note.added","text":"\#(text(i))"}"# + "\n"
        }
        ws.write("export.jsonl", export)
        let imported = try ws.sj("import", ws.path + "/export.jsonl")
        #expect(imported.status == 0, "\(imported.stderr)")
        #expect(try ws.sj("note", "seals the segment").status == 0)
        let names = try FileManager.default.contentsOfDirectory(atPath: ws.state + ".journal")
        #expect(names.contains { $0.hasSuffix(".log.zst") }, "nothing sealed: \(names)")

        var processes: [Process] = []
        for w in 1...2 {
            processes.append(try CLI.spawnScript(Self.writer, ["SJ": CLI.binary, "ST": ws.state, "W": String(w), "N": "8"]))
        }
        var readers: [Process] = []
        for r in 1...2 {
            readers.append(try CLI.spawnScript(Self.reader, ["SJ": CLI.binary, "ST": ws.state, "N": "1", "OUT": ws.path + "/read\(r)"]))
        }
        for p in processes + readers { p.waitUntilExit() }
        #expect(processes.allSatisfy { $0.terminationStatus == 0 }, "every write succeeded")
        #expect(readers.allSatisfy { $0.terminationStatus == 0 }, "every read succeeded")
        for r in 1...2 {
            for k in 1...1 {
                let lines = (Self.readText(ws.path + "/read\(r).\(k)") ?? "").split(separator: "\n")
                #expect(lines.count >= count + 1, "reader \(r), read \(k): \(lines.count) events")
                var expected = 1
                for line in lines {
                    guard let event = try? JSON.parse(String(line)), let seq = event["seq"]?.intValue.map({ Int($0) }), seq == expected else {
                        Issue.record("reader \(r), read \(k): expected seq \(expected), got \(line.prefix(120))")
                        break
                    }
                    if seq >= 2 && seq <= count, event["text"]?.stringValue != text(seq).replacingOccurrences(of: "\\\"", with: "\"").replacingOccurrences(of: "\\\\", with: "\\") {
                        Issue.record("reader \(r), read \(k): seq \(seq) reads \(event["text"]?.stringValue ?? "-")")
                        break
                    }
                    expected += 1
                }
            }
        }
        #expect(try ws.sj("verify").status == 0)
        #expect(try ws.sj("replay").status == 0)
    }

    // MARK: Odd characters through the command line

    static let oddTexts: [String] = [
        "pipes | in | a | table |", "**bold** _em_ `code` [link](x) <b> # h & ~s~", "line one\nline two\n",
        "\u{301}starts with a combining mark", "files, (parens)", "- looks like a list", "1. numbered",
        "tab\tand trailing space ", "\u{1}\u{7}\u{1B}[31mred\u{1B}[0m\u{7F}", "emoji 👩‍💻 and e\u{301}", "\u{2028}sep\u{2029}",
        "back\\slash \\\\ and \\n", "<!-- statejournal v1 seq=1 crc32c=00000000 -->", "\r\n",
    ]

    /// Titles, notes, errors and metadata with markdown specials, `|`, line
    /// feeds, control bytes and unicode: `show --json` gives them back as
    /// given, `verify` is clean, `validate` finds no problem, and the next
    /// command finds no edit in STATE.md to record.
    @Test func oddTextRoundTripsThroughTheCommandLine() throws {
        let ws = try Self.initialized()
        for (i, text) in Self.oddTexts.enumerated() {
            // `--opt=TEXT` and `--` so that a text starting with '-' is not
            // taken for an option. (`--opt=TEXT` cannot carry a text that
            // starts with a combining mark: the argument parser splits at
            // the Character "=", which the mark joins.)
            let common = ["--state", ws.state, "--actor", "tester"]
            func option(_ name: String) -> [String] { text.hasPrefix("-") ? [name + "=" + text] : [name, text] }
            #expect(try CLI.run(["task", "add", "x\(i)", "--wave", "1"] + option("--description") + common).status == 0, "task add \(i)")
            #expect(try CLI.run(["note"] + common + ["--", text]).status == 0, "note \(i)")
            #expect(try CLI.run(["meta", "set"] + common + ["--", "k\(i)", text]).status == 0, "meta \(i)")
            #expect(try CLI.run(["task", "fail", "x\(i)"] + option("--error") + common).status == 0, "task fail \(i)")
        }
        let state = try ws.showJSON()
        let tasks = state["tasks"]?.arrayValue ?? []
        let notes = (state["notes"]?.arrayValue ?? []).compactMap(\.stringValue)
        for (i, text) in Self.oddTexts.enumerated() {
            let task = tasks.first { $0["task_id"]?.stringValue == "x\(i)" }
            #expect(task?["description"]?.stringValue == text, "description \(i)")
            #expect(task?["error"]?.stringValue == text, "error \(i)")
            #expect(notes.contains(text), "note \(i)")
        }
        let verify = try ws.sj("verify")
        #expect(verify.status == 0, "verify: \(verify.stdout) \(verify.stderr)")
        let validate = try CLI.run(["validate", ws.state])
        #expect(validate.status == 0, "validate: \(validate.stdout) \(validate.stderr)")
        let eventsBefore = try Self.eventCount(ws)
        let sync = try ws.sj("sync")
        #expect(sync.status == 0, "sync: \(sync.stderr)")
        #expect(try Self.eventCount(ws) == eventsBefore, "sync found an edit in a STATE.md nobody edited")
        let names = try FileManager.default.contentsOfDirectory(atPath: ws.path)
        #expect(!names.contains { $0.hasPrefix("STATE.md.damaged-") || $0.hasPrefix("STATE.md.conflict-") }, "\(names)")
    }

    // MARK: An edit racing the writers

    /// The editor: for each i, under `flock` of the projectors' lock (as the
    /// guarantee asks of an editor that must never lose an edit), tick
    /// `e<i>` and add a note, saving as most editors do — a new file renamed
    /// over STATE.md (a new inode, which the writer's earlier `lstat` did not
    /// see).
    static let edit = """
        content=$(cat "$ST") || exit 1
        case "$content" in *"- [ ] **e$I**"*) ;; *) exit 3 ;; esac
        case "$content" in *"<!-- statejournal"*) ;; *) exit 3 ;; esac
        nl=$'\\n'
        case "$content" in *"## Notes${nl}${nl}"*) ;; *) exit 3 ;; esac
        content=${content/"- [ ] **e$I**"/"- [x] **e$I**"}
        content=${content/"## Notes${nl}${nl}"/"## Notes${nl}${nl}- editor note $I${nl}"}
        printf '%s\\n' "$content" > "$ST.editor-save" && mv -f "$ST.editor-save" "$ST"
        """

    static let editor = """
        set -u
        for i in $(seq 0 $((EDITS - 1))); do
          tries=0
          while true; do
            I=$i flock "$ST.journal/projector.lock" bash "$EDIT"
            rc=$?
            [ $rc -eq 0 ] && break
            tries=$((tries + 1)); [ $tries -lt 1000 ] || exit 1
          done
        done
        """

    static let writer = """
        for i in $(seq 1 $N); do
          "$SJ" note "writer $W note $i" --idempotency-key "w$W-$i" --state "$ST" --actor "agent-$W" --lock-timeout 120 || exit 1
        done
        """

    @Test func editsSavedByRenameUnderTheLockWhileWritersWriteAreAllRecorded() throws {
        let edits = 24, writers = 4, perWriter = 15
        let ws = try Self.initialized(tasks: (0..<edits).map { "e\($0)" })
        #expect(try ws.sj("note", "before the race").status == 0)
        var processes: [Process] = []
        for w in 1...writers {
            processes.append(try CLI.spawnScript(Self.writer, ["SJ": CLI.binary, "ST": ws.state, "W": String(w), "N": String(perWriter)]))
        }
        ws.write("edit.sh", Self.edit)
        let editor = try CLI.spawnScript(Self.editor, ["ST": ws.state, "EDITS": String(edits), "EDIT": ws.path + "/edit.sh"])
        for p in processes { p.waitUntilExit() }
        editor.waitUntilExit()
        #expect(processes.allSatisfy { $0.terminationStatus == 0 }, "every CLI write succeeded")
        #expect(editor.terminationStatus == 0, "the editor made every edit")
        #expect(try ws.sj("sync").status == 0)
        let state = try ws.showJSON()
        let notes = (state["notes"]?.arrayValue ?? []).compactMap(\.stringValue)
        func count(_ note: String) -> Int { notes.filter { $0 == note }.count }
        for w in 1...writers {
            for i in 1...perWriter { #expect(count("writer \(w) note \(i)") == 1, "writer \(w) note \(i)") }
        }
        let tasks = state["tasks"]?.arrayValue ?? []
        for i in 0..<edits {
            #expect(count("editor note \(i)") == 1, "editor note \(i) recorded \(count("editor note \(i)")) times")
            #expect(tasks.first { $0["task_id"]?.stringValue == "e\(i)" }?["status"]?.stringValue == "completed", "e\(i) ticked")
        }
        let names = try FileManager.default.contentsOfDirectory(atPath: ws.path)
        #expect(!names.contains { $0.hasPrefix("STATE.md.conflict-") || $0.hasPrefix("STATE.md.damaged-") }, "\(names)")
        #expect(try ws.sj("verify").status == 0)
    }

    /// One edit saved (by rename, no lock) between two writes, never during
    /// one: the next write records it before its own event, and STATE.md
    /// then shows both.
    @Test func anEditSavedBetweenWritesIsRecordedByTheNextWrite() throws {
        let ws = try Self.initialized()
        for round in 0..<6 {
            var text = try #require(Self.readText(ws.state))
            text = text.replacingOccurrences(of: "## Notes\n\n", with: "## Notes\n\n- hand note \(round)\n")
            if !text.contains("hand note \(round)") {
                text = text.replacingOccurrences(of: "\n---\n", with: "\n---\n\n## Notes\n\n- hand note \(round)\n")
            }
            ws.write("STATE.md.new", text)
            #expect(rename(ws.path + "/STATE.md.new", ws.state) == 0)
            #expect(try ws.sj("note", "cli note \(round)").status == 0)
            let shown = try #require(Self.readText(ws.state))
            #expect(shown.contains("- hand note \(round)\n"), "round \(round): the edit is not in STATE.md")
            #expect(shown.contains("- cli note \(round)\n"), "round \(round): the write is not in STATE.md")
        }
        let notes = (try ws.showJSON()["notes"]?.arrayValue ?? []).compactMap(\.stringValue)
        for round in 0..<6 {
            #expect(notes.filter { $0 == "hand note \(round)" }.count == 1, "hand note \(round): \(notes)")
        }
    }
}
