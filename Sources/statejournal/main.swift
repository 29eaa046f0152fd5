#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ArgumentParser
import StateJournal

do {
    var command = try StateJournalCommand.parseAsRoot()
    try command.run()
    exit(0)
} catch {
    exit(Output.report(error))
}
