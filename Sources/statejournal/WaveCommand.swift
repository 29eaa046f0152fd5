import ArgumentParser
import StateJournal

/// `statejournal wave set N`
struct WaveCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "wave", abstract: "Change the current wave.",
                                                    subcommands: [WaveSet.self])
}

struct WaveSet: GlobalCommand {
    static let configuration = CommandConfiguration(commandName: "set", abstract: "Make wave N the current wave (0: none yet).")

    @OptionGroup var trailing: GlobalOptions<Trailing>
    @ParentCommand var root: StateJournalCommand
    @OptionGroup var flags: WriteFlags
    @Argument(help: "The wave.") var wave: Int

    func run() throws {
        try performWrite(global, flags, command: "wave set \(wave)", .waveSet(wave: wave))
    }
}
