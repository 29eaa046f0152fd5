#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Logging
import Synchronization
import StateJournalEngine

/// The entry point of the library: reads and changes one workflow's state.
///
/// Every change is one ``Event``. A write takes the journal's exclusive lock,
/// folds the journal into the current state, checks the event against it,
/// appends it durably and replaces STATE.md — all before it returns, so that
/// the file shows the write. Writers in any number of threads and processes
/// are serialised by the lock; none overwrites another's change.
///
/// ```swift
/// let manager = StateManager(statePath: "STATE.md")
/// try manager.initialize(id: "wf_1", name: "Build", waves: [[.init(id: "t1", description: "Design")]])
/// try manager.write(.taskStarted(taskID: "t1"))
/// try manager.write(.taskCompleted(taskID: "t1", commit: "abc1234", files: ["schema.sql"]))
/// let state = try manager.loadState()
/// ```
public final class StateManager: Sendable {
    /// How a manager identifies itself and waits for the lock.
    public struct Configuration: Sendable {
        /// The projection's path; the journal is `statePath.journal/`.
        package var statePath: String
        /// Who makes the changes, recorded in every event.
        public var actor: String
        /// How long to wait for the writers' lock.
        public var lock: LockPolicy
        /// What the lock holder is doing, shown to writers that time out.
        public var command: String
        /// When STATE.md is rewritten after a write.
        public var projection: ProjectionPolicy
        /// A snapshot is written after this many events since the last one.
        package var snapshotInterval: UInt64
        /// The system-call layer (tests inject faults through it).
        package var fileSystem: FileSystem
        /// The file journal's segment size, record size limit, compression level.
        package var journal: FileJournal.Options
        /// Who an explicit `sync` records an edit of STATE.md as; nil (and
        /// for an edit any other command notices): the edited file's owner.
        package var editActor: String?
        /// The lock projectors of STATE.md take, named by the store: in the
        /// file journal's directory, else (a store elsewhere) beside STATE.md.
        package var projectorLockPath: String {
            separateStore ? statePath + ".projector.lock" : FileJournal.projectorLockPath(forState: statePath)
        }
        /// Whether the journal is not the file journal beside STATE.md (a
        /// database): STATE.md and its lock are then this host's alone.
        package var separateStore = false

        /// - Parameters:
        ///   - statePath: STATE.md's path; the journal is kept beside it.
        ///   - actor: recorded in every event; by default `user@host`.
        ///   - lock: how long to wait for the writers' lock.
        ///   - command: what this process is doing, shown to writers that time out.
        ///   - projection: when STATE.md is rewritten after a write.
        ///   - snapshotInterval: events between snapshots (at least 1).
        public init(statePath: String = "STATE.md", actor: String? = nil, lock: LockPolicy = LockPolicy(),
                    command: String = "statejournal (library)", projection: ProjectionPolicy = .eager,
                    snapshotInterval: UInt64 = 128) {
            self.init(statePath: statePath, actor: actor, lock: lock, command: command, fileSystem: FileSystem(),
                      projection: projection, snapshotInterval: snapshotInterval)
        }

        package init(statePath: String = "STATE.md", actor: String? = nil, lock: LockPolicy = LockPolicy(),
                     command: String = "statejournal (library)", fileSystem: FileSystem,
                     journal: FileJournal.Options = FileJournal.Options(), projection: ProjectionPolicy = .eager,
                     snapshotInterval: UInt64 = 128) {
            self.statePath = statePath
            self.actor = actor ?? StateManager.defaultActor()
            self.editActor = actor
            self.lock = lock
            self.command = command
            self.fileSystem = fileSystem
            self.journal = journal
            self.projection = projection
            self.snapshotInterval = max(snapshotInterval, 1)
        }
    }

    /// When a write rewrites STATE.md.
    public enum ProjectionPolicy: Sendable, Equatable {
        /// Before the write returns (the command line's policy): STATE.md
        /// shows the write, or a later state. Concurrent writers coalesce:
        /// one rewrite can cover several of them.
        case eager
        /// When STATE.md is this many events behind the journal.
        case everyEvents(UInt64)
        /// When STATE.md was last rewritten by this manager at least this
        /// many milliseconds ago.
        case interval(milliseconds: Int64)
        /// Only on ``StateManager/compact()`` or ``StateManager/refreshProjection()``.
        case manual
    }

    /// Conditions on a write.
    public struct WriteOptions: Sendable {
        /// Write only if the journal's last sequence number is this one
        /// (else ``StateJournalError/Code/conflict``).
        public var expectSeq: UInt64?
        /// A key identifying this logical write: if an event with the same key
        /// is in the journal, nothing is written and that event is returned.
        public var idempotencyKey: String?

        /// Conditions on a write; nil means none.
        public init(expectSeq: UInt64? = nil, idempotencyKey: String? = nil) {
            self.expectSeq = expectSeq
            self.idempotencyKey = idempotencyKey
        }
    }

    /// What a write did.
    public struct WriteOutcome: Sendable {
        /// The event written, or the original event of a repeated idempotency key.
        public let event: Event
        /// The state after the event.
        public let state: WorkflowState
        /// True when the idempotency key was seen before and nothing was written.
        public let wasDuplicate: Bool

        package init(event: Event, state: WorkflowState, wasDuplicate: Bool) {
            self.event = event
            self.state = state
            self.wasDuplicate = wasDuplicate
        }
    }

    /// The configuration the manager was made with.
    public let configuration: Configuration
    package let logger: Logger
    /// When this manager last rewrote STATE.md (µs), for ``ProjectionPolicy/interval(milliseconds:)``.
    package let lastProjection = Locked<Int64>(0)
    /// Writes from this process's threads, committed in groups.
    package let writeQueue = WriteQueue()
    /// The state folded by this process's last write, and where the journal
    /// ended then: the next write reads only what was appended since.
    package let foldCache = Locked<FoldCache?>(nil)
    /// What the group-commit leader keeps between batches (nil while a
    /// leader uses it, or before the first write).
    package let writerContext = Locked<WriterContext?>(nil)
    /// How many edits of STATE.md this manager recorded (a read folds again after one).
    package let editsRecorded = Locked<Int>(0)
    /// STATE.md as this manager last rendered it or found it without an edit
    /// (identity, size, modification time): a write does not read it again
    /// while `lstat` says the same.
    package let cleanStateFile = Locked<FileStatus?>(nil)
    /// The bytes of the last edit of STATE.md this manager recorded.
    package let lastRecordedEdit = Locked<[UInt8]?>(nil)

    package struct FoldCache {
        package var folded: Folded
        package var position: JournalPosition
    }
    package let makeStore: @Sendable () -> any JournalStore

    package var statePath: String { configuration.statePath }
    package var backupPath: String { configuration.statePath + ".backup" }
    package var fs: FileSystem { configuration.fileSystem }

    /// - Parameters:
    ///   - configuration: paths, actor and lock policy.
    ///   - logger: where the library reports repairs and warnings; it never prints.
    ///   - store: makes the journal store for one operation; by default the
    ///     file journal beside STATE.md.
    public init(configuration: Configuration, logger: Logger = Logger(label: "statejournal"),
                store: (@Sendable () -> any JournalStore)? = nil) {
        self.configuration = configuration
        self.logger = logger
        let config = configuration
        self.makeStore = store ?? {
            FileJournal(statePath: config.statePath, fileSystem: config.fileSystem, logger: logger, options: config.journal,
                        readLockPolicy: config.lock)
        }
    }

    /// A manager for the workflow whose STATE.md is at `statePath`, with the default configuration.
    public convenience init(statePath: String) {
        self.init(configuration: Configuration(statePath: statePath))
    }

    /// `user@host`, the actor when none is given.
    package static func defaultActor() -> String {
        var user = getenv("USER").map { String(cString: $0) } ?? ""
        if user.isEmpty, let pw = getpwuid(geteuid()), let name = pw.pointee.pw_name { user = String(cString: name) }
        var host = [CChar](repeating: 0, count: 256)
        gethostname(&host, host.count - 1)
        let hostName = String(decoding: host.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return (user.isEmpty ? "unknown" : user) + "@" + (hostName.isEmpty ? "localhost" : hostName)
    }

    // MARK: - Writing

    /// Appends one event, after checking it against the current state under
    /// the lock, and (by the projection policy) replaces STATE.md to show it.
    ///
    /// - Throws: ``StateJournalError`` — `.badInput` when the event does not
    ///   apply (nothing is written), `.conflict` when `expectSeq` does not
    ///   match, `.lockTimeout`, `.io`.
    @discardableResult
    public func write(_ payload: Event.Payload, options: WriteOptions = WriteOptions()) throws -> WriteOutcome {
        try writeDerived(options: options) { _, _ in payload }
    }

    /// Like ``write(_:options:)``, but the payload is made from the state
    /// folded under the lock, so that nothing written between a read and
    /// this write is lost (e.g. `update` appends its notes to the notes
    /// there are *now*).
    ///
    /// - Parameter makePayload: gets the current state (nil before any
    ///   workflow) and the time the event will carry.
    /// - Parameter store: the store to write through (its listing is kept
    ///   while it is current, see ``FileJournal/listingIsCurrent(_:)``);
    ///   by default a new one.
    package func writeDerived(options: WriteOptions, store: (any JournalStore)? = nil,
                      _ makePayload: (_ state: WorkflowState?, _ time: Timestamp) throws -> Event.Payload) throws -> WriteOutcome {
        if let key = options.idempotencyKey, key.isEmpty {
            throw StateJournalError.badInput("the idempotency key is empty; give a non-empty key")
        }
        return try commitThroughQueue(options: options, store: store, makePayload)
    }

    /// Under the lock: appends `events` (already checked against `folded`)
    /// durably, then writes a snapshot when one is due.
    ///
    /// Before appending, checks that the disk has room for STATE.md to be
    /// rewritten, so that a full disk fails the write before anything is
    /// appended rather than after.
    ///
    /// - Returns: the sequence number of the snapshot the journal now has
    ///   (the new one, or `folded`'s), for the next write's cadence.
    @discardableResult
    package func appendEvents(_ events: [Event], after folded: Folded, reaching state: WorkflowState,
                      to store: any JournalStore, context: WriterContext? = nil, linksChecked: Bool = false) throws -> UInt64 {
        try checkRoomForProjection(store, context, linksChecked: linksChecked)
        let rotated = try store.append(events)
        // A snapshot costs about as much as folding as many events as the
        // state has items; waiting at least that long keeps its cost, spread
        // over the writes, at about one event's.
        let size = UInt64(state.tasks.count + state.notes.count + state.metadata.count)
        guard let last = events.last,
              rotated || last.seq - folded.snapshotSeq >= max(configuration.snapshotInterval, size) else { return folded.snapshotSeq }
        var keys = folded.idempotencyKeys
        for event in events { if let key = event.idempotencyKey { keys[key] = event.seq } }
        do {
            try store.writeSnapshot(Snapshot(seq: last.seq, lastTime: last.time, state: state, idempotencyKeys: keys,
                                             lastEventIdentity: last.identity == 0 ? last.computedIdentity() : last.identity))
            return last.seq
        } catch {
            // The events are durable; a missing snapshot only makes opening slower.
            logger.warning("could not write a snapshot; the next write retries", metadata: ["error": "\(error)"])
            return folded.snapshotSeq
        }
    }

    /// Fails with ENOSPC when the state file's file system has less room
    /// than two copies of STATE.md need (the new one and the backup's link).
    ///
    /// With a leader's `context`, the check runs when it can matter: at the
    /// manager's first write, whenever the segment is not the one checked
    /// (a new segment, or the journal changed under it), once
    /// ``roomCheckInterval`` bytes were appended since the last check, and
    /// before every append while the last check found less than
    /// ``roomForSparseChecks`` to spare.
    ///
    /// A symbolic link at STATE.md or the projectors' lock (not allowed)
    /// would fail the projection: refused before appending, on every write
    /// that may rewrite STATE.md (`linksChecked`: the caller just did), and
    /// with each free-space check.
    private func checkRoomForProjection(_ store: any JournalStore, _ context: WriterContext?, linksChecked: Bool) throws {
        func refuseLinks() throws {
            try fs.refuseSymbolicLink(statePath, as: "the state file")
            try fs.refuseSymbolicLink(projectorLockPath, as: "a lock file")
        }
        if !linksChecked, context == nil || configuration.projection != .manual { try refuseLinks() }
        let end = (store as? any PositionedJournalStore)?.endPosition
        if let context, let end, let checked = context.roomChecked, checked.segmentFirstSeq == end.segmentFirstSeq,
           end.offset >= checked.offset, end.offset - checked.offset < context.roomBudget { return }
        context?.roomChecked = nil
        if !linksChecked, context != nil, configuration.projection == .manual { try refuseLinks() }
        let dir = FileSystem.directory(of: statePath)
        guard case .success(let free) = fs.sys.availableSpace(dir) else { return }
        let current = (try? fs.lstat(statePath))??.size ?? 0
        let needed = 2 * current + 64 * 1024
        if free < needed {
            throw StateJournalError.system("write to", dir, .noSpace)
        }
        if let context, let end {
            context.roomChecked = (end.segmentFirstSeq, end.offset)
            context.roomBudget = free - needed >= Self.roomForSparseChecks ? Self.roomCheckInterval : 0
        }
    }

    // MARK: - Reading

    /// The current state, or nil when no workflow was initialised here.
    ///
    /// Reading does not take the writers' lock; if STATE.md is missing,
    /// stale or damaged, it is regenerated, after a damaged file is kept
    /// beside it under a new name.
    public func loadState() throws -> WorkflowState? {
        // Without the writers' lock the store reads only committed events
        // (made durable under the lock), never a write still in progress.
        let edits = editsRecorded.withLock { $0 }
        var folded = try currentFold(makeStore())
        guard folded.state != nil else { return nil }
        do {
            try publish(folded.position, policy: .eager)
            // An edit of STATE.md was recorded meanwhile: answer with it.
            if editsRecorded.withLock({ $0 }) != edits { folded = try currentFold(makeStore()) }
        } catch {
            // A read answers from the journal even where STATE.md cannot be
            // rewritten (a read-only directory); the file stays as it was.
            logger.warning("STATE.md is behind the journal and could not be regenerated; answering from the journal",
                           metadata: ["seq": "\(folded.lastSeq)", "error": "\(error)"])
        }
        return folded.state
    }

    /// Every event in the journal, oldest first.
    package func events() throws -> [Event] {
        try reading { store, _ in
            var events: [Event] = []
            try store.readEvents(after: 0) { events.append($0) }
            return events
        }
    }

    /// One read operation: one store — one listing of the journal
    /// directory, one committed boundary, each segment opened once — for
    /// everything the read asks, after STATE.md was healed from it
    /// (``healBeforeReading(_:)``; `current` is the fold that took, nil when
    /// it failed).
    package func reading<T>(_ body: (_ store: any JournalStore, _ current: Folded?) throws -> T) throws -> T {
        let store = makeStore()
        let current = healBeforeReading(store)
        return try body(store, current)
    }
}
