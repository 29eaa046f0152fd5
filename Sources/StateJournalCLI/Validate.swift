import ArgumentParser
import StateJournal

/// `statejournal validate FILE`
struct Validate: GlobalCommand, Exemplified {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check a markdown file against the STATE.md format; exit 2 if it has problems.")

    static let examples = [
        "statejournal validate STATE.md",
        "statejournal validate - --json < other.md",
    ]

    @ParentCommand var root: StateJournalCommand
    @Argument(help: "The file to check (- for stdin).") var file: String
    @Flag(help: "Print the problems as a JSON array.") var json = false
    @OptionGroup(title: "Global options") var trailing: GlobalOptions<Trailing>

    func run() throws {
        let text = String(decoding: try InputFile.read(file), as: UTF8.self)
        let problems = MarkdownValidator.validate(text)
        if json {
            Output.json(.array(problems.map { .obj(["line": .int(Int64($0.line)), "message": .string($0.message)]) }))
        } else {
            for problem in problems { Output.stdout("\(file):\(problem.line): \(problem.message)") }
        }
        if problems.isEmpty {
            if !json { Output.stderr("\(file): valid") }
        } else {
            throw CLIError.badInput("\(file): \(problems.count) problem\(problems.count == 1 ? "" : "s")",
                                    hint: "Docs/FORMAT.md (STATE.md) describes every line")
        }
    }
}
