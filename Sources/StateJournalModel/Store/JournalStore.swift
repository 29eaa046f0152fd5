/// Where events are kept: the seam between the journal's users and its
/// storage.
///
/// ``FileJournal`` keeps events in segment files beside STATE.md; a store on
/// a shared database (for agents on several machines) will implement the same
/// protocol. A store serialises writers with its own lock, hands out events
/// in sequence order, makes an append durable before it returns, and keeps
/// snapshots of the folded state.
public protocol JournalStore: AnyObject {
    /// A name for messages, e.g. the journal directory.
    var location: String { get }

    /// Runs `body` while holding the store's exclusive writers' lock.
    ///
    /// - Parameters:
    ///   - policy: how long to wait and how to back off.
    ///   - command: what the holder is doing, recorded for waiters' messages.
    /// - Throws: ``StateJournalError/Code/lockTimeout`` naming the holder.
    @discardableResult
    func withWriteLock<T>(_ policy: LockPolicy, command: String, _ body: () throws -> T) throws -> T

    /// Calls `body` with every event whose sequence number is greater than
    /// `seq`, oldest first, and returns the last sequence number in the store.
    ///
    /// Without the lock this reads a consistent prefix (an append in progress
    /// is not seen); under the lock it first cuts a torn tail left by a crash.
    /// - Throws: ``StateJournalError/Code/corruption`` naming the file and the
    ///   sequence range when a record is damaged and valid records follow.
    @discardableResult
    func readEvents(after seq: UInt64, _ body: (Event) throws -> Void) throws -> UInt64

    /// Like ``readEvents(after:_:)``, but hands over only the events up to
    /// `limit`, and may stop reading there (the file store does not open
    /// the segments after it). Returns the last sequence number it read.
    @discardableResult
    func readEvents(after seq: UInt64, upTo limit: UInt64, _ body: (Event) throws -> Void) throws -> UInt64

    /// Appends `events` (which continue the store's sequence) durably: when
    /// this returns they survive a crash of the process or the machine. On
    /// failure nothing of them is in the store. Only under the lock.
    ///
    /// A store whose lock is a database transaction makes them durable when
    /// the lock is released (the commit): ``withWriteLock(_:command:_:)``
    /// then throws if the commit fails, and a writer answers nobody before
    /// it returned.
    ///
    /// - Returns: true when the store started a new segment (or the like)
    ///   for them: a good moment for a snapshot, so that readers need not
    ///   read what was sealed.
    @discardableResult
    func append(_ events: [Event]) throws -> Bool

    /// Throws ``StateJournalError/Code/badInput`` when `event` (encoded as
    /// `encoded`) is larger than the store can hold in one append, so that a
    /// writer refuses it alone instead of failing the whole batch it is in.
    func checkFits(_ event: Event, encoded: [UInt8]) throws

    /// The newest readable snapshot at or before `seq`; damaged or
    /// unreadable ones are passed over (and logged), never deleted.
    func latestSnapshot(atOrBefore seq: UInt64) throws -> Snapshot?

    /// The first and last event's sequence number and time; nil when the
    /// store holds no event.
    func bounds() throws -> JournalBounds?

    /// The sequence number of the last event at or before `time`; nil when
    /// `time` is before the first event. Uses the store's own sequence ↔
    /// time index, so it does not decode all history.
    func lastSeq(atOrBefore time: Timestamp) throws -> UInt64?

    /// Stores `snapshot` durably. Only under the lock.
    func writeSnapshot(_ snapshot: Snapshot) throws

    /// Checks every record, segment and snapshot without changing anything,
    /// reporting each problem found.
    func verify() throws -> [JournalProblem]
}

/// A store that can say where its data ended and resume reading there (the
/// file journal: segment, offset, inode), so that a process keeping its
/// folded state reads only what was appended since.
package protocol PositionedJournalStore: JournalStore {
    /// Where the data ends after the last read or append under the lock
    /// (nil without the lock).
    var endPosition: JournalPosition? { get }

    /// The events after `position` — one an earlier ``endPosition`` gave —
    /// reading only what was appended since; when the position no longer
    /// fits (the segment was sealed or replaced) it reads by sequence number.
    /// Returns the last sequence number, as ``JournalStore/readEvents(after:_:)`` does.
    @discardableResult
    func readEvents(from position: JournalPosition, _ body: (Event) throws -> Void) throws -> UInt64
}

/// A store that keeps its events in segments it can close (the file
/// journal seals and compresses them).
package protocol SegmentedJournalStore: JournalStore {
    /// Closes the active segment so that the next append starts a new one.
    /// Only under the lock.
    func sealActiveSegment() throws
}

extension JournalStore {
    /// The newest readable snapshot.
    package func latestSnapshot() throws -> Snapshot? { try latestSnapshot(atOrBefore: .max) }

    /// Stores that cannot stop early read on and hand over only the events
    /// up to `limit`; returns the store's last sequence number.
    @discardableResult
    public func readEvents(after seq: UInt64, upTo limit: UInt64, _ body: (Event) throws -> Void) throws -> UInt64 {
        try readEvents(after: seq) { if $0.seq <= limit { try body($0) } }
    }

    /// Stores without a size limit take every event.
    public func checkFits(_ event: Event, encoded: [UInt8]) throws {}

    /// Reads after `position.seq - 1`, checking that event `position.seq`
    /// has the position's identity, and hands over only the events after it.
    /// - Throws: ``JournalPosition/Mismatch`` when it does not, or is gone.
    package func readEventsChecking(_ position: JournalPosition, _ body: (Event) throws -> Void) throws -> UInt64 {
        guard position.seq > 0, position.identity != 0 else { return try readEvents(after: position.seq, body) }
        var confirmed = false
        let last = try readEvents(after: position.seq - 1) { event in
            if event.seq == position.seq {
                guard event.identity == position.identity else { throw JournalPosition.Mismatch() }
                confirmed = true
                return
            }
            try body(event)
        }
        guard confirmed else { throw JournalPosition.Mismatch() }
        return last
    }
}

/// Where a store's data ended at some moment: the last sequence number and,
/// for the file store, the active segment and byte offset. A process that
/// keeps its folded state resumes reading from here instead of refolding.
///
/// A position names its last event by identity too: reading from a position
/// whose event the store no longer holds (the journal was put back from an
/// older copy, or replaced) throws ``Mismatch``, so the reader refolds from
/// scratch instead of building on an event that is not there.
package struct JournalPosition: Sendable, Equatable {
    /// The last sequence number read.
    package var seq: UInt64
    /// The ``Event/identity`` of event `seq` (0: unknown, not checked).
    package var identity: UInt32 = 0
    package var segmentFirstSeq: UInt64 = 0
    package var offset: Int64 = 0
    package var inode: UInt64 = 0
    /// Where event `seq`'s record starts.
    package var recordStart: Int64 = 0

    /// A position naming event `seq` by its identity (0: not checked).
    package init(seq: UInt64, identity: UInt32 = 0) {
        self.seq = seq
        self.identity = identity
    }

    package init(seq: UInt64, identity: UInt32, segmentFirstSeq: UInt64, offset: Int64, inode: UInt64, recordStart: Int64) {
        self.seq = seq
        self.identity = identity
        self.segmentFirstSeq = segmentFirstSeq
        self.offset = offset
        self.inode = inode
        self.recordStart = recordStart
    }

    /// The store does not hold the position's event: read from the start.
    package struct Mismatch: Error {
        package init() {}
    }
}

/// The ends of a journal.
public struct JournalBounds: Sendable, Equatable {
    /// The first event's sequence number.
    public var firstSeq: UInt64
    /// The first event's time.
    public var firstTime: Timestamp
    /// The last event's sequence number.
    public var lastSeq: UInt64
    /// The last event's time.
    public var lastTime: Timestamp

    package init(firstSeq: UInt64, firstTime: Timestamp, lastSeq: UInt64, lastTime: Timestamp) {
        self.firstSeq = firstSeq
        self.firstTime = firstTime
        self.lastSeq = lastSeq
        self.lastTime = lastTime
    }
}

/// A problem `verify` found in a store.
public struct JournalProblem: Sendable, Equatable, CustomStringConvertible {
    /// The file (or table) concerned.
    public var file: String
    /// What is wrong, with the sequence range it hit when known.
    public var message: String
    /// Whether data would be lost by repairing it (torn tails are not).
    public var isCorruption: Bool

    /// A problem in `file`.
    public init(file: String, message: String, isCorruption: Bool = true) {
        self.file = file
        self.message = message
        self.isCorruption = isCorruption
    }

    public var description: String { "\(file): \(message)" }
}
