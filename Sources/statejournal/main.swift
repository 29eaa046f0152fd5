#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ArgumentParser
import StateJournal

// The simple forms of the one-event write commands skip argument parser
// (FastPath.swift); everything else, including every error in reading the
// arguments, goes through it.
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
