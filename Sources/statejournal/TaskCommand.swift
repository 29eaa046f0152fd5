import ArgumentParser

/// `statejournal task …`
struct TaskCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "task",
        abstract: "Add, start, complete or fail a task.",
        subcommands: [TaskAdd.self, TaskStart.self, TaskComplete.self, TaskFail.self])
}
