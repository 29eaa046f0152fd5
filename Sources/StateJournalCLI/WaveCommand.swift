import ArgumentParser
import StateJournal

/// `statejournal wave set N`
struct WaveCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "wave", abstract: "Change the current wave.",
                                                    subcommands: [WaveSet.self])
}

struct WaveSet: OneEventCommand, Exemplified {
    static let configuration = CommandConfiguration(commandName: "set", abstract: "Make wave N the current wave (0: none yet).")

    static let examples = [
        "statejournal wave set 2",
        "statejournal wave set 2 --expect-seq 8   # only if nobody wrote since seq 8",
    ]

    @ParentCommand var root: StateJournalCommand
    @Argument(help: "The wave.") var wave: Int
    @OptionGroup var write: WriteOptions

    var event: OneEventWrite { .waveSet(wave: wave) }
}
