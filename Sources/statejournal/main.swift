import StateJournalCLI

// The command line on the file journal. A command given a postgres:// store
// becomes statejournal-pg (StoreOpener.swift).
runCommandLine()
