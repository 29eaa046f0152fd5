#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Logging
import NIOCore
import PostgresNIO
import Synchronization
import StateJournalModel
import StateJournalEngine

/// The ``JournalStore`` on a PostgreSQL server: one workflow's events, keyed
/// by (workflow, seq), in a table several hosts share.
///
/// The writers' lock is the workflow's transaction-scoped advisory lock
/// (`pg_advisory_xact_lock`): ``withWriteLock(_:command:_:)`` opens a
/// transaction, takes the lock (waiting at most the policy's timeout, as
/// `lock_timeout`), runs the writer's fold, checks and append inside it, and
/// commits with `synchronous_commit = on`. Only when the commit returned are
/// the appended events durable, so the lock's caller learns of a failed
/// commit from ``withWriteLock(_:command:_:)`` throwing — and answers no
/// writer before it returns. The primary key keeps sequence numbers unique
/// across hosts even if two writers ever believed they held the lock.
package final class PostgresJournalStore: PositionedJournalStore, @unchecked Sendable {
    package static let eventsTable = "statejournal_events"
    package static let snapshotsTable = "statejournal_snapshots"

    package let address: PostgresStoreAddress
    let logger: Logger
    let nioLogger: Logger
    var connection: PostgresConnection?
    /// Whether a transaction holding the writers' lock is open.
    var holding = false
    /// The events appended in the current lock hold.
    var appended: ClosedRange<UInt64>?
    /// The SQLSTATE of the last statement that failed on the server.
    var lastSQLState: String?
    var lastRead: JournalPosition?

    package var location: String { address.description }
    package var endPosition: JournalPosition? { holding ? lastRead : nil }

    package init(address: PostgresStoreAddress, logger: Logger) {
        self.address = address
        self.logger = logger
        var quiet = Logger(label: "statejournal.postgres-nio")
        quiet.logLevel = .critical
        self.nioLogger = quiet
    }

    deinit {
        if let connection {
            if !holding { PostgresConnector.shared.giveBack(connection, address) }
            else { let closing: EventLoopFuture<Void> = connection.close(); _ = closing }
        }
    }

    // MARK: - Connection and statements

    func conn() throws -> PostgresConnection {
        if let connection, !connection.isClosed { return connection }
        if holding {
            // A transaction's connection is never replaced mid-transaction.
            throw lost(doing: "continue the transaction on")
        }
        let made = try PostgresConnector.shared.connection(address, logger: nioLogger)
        connection = made
        if !PostgresConnector.shared.schemaChecked(address) {
            try createSchema(made)
            PostgresConnector.shared.markSchemaChecked(address)
        }
        return made
    }

    func lost(doing operation: String) -> StateJournalError {
        StateJournalError(.io, "the connection to PostgreSQL at \(address) was lost (trying to \(operation) it); check that the server runs, then retry")
    }

    /// How long a statement may take before the connection is given up:
    /// a server that stops answering (a failover, a network partition)
    /// must not hang a writer forever.
    package static let statementDeadline: Int64 = 120

    @discardableResult
    func run(_ query: PostgresQuery, _ operation: String = "query", deadline: Int64 = statementDeadline) throws -> PostgresQueryResult {
        let c = try conn()
        do {
            guard !c.isClosed else { throw ConnectionGone() }
            return try Self.waitBounded(c.query(query, logger: nioLogger), on: c, seconds: deadline)
        } catch {
            lastSQLState = PostgresStoreError.sqlState(error)
            let lost = PostgresStoreError.isConnectionLost(error) || c.isClosed
            if lost { connection = nil }
            let described = PostgresStoreError.describe(error, doing: operation, address)
            if lost && holding && query.sql != "COMMIT" {
                // The connection went inside the transaction, before COMMIT
                // was sent: the server rolls it back, nothing of it is kept.
                throw StateJournalError(.io, described.message + "; the transaction was never committed, so nothing was written",
                                        path: described.path, errno: described.errno)
            }
            throw described
        }
    }

    /// Waits on the caller's thread (never an event loop's) for `future`;
    /// after `seconds` the connection is closed and the wait fails as a lost
    /// connection.
    package static func waitBounded<T: Sendable>(_ future: EventLoopFuture<T>, on connection: PostgresConnection, seconds: Int64) throws -> T {
        let promise = future.eventLoop.makePromise(of: T.self)
        let once = Once()
        future.whenComplete { result in if once.claim() { promise.completeWith(result) } }
        let timer = future.eventLoop.scheduleTask(in: .seconds(seconds)) {
            if once.claim() {
                promise.fail(ConnectionGone())
                let closing: EventLoopFuture<Void> = connection.close()
                _ = closing
            }
        }
        defer { timer.cancel() }
        return try promise.futureResult.wait()
    }

    func createSchema(_ c: PostgresConnection) throws {
        let statements: [PostgresQuery] = [
            "BEGIN",
            "SELECT pg_advisory_xact_lock(7315987260101)",
            """
            CREATE TABLE IF NOT EXISTS statejournal_events (
                workflow text NOT NULL,
                seq bigint NOT NULL CHECK (seq > 0),
                checksum bigint NOT NULL,
                actor text NOT NULL,
                pid integer NOT NULL,
                host text NOT NULL,
                time_us bigint NOT NULL,
                idempotency_key text,
                event text NOT NULL,
                PRIMARY KEY (workflow, seq))
            """,
            "CREATE UNIQUE INDEX IF NOT EXISTS statejournal_events_idempotency ON statejournal_events (workflow, idempotency_key) WHERE idempotency_key IS NOT NULL",
            "CREATE INDEX IF NOT EXISTS statejournal_events_time ON statejournal_events (workflow, time_us)",
            """
            CREATE TABLE IF NOT EXISTS statejournal_snapshots (
                workflow text NOT NULL,
                seq bigint NOT NULL,
                body bytea NOT NULL,
                PRIMARY KEY (workflow, seq))
            """,
            "COMMIT",
        ]
        do {
            for statement in statements { _ = try Self.waitBounded(c.query(statement, logger: nioLogger), on: c, seconds: Self.statementDeadline) }
        } catch {
            if !c.isClosed { _ = try? Self.waitBounded(c.query("ROLLBACK", logger: nioLogger), on: c, seconds: 10) }
            throw PostgresStoreError.describe(error, doing: "create the journal's tables on", address)
        }
    }

    // MARK: - The lock

    package func withWriteLock<T>(_ policy: LockPolicy, command: String, _ body: () throws -> T) throws -> T {
        guard !holding else { return try body() }
        // The server's lock_timeout is at most 2,147,483,647 ms (~24.8 days);
        // a longer wait (or an infinite or absurd one) is that maximum.
        let maxMS = 2_147_483_647.0
        let wanted = (policy.timeout * 1000).rounded(.up)
        let timeoutMS = Int64(wanted.isFinite ? min(max(1, wanted), maxMS) : maxMS)
        let workflow = address.workflow
        do {
            try run("BEGIN", "begin a transaction on")
            holding = true
            appended = nil
            // One round trip: the transaction's settings, then the lock
            // (the select list is evaluated left to right).
            try run("""
                SELECT set_config('lock_timeout', \(String(timeoutMS) + "ms"), true),
                       set_config('synchronous_commit', 'on', true),
                       set_config('application_name', \(String(command.prefix(60))), true),
                       pg_advisory_xact_lock(hashtextextended('statejournal:' || \(workflow), 0))
                """, "lock the workflow on",
                    deadline: timeoutMS / 1000 + 1 + Self.statementDeadline)
        } catch let error as StateJournalError {
            let state = lastSQLState
            rollBack()
            if state == "55P03" {
                throw StateJournalError(.lockTimeout,
                    "could not lock workflow '\(workflow)' on PostgreSQL at \(address) within \(Self.seconds(policy.timeout)): "
                    + "another writer holds it\(holderDescription()); retry later, or raise --lock-timeout")
            }
            throw error
        }
        let result: T
        do {
            result = try body()
        } catch {
            rollBack()
            throw error
        }
        let appended = self.appended
        do {
            let committed = try run("COMMIT", "commit on")
            holding = false
            if committed.metadata.command != "COMMIT" {
                throw StateJournalError(.io, "PostgreSQL at \(address) rolled the transaction back instead of committing it; nothing was written — retry")
            }
        } catch let error as StateJournalError {
            holding = false
            if let appended, connection == nil {
                let events = appended.count == 1 ? "event seq \(appended.lowerBound)" : "events seq \(appended.lowerBound)…\(appended.upperBound)"
                throw StateJournalError(.io,
                    "the connection to PostgreSQL at \(address) was lost while committing \(events): they may or may not be in the journal; "
                    + "retry the same command with the same --idempotency-key (it reports the event if it was committed, and writes nothing twice), "
                    + "or check with 'statejournal log -n 5'")
            }
            throw error
        }
        return result
    }

    func rollBack() {
        if holding, let connection, !connection.isClosed {
            _ = try? Self.waitBounded(connection.query("ROLLBACK", logger: nioLogger), on: connection, seconds: 10)
        }
        holding = false
    }

    /// ", as seen: <application name> (pid N)" for the advisory lock's holder, when visible.
    func holderDescription() -> String {
        guard let rows = try? run("""
            SELECT coalesce(a.application_name, ''), coalesce(host(a.client_addr), 'local'), a.pid
            FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
            WHERE l.locktype = 'advisory' AND l.granted
              AND l.objsubid = 1
              AND l.classid::bigint = ((hashtextextended('statejournal:' || \(address.workflow), 0) >> 32) & 4294967295)
              AND l.objid::bigint = (hashtextextended('statejournal:' || \(address.workflow), 0) & 4294967295)
            LIMIT 1
            """) else { return "" }
        for row in rows.rows {
            if let (name, client, pid) = try? row.decode((String, String, Int32).self) {
                return " (\(name.isEmpty ? "a session" : name) from \(client), server pid \(pid))"
            }
        }
        return ""
    }

    static func seconds(_ value: Double) -> String {
        value == value.rounded() ? "\(Int(value)) s" : "\(value) s"
    }

    // MARK: - Writing

    @discardableResult
    package func append(_ events: [Event]) throws -> Bool {
        guard holding else {
            throw StateJournalError(.io, "internal: an append to \(location) without the writers' lock")
        }
        guard let first = events.first, let last = events.last else { return false }
        let workflow = address.workflow
        let host = Self.hostName
        var lastIdentity: UInt32 = 0
        for event in events {
            let bytes = event.json().encoded()
            let identity = bytes.withUnsafeBytes { CRC32C.maskedFramed($0) }
            lastIdentity = identity
            let text = String(decoding: bytes, as: UTF8.self)
            do {
                try run("""
                    INSERT INTO statejournal_events (workflow, seq, checksum, actor, pid, host, time_us, idempotency_key, event)
                    VALUES (\(workflow), \(Int64(event.seq)), \(Int64(identity)), \(event.actor), \(event.pid), \(host),
                            \(event.time.microseconds), \(event.idempotencyKey), \(text))
                    """, "append to")
            } catch let error as StateJournalError where lastSQLState == "23505" {
                _ = error
                throw StateJournalError(.conflict,
                    "\(location) already holds seq \(event.seq) or its idempotency key (another writer got past the lock?); nothing was written — retry")
            }
        }
        appended = (appended?.lowerBound ?? first.seq)...last.seq
        // Where the journal ends in this transaction (the fold cache's
        // position; dropped by the writer if the commit fails).
        lastRead = JournalPosition(seq: last.seq, identity: lastIdentity)
        return false
    }

    package func writeSnapshot(_ snapshot: Snapshot) throws {
        let body = SnapshotFormat.encode(snapshot, position: nil)
        let workflow = address.workflow
        var buffer = ByteBuffer()
        buffer.writeBytes(body)
        let inTransaction = holding
        // Inside the writer's transaction a failed snapshot must not abort
        // the events' commit: a savepoint confines it.
        if inTransaction { try run("SAVEPOINT statejournal_snapshot", "write a snapshot to") }
        do {
            try run("""
                INSERT INTO statejournal_snapshots (workflow, seq, body) VALUES (\(workflow), \(Int64(snapshot.seq)), \(buffer))
                ON CONFLICT (workflow, seq) DO UPDATE SET body = EXCLUDED.body
                """, "write a snapshot to")
            if inTransaction { try run("RELEASE SAVEPOINT statejournal_snapshot", "write a snapshot to") }
        } catch {
            if inTransaction, connection != nil { _ = try? run("ROLLBACK TO SAVEPOINT statejournal_snapshot") }
            throw error
        }
    }

    package func latestSnapshot(atOrBefore seq: UInt64) throws -> Snapshot? {
        let workflow = address.workflow
        let result = try run("""
            SELECT seq, body FROM statejournal_snapshots WHERE workflow = \(workflow) AND seq <= \(Int64(clamping: seq))
            ORDER BY seq DESC LIMIT 4
            """, "read snapshots from")
        for row in result.rows {
            guard let (snapSeq, body) = try? row.decode((Int64, ByteBuffer).self) else { continue }
            switch SnapshotFormat.decode(Array(body.readableBytesView)) {
            case .success(let (snapshot, _)) where snapshot.seq == UInt64(snapSeq):
                return snapshot
            case .success:
                logger.warning("a snapshot's row does not match its content; passed over", metadata: ["seq": "\(snapSeq)"])
            case .failure(let problem):
                logger.warning("a damaged snapshot is passed over", metadata: ["seq": "\(snapSeq)", "problem": "\(problem)"])
            }
        }
        return nil
    }

}

/// A connection closed, or given up after ``PostgresJournalStore/statementDeadline``.
package struct ConnectionGone: Error {}

/// A flag that can be claimed once, from any thread.
private final class Once: Sendable {
    let claimed = Mutex(false)
    func claim() -> Bool { claimed.withLock { was in defer { was = true }; return !was } }
}
