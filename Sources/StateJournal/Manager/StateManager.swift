#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Logging

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
/// try manager.startTask("t1")
/// try manager.completeTask("t1", commit: "abc1234", files: ["schema.sql"])
/// let state = try manager.loadState()
/// ```
public final class StateManager: Sendable {
    /// How a manager identifies itself and waits for the lock.
    public struct Configuration: Sendable {
        /// The projection's path; the journal is `statePath.journal/`.
        public var statePath: String
        /// Who makes the changes, recorded in every event.
        public var actor: String
        public var lock: LockPolicy
        /// What the lock holder is doing, shown to writers that time out.
        public var command: String
        public var fileSystem: FileSystem
        /// The largest event the journal accepts, in bytes.
        public var maximumRecordSize: Int

        public init(statePath: String = "STATE.md", actor: String? = nil, lock: LockPolicy = LockPolicy(),
                    command: String = "statejournal (library)", fileSystem: FileSystem = FileSystem(),
                    maximumRecordSize: Int = RecordFormat.defaultMaximumRecordSize) {
            self.statePath = statePath
            self.actor = actor ?? StateManager.defaultActor()
            self.lock = lock
            self.command = command
            self.fileSystem = fileSystem
            self.maximumRecordSize = maximumRecordSize
        }
    }

    /// Conditions on a write.
    public struct WriteOptions: Sendable {
        /// Write only if the journal's last sequence number is this one
        /// (else ``StateJournalError/Code/conflict``).
        public var expectSeq: UInt64?
        /// A key identifying this logical write: if an event with the same key
        /// is in the journal, nothing is written and that event is returned.
        public var idempotencyKey: String?

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
    }

    public let configuration: Configuration
    let logger: Logger
    let makeStore: @Sendable () -> any JournalStore

    public var statePath: String { configuration.statePath }
    public var backupPath: String { configuration.statePath + ".backup" }
    var fs: FileSystem { configuration.fileSystem }

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
            FileJournal(statePath: config.statePath, fileSystem: config.fileSystem, logger: logger,
                        maximumRecordSize: config.maximumRecordSize)
        }
    }

    public convenience init(statePath: String) {
        self.init(configuration: Configuration(statePath: statePath))
    }

    /// `user@host`, the actor when none is given.
    public static func defaultActor() -> String {
        var user = getenv("USER").map { String(cString: $0) } ?? ""
        if user.isEmpty, let pw = getpwuid(geteuid()), let name = pw.pointee.pw_name { user = String(cString: name) }
        var host = [CChar](repeating: 0, count: 256)
        gethostname(&host, host.count - 1)
        let hostName = String(decoding: host.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return (user.isEmpty ? "unknown" : user) + "@" + (hostName.isEmpty ? "localhost" : hostName)
    }

    // MARK: - Folding

    /// The journal folded: the state and what writers need to know.
    struct Folded {
        var state: WorkflowState?
        var lastSeq: UInt64 = 0
        var lastTime = Timestamp(microseconds: 0)
        var idempotencyKeys: [String: Event] = [:]
    }

    func fold(_ store: any JournalStore, upTo limit: UInt64 = .max) throws -> Folded {
        var folded = Folded()
        let last = try store.readEvents(after: 0) { event in
            guard event.seq <= limit else { return }
            do {
                folded.state = try WorkflowState.applying(event, to: folded.state)
            } catch {
                throw StateJournalError(.corruption,
                    "event \(event.seq) (\(event.payload.typeName)) in '\(store.location)' does not apply to the state before it: \(error)",
                    path: store.location)
            }
            folded.lastSeq = event.seq
            folded.lastTime = max(folded.lastTime, event.time)
            if let key = event.idempotencyKey { folded.idempotencyKeys[key] = event }
        }
        if limit == .max && last != folded.lastSeq {
            folded.lastSeq = last
        }
        return folded
    }

    // MARK: - Writing

    /// Appends one event, after checking it against the current state under
    /// the lock, and replaces STATE.md to show it.
    ///
    /// - Throws: ``StateJournalError`` — `.badInput` when the event does not
    ///   apply (nothing is written), `.conflict` when `expectSeq` does not
    ///   match, `.lockTimeout`, `.io`.
    @discardableResult
    public func write(_ payload: Event.Payload, options: WriteOptions = WriteOptions()) throws -> WriteOutcome {
        if let key = options.idempotencyKey, key.isEmpty {
            throw StateJournalError.badInput("the idempotency key is empty; give a non-empty key")
        }
        let store = makeStore()
        return try store.withWriteLock(configuration.lock, command: configuration.command) {
            let folded = try fold(store)
            if let key = options.idempotencyKey, let original = folded.idempotencyKeys[key], let state = folded.state {
                try healProjection(state, lastSeq: folded.lastSeq)
                return WriteOutcome(event: original, state: state, wasDuplicate: true)
            }
            if let expected = options.expectSeq, expected != folded.lastSeq {
                throw StateJournalError(.conflict,
                    "the journal is at seq \(folded.lastSeq), not \(expected) as expected; nothing was written — reread the state and retry")
            }
            let event = Event(seq: folded.lastSeq + 1, time: max(Timestamp.now(), folded.lastTime),
                              actor: configuration.actor, pid: getpid(), idempotencyKey: options.idempotencyKey,
                              payload: payload)
            let state = try WorkflowState.applying(event, to: folded.state)
            // STATE.md is written (not yet visible) before the journal, so a
            // full disk fails the write before anything is appended.
            let pending = try fs.prepareReplacement(of: statePath, with: Array(MarkdownRenderer.render(state).utf8))
            do {
                try store.append([event])
            } catch {
                fs.discard(pending)
                throw error
            }
            do {
                try fs.commit(pending, backup: backupPath)
            } catch {
                // The event is durable but STATE.md could not be replaced:
                // the next command regenerates STATE.md from the journal.
                logger.warning("journal updated but STATE.md was not replaced; it will be regenerated",
                               metadata: ["error": "\(error)"])
                throw StateJournalError(.io, "seq \(event.seq) is in the journal, but replacing '\(statePath)' failed (\(error)); "
                    + "the next statejournal command regenerates it", path: statePath)
            }
            return WriteOutcome(event: event, state: state, wasDuplicate: false)
        }
    }

    // MARK: - Reading

    /// The current state, or nil when no workflow was initialised here.
    ///
    /// Reading does not take the lock; if STATE.md is missing, stale or
    /// damaged, it is regenerated (under the lock), after a damaged file is
    /// kept beside it under a new name.
    public func loadState() throws -> WorkflowState? {
        let store = makeStore()
        let folded = try fold(store)
        guard let state = folded.state else { return nil }
        if try projectionStatus(expectedSeq: folded.lastSeq) != .current {
            try withFreshState { state, lastSeq in try healProjection(state, lastSeq: lastSeq) }
        }
        return state
    }

    /// Every event in the journal, oldest first.
    public func events() throws -> [Event] {
        var events: [Event] = []
        try makeStore().readEvents(after: 0) { events.append($0) }
        return events
    }

    /// Runs `body` under the lock with the state folded there.
    func withFreshState<T>(_ body: (WorkflowState, UInt64) throws -> T) throws -> T? {
        let store = makeStore()
        return try store.withWriteLock(configuration.lock, command: configuration.command) {
            let folded = try fold(store)
            guard let state = folded.state else { return nil }
            return try body(state, folded.lastSeq)
        }
    }
}
