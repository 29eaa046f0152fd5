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

extension PostgresJournalStore {
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

    func decodeRow(_ row: PostgresRow) throws -> (UInt64, Int64, String) {
        do {
            let (seq, checksum, text) = try row.decode((Int64, Int64, String).self)
            return (UInt64(seq), checksum, text)
        } catch {
            throw StateJournalError(.corruption, "\(location): a row of \(Self.eventsTable) cannot be read: \(error)", path: location)
        }
    }

    func decodeEvent(seq: UInt64, checksum: Int64, text: String) throws -> Event {
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

    static let hostName: String = {
        var host = [CChar](repeating: 0, count: 256)
        gethostname(&host, host.count - 1)
        return String(decoding: host.prefix(while: { $0 != 0 }).map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }()
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
