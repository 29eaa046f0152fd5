import StateJournal
import StateJournalCLI
import StateJournalPostgres

// The command line with the PostgreSQL journal store linked in: what
// `statejournal --store postgres://…` runs. A program of its own so that
// `statejournal` starts without a database client (Foundation, NIO, TLS).
StoreOpener.open = { configuration, url in
    try StateManager(configuration: configuration, storeURL: url, logger: CLILog.logger)
}
runCommandLine()
