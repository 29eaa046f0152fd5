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
