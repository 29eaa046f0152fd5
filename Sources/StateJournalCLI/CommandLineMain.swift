#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ArgumentParser
import StateJournal

/// Runs the command line with this process's arguments and exits with its
/// status: `statejournal` and `statejournal-pg` are this function.
///
/// The simple forms of the one-event write commands skip the argument
/// parser (FastPath.swift); everything else, including every error in
/// reading the arguments, goes through it.
package func runCommandLine() -> Never {
    if let request = FastPath.request(Array(CommandLine.arguments.dropFirst())) {
        do {
            try request.perform()
            exit(0)
        } catch {
            exit(Output.report(error))
        }
    }
    do {
        var command = try StateJournalCommand.parseAsRoot()
        try command.run()
        exit(0)
    } catch {
        exit(Output.report(error))
    }
}
