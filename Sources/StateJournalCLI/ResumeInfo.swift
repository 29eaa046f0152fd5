import ArgumentParser
import StateJournal

/// `statejournal resume-info [--json]`
struct ResumeInfoCommand: GlobalCommand, Exemplified {
    static let configuration = CommandConfiguration(
        commandName: "resume-info",
        abstract: "What an orchestrator needs to resume, as the earlier tool gave it.",
        discussion: """
            --json prints {"workflow_id", "workflow_name", "current_wave", "resume_wave" (the current \
            wave if any task failed, else the next), "total_waves", "completed_tasks", "failed_tasks", \
            "pending_tasks", "in_progress_tasks", "started_at", "updated_at" (local time, \
            YYYY-MM-DDTHH:MM:SS, as the earlier tool printed), "seq"}; null when there is no workflow.
            """)

    static let examples = [
        "statejournal resume-info",
        "statejournal resume-info --json",
    ]

    @ParentCommand var root: StateJournalCommand
    @Flag(help: "Print JSON.") var json = false
    @OptionGroup(title: "Global options") var trailing: GlobalOptions<Trailing>

    func run() throws {
        // No workflow: null and exit 0, as the earlier tool's get_resume_info()
        // returned None; the message is every command's.
        let info: ResumeInfo?
        do {
            info = try global.existingManager(command: "resume-info").resumeInfo()
        } catch let error as CLIError where error.code == "not_initialized" {
            info = nil
        }
        guard let info else {
            if json { Output.stdout("null") }
            let none = CLIError.noWorkflow(at: global.statePath)
            Output.stderr("\(none.message); nothing to resume" + (none.hint.map { "\nhint: \($0)" } ?? ""))
            return
        }
        if json {
            Output.stdout(info.json().prettyString())
            return
        }
        func list(_ ids: [String]) -> String { ids.isEmpty ? "none" : ids.joined(separator: ", ") }
        let done = info.completedTasks.count
        let all = done + info.failedTasks.count + info.pendingTasks.count + info.inProgressTasks.count
        let open = all - done
        // resume_wave past the last wave (the earlier tool's meaning) does not
        // mean the work is done: say what is still open.
        let past = info.resumeWave > info.totalWaves
            ? (open == 0 ? " (every wave done)" : " (past the last wave; \(open) task\(open == 1 ? " is" : "s are") not completed)") : ""
        Output.stdout("""
            workflow:    \(info.workflowID) (\(Terminal.oneLine(info.workflowName)))
            wave:        \(info.currentWave)/\(info.totalWaves); resume at wave \(info.resumeWave)\(past)
            progress:    \(done) of \(all) task\(all == 1 ? "" : "s") completed (\(Progress.percent(done, of: all))%)
            completed:   \(list(info.completedTasks))
            in progress: \(list(info.inProgressTasks))
            failed:      \(list(info.failedTasks))
            pending:     \(list(info.pendingTasks))
            started:     \(info.started.localDateTime)
            updated:     \(info.updated.localDateTime) (seq \(info.seq))
            """)
    }
}
