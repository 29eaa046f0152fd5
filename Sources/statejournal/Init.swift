import ArgumentParser
import StateJournal

/// `statejournal init --id ID --name NAME (--plan FILE | --waves N)`
struct Init: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Start a new workflow (an earlier one stays in the history).",
        discussion: """
            The plan is JSON: {"waves": [[{"task_id": "t1", "description": "…"}, …], …], "metadata": {"k": "v"}}.
            """)

    @OptionGroup var global: GlobalOptions
    @OptionGroup var flags: WriteFlags

    @Option(help: ArgumentHelp("The workflow id.", valueName: "id"))
    var id: String

    @Option(help: ArgumentHelp("The workflow's name.", valueName: "name"))
    var name: String

    @Option(help: ArgumentHelp("A JSON plan file, or - for stdin.", valueName: "file"))
    var plan: String?

    @Option(help: ArgumentHelp("Make N empty waves instead of reading a plan.", valueName: "N"))
    var waves: Int?

    func validate() throws {
        if plan != nil && waves != nil { throw ValidationError("give either --plan FILE or --waves N, not both") }
        if plan == nil && waves == nil { throw ValidationError("give --plan FILE (or - for stdin) or --waves N") }
        if let waves, waves < 0 || waves > 10_000 { throw ValidationError("--waves must be between 0 and 10000") }
    }

    func run() throws {
        let parsed: Plan
        if let plan {
            parsed = try Plan.parse(try InputFile.read(plan), source: plan == "-" ? "stdin" : plan)
        } else {
            parsed = Plan(waves: Array(repeating: [], count: waves ?? 0), metadata: [])
        }
        try performWrite(global, flags, command: "init",
                         .workflowInitialized(id: id, name: name, waves: parsed.waves, metadata: parsed.metadata))
    }
}
