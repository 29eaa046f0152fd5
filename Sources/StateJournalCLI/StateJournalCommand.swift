import ArgumentParser
import StateJournal

/// `statejournal`: the root command.
struct StateJournalCommand: ParsableCommand, Exemplified {
    static let configuration = CommandConfiguration(
        commandName: "statejournal",
        abstract: "Keep a workflow's STATE.md safe when many processes update it at once.",
        discussion: """
            Every change is appended as a checksummed, fsynced event to STATE.md.journal/; \
            STATE.md is regenerated from the journal when a command returns.
            Exit status: 0 success, 2 bad input, 3 lock timeout, 4 conflict, 5 corruption, 1 other errors.
            """,
        version: "statejournal \(StateManager.version)",
        subcommands: [
            Init.self, TaskCommand.self, WaveCommand.self, Note.self, MetaCommand.self,
            Update.self, Restore.self, Undo.self, Clear.self, Import.self,
            Status.self, Next.self, Brief.self, Show.self, Log.self, Blame.self, Replay.self, ResumeInfoCommand.self, Export.self,
            Validate.self, Sync.self, Compact.self, Verify.self, Migrate.self, MCPCommand.self, Completion.self,
        ]
    )

    static let examples = [
        "statejournal init --example > plan.json && statejournal init --id wf_1 --name \"Build\" --plan plan.json",
        "statejournal task start task_1 --actor agent-3",
        "statejournal status",
        "statejournal log -n 10",
    ]

    /// Global options given before the subcommand.
    @OptionGroup var leading: GlobalOptions<Leading>
}
