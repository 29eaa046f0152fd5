#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Logging
import StateJournal
import StateJournalEngine

/// A long history written straight through ``FileJournal`` (the same format
/// as the write path, without a fold per event): segments sealed at the
/// default size, a snapshot `tail` events before the end, in the raw active
/// segment with the events since the last seal.
struct GeneratedHistory {
    var statePath: String
    var events: Int
    var seconds: Double
    var sealedSegments: Int
    var sealedBytes: Int64
    /// The raw size of the sealed segments (from their headers).
    var rawBytes: Int64
    var snapshotSeq: UInt64

    var compressionRatio: Double { Double(sealedBytes) / Double(rawBytes) }
}

enum History {
    static let batch = 1000

    static func generate(statePath: String, events total: Int, tail: Int = 500) throws -> GeneratedHistory {
        try Files.mkdirs(Files.directory(of: statePath))
        let defaults = FileJournal.Options()
        var options = defaults
        options.segmentSize = Int.max  // sealed below at the default size, to measure each segment
        let journal = FileJournal(statePath: statePath, logger: benchLogger, options: options)
        var generator = HistoryGenerator()
        var snapshotSeq: UInt64 = 0
        let seconds = try timed {
            try journal.withWriteLock(LockPolicy(timeout: 60), command: "bench (generating history)") {
                var segmentFirst: UInt64 = 1
                var events: [Event] = []
                events.reserveCapacity(batch)
                func flush() throws {
                    guard !events.isEmpty else { return }
                    try journal.append(events)
                    events.removeAll(keepingCapacity: true)
                }
                let head = max(total - tail, 1)
                while generator.seq < UInt64(head) {
                    let event = generator.next()
                    events.append(event)
                    if events.count == batch || generator.seq == UInt64(head) {
                        try flush()
                        // Sealed when the active segment is full, but not right at the
                        // snapshot: a manager seals at the append after the segment filled
                        // and writes a snapshot after that append, in the new segment, so
                        // its newest snapshot is never the last event of a sealed segment
                        // (which an open would decompress whole to check the snapshot's
                        // event).
                        let active = Files.size(statePath + ".journal/" + segmentName(segmentFirst))
                        if active >= Int64(defaults.segmentSize) && generator.seq != UInt64(head) {
                            try journal.sealActiveSegment()
                            segmentFirst = generator.seq + 1
                        }
                    }
                }
                snapshotSeq = generator.seq
                let last = generator.sinceInit.last!
                // With the identity of its last event, as the manager writes
                // them: a reader passes over a snapshot without one (and
                // would refold the whole history from event 1).
                try journal.writeSnapshot(Snapshot(seq: snapshotSeq, lastTime: last.time, state: try generator.state(),
                                                   idempotencyKeys: [:], lastEventIdentity: last.computedIdentity()))
                while generator.seq < UInt64(total) {
                    events.append(generator.next())
                    if events.count == batch { try flush() }
                }
                try flush()
            }
        }
        // STATE.md, so that opening finds an intact projection.
        try StateManager(configuration: .init(statePath: statePath, actor: "bench-setup", projection: .manual), logger: benchLogger).refreshProjection()

        var sealed = 0, sealedBytes: Int64 = 0, rawBytes: Int64 = 0
        let directory = statePath + ".journal"
        for name in Files.list(directory) where name.hasSuffix(".log.zst") {
            sealed += 1
            sealedBytes += Files.size(directory + "/" + name)
            rawBytes += try sealedRawSize(directory + "/" + name)
        }
        return GeneratedHistory(statePath: statePath, events: total, seconds: seconds, sealedSegments: sealed,
                                sealedBytes: sealedBytes, rawBytes: rawBytes, snapshotSeq: snapshotSeq)
    }

    /// `segment-<first seq, 20 digits>.log` (Docs/FORMAT.md).
    static func segmentName(_ firstSeq: UInt64) -> String {
        let digits = String(firstSeq)
        return "segment-" + String(repeating: "0", count: max(0, 20 - digits.count)) + digits + ".log"
    }

    /// The raw segment size recorded in a sealed segment's header (Docs/FORMAT.md:
    /// skippable frame magic u32, size u32, "SJSEALED", version u16, 0 u16,
    /// first seq u64, last seq u64, count u64, raw size u64 …).
    static func sealedRawSize(_ path: String) throws -> Int64 {
        let fd = try check(open(path, O_RDONLY), "open \(path)")
        defer { close(fd) }
        var header = [UInt8](repeating: 0, count: 52)
        let n = header.withUnsafeMutableBytes { pread(fd, $0.baseAddress!, $0.count, 0) }
        guard n == header.count, header[8..<16].elementsEqual(Array("SJSEALED".utf8)) else {
            throw BenchError("\(path) does not start with a sealed-segment header")
        }
        var value: UInt64 = 0
        for i in (44..<52).reversed() { value = value << 8 | UInt64(header[i]) }
        return Int64(value)
    }

    /// Opening: a new manager folds the newest snapshot plus the events
    /// after it and checks STATE.md's footer (``StateManager/loadState()``).
    /// Median of `runs` opens, each with a fresh manager.
    static func openTime(statePath: String, runs: Int) throws -> (median: Double, p90: Double, seq: UInt64) {
        var times: [Double] = []
        var seq: UInt64 = 0
        for _ in 0..<runs {
            let manager = StateManager(configuration: .init(statePath: statePath, actor: "bench-open", projection: .manual), logger: benchLogger)
            let t = try timed { seq = try manager.loadState()?.seq ?? 0 }
            times.append(t)
        }
        return (times.median, times.quantile(0.9), seq)
    }

    struct ReplayResult {
        var events: UInt64
        var seconds: Double
        var wallSeconds: Double
        var maxRSS: Int
        var rate: Double { Double(events) / seconds }
    }

    /// A full replay in a child process (`bench worker replay`), so that its
    /// peak RSS is its own.
    static func replay(statePath: String) throws -> ReplayResult {
        let start = now()
        let (output, exit) = try Child.output([Files.selfExecutable(), "worker", "replay", "--state", statePath])
        let wall = now() - start
        guard exit.status == 0 else { throw BenchError("replay worker exited with status \(exit.status)") }
        let fields = output.split(whereSeparator: { $0 == " " || $0 == "\n" })
        guard fields.count >= 2, let count = UInt64(fields[0]), let seconds = Double(fields[1]) else {
            throw BenchError("replay worker printed '\(output)'")
        }
        return ReplayResult(events: count, seconds: seconds, wallSeconds: wall, maxRSS: exit.maxRSS)
    }

    /// `bench worker replay`: refolds the whole journal with
    /// ``StateManager/replay(toSeq:_:)``, prints `events seconds`.
    static func replayWorker(statePath: String) throws {
        let manager = StateManager(configuration: .init(statePath: statePath, actor: "bench-replay", projection: .manual), logger: benchLogger)
        var state: WorkflowState?
        let seconds = try timed { state = try manager.replay() }
        print("\(state?.seq ?? 0) \(seconds)")
    }
}
