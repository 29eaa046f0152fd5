import Logging
import StateJournal
import StateJournalModel

extension StateManager {
    /// A manager whose journal is on a PostgreSQL server
    /// (`postgres://USER@HOST:PORT/DATABASE?workflow=NAME`), shared by every
    /// host that names the same workflow; STATE.md at
    /// `configuration.statePath` (with its backup and lock) is this host's
    /// own copy, rendered from the shared journal.
    ///
    /// The password comes from `PGPASSWORD` or the pass file, never from the
    /// URL; a URL with a password is refused.
    /// - Throws: ``StateJournalError/Code/badInput`` when the URL is not one.
    public convenience init(configuration: Configuration, storeURL: String,
                            logger: Logger = Logger(label: "statejournal")) throws {
        let address = try PostgresStoreAddress(parsing: storeURL)
        var config = configuration
        config.separateStore = true
        self.init(configuration: config, logger: logger) {
            PostgresJournalStore(address: address, logger: logger)
        }
    }
}
