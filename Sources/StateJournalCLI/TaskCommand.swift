import ArgumentParser

/// `statejournal task …`
struct TaskCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "task",
        abstract: "Add, start, claim, complete or fail a task.",
        subcommands: [TaskAdd.self, TaskStart.self, TaskClaim.self, TaskHeartbeat.self, TaskRelease.self,
                      TaskComplete.self, TaskFail.self])
}
