import StateJournalEngine

/// What a manager's group-commit leader keeps from one batch to the next,
/// so that a steady stream of writes through one ``StateManager`` does only
/// what each write must (Docs/PERFORMANCE.md, "The steady-state write").
///
/// One leader at a time uses it: ``StateManager/commit`` takes it from the
/// manager and puts it back before the next leader is chosen, so it is
/// never used by two threads at once.
package final class WriterContext: @unchecked Sendable {
    /// The journal store every batch goes through: for the file journal,
    /// one that keeps the lock file's descriptor, the active segment's
    /// descriptor and what it knows of it between lock holds, and trusts
    /// them at the next hold only after checking that nobody changed the
    /// journal meanwhile (``FileJournal/keepsStateBetweenHolds``).
    package let store: any JournalStore
    /// The projectors' lock, its descriptor kept open between batches.
    package let projectorLock: FileLock
    /// Where the active segment ended when free space was last checked,
    /// and how many bytes may be appended to it before the next check.
    package var roomChecked: (segmentFirstSeq: UInt64, offset: Int64)?
    package var roomBudget: Int64 = 0
    /// Whether a write of this manager found STATE.md present or wrote it:
    /// ``StateManager/ProjectionPolicy/manual`` writes then no longer look.
    package var stateFileSeen = false
    /// What `lstat` of STATE.md said as the projectors' lock was taken.
    package var stateFile: FileStatus?

    init(store: any JournalStore, projectorLock: FileLock) {
        self.store = store
        self.projectorLock = projectorLock
    }
}

extension StateManager {
    /// Free space is checked again once this many journal bytes were
    /// appended since the last check, when that check found at least
    /// ``roomForSparseChecks`` to spare; with less, before every append.
    package static let roomCheckInterval: Int64 = 1 << 20
    package static let roomForSparseChecks: Int64 = 64 << 20

    /// The leader's context, made on first use.
    package func takeWriterContext() -> WriterContext {
        if let kept = writerContext.withLock({ $0.take() }) { return kept }
        let store = makeStore()
        (store as? FileJournal)?.keepsStateBetweenHolds = true
        let lock = FileLock(path: projectorLockPath, fileSystem: fs)
        lock.keepsDescriptor = true
        return WriterContext(store: store, projectorLock: lock)
    }

    /// Hands the context back for the next batch's leader.
    package func returnWriterContext(_ context: WriterContext) {
        writerContext.withLock { $0 = context }
    }
}
