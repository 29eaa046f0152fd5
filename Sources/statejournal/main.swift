#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ArgumentParser
import StateJournal

// Global options may come before the subcommand (`statejournal --state X task
// start t1`) as well as after it; argument parser only accepts them after, so
// move them there.
let arguments = CommandLine.hoistingGlobalOptions(Array(CommandLine.arguments.dropFirst()))

do {
    var command = try StateJournalCommand.parseAsRoot(arguments)
    try command.run()
    exit(0)
} catch {
    exit(Output.report(error))
}
