import ArgumentParser
import StateJournal

/// `statejournal wave set N`
struct WaveCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "wave", abstract: "Change the current wave.",
                                                    subcommands: [WaveSet.self])
}

struct WaveSet: OneEventCommand {
    static let configuration = CommandConfiguration(commandName: "set", abstract: "Make wave N the current wave (0: none yet).")

    @OptionGroup var write: WriteOptions
    @ParentCommand var root: StateJournalCommand
    @Argument(help: "The wave.") var wave: Int

    var event: OneEventWrite { .waveSet(wave: wave) }
}
