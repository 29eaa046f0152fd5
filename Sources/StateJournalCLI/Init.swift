import ArgumentParser
import StateJournal

/// `statejournal init [--id ID] [--name NAME] (--plan FILE | --waves N) [--lenient] | --example`
struct Init: WriteCommand, Exemplified {
    static let configuration = CommandConfiguration(
        commandName: "init",
        abstract: "Start a new workflow (an earlier one stays in the history).",
        discussion: """
            The plan is JSON: {"waves": [[{"task_id": "t1", "description": "…"}, …], …], "metadata": {"k": "v"}}, \
            or the earlier tool's initialize() arguments: {"workflow_id": "…", "workflow_name": "…", \
            "total_waves": N, "all_waves": [[…]], "metadata": {…}} — then --id and --name may be left out. \
            A task's id is task_id, else agent_id (else wave{W}_task{N}, with a warning); its description \
            is description, else task, else the first 100 characters of prompt. Unknown keys are refused \
            unless --lenient. 'init --example' prints a sample plan. The state path's directory is made \
            when it does not exist.
            """)

    static let examples = [
        "statejournal init --example > plan.json",
        "statejournal init --id wf_1 --name \"Build auth service\" --plan plan.json",
        "statejournal init --id wf_2 --name \"Empty\" --waves 3 --state work/STATE.md",
    ]

    /// What `init --example` prints: a plan of two waves (README, Using it).
    static let examplePlan = """
        {
          "waves": [
            [
              {"task_id": "task_1", "description": "Design the schema"},
              {"task_id": "task_2", "description": "Write the migration"}
            ],
            [
              {"task_id": "task_3", "description": "Deploy"}
            ]
          ],
          "metadata": {"owner": "platform"}
        }
        """

    @ParentCommand var root: StateJournalCommand

    @Option(help: ArgumentHelp("The workflow id (default: the plan's workflow_id).", valueName: "id"))
    var id: String?

    @Option(help: ArgumentHelp("The workflow's name (default: the plan's workflow_name).", valueName: "name"))
    var name: String?

    @Option(help: ArgumentHelp("A JSON plan file, or - for stdin.", valueName: "file"))
    var plan: String?

    @Option(help: ArgumentHelp("Make N empty waves instead of reading a plan.", valueName: "N"))
    var waves: Int?

    @Flag(help: "Ignore unknown keys in the plan (with a warning) instead of refusing it.")
    var lenient = false

    @Flag(help: "Print a sample plan on stdout and exit (writes nothing).")
    var example = false

    @OptionGroup var write: WriteOptions

    func validate() throws {
        if example { return }
        if plan != nil && waves != nil { throw ValidationError("give either --plan FILE or --waves N, not both") }
        if plan == nil && waves == nil { throw ValidationError("give --plan FILE (or - for stdin) or --waves N (a sample plan: 'statejournal init --example')") }
        if let waves, waves < 0 || waves > 10_000 { throw ValidationError("--waves must be between 0 and 10000") }
        if plan == nil && (id == nil || name == nil) { throw ValidationError("give --id ID and --name NAME") }
    }

    func run() throws {
        if example {
            Output.stdout(Self.examplePlan)
            return
        }
        let parsed: WorkflowPlan
        if let plan {
            let read = try WorkflowPlan.parse(try InputFile.read(plan, limit: InputFile.eventInputLimit),
                                              source: plan == "-" ? "stdin" : plan, lenient: lenient)
            for warning in read.warnings { Output.warning(warning) }
            parsed = read.plan
        } else {
            parsed = WorkflowPlan(waves: Array(repeating: [], count: waves ?? 0))
        }
        // Checked before anything is made (a directory, a lock file).
        guard let workflowID = id ?? parsed.workflowID else {
            throw StateJournalError.badInput("no workflow id: give --id ID, or 'workflow_id' in the plan")
        }
        guard let workflowName = name ?? parsed.name else {
            throw StateJournalError.badInput("no workflow name: give --name NAME, or 'workflow_name' in the plan")
        }
        let payload = Event.Payload.workflowInitialized(id: workflowID, name: workflowName, waves: parsed.waves, metadata: parsed.metadata)
        _ = try WorkflowState.applying(Event(seq: 1, time: .now(), actor: "check", pid: 0, payload: payload), to: nil)
        try global.withStateDirectory {
            let manager = try global.manager(command: "init")
            try recordWrite(manager, flags) { try manager.write(payload, options: flags.options) }
        }
    }
}
