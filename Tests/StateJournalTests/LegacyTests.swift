import Foundation
import Testing
@testable import StateJournal
@testable import StateJournalEngine

/// The earlier tool's shapes and operations: initialize(), update(),
/// get_resume_info(), clear().
@Suite struct LegacyTests {
    let dir = TemporaryDirectory()

    func manager(_ actor: String = "orchestrator") -> StateManager {
        StateManager(configuration: .init(statePath: dir.file("STATE.md"), actor: actor))
    }

    func json(_ text: String) throws -> JSON { try JSON.parse(text) }

    func update(_ text: String) throws -> StateUpdate { try StateUpdate.parse(Array(text.utf8), source: "test") }

    func badInput(containing text: String, _ body: () throws -> Void) {
        do {
            try body()
            Issue.record("expected bad input containing '\(text)'")
        } catch let error as StateJournalError {
            #expect(error.code == .badInput, "\(error)")
            #expect(error.message.contains(text), "\(error.message)")
        } catch {
            Issue.record("unexpected \(error)")
        }
    }

    // MARK: initialize()

    @Test func planReadsTheInitializeShapeWithItsFallbacks() throws {
        let prompt = String(repeating: "é", count: 150)
        let plan = try WorkflowPlan.parse(json("""
            {"workflow_id": "wf_7", "workflow_name": "Old", "total_waves": 3, "all_waves": [
              [{"task_id": "t1", "description": "One"}, {"agent_id": "agent-2", "task": "Two"}],
              [{"prompt": "\(prompt)"}, {"task_id": "t4", "description": "", "task": "Four"}]],
             "metadata": {"owner": "me", "retries": 3, "strict": true}}
            """))
        #expect(plan.workflowID == "wf_7" && plan.name == "Old")
        #expect(plan.waves.count == 3 && plan.waves[2].isEmpty)
        #expect(plan.waves[0].map(\.id) == ["t1", "agent-2"])
        #expect(plan.waves[0][1].description == "Two")
        #expect(plan.waves[1][0].id == "wave2_task3")
        #expect(plan.waves[1][0].description == String(repeating: "é", count: 100))
        #expect(plan.waves[1][1].description == "Four")
        #expect(plan.metadata == [MetadataEntry(key: "owner", value: "me"), MetadataEntry(key: "retries", value: "3"),
                                  MetadataEntry(key: "strict", value: "True")])
        let outcome = try manager().initialize(plan)
        #expect(outcome.state.workflowID == "wf_7" && outcome.state.totalWaves == 3 && outcome.state.tasks.count == 4)
    }

    @Test func planStillReadsStateJournalsShape() throws {
        let plan = try WorkflowPlan.parse(json(#"{"waves": [[{"task_id": "a", "description": "A"}]], "metadata": {"k": "v"}}"#))
        #expect(plan.workflowID == nil && plan.waves == [[Event.PlannedTask(id: "a", description: "A")]])
        badInput(containing: "no workflow id") { try manager().initialize(plan) }
        #expect(try manager().initialize(plan, id: "wf", name: "N").state.name == "N")
    }

    @Test func malformedPlansSayWhatWasExpected() {
        badInput(containing: "not valid JSON") { _ = try WorkflowPlan.parse(Array("{".utf8), source: "p") }
        badInput(containing: "'waves' (or 'all_waves')") { _ = try WorkflowPlan.parse(try json("{}")) }
        badInput(containing: "'total_waves' is 1 but 2 waves") { _ = try WorkflowPlan.parse(try json(#"{"all_waves": [[], []], "total_waves": 1}"#)) }
        badInput(containing: "must be an object") { _ = try WorkflowPlan.parse(try json(#"{"waves": [[1]]}"#)) }
    }

    // MARK: update()

    static let fullUpdate = """
        {"workflow_id": "wf_1", "workflow_name": "Build", "wave_id": 2, "total_waves": 3,
         "completed_tasks": [
            {"task_id": "a", "description": "A", "wave_id": 1, "commit_hash": "aaa111",
             "result": {"success": true, "files_modified": ["a.py", "b.py", "c.py", "d.py"]}},
            {"agent_id": "b", "task": "B", "result": {"success": true, "files_created": ["new.py"]}}],
         "current_wave_tasks": [
            {"task_id": "c", "description": "C", "result": {"success": true}},
            {"task_id": "d", "description": "D", "commit_hash": "ddd444", "result": {"success": true, "files_modified": []}},
            {"task_id": "e", "description": "E", "result": {"success": false, "error": "it broke"}},
            {"task_id": "f", "description": "F", "result": {}},
            {"task_id": "g", "description": "G"}],
         "pending_waves": [[{"task_id": "h", "description": "H"}, {"description": "no id"}]],
         "commit_hash": "wave222", "notes": ["second note"], "metadata": {"phase": "two"}}
        """

    @Test func updateHasTheEarlierToolsMeaning() throws {
        let u = try update(Self.fullUpdate)
        #expect(u.currentWave == 2 && u.totalWaves == 3)
        func task(_ id: String) -> WorkflowTask? { u.tasks.first { $0.id == id } }
        #expect(task("a") == WorkflowTask(id: "a", description: "A", status: .completed, wave: 1, commit: "aaa111",
                                          files: ["a.py", "b.py", "c.py", "d.py"]))
        // A completed task without a wave is in the current wave; it keeps
        // its own commit (none): the wave's commit is for current-wave tasks.
        #expect(task("b") == WorkflowTask(id: "b", description: "B", status: .completed, wave: 2, files: ["new.py"]))
        #expect(task("c")?.status == .completed && task("c")?.commit == "wave222")
        #expect(task("d")?.commit == "ddd444" && task("d")?.files == [])
        #expect(task("e")?.status == .failed && task("e")?.error == "it broke" && task("e")?.commit == nil)
        #expect(task("f")?.status == .inProgress && task("g")?.status == .inProgress)
        #expect(task("h")?.status == .pending && task("h")?.wave == 3)
        #expect(task("wave3_task9")?.description == "no id")
        #expect(u.tasks.map(\.wave) == u.tasks.map(\.wave).sorted())
    }

    @Test func updateReplacesTasksAndMetadataAppendsNotesAndKeepsStarted() throws {
        let m = manager()
        let initial = try m.initialize(id: "wf_1", name: "Build", waves: [[.init(id: "old", description: "Old")], [], []],
                                       metadata: [MetadataEntry(key: "owner", value: "me")])
        try manager("someone").addNote("first note")
        let outcome = try m.update(try update(Self.fullUpdate))
        #expect(outcome.event.payload.typeName == "state.replaced")
        let state = outcome.state
        #expect(state.started == initial.state.started)
        #expect(state.notes == ["first note", "second note"])
        #expect(state.metadata == [MetadataEntry(key: "phase", value: "two")])
        #expect(state.task("old") == nil)
        #expect(state.currentWave == 2 && state.tasks.count == 9)
        let md = try #require(readText(dir.file("STATE.md")))
        #expect(md.contains("  - Files: a.py, b.py, c.py (+1 more)"))
        #expect(md.contains("  - Commit: `wave222`"))
    }

    @Test func aTaskListedTwiceKeepsItsFirstPlaceAndLastEntry() throws {
        let u = try update("""
            {"workflow_id": "w", "wave_id": 1, "total_waves": 2,
             "completed_tasks": [{"task_id": "x", "description": "first", "wave_id": 1}, {"task_id": "y", "description": "Y", "wave_id": 1}],
             "current_wave_tasks": [{"task_id": "x", "description": "second", "result": {"error": "e"}}]}
            """)
        #expect(u.tasks.map(\.id) == ["x", "y"])
        #expect(u.tasks[0].description == "second" && u.tasks[0].status == .failed)
    }

    @Test func updateWithoutAWorkflowNeedsAnID() throws {
        badInput(containing: "no 'workflow_id'") { try manager().update(try update(#"{"wave_id": 0, "total_waves": 1}"#)) }
        let outcome = try manager().update(try update(#"{"workflow_id": "wf_n", "wave_id": 0, "total_waves": 1}"#))
        #expect(outcome.state.name == "wf_n" && outcome.state.started == outcome.event.time)
    }

    @Test func malformedUpdatesSayWhatWasExpectedAndWriteNothing() throws {
        try manager().initialize(id: "wf_1", name: "Build", waves: [[], []])
        let before = try manager().events()
        for (text, message) in [
            ("[1]", "the top level must be an object"),
            ("{nope", "not valid JSON"),
            (#"{"total_waves": 2}"#, "'wave_id' (the current wave) is missing"),
            (#"{"wave_id": 1}"#, "'total_waves' is missing"),
            (#"{"wave_id": "one", "total_waves": 2}"#, "'wave_id' must be a whole number"),
            (#"{"wave_id": 3, "total_waves": 2}"#, "beyond 'total_waves'"),
            (#"{"wave_id": 1, "total_waves": 2, "completed_tasks": {}}"#, "'completed_tasks' must be an array"),
            (#"{"wave_id": 1, "total_waves": 2, "current_wave_tasks": [{"description": "x"}]}"#, "has no 'task_id' or 'agent_id'"),
            (#"{"wave_id": 1, "total_waves": 2, "current_wave_tasks": [{"task_id": "x", "result": 5}]}"#, "'result' of task 1"),
            (#"{"wave_id": 1, "total_waves": 2, "pending_waves": [{}]}"#, "pending wave 1 (wave 2) must be an array"),
            (#"{"wave_id": 1, "total_waves": 2, "notes": 5}"#, "'notes' must be an array of strings"),
            (#"{"wave_id": 1, "total_waves": 2, "metadata": []}"#, "'metadata' must be an object"),
        ] {
            badInput(containing: message) { try manager().update(try update(text)) }
            badInput(containing: "expected the earlier tool's update() shape") { _ = try update(text) }
        }
        // Valid JSON whose state is invalid: refused by the fold, nothing written.
        badInput(containing: "outside 1…2") {
            try manager().update(try update(#"{"wave_id": 1, "total_waves": 2, "pending_waves": [[], [{"task_id": "z"}]]}"#))
        }
        badInput(containing: "task id 'bad id'") {
            try manager().update(try update(#"{"wave_id": 1, "total_waves": 2, "current_wave_tasks": [{"task_id": "bad id"}]}"#))
        }
        #expect(try manager().events() == before)
    }

    // MARK: resume info, clear, parse

    @Test func resumeInfoIsWhatTheEarlierToolGave() throws {
        let m = manager()
        #expect(try m.resumeInfo() == nil)
        try m.initialize(id: "wf", name: "N", waves: [[.init(id: "a", description: ""), .init(id: "b", description: "")], [.init(id: "c", description: "")]])
        try m.setWave(1)
        try m.startTask("a")
        try m.completeTask("b")
        var info = try #require(try m.resumeInfo())
        #expect(info.resumeWave == 2)
        #expect(info.completedTasks == ["b"] && info.inProgressTasks == ["a"] && info.pendingTasks == ["c"] && info.failedTasks == [])
        try m.failTask("a", error: "x")
        info = try #require(try m.resumeInfo())
        #expect(info.resumeWave == 1 && info.failedTasks == ["a"])
        let json = info.json()
        for key in ["workflow_id", "workflow_name", "current_wave", "resume_wave", "total_waves", "completed_tasks",
                    "failed_tasks", "pending_tasks", "in_progress_tasks", "started_at", "updated_at"] {
            #expect(json[key] != nil, "missing \(key)")
        }
        let started = try #require(json["started_at"]?.stringValue)
        #expect(started.count == 19 && started.contains("T"))
        #expect(Timestamp(parsing: started)?.microseconds == info.started.microseconds / 1_000_000 * 1_000_000)
    }

    @Test func clearKeepsTheJournalAndCanBeUndone() throws {
        let m = manager()
        try m.initialize(id: "wf", name: "N", waves: [[.init(id: "a", description: "A")]], metadata: [MetadataEntry(key: "k", value: "v")])
        try m.addNote("n")
        let cleared = try m.clear()
        #expect(cleared.event.payload.typeName == "state.replaced")
        #expect(cleared.state.tasks.isEmpty && cleared.state.notes.isEmpty && cleared.state.metadata.isEmpty)
        #expect(cleared.state.workflowID == "wf" && cleared.state.totalWaves == 0)
        #expect(try m.events().count == 3)
        let back = try m.restore(.seq(2))
        #expect(back.state.task("a") != nil && back.state.notes == ["n"])
        let other = TemporaryDirectory()
        let empty = StateManager(configuration: .init(statePath: other.file("STATE.md")))
        do { try empty.clear(); Issue.record("cleared nothing") } catch let e as StateJournalError { #expect(e.code == .notInitialized) }
    }

    @Test func parseAndValidateMarkdownAreThereForParity() throws {
        let text = try #require(readText(packageRoot + "/Fixtures/seed-format/06-complete/STATE.md"))
        let state = try StateManager.parse(text)
        #expect(state.workflowID == "wf_006" && state.tasks.count == 2)
        #expect(StateManager.validateMarkdown(text) == [])
        #expect(!StateManager.validateMarkdown("# Workflow: x\n").isEmpty)
        badInput(containing: "not a STATE.md") { _ = try StateManager.parse("hello") }
    }
}
