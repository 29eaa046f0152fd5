import ArgumentParser
import StateJournal

/// `statejournal init [--id ID] [--name NAME] (--plan FILE | --waves N)`
struct Init: WriteCommand {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Start a new workflow (an earlier one stays in the history).",
        discussion: """
            The plan is JSON: {"waves": [[{"task_id": "t1", "description": "…"}, …], …], "metadata": {"k": "v"}}, \
            or the earlier tool's initialize() arguments: {"workflow_id": "…", "workflow_name": "…", \
            "total_waves": N, "all_waves": [[…]], "metadata": {…}} — then --id and --name may be left out. \
            A task's id is task_id, else agent_id; its description is description, else task, else the \
            first 100 characters of prompt.
            """)

    @ParentCommand var root: StateJournalCommand

    @Option(help: ArgumentHelp("The workflow id (default: the plan's workflow_id).", valueName: "id"))
    var id: String?

    @Option(help: ArgumentHelp("The workflow's name (default: the plan's workflow_name).", valueName: "name"))
    var name: String?

    @Option(help: ArgumentHelp("A JSON plan file, or - for stdin.", valueName: "file"))
    var plan: String?

    @Option(help: ArgumentHelp("Make N empty waves instead of reading a plan.", valueName: "N"))
    var waves: Int?
    @OptionGroup var write: WriteOptions

    func validate() throws {
        if plan != nil && waves != nil { throw ValidationError("give either --plan FILE or --waves N, not both") }
        if plan == nil && waves == nil { throw ValidationError("give --plan FILE (or - for stdin) or --waves N") }
        if let waves, waves < 0 || waves > 10_000 { throw ValidationError("--waves must be between 0 and 10000") }
        if plan == nil && (id == nil || name == nil) { throw ValidationError("give --id ID and --name NAME") }
    }

    func run() throws {
        let parsed: WorkflowPlan
        if let plan {
            parsed = try WorkflowPlan.parse(try InputFile.read(plan, limit: InputFile.eventInputLimit), source: plan == "-" ? "stdin" : plan)
        } else {
            parsed = WorkflowPlan(waves: Array(repeating: [], count: waves ?? 0))
        }
        let manager = global.manager(command: "init")
        try recordWrite(manager, flags) { try manager.initialize(parsed, id: id, name: name, options: flags.options) }
    }
}
