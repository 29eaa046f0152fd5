import Logging
import StateJournal
import StateJournalEngine
import StateJournalModel

/// The code paths that read bytes a crash, a disk, a person or another
/// program may have mangled, runnable on any bytes in memory: what the fuzz
/// targets in `Tools/fuzz` call, and what `FuzzRegressionTests` replays.
///
/// Each entry point runs the same library code a command runs on such input
/// and returns the *invariants* the input broke (empty when none). Throwing
/// is a fine outcome for bad input; a crash, a hang or a broken invariant is
/// a bug. The fuzz harness turns a non-empty answer into a crash, so that
/// libFuzzer saves the input.
///
/// Several entry points start with a *mode* byte that says how the rest is
/// framed, so that the fuzzer gets past checksums: with checksums fixed up
/// by the harness, a mutated event reaches the JSON decoder and the fold
/// instead of stopping at a CRC mismatch.
public enum FuzzEntryPoints {
    /// The targets, by the names `Tools/fuzz` uses.
    public static let targets = ["statefile", "records", "segment", "snapshot", "plan", "update"]

    /// Runs target `name` on `bytes`; nil for an unknown name.
    public static func run(_ name: String, _ bytes: UnsafeRawBufferPointer) -> [String]? {
        switch name {
        case "statefile": return stateFile(bytes)
        case "records": return records(bytes)
        case "segment": return segment(bytes)
        case "snapshot": return snapshot(bytes)
        case "plan": return plan(bytes)
        case "update": return update(bytes)
        default: return nil
        }
    }

    package static let quiet = Logger(label: "statejournal.fuzz", factory: { _ in SwiftLogNoOpLogHandler() })
    package static let time = Timestamp(microseconds: 1_800_000_000_000_000)

    // MARK: STATE.md

    /// STATE.md as `import`, `validate` and the self-healing check read it:
    /// the footer check, the parser, the validator; a file that `import`
    /// accepts must render back to the same state, and that rendering must
    /// be valid.
    public static func stateFile(_ bytes: UnsafeRawBufferPointer) -> [String] {
        let array = Array(bytes)
        _ = ProjectionFooter.check(array)
        let text = String(decoding: array, as: UTF8.self)
        let problems = MarkdownValidator.validate(text)
        guard let file = try? MarkdownParser.parse(text) else { return [] }
        var broken: [String] = []
        if problems.isEmpty && file.state() == nil && !file.workflowID.isEmpty {
            broken.append("the validator accepts a file whose state cannot be read")
        }
        guard let state = file.state() else { return broken }
        broken += editProblems(file, state)
        return broken + projectionProblems(of: state, as: "state.replaced", of: .stateReplaced(StateImage(state)))
    }

    /// The merge of an edit of STATE.md (Docs/GUARANTEES.md, "An edit of
    /// STATE.md") never crashes, and an edit that changes nothing records
    /// nothing: the rendering of a state the fold accepts, read back and
    /// merged over that state, yields no event and no conflict.
    package static func editProblems(_ file: ParsedStateFile, _ state: WorkflowState) -> [String] {
        _ = EditMerge(base: state, edit: file, current: state)
        let event = Event(seq: max(state.seq, 1), time: state.updated, actor: "fuzz", pid: 1, payload: .stateReplaced(StateImage(state)))
        guard let accepted = try? WorkflowState.applying(event, to: nil),
              let rendered = try? MarkdownParser.parse(MarkdownRenderer.render(accepted)) else { return [] }
        let merge = EditMerge(base: accepted, edit: rendered, current: accepted)
        var broken: [String] = []
        if !merge.payloads.isEmpty {
            broken.append("an unedited STATE.md merged over its own state records \(merge.payloads.map(\.typeName))")
        }
        if !merge.conflicts.isEmpty {
            broken.append("an unedited STATE.md merged over its own state has conflicts: \(merge.conflicts.map(\.item))")
        }
        return broken
    }

    // MARK: Records

    /// The record decoder: ``RecordFormat/scan(_:from:maximumSize:_:)`` and the
    /// streaming ``RecordAssembler`` fed in pieces must agree on every record
    /// and on where the valid data ends; every valid payload goes to the
    /// event decoder, and a decoded event must encode back to itself.
    ///
    /// Mode byte: bit 0 clear — the rest is records as they are on disk;
    /// set — the rest is event payloads, one a line, framed here with
    /// correct lengths and checksums. Bits 1…7 choose the assembler's piece
    /// size and the record size limit.
    public static func records(_ bytes: UnsafeRawBufferPointer) -> [String] {
        guard let mode = bytes.first else { return [] }
        let rest = UnsafeRawBufferPointer(rebasing: bytes[1...])
        let region = mode & 1 == 0 ? Array(rest) : framedRecords(rest)
        let maximumSize = mode & 0x80 == 0 ? RecordFormat.defaultMaximumRecordSize : 64 + Int(mode >> 3 & 0x0F) * 16
        let piece = 1 + Int(mode >> 1 & 0x3F)
        var broken: [String] = []

        var scanned: [(offset: Int, payload: [UInt8])] = []
        let tail = region.withUnsafeBytes { raw in
            RecordFormat.scan(raw, from: 0, maximumSize: maximumSize) { payload, offset in scanned.append((offset, Array(payload))) }
        }
        var assembled: [(offset: Int, payload: [UInt8])] = []
        var assembler = RecordAssembler(startingAt: 0, maximumSize: maximumSize)
        var clean = true
        region.withUnsafeBytes { raw in
            var start = 0
            while clean && start < raw.count {
                let end = min(start + piece, raw.count)
                clean = assembler.feed(UnsafeRawBufferPointer(rebasing: raw[start..<end])) { payload, offset in
                    assembled.append((offset, Array(payload)))
                }
                start = end
            }
        }
        if !scanned.elementsEqual(assembled, by: { $0.offset == $1.offset && $0.payload == $1.payload }) {
            broken.append("scan found \(scanned.count) records, the assembler \(assembled.count), or they differ")
        }
        let scanEnd: Int
        switch tail {
        case .clean: scanEnd = region.count
        case .torn(let offset, let length):
            scanEnd = offset
            if offset + length != region.count { broken.append("a torn tail that does not reach the end") }
        case .corrupt(let offset, let next):
            scanEnd = offset
            if next <= offset || next >= region.count { broken.append("corruption whose next valid record is out of place") }
        }
        if assembler.offset != scanEnd { broken.append("scan stops at \(scanEnd), the assembler at \(assembler.offset)") }

        var decoder = CanonicalEventDecoder()
        for record in scanned {
            // The journal's scanner decodes an event only as the general decoder does.
            if let fast = record.payload.withUnsafeBytes({ decoder.decode($0) }) {
                let slow = (try? JSON.parse(record.payload)).flatMap { try? Event(json: $0) }
                if slow != fast || slow?.json().encoded() != fast.json().encoded() {
                    broken.append("the scanner decodes \(String(decoding: record.payload, as: UTF8.self)) unlike the general decoder")
                }
            }
            guard let json = try? JSON.parse(record.payload) else { continue }
            // The reader skips events it need not decode by this peek at their seq.
            let peeked = record.payload.withUnsafeBytes { Event.encodedSeq($0) }
            if let peeked, case .int(let seq)? = json["seq"], json.objectValue?.filter({ $0.key == "seq" }).count == 1,
               UInt64(bitPattern: seq) != peeked {
                broken.append("Event.encodedSeq reads \(peeked) where the record says seq \(seq)")
            }
            guard let event = try? Event(json: json) else { continue }
            broken += eventProblems(event)
        }
        return broken
    }

    /// Frames each line of `payloads` as a record.
    package static func framedRecords(_ payloads: UnsafeRawBufferPointer) -> [UInt8] {
        var out: [UInt8] = []
        for line in payloads.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true) {
            RecordFormat.appendRecord(Array(line), to: &out)
        }
        return out
    }

    /// A decoded event encodes back to itself, and applying it to a sample
    /// state either fails cleanly or gives a state that renders validly.
    package static func eventProblems(_ event: Event) -> [String] {
        var broken: [String] = []
        let encoded = event.json().encoded()
        if let again = try? JSON.parse(encoded), let decoded = try? Event(json: again) {
            if decoded != event { broken.append("event \(event.seq) decodes differently after encoding: \(event.json().compactString)") }
        } else {
            broken.append("event \(event.seq) encodes to JSON that does not decode: \(String(decoding: encoded, as: UTF8.self))")
        }
        var decoder = CanonicalEventDecoder()
        if let scanned = encoded.withUnsafeBytes({ decoder.decode($0) }), scanned != event {
            broken.append("event \(event.seq) is scanned differently after encoding: \(event.json().compactString)")
        }
        for base in [nil, sampleState] {
            var state = base
            guard (try? WorkflowState.apply(event, to: &state)) != nil, let state else { continue }
            broken += renderProblems(state)
        }
        return broken
    }

    package static let sampleState: WorkflowState? = try? WorkflowState.applying(
        Event(seq: 1, time: time, actor: "fuzz", pid: 1, payload: .workflowInitialized(
            id: "wf", name: "Fuzz", waves: [[.init(id: "t1", description: "one"), .init(id: "t2", description: "two")], []],
            metadata: [MetadataEntry(key: "k", value: "v")])), to: nil)

    // MARK: Segments

    /// The segment reader on one segment file, raw or sealed, in a journal
    /// held in memory: ``FileJournal/readEvents(after:_:)`` with and without
    /// the lock (which cuts a torn tail), ``FileJournal/verify()``, and the
    /// fold of what was read. Cutting a torn tail must lose no event.
    ///
    /// Mode byte: bits 0–1 — 0: the rest is a raw segment as on disk; 1: the
    /// rest is event payloads, one a line, made into a raw segment (header
    /// and records with correct checksums; a line starting with `#` is kept
    /// as raw bytes, as damage); 2: the rest is a sealed segment as on disk;
    /// 3: payloads as in 1, sealed with correct checksums. Bit 2: read under
    /// the lock too. Bits 3–4: the first seq in the file's name — the
    /// header's, 1, 0 or 2⁶⁴−1. Bit 5: a sealed header that lies about its
    /// last seq. Bit 6: add a snapshot (at seq 1, pointing after the first
    /// record) so that reading seeks.
    public static func segment(_ bytes: UnsafeRawBufferPointer) -> [String] {
        guard let mode = bytes.first else { return [] }
        let rest = UnsafeRawBufferPointer(rebasing: bytes[1...])
        let kind = mode & 3
        let named: UInt64?
        switch mode >> 3 & 3 {
        case 0: named = nil  // the header's
        case 1: named = 1
        case 2: named = 0
        default: named = .max
        }
        var file: [UInt8]
        var firstSeq: UInt64 = named ?? 1
        switch kind {
        case 0, 2:
            file = Array(rest)
            if named == nil, kind == 0, case .success(let h) = RecordFormat.decodeHeader(rest) { firstSeq = h.firstSeq }
            if named == nil, kind == 2, case .success(let h) = SealedSegmentHeader.decode(rest) { firstSeq = h.firstSeq }
        default:
            file = RecordFormat.encodeHeader(.init(firstSeq: firstSeq, created: time))
            for line in rest.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: true) {
                if line.first == UInt8(ascii: "#") { file += line.dropFirst() } else { RecordFormat.appendRecord(Array(line), to: &file) }
            }
            if kind == 3 { file = sealed(file, firstSeq: firstSeq, lyingAboutLastSeq: mode & 0x20 != 0) }
        }
        let sys = MemorySystemCalls()
        let statePath = "/fuzz/STATE.md"
        let name = kind < 2 ? FileJournal.segmentName(firstSeq: firstSeq) : FileJournal.sealedName(firstSeq: firstSeq)
        sys.install(statePath + ".journal/" + name, file)
        if mode & 0x40 != 0, kind < 2 {
            // A snapshot at seq 1 whose position is the end of the first record.
            let end = file.withUnsafeBytes { raw in
                RecordFormat.record(in: raw, at: RecordFormat.headerSize, maximumSize: RecordFormat.defaultMaximumRecordSize)
                    .map { RecordFormat.headerSize + RecordFormat.recordHeaderSize + $0.count }
            } ?? RecordFormat.headerSize
            let snapshot = Snapshot(seq: 1, lastTime: time, state: nil, idempotencyKeys: [:])
            sys.install(statePath + ".journal/" + FileJournal.snapshotName(seq: 1),
                        SnapshotFormat.encode(snapshot, position: .init(segmentFirstSeq: firstSeq, offset: UInt64(end))))
        }
        let fs = FileSystem(sys)
        var broken: [String] = []
        let segmentPath = statePath + ".journal/" + name

        /// Reads the journal; nil when it refused with `.corruption` (a fine
        /// answer to damaged bytes). Any other error is a broken invariant:
        /// the journal is in memory, so nothing but damage can fail a read.
        func read(locked: Bool) -> [Event]? {
            let journal = FileJournal(statePath: statePath, fileSystem: fs, logger: quiet)
            var events: [Event] = []
            do {
                let body = { (after: UInt64) throws in
                    _ = try journal.latestSnapshot()
                    try journal.readEvents(after: after) { events.append($0) }
                }
                if locked {
                    // As a writer does before appending: read to the end, cutting a torn tail.
                    try journal.withWriteLock(LockPolicy(timeout: 0), command: "fuzz") {
                        try body(0)
                        try journal.readEvents(after: .max) { _ in }
                    }
                } else {
                    try body(0)
                    // Seeking from the snapshot reads the same events after it.
                    var after: [Event] = []
                    try journal.readEvents(after: 1) { after.append($0) }
                    if after != events.filter({ $0.seq > 1 }) { broken.append("reading after seq 1 differs from reading everything") }
                }
                return events
            } catch let error as StateJournalError where error.code == .corruption {
                return nil
            } catch {
                broken.append("reading \(locked ? "under the lock" : "without the lock") failed with a non-corruption error: \(error)")
                return nil
            }
        }

        // What the record scan says follows the last valid record of a raw
        // segment with a sound header: a torn tail (cut under the lock, at
        // exactly that offset) or corruption (refused, never cut).
        var rawTail: RecordFormat.Tail?
        if kind < 2, file.count >= RecordFormat.headerSize,
           case .success(let h) = file.withUnsafeBytes({ RecordFormat.decodeHeader($0) }), h.firstSeq == firstSeq {
            rawTail = file.withUnsafeBytes { RecordFormat.scan(UnsafeRawBufferPointer(rebasing: $0[RecordFormat.headerSize...]), from: 0) { _, _ in } }
        }

        let before = read(locked: false)
        if kind >= 2 {
            // A sealed segment reads the same on two threads (decoding on the
            // second) as on one: the same events, then the same error or none.
            func outcome(secondThread: Bool) -> String {
                var options = FileJournal.Options()
                options.secondThreadFromRawSize = secondThread ? 0 : nil
                var seen: [String] = []
                do {
                    try FileJournal(statePath: statePath, fileSystem: fs, logger: quiet, options: options).readEvents(after: 0) {
                        seen.append("\($0.seq) \($0.identity) \($0.json().compactString)")
                    }
                    seen.append("end")
                } catch {
                    seen.append("\(error)")
                }
                return seen.joined(separator: "\n")
            }
            if SealedPipeline.available, outcome(secondThread: true) != outcome(secondThread: false) {
                broken.append("a sealed segment reads differently with its decoding on a second thread")
            }
        }
        if case .corrupt? = rawTail, before != nil {
            broken.append("a damaged record with valid records after it was read without an error")
        }
        _ = try? FileJournal(statePath: statePath, fileSystem: fs, logger: quiet).verify()
        if mode & 4 != 0 {
            let unlocked = sys.contents(segmentPath)
            let repaired = read(locked: true)
            let cut = sys.contents(segmentPath)
            switch rawTail {
            case .corrupt?:
                if repaired != nil { broken.append("a damaged record with valid records after it was read under the lock without an error") }
                if cut != unlocked { broken.append("corruption (valid records after a damaged one) was cut under the lock") }
            case .torn(let offset, _)? where repaired != nil:
                if cut?.count != RecordFormat.headerSize + offset {
                    broken.append("a torn tail at byte \(RecordFormat.headerSize + offset) was not cut there: the file has \(cut?.count ?? -1) bytes")
                }
            case .clean? where repaired != nil:
                if cut != unlocked { broken.append("a segment without damage was changed by reading it under the lock") }
            default:
                break
            }
            if let before, let repaired, repaired != before {
                broken.append("reading under the lock (which cuts a torn tail) gave \(repaired.count) events, without it \(before.count)")
            }
            if let repaired, let after = read(locked: false), after != repaired {
                broken.append("after a torn tail was cut, \(after.count) events are read instead of \(repaired.count)")
            }
        }
        if sys.openDescriptors != 0 { broken.append("\(sys.openDescriptors) file descriptors left open") }
        if let before {
            var state: WorkflowState?
            for event in before { if (try? WorkflowState.apply(event, to: &state)) == nil { break } }
            if let state { broken += renderProblems(state) }
        }
        return broken
    }

    /// `raw` as a sealed segment, as ``FileJournal/sealActiveSegment()`` writes one.
    package static func sealed(_ raw: [UInt8], firstSeq: UInt64 = 1, lyingAboutLastSeq: Bool) -> [UInt8] {
        var header = SealedSegmentHeader(firstSeq: firstSeq, lastSeq: 0, count: 0, rawSize: UInt64(raw.count),
                                         rawChecksum: CRC32C.checksum(raw), firstTime: time, lastTime: time)
        raw.withUnsafeBytes { bytes in
            _ = RecordFormat.scan(bytes, from: RecordFormat.headerSize) { _, _ in header.count += 1 }
        }
        header.lastSeq = lyingAboutLastSeq ? .max : header.count &+ firstSeq &- 1
        var compressed: [UInt8] = []
        do {
            let compressor = try ZstdCompressor(level: 1)
            try raw.withUnsafeBytes { bytes in
                try compressor.compress(bytes, last: true) { compressed.append(contentsOf: $0) }
            }
        } catch {
            return raw
        }
        header.compressedChecksum = CRC32C.checksum(compressed)
        return header.encoded() + compressed
    }
}
