import Foundation
import Testing
import StateJournal

/// An agent edits STATE.md in place — ticks a checkbox, adds a note — while
/// 8 processes write through the command line (Docs/GUARANTEES.md, "An edit
/// of STATE.md").
///
/// The guarantee tested: every CLI write lands exactly once; every edit is
/// recorded exactly once (no note twice, no tick lost) when the editor saves
/// under the projectors' lock, as the guarantee asks of an editor that must
/// never lose an edit. An editor that saves without it can lose an edit
/// saved in the window between a projector's last check of STATE.md and its
/// rename; the second case checks everything else still holds — no CLI
/// write lost, nothing recorded twice, no conflict where there was none.
@Suite struct EditRaceTests {
    static let writers = 8
    static let notesPerWriter = 12
    static let edits = 24

    /// The editor: for each i, tick `e<i>`'s box and add `- editor note <i>`
    /// under Notes, reading and rewriting STATE.md in place (truncate, write),
    /// as an editing tool does; with LOCK set, under `flock` of the
    /// projectors' lock. It paces itself with a short pause between edits
    /// (pacing only: nothing depends on it).
    static let editor = """
        set -u
        for i in $(seq 0 $((EDITS - 1))); do
          tries=0
          while true; do
            if [ -n "$LOCK" ]; then I=$i flock "$ST.journal/projector.lock" bash "$EDIT"; else I=$i bash "$EDIT"; fi
            rc=$?
            [ $rc -eq 0 ] && break
            # A file read between a truncate and a write (no lock): read again.
            tries=$((tries + 1)); [ $tries -lt 1000 ] || exit 1
          done
          sleep 0.02
        done
        """

    /// One edit, in place.
    static let edit = """
        content=$(cat "$ST") || exit 1
        case "$content" in *"- [ ] **e$I**"*) ;; *) exit 3 ;; esac
        case "$content" in *"<!-- statejournal"*) ;; *) exit 3 ;; esac
        nl=$'\\n'
        case "$content" in *"## Notes${nl}${nl}"*) ;; *) exit 3 ;; esac
        content=${content/"- [ ] **e$I**"/"- [x] **e$I**"}
        content=${content/"## Notes${nl}${nl}"/"## Notes${nl}${nl}- editor note $I${nl}"}
        printf '%s\\n' "$content" > "$ST"
        """

    static let writer = """
        for i in $(seq 1 $N); do
          "$SJ" note "writer $W note $i" --idempotency-key "w$W-$i" --state "$ST" --actor "agent-$W" --lock-timeout 120 || exit 1
        done
        """

    @Test(arguments: [true, false])
    func anAgentEditsStateMdWhileEightWritersWrite(underLock: Bool) throws {
        let ws = Workspace()
        let plan = #"{"waves": [["# + (0..<Self.edits).map { #"{"task_id": "e\#($0)", "description": "edit \#($0)"}"# }.joined(separator: ",") + "]]}"
        ws.write("plan.json", plan)
        #expect(try ws.sj("init", "--id", "wf", "--name", "Race", "--plan", ws.path + "/plan.json").status == 0)
        #expect(try ws.sj("note", "before the race").status == 0)

        var processes: [Process] = []
        for w in 1...Self.writers {
            processes.append(try CLI.spawnScript(Self.writer, ["SJ": CLI.binary, "ST": ws.state, "W": String(w),
                                                          "N": String(Self.notesPerWriter)]))
        }
        ws.write("edit.sh", Self.edit)
        let editor = try CLI.spawnScript(Self.editor, ["ST": ws.state, "EDITS": String(Self.edits), "LOCK": underLock ? "1" : "",
                                                  "EDIT": ws.path + "/edit.sh"])
        for p in processes { p.waitUntilExit() }
        editor.waitUntilExit()
        #expect(processes.allSatisfy { $0.terminationStatus == 0 }, "every CLI write succeeded")
        #expect(editor.terminationStatus == 0, "the editor made every edit")
        // The last edit may still be only in STATE.md: sync records it.
        #expect(try ws.sj("sync").status == 0)

        let state = try ws.showJSON()
        let notes = (state["notes"]?.arrayValue ?? []).compactMap(\.stringValue)
        func count(_ note: String) -> Int { notes.filter { $0 == note }.count }
        // Every CLI write, exactly once.
        for w in 1...Self.writers {
            for i in 1...Self.notesPerWriter { #expect(count("writer \(w) note \(i)") == 1, "writer \(w) note \(i)") }
        }
        // Every edit recorded at most once; under the lock, exactly once.
        let tasks = state["tasks"]?.arrayValue ?? []
        let names = (try? FileManager.default.contentsOfDirectory(atPath: ws.path)) ?? []
        let kept = names.filter { $0.hasPrefix("STATE.md.conflict-") || $0.hasPrefix("STATE.md.damaged-") }
        var recorded = 0
        for i in 0..<Self.edits {
            let n = count("editor note \(i)")
            #expect(n <= 1, "editor note \(i) recorded \(n) times")
            let ticked = tasks.first { $0["task_id"]?.stringValue == "e\(i)" }?["status"]?.stringValue == "completed"
            if underLock {
                #expect(n == 1, "editor note \(i) is in the journal")
                #expect(ticked, "e\(i) is ticked in the journal")
            }
            if n == 1 && ticked { recorded += 1 }
        }
        // No conflict: nobody else touched what the editor changed. (An
        // editor saving without the lock can be read half-saved despite the
        // checks: what was read is then kept, never lost.)
        if underLock { #expect(kept.isEmpty, "\(kept)") }
        // Edits are logged as such.
        let log = try CLI.run(["log", "--json", "--state", ws.state]).stdout.split(separator: "\n")
            .compactMap { try? JSON.parse(String($0)) }
        #expect(log.filter { $0["via"]?.stringValue == "edit" && $0["type"]?.stringValue == "note.added" }.count
                    == notes.filter { $0.hasPrefix("editor note") }.count)
        #expect(try ws.sj("verify").status == 0)
        if !underLock { print("edit race without the lock: \(recorded) of \(Self.edits) edits recorded whole; kept files: \(kept.count)") }
    }
}
