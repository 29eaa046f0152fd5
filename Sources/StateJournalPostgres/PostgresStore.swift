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
    private let logger: Logger
    private let nioLogger: Logger
    private var connection: PostgresConnection?
    /// Whether a transaction holding the writers' lock is open.
    private var holding = false
    /// The events appended in the current lock hold.
    private var appended: ClosedRange<UInt64>?
    /// The SQLSTATE of the last statement that failed on the server.
    private var lastSQLState: String?
    private var lastRead: JournalPosition?

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

    private func conn() throws -> PostgresConnection {
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

    private func lost(doing operation: String) -> StateJournalError {
        StateJournalError(.io, "the connection to PostgreSQL at \(address) was lost (trying to \(operation) it); check that the server runs, then retry")
    }

    /// How long a statement may take before the connection is given up:
    /// a server that stops answering (a failover, a network partition)
    /// must not hang a writer forever.
    package static let statementDeadline: Int64 = 120

    @discardableResult
    private func run(_ query: PostgresQuery, _ operation: String = "query", deadline: Int64 = statementDeadline) throws -> PostgresQueryResult {
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

    private func createSchema(_ c: PostgresConnection) throws {
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

    private func rollBack() {
        if holding, let connection, !connection.isClosed {
            _ = try? Self.waitBounded(connection.query("ROLLBACK", logger: nioLogger), on: connection, seconds: 10)
        }
        holding = false
    }

    /// ", as seen: <application name> (pid N)" for the advisory lock's holder, when visible.
    private func holderDescription() -> String {
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

    private static func seconds(_ value: Double) -> String {
        value == value.rounded() ? "\(Int(value)) s" : "\(value) s"
    }

    // MARK: - Reading

    @discardableResult
    package func readEvents(after seq: UInt64, _ body: (Event) throws -> Void) throws -> UInt64 {
        try readEvents(after: seq, upTo: .max, body)
    }

    @discardableResult
    package func readEvents(after seq: UInt64, upTo limit: UInt64, _ body: (Event) throws -> Void) throws -> UInt64 {
        let workflow = address.workflow
        let after = Int64(clamping: seq)
        let upTo = Int64(clamping: limit)
        // One statement, one snapshot of the table: the rows asked for and
        // the last one, so the last sequence number fits the rows read.
        let result = try run("""
            SELECT seq, checksum, event FROM statejournal_events
            WHERE workflow = \(workflow)
              AND ((seq > \(after) AND seq <= \(upTo))
                   OR seq = (SELECT max(seq) FROM statejournal_events WHERE workflow = \(workflow)))
            ORDER BY seq
            """, "read the journal from")
        var last: UInt64 = 0
        var expected = seq + 1
        var lastIdentity: UInt32 = 0
        for row in result.rows {
            let (rowSeq, checksum, text) = try decodeRow(row)
            last = rowSeq
            if rowSeq <= seq || rowSeq > limit {
                lastIdentity = UInt32(truncatingIfNeeded: checksum)
                continue
            }
            if rowSeq != expected {
                throw StateJournalError(.corruption,
                    "\(location): seq \(expected) is missing (the next event is seq \(rowSeq)); restore the table from a backup, or migrate a copy", path: location)
            }
            let event = try decodeEvent(seq: rowSeq, checksum: checksum, text: text)
            lastIdentity = event.identity
            expected += 1
            try body(event)
        }
        if last > 0 {
            lastRead = JournalPosition(seq: last, identity: lastIdentity)
        } else {
            lastRead = JournalPosition(seq: 0)
        }
        return last
    }

    private func decodeRow(_ row: PostgresRow) throws -> (UInt64, Int64, String) {
        do {
            let (seq, checksum, text) = try row.decode((Int64, Int64, String).self)
            return (UInt64(seq), checksum, text)
        } catch {
            throw StateJournalError(.corruption, "\(location): a row of \(Self.eventsTable) cannot be read: \(error)", path: location)
        }
    }

    private func decodeEvent(seq: UInt64, checksum: Int64, text: String) throws -> Event {
        let bytes = Array(text.utf8)
        let identity = bytes.withUnsafeBytes { CRC32C.maskedFramed($0) }
        guard Int64(identity) == checksum else {
            throw StateJournalError(.corruption,
                "\(location): event seq \(seq) does not match its checksum (stored \(checksum), computed \(identity)); it was changed outside statejournal", path: location)
        }
        do {
            var event = try Event(json: JSON.parse(bytes))
            guard event.seq == seq else {
                throw StateJournalError(.corruption, "\(location): the row for seq \(seq) holds event seq \(event.seq)", path: location)
            }
            event.identity = identity
            return event
        } catch let error as StateJournalError {
            throw error
        } catch {
            throw StateJournalError(.corruption, "\(location): event seq \(seq) cannot be decoded: \(error)", path: location)
        }
    }

    package func readEvents(from position: JournalPosition, _ body: (Event) throws -> Void) throws -> UInt64 {
        try readEventsChecking(position, body)
    }

    package func bounds() throws -> JournalBounds? {
        let workflow = address.workflow
        let result = try run("""
            SELECT seq, time_us FROM statejournal_events WHERE workflow = \(workflow)
              AND seq IN ((SELECT min(seq) FROM statejournal_events WHERE workflow = \(workflow)),
                          (SELECT max(seq) FROM statejournal_events WHERE workflow = \(workflow)))
            ORDER BY seq
            """, "read the journal's bounds from")
        var ends: [(UInt64, Timestamp)] = []
        for row in result.rows {
            let (seq, time) = try row.decode((Int64, Int64).self)
            ends.append((UInt64(seq), Timestamp(microseconds: time)))
        }
        guard let first = ends.first, let last = ends.last else { return nil }
        return JournalBounds(firstSeq: first.0, firstTime: first.1, lastSeq: last.0, lastTime: last.1)
    }

    package func lastSeq(atOrBefore time: Timestamp) throws -> UInt64? {
        let workflow = address.workflow
        let result = try run("SELECT max(seq) FROM statejournal_events WHERE workflow = \(workflow) AND time_us <= \(time.microseconds)",
                             "read the journal from")
        for row in result.rows {
            if let seq = try row.decode(Int64?.self) { return UInt64(seq) }
        }
        return nil
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

    // MARK: - Verify

    package func verify() throws -> [JournalProblem] {
        var problems: [JournalProblem] = []
        let workflow = address.workflow
        let table = "\(Self.eventsTable) (workflow '\(workflow)' at \(address))"
        let result = try run("SELECT seq, checksum, event FROM statejournal_events WHERE workflow = \(workflow) ORDER BY seq",
                             "verify the journal on")
        var expected: UInt64 = 1
        for row in result.rows {
            let seq: UInt64, checksum: Int64, text: String
            do { (seq, checksum, text) = try decodeRow(row) } catch let error as StateJournalError {
                problems.append(JournalProblem(file: table, message: error.message))
                continue
            }
            if seq != expected {
                problems.append(JournalProblem(file: table, message: seq > expected
                    ? "seq \(expected)…\(seq - 1) missing: the sequence has a gap"
                    : "seq \(seq) appears out of order"))
            }
            expected = seq + 1
            do { _ = try decodeEvent(seq: seq, checksum: checksum, text: text) } catch let error as StateJournalError {
                problems.append(JournalProblem(file: table, message: error.message.replacingOccurrences(of: "\(location): ", with: "")))
            }
        }
        let snapshots = try run("SELECT seq, body FROM statejournal_snapshots WHERE workflow = \(workflow) ORDER BY seq",
                                "verify the snapshots on")
        for row in snapshots.rows {
            guard let (seq, body) = try? row.decode((Int64, ByteBuffer).self) else { continue }
            switch SnapshotFormat.decode(Array(body.readableBytesView)) {
            case .success(let (snapshot, _)) where snapshot.seq == UInt64(seq):
                if UInt64(seq) >= expected {
                    problems.append(JournalProblem(file: "\(Self.snapshotsTable) (workflow '\(workflow)')",
                        message: "the snapshot at seq \(seq) is past the journal's last event (seq \(expected - 1))", isCorruption: false))
                }
            case .success:
                problems.append(JournalProblem(file: "\(Self.snapshotsTable) (workflow '\(workflow)')",
                    message: "the snapshot row seq \(seq) holds another seq", isCorruption: false))
            case .failure(let problem):
                problems.append(JournalProblem(file: "\(Self.snapshotsTable) (workflow '\(workflow)')",
                    message: "the snapshot at seq \(seq) is damaged (\(problem)); it is passed over", isCorruption: false))
            }
        }
        return problems
    }

    // MARK: - Maintenance

    /// Removes every event and snapshot of the workflow (tests and
    /// `migrate` of an interrupted copy only).
    package func dropWorkflow() throws {
        let workflow = address.workflow
        try withWriteLock(LockPolicy(), command: "statejournal (drop)") {
            try run("DELETE FROM statejournal_events WHERE workflow = \(workflow)", "delete from")
            try run("DELETE FROM statejournal_snapshots WHERE workflow = \(workflow)", "delete from")
        }
    }

    private static let hostName: String = {
        var host = [CChar](repeating: 0, count: 256)
        gethostname(&host, host.count - 1)
        return String(decoding: host.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }()
}

/// A connection closed, or given up after ``PostgresJournalStore/statementDeadline``.
package struct ConnectionGone: Error {}

/// A flag that can be claimed once, from any thread.
private final class Once: Sendable {
    private let claimed = Mutex(false)
    func claim() -> Bool { claimed.withLock { was in defer { was = true }; return !was } }
}

extension String {
    fileprivate func replacingOccurrences(of target: String, with replacement: String) -> String {
        guard !target.isEmpty else { return self }
        var out = ""
        var rest = self[...]
        while let range = rest.firstRange(of: target) {
            out += rest[..<range.lowerBound]
            out += replacement
            rest = rest[range.upperBound...]
        }
        return out + rest
    }
}
