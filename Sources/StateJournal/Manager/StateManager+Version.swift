extension StateManager {
    /// The version of StateJournal: what `statejournal --version` prints.
    /// The on-disk format has its own version (Docs/FORMAT.md), checked in
    /// every file header.
    public static let version = "0.9.0"
}
