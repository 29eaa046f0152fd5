import StateJournalEngine
extension StateManager.Configuration {
    /// Whether STATE.md, its lock files (`PATH.lock`,
    /// `PATH.journal/projector.lock`) and its journal directory may be
    /// symbolic links. Off (the default), each is refused with a
    /// ``StateJournalError/Code/badInput`` error naming it, so that a link
    /// planted beside the state file cannot redirect StateJournal's writes.
    /// On (the command line's `--allow-symlinks`), links are followed: a
    /// symlinked STATE.md is replaced by writing the file it points to (its
    /// backup and damaged copies keep their names beside the link).
    ///
    /// Temporary files are created with `O_EXCL | O_NOFOLLOW` either way.
    public var allowSymlinks: Bool {
        get { fileSystem.allowsSymbolicLinks }
        set { fileSystem.allowsSymbolicLinks = newValue }
    }
}
