#if canImport(Glibc)
import Glibc
#endif
import Foundation
import Testing
@testable import StateJournal
@testable import StateJournalEngine
import StateJournalTesting

/// One test per documented guarantee that had none (issue 18): each would
/// fail if the mechanism behind the claim were removed.
@Suite struct GuaranteeTests {
    let dir = TemporaryDirectory()
    var statePath: String { dir.file("STATE.md") }
    var journalDir: String { statePath + ".journal" }

    func manager(_ system: any SystemCalls = RealSystemCalls(), snapshotInterval: UInt64 = 10,
                 segmentSize: Int = 1024) -> StateManager {
        smallManager(statePath, segmentSize: segmentSize, snapshotInterval: snapshotInterval, system: system)
    }

    /// init and `notes` notes: several sealed segments, snapshots and checkpoints.
    func history(_ notes: Int = 80) throws {
        let m = manager()
        try m.write(initPayload())
        for i in 1...notes { try m.write(.noteAdded(text: "note \(i) " + String(repeating: "x", count: 20))) }
    }

    static func number(_ name: String, _ prefix: String) -> UInt64? {
        guard name.hasPrefix(prefix) else { return nil }
        return UInt64(name.dropFirst(prefix.count).prefix(20))
    }

    /// The segment files, oldest first, with their first seq.
    func segments() -> [(firstSeq: UInt64, path: String)] {
        listDirectory(journalDir).filter { ($0.hasSuffix(".log") || $0.hasSuffix(".log.zst")) && !$0.contains(".tmp-") }
            .compactMap { name in Self.number(name, "segment-").map { ($0, journalDir + "/" + name) } }
            .sorted { $0.firstSeq < $1.firstSeq }
    }

    func snapshotSeqs() -> [UInt64] {
        listDirectory(journalDir).filter { $0.hasSuffix(".snap") }.compactMap { Self.number($0, "snapshot-") }.sorted()
    }

    /// Segments that hold only events at or before `seq`: a fold starting
    /// from a snapshot at `seq` has no reason to open them.
    func segmentsWhollyAtOrBefore(_ seq: UInt64) -> [String] {
        let all = segments()
        return all.indices.compactMap { i in
            i + 1 < all.count && all[i + 1].firstSeq <= seq + 1 ? all[i].path : nil
        }
    }

    /// A system whose `open` fails for `paths`, as if those files were unreadable.
    func unreadable(_ paths: [String]) -> ObservingSystemCalls {
        let sys = ObservingSystemCalls()
        let set = Set(paths)
        sys.unreadable = { set.contains($0) }
        return sys
    }

    // MARK: Snapshots

    /// Opening replays only the events after the newest snapshot: with every
    /// segment before it unreadable, a new manager (no fold cache) still
    /// loads the state and writes — and never tries to open them.
    @Test func openingReplaysOnlyTheEventsAfterTheNewestSnapshot() throws {
        try history()
        let newest = try #require(snapshotSeqs().last)
        let early = segmentsWhollyAtOrBefore(newest)
        try #require(early.count >= 2, "the history should leave several segments before the newest snapshot")
        let expected = try fullReplay(statePath)
        let sys = unreadable(early)
        #expect(try manager(sys).loadState() == expected)
        try manager(sys).write(.noteAdded(text: "after"))
        #expect(try manager(sys).loadState()?.notes.last == "after")
        #expect(sys.openedPaths.filter { early.contains($0) } == [], "segments before the snapshot were opened")
    }

    /// Reading the past (`show --seq`, `--at`, `restore`) starts from the
    /// nearest checkpoint at or before the point, not from seq 1.
    @Test func readingThePastStartsFromTheNearestCheckpoint() throws {
        try history(120)
        let checkpoints = snapshotSeqs()
        try #require(checkpoints.count >= 3, "\(checkpoints)")
        let checkpoint = checkpoints[checkpoints.count - 2]
        let point = checkpoint + 2
        let early = segmentsWhollyAtOrBefore(checkpoint)
        try #require(!early.isEmpty)
        let expected = try fullReplay(statePath, upTo: point)
        let sys = unreadable(early)
        #expect(try manager(sys).state(atSeq: point) == expected)
        let plan = try manager(sys).planRestore(.seq(point))
        #expect(plan.target == expected)
        #expect(plan.targetSeq == point)
        #expect(sys.openedPaths.filter { early.contains($0) } == [])
        // By time: the time index reads sealed segments' headers (not their
        // events) to find the seq, then folds to it as above.
        let time = try #require(try manager().events().first { $0.seq == point }?.time)
        #expect(try manager().lastSeq(atOrBefore: time) == point)
        #expect(try manager().state(at: time) == expected)
        #expect(try manager().planRestore(.time(time)).target == expected)
    }

    /// A damaged newest snapshot is passed over for the older one (not for a
    /// full replay), and so is one from a newer format version; neither is
    /// deleted.
    @Test(arguments: ["damaged", "newer version"])
    func aDamagedOrNewerSnapshotIsPassedOverOnOpen(_ kind: String) throws {
        try history()
        let seqs = snapshotSeqs()
        try #require(seqs.count >= 2)
        let newest = journalDir + "/" + FileJournal.snapshotName(seq: seqs[seqs.count - 1])
        var bytes = try #require(readBytes(newest))
        if kind == "damaged" { bytes[bytes.count - 3] ^= 0x01 } else { bytes[8] = 9 }
        writeBytes(newest, bytes)
        let early = segmentsWhollyAtOrBefore(seqs[seqs.count - 2])
        let expected = try fullReplay(statePath)
        let sys = unreadable(early)
        #expect(try manager(sys).loadState() == expected)
        #expect(readBytes(newest) == bytes)
        #expect(sys.openedPaths.filter { early.contains($0) } == [])
    }

    // MARK: Format versions and interrupted seals

    /// A segment from a newer format version is refused (exit 5) with the
    /// file named, and left as it is.
    @Test(arguments: ["raw", "sealed"])
    func aNewerSegmentFormatIsRefusedNamingTheFile(_ kind: String) throws {
        try history(kind == "raw" ? 3 : 40)
        let file = try #require(segments().first { kind == "raw" ? $0.path.hasSuffix(".log") : $0.path.hasSuffix(".log.zst") }?.path)
        var bytes = try #require(readBytes(file))
        // The header's version (u16 after the 8-byte magic) becomes 2, and the
        // header's checksum is made right again: a sound header from a newer
        // format, not a damaged one.
        func setVersion(at start: Int, checksummed length: Int) {
            bytes[start + 8] = 2
            let crc = CRC32C.mask(bytes[start..<(start + length)].withUnsafeBytes { CRC32C.checksum($0) })
            withUnsafeBytes(of: crc.littleEndian) { for (i, b) in $0.enumerated() { bytes[start + length + i] = b } }
        }
        if kind == "raw" {
            setVersion(at: 0, checksummed: 28)
        } else {
            // The sealed header sits in a zstd skippable frame, starting with "SJSEALED".
            let magic = Array("SJSEALED".utf8)
            let at = try #require((0..<(bytes.count - 8)).first { Array(bytes[$0..<($0 + 8)]) == magic })
            setVersion(at: at, checksummed: 68)
        }
        writeBytes(file, bytes)
        // Every read of the segment refuses it: all events, the state at seq 1,
        // and (for the active raw segment) the next write.
        for attempt in kind == "raw" ? ["events", "past", "write"] : ["events", "past"] {
            let error = #expect(throws: StateJournalError.self, "\(attempt)") {
                switch attempt {
                case "events": _ = try manager().events()
                case "past": _ = try manager().state(atSeq: 1)
                default: try manager().write(.noteAdded(text: "x"))
                }
            }
            #expect(error?.code == .corruption, "\(attempt): \(String(describing: error))")
            #expect(error?.message.contains(file) == true, "\(attempt): \(String(describing: error))")
            #expect(error?.message.contains("newer than this build understands") == true, "\(attempt): \(String(describing: error))")
        }
        #expect(readBytes(file) == bytes)
    }

    /// An interrupted seal whose compressed copy is damaged: the next writer
    /// sets the copy aside (`.damaged-…`), keeps the raw segment, and writes.
    @Test func anInterruptedSealWithADamagedCompressedCopyIsSetAside() throws {
        let big = manager(segmentSize: 1 << 20)
        try big.write(initPayload())
        for i in 1...3 { try big.write(.noteAdded(text: "note \(i)")) }
        let raw = try #require(segments().last { $0.path.hasSuffix(".log") })
        let rawBytes = readBytes(raw.path)
        let sealed = journalDir + "/" + FileJournal.sealedName(firstSeq: raw.firstSeq)
        writeBytes(sealed, Array(repeating: 0x5A, count: 300))
        let before = try manager().events()
        try manager(segmentSize: 1 << 20).write(.noteAdded(text: "after the interrupted seal"))
        let names = listDirectory(journalDir)
        #expect(!names.contains(FileJournal.sealedName(firstSeq: raw.firstSeq)))
        let setAside = names.filter { $0.hasPrefix(FileJournal.sealedName(firstSeq: raw.firstSeq) + ".damaged-") }
        #expect(setAside.count == 1, "\(names)")
        #expect(setAside.first.flatMap { readBytes(journalDir + "/" + $0) } == Array(repeating: 0x5A, count: 300))
        #expect(readBytes(raw.path).map { Array($0.prefix(rawBytes?.count ?? 0)) } == rawBytes)
        let after = try manager().events()
        #expect(Array(after.dropLast()) == before)
        #expect(after.last?.payload == .noteAdded(text: "after the interrupted seal"))
        #expect(try !manager().verify().hasCorruption)
    }

    // MARK: Time

    /// Event times never go backwards, even when the clock does: an event is
    /// stamped max(now, the last event's time). A journal whose last event
    /// is a day ahead of the clock is what a clock stepped back a day sees.
    @Test(arguments: [true, false])
    func eventTimesNeverGoBackwards(_ throughSnapshot: Bool) throws {
        let m = manager(snapshotInterval: throughSnapshot ? 1 : 1000)
        try m.write(initPayload())
        let ahead = Timestamp(microseconds: Timestamp.now().microseconds + 86_400_000_000)
        // Read before taking the lock: readers take it briefly themselves.
        let last = try m.events().last?.seq ?? 0
        let future = Event(seq: last + 1, time: ahead, actor: "clock", pid: 1, payload: .noteAdded(text: "from the future"))
        let state = try WorkflowState.applying(future, to: try fullReplay(statePath))
        try Self.append(future, to: statePath, snapshot: throughSnapshot ? state : nil)
        for i in 0..<3 { try manager(snapshotInterval: throughSnapshot ? 1 : 1000).write(.noteAdded(text: "now \(i)")) }
        let times = try m.events().map(\.time)
        #expect(times == times.sorted(), "\(times)")
        #expect(times.suffix(3).allSatisfy { $0 >= ahead })
    }

    /// Appends `event` under the lock, and a snapshot of `state` at it when given.
    static func append(_ event: Event, to statePath: String, snapshot state: WorkflowState?) throws {
        let journal = FileJournal(statePath: statePath)
        try journal.withWriteLock(LockPolicy(timeout: 5), command: "test") { () throws -> Void in
            try journal.append([event])
            guard let state else { return }
            let identity = Locked<UInt32?>(nil)
            try journal.readEvents(after: event.seq - 1) { read in identity.withLock { $0 = read.identity } }
            try journal.writeSnapshot(Snapshot(seq: event.seq, lastTime: event.time, state: state, idempotencyKeys: [:],
                                               lastEventIdentity: identity.withLock { $0 }))
        }
    }

    // MARK: The lock

    /// Waiting for the lock: repeated non-blocking attempts with growing
    /// waits (not a busy loop: the waits are at least half the backoff,
    /// doubling to the maximum), then a timeout naming the lock file, no
    /// earlier than the deadline. Attempts are counted through a `flock`
    /// that always answers "held"; nothing is timed.
    @Test func theLockBacksOffAndTimesOut() throws {
        let sys = ObservingSystemCalls()
        sys.flockAnswer = { op in op & LOCK_NB != 0 ? .failure(.wouldBlock) : nil }
        let path = dir.file("STATE.md.lock")
        let policy = LockPolicy(timeout: 0.2, initialBackoff: 0.01, maximumBackoff: 0.04)
        let start = FileLock.monotonicSeconds()
        let error = #expect(throws: StateJournalError.self) {
            try FileLock(path: path, fileSystem: FileSystem(sys)).acquire(policy, command: "test")
        }
        let elapsed = FileLock.monotonicSeconds() - start
        #expect(error?.code == .lockTimeout)
        #expect(error?.message.contains(path) == true)
        #expect(elapsed >= policy.timeout)
        // Sleeps of at least 0.005, 0.01, 0.02, 0.02, … s reach 0.2 s within
        // 12 of them: at most 14 attempts. A busy loop makes thousands.
        #expect(sys.flockCalls >= 3, "\(sys.flockCalls) attempts")
        #expect(sys.flockCalls <= 14, "\(sys.flockCalls) attempts")
    }

    /// The timeout is an upper bound: a backoff far longer than the timeout
    /// is cut to the time left, so the waiter gives up after two attempts.
    /// (Run on a thread with a generous bound so that a regression fails
    /// instead of sleeping for many minutes.)
    @Test func aLongBackoffIsCutAtTheDeadline() throws {
        let sys = ObservingSystemCalls()
        sys.flockAnswer = { op in op & LOCK_NB != 0 ? .failure(.wouldBlock) : nil }
        let path = dir.file("STATE.md.lock")
        let code = Locked<StateJournalError.Code?>(nil)
        let done = DispatchSemaphore(value: 0)
        Thread {
            do {
                try FileLock(path: path, fileSystem: FileSystem(sys))
                    .acquire(LockPolicy(timeout: 0.05, initialBackoff: 1000, maximumBackoff: 1000), command: "test")
            } catch {
                code.withLock { $0 = (error as? StateJournalError)?.code }
            }
            done.signal()
        }.start()
        let finished = done.wait(timeout: .now() + 120) == .success
        #expect(finished, "the waiter slept past its 0.05 s deadline")
        #expect(code.withLock { $0 } == .lockTimeout)
        #expect(sys.flockCalls == 2)
    }

    // MARK: Durability of new segments

    /// The directory fsync after a new segment is renamed into place fails
    /// once: that write fails, and no later acknowledged write may land in a
    /// segment whose directory entry is not durable — after a simulated
    /// machine crash, every acknowledged event is there (the regression test
    /// of `torture repro segment-dir-fsync`).
    @Test func aSegmentWhoseDirectoryEntryIsNotDurableLosesNoAcknowledgedWrite() throws {
        let root = dir.file("disk")
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let disk = SimulatedDisk(root: root, seed: 1)
        let fault = DirectorySyncFault(disk)
        let path = root + "/STATE.md"
        let m = smallManager(path, segmentSize: 2 << 10, system: fault)
        var acknowledged: [UInt64] = [try m.write(initPayload(tasks: 1, waves: 1)).event.seq]
        var failed = 0, afterFailure = 0
        for i in 0..<200 where afterFailure < 3 {
            do {
                acknowledged.append(try m.write(.noteAdded(text: "note \(i) " + String(repeating: "x", count: 100))).event.seq)
                if failed > 0 { afterFailure += 1 }
            } catch {
                failed += 1
            }
        }
        try #require(fault.fired)
        #expect(failed == 1)
        #expect(afterFailure == 3)
        disk.crash()
        disk.materialize(.dropAll)
        let recovered = Set(try smallManager(path).events().map(\.seq))
        #expect(acknowledged.filter { !recovered.contains($0) } == [], "acknowledged events lost in the crash")
    }

    // MARK: Symbolic links

    /// With `allowSymlinks`, STATE.md's backup and damaged copies are kept
    /// beside the link, under its name, as regular files holding the bytes
    /// of the file it points to; the link stays a link.
    @Test func backupAndDamagedCopiesLieBesideASymlinkedStateFile() throws {
        try manager().write(initPayload())
        let other = TemporaryDirectory()
        let target = other.file("real.md")
        try FileManager.default.moveItem(atPath: statePath, toPath: target)
        try FileManager.default.createSymbolicLink(atPath: statePath, withDestinationPath: target)
        var configuration = manager().configuration
        configuration.allowSymlinks = true
        let m = StateManager(configuration: configuration)
        let previous = try #require(readBytes(target))
        try m.write(.noteAdded(text: "through the link"))
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: statePath) == target)
        #expect(try #require(readText(target)).contains("through the link"))
        let backup = statePath + ".backup"
        #expect(try FileSystem().lstat(backup)?.isRegularFile == true)
        #expect(readBytes(backup) == previous)

        let garbage = Array("# edited by hand\n".utf8)
        writeBytes(target, garbage)  // through the link: the target changes
        _ = try StateManager(configuration: configuration).loadState()
        let damaged = listDirectory(dir.path).filter { $0.hasPrefix("STATE.md.damaged-") }
        #expect(damaged.count == 1, "\(listDirectory(dir.path))")
        if let name = damaged.first {
            #expect(try FileSystem().lstat(dir.file(name))?.isRegularFile == true)
            #expect(readBytes(dir.file(name)) == garbage)
        }
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: statePath) == target)
        #expect(try #require(readText(target)).contains("through the link"))
        #expect(listDirectory(other.path) == ["real.md"])
    }
}
