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
        return broken + projectionProblems(of: state, as: "state.replaced", of: .stateReplaced(StateImage(state)))
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

        for record in scanned {
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

    // MARK: Snapshots

    /// The snapshot decoder, and what a read command does with a snapshot's
    /// state: render STATE.md, `show --json`, `resume-info --json`.
    ///
    /// Mode byte: bit 0 clear — the rest is a snapshot file as on disk; set —
    /// the rest is the JSON payload, given a header here with the right size
    /// and checksums (its seq from the payload's `seq`, else 1); bit 1 —
    /// that payload zstd-compressed, as ``SnapshotFormat/encode(_:position:)``
    /// writes it; bits 2–7 — the position it records.
    public static func snapshot(_ bytes: UnsafeRawBufferPointer) -> [String] {
        guard let mode = bytes.first else { return [] }
        let rest = Array(bytes[1...])
        let file: [UInt8]
        if mode & 1 == 0 {
            file = rest
        } else {
            let seq = (try? JSON.parse(rest))?["seq"]?.intValue.map { UInt64(bitPattern: $0) } ?? 1
            let compressed = mode & 2 != 0 ? try? Zstd.compress(rest, level: 1) : nil
            let payload = compressed ?? rest
            var header = SnapshotFormat.magic
            header.appendLE(SnapshotFormat.version)
            header.appendLE(compressed == nil ? UInt16(0) : SnapshotFormat.compressedFlag)
            header.appendLE(seq)
            header.appendLE(UInt64(mode >> 2 & 1))
            header.appendLE(UInt64(mode >> 3))
            header.appendLE(UInt64(payload.count))
            header.appendLE(CRC32C.mask(CRC32C.checksum(payload)))
            header.appendLE(CRC32C.mask(CRC32C.checksum(header)))
            file = header + payload
        }
        guard case .success(let (snapshot, _)) = SnapshotFormat.decode(file) else { return [] }
        var broken: [String] = []
        if let state = snapshot.state {
            broken += renderProblems(state)
            switch SnapshotFormat.decode(SnapshotFormat.encode(snapshot, position: nil)) {
            case .success(let (again, _)) where again == snapshot: break
            default: broken.append("a decoded snapshot does not survive encoding and decoding")
            }
        }
        return broken
    }

    // MARK: The JSON inputs of init --plan and update --from

    /// `init --plan FILE`: the plan parser, then the `workflow.initialized`
    /// event it makes, checked and folded as a write is.
    public static func plan(_ bytes: UnsafeRawBufferPointer) -> [String] {
        guard let plan = try? WorkflowPlan.parse(Array(bytes), source: "fuzz") else { return [] }
        let payload = Event.Payload.workflowInitialized(id: plan.workflowID ?? "wf", name: plan.name ?? "Fuzz",
                                                        waves: plan.waves, metadata: plan.metadata)
        return writeProblems(payload)
    }

    /// `update --from FILE`: the update parser, then the `state.replaced`
    /// event it makes over no workflow and over a sample one.
    public static func update(_ bytes: UnsafeRawBufferPointer) -> [String] {
        guard let update = try? StateUpdate.parse(Array(bytes), source: "fuzz") else { return [] }
        var broken: [String] = []
        for base in [nil, sampleState] {
            guard let image = try? update.image(over: base, at: time) else { continue }
            broken += writeProblems(.stateReplaced(image), over: base)
        }
        return broken
    }

    /// A write of `payload`: checked against `base` as under the lock; when
    /// accepted, its event must survive the journal's encoding and its state
    /// must project to a valid STATE.md that reads back the same.
    package static func writeProblems(_ payload: Event.Payload, over base: WorkflowState? = nil) -> [String] {
        let event = Event(seq: (base?.seq ?? 0) + 1, time: time, actor: "fuzz", pid: 1, payload: payload)
        guard let state = try? WorkflowState.applying(event, to: base) else { return [] }
        var broken = eventProblems(event)
        broken += projectionProblems(of: state, as: event.payload.typeName, of: nil)
        return broken
    }

    // MARK: Seeds

    /// Starting inputs for target `name`, made from STATE.md files (the
    /// fixtures): the files themselves and what StateJournal writes for their
    /// states — events, raw and sealed segments, snapshots, plans, updates —
    /// each in every framing mode the target reads.
    public static func seeds(for name: String, stateFiles: [[UInt8]]) -> [[UInt8]] {
        let states = stateFiles.compactMap { try? MarkdownParser.parse(String(decoding: $0, as: UTF8.self)).state() }
        var out: [[UInt8]] = []
        for state in states {
            let events = history(of: state)
            let payloads = events.map { $0.json().encoded() }
            let lines = payloads.joined(separator: [UInt8(ascii: "\n")]).map { $0 }
            var segment = RecordFormat.encodeHeader(.init(firstSeq: 1, created: time))
            for payload in payloads { RecordFormat.appendRecord(payload, to: &segment) }
            switch name {
            case "statefile":
                out.append(Array(MarkdownRenderer.render(state).utf8))
            case "records":
                out.append([0] + Array(segment[RecordFormat.headerSize...]))
                out.append([1] + lines)
                out.append([0x81] + lines)
            case "segment":
                out.append([0] + segment)
                out.append([1] + lines)
                out.append([2] + sealed(segment, lyingAboutLastSeq: false))
                out.append([3] + lines)
                out.append([4 | 0x40] + segment + segment[RecordFormat.headerSize..<(RecordFormat.headerSize + 20)])
                out.append([5] + lines + Array("\n#torn".utf8))
                if payloads.count >= 2 {
                    // Damage between records: corruption, which must be refused and never cut.
                    let damaged = [payloads[0], Array("#XXXXXXXXXXXX".utf8)] + payloads[1...]
                    out.append([5] + damaged.joined(separator: [UInt8(ascii: "\n")]).map { $0 })
                }
            case "snapshot":
                let snapshot = Snapshot(seq: state.seq, lastTime: state.updated, state: state, idempotencyKeys: ["key-1": 1])
                let file = SnapshotFormat.encode(snapshot, position: .init(segmentFirstSeq: 1, offset: 4096))
                out.append([0] + file)
                let json = JSON.obj(["seq": .int(Int64(state.seq)), "last_time": .string(state.updated.rfc3339),
                                     "state": state.json(), "idempotency_keys": .obj(["key-1": .int(1)])]).encoded()
                out.append([1] + json)
                out.append([3] + json)
            case "plan":
                out.append(planJSON(state, legacy: false).encoded())
                out.append(planJSON(state, legacy: true).encoded())
            case "update":
                out.append(updateJSON(state).encoded())
            default:
                break
            }
        }
        if name == "statefile" { out += stateFiles }
        return out
    }

    /// Events that lead to `state`: initialised with its plan, its tasks
    /// started, completed and failed, its notes and metadata, then replaced
    /// by the state as a whole.
    package static func history(of state: WorkflowState) -> [Event] {
        var payloads: [Event.Payload] = []
        let waves = (1...max(state.totalWaves, 1)).map { w in
            state.tasks.filter { $0.wave == w }.map { Event.PlannedTask(id: $0.id, description: $0.description) }
        }
        payloads.append(.workflowInitialized(id: state.workflowID, name: state.name, waves: waves, metadata: state.metadata))
        if state.currentWave > 0 { payloads.append(.waveSet(wave: state.currentWave)) }
        for task in state.tasks {
            switch task.status {
            case .pending: break
            case .inProgress: payloads.append(.taskStarted(taskID: task.id))
            case .completed: payloads.append(.taskCompleted(taskID: task.id, commit: task.commit, files: task.files))
            case .failed: payloads.append(.taskFailed(taskID: task.id, error: task.error ?? "failed"))
            }
        }
        payloads += state.notes.filter { !$0.isEmpty }.map { .noteAdded(text: $0) }
        payloads.append(.taskAdded(taskID: "added-task", wave: max(state.totalWaves, 1), description: "added"))
        payloads.append(.stateReplaced(StateImage(state)))
        payloads.append(.stateRestored(fromSeq: 1, state: StateImage(state)))
        return payloads.enumerated().map { i, payload in
            Event(seq: UInt64(i + 1), time: Timestamp(microseconds: time.microseconds + Int64(i)), actor: "fuzz", pid: 1,
                  idempotencyKey: i == 1 ? "key-1" : nil, payload: payload)
        }
    }

    /// StateJournal's plan shape, or the earlier tool's `initialize()` arguments.
    package static func planJSON(_ state: WorkflowState, legacy: Bool) -> JSON {
        let waves = JSON.array((1...max(state.totalWaves, 1)).map { w in
            .array(state.tasks.filter { $0.wave == w }.map { task in
                legacy ? .obj(["agent_id": .string(task.id), "prompt": .string(task.description)])
                       : .obj(["task_id": .string(task.id), "description": .string(task.description)])
            })
        })
        if legacy {
            return .obj(["workflow_id": .string(state.workflowID), "workflow_name": .string(state.name),
                         "total_waves": .int(Int64(state.totalWaves)), "all_waves": waves, "metadata": metadataJSON(state.metadata)])
        }
        return .obj(["waves": waves, "metadata": metadataJSON(state.metadata)])
    }

    /// The earlier tool's `update()` arguments for `state`.
    package static func updateJSON(_ state: WorkflowState) -> JSON {
        func task(_ t: WorkflowTask) -> JSON {
            var result: [JSON.Member] = []
            if t.status == .completed { result.append(.init("success", .bool(true))) }
            if let error = t.error { result.append(.init("error", .string(error))) }
            if !t.files.isEmpty { result.append(.init("files_modified", .array(t.files.map { .string($0) }))) }
            return .obj(["task_id": .string(t.id), "description": .string(t.description), "wave_id": .int(Int64(t.wave)),
                         "commit_hash": t.commit.map { .string($0) }, "result": .object(result)])
        }
        let current = state.tasks.filter { $0.wave == state.currentWave }
        let done = state.tasks.filter { $0.wave < state.currentWave }
        let pending = state.currentWave < state.totalWaves
            ? ((state.currentWave + 1)...state.totalWaves).map { w in JSON.array(state.tasks.filter { $0.wave == w }.map(task)) }
            : []
        return .obj(["workflow_id": .string(state.workflowID), "workflow_name": .string(state.name),
                     "wave_id": .int(Int64(state.currentWave)), "total_waves": .int(Int64(state.totalWaves)),
                     "completed_tasks": .array(done.map(task)), "current_wave_tasks": .array(current.map(task)),
                     "pending_waves": .array(pending), "commit_hash": .string("abc1234"),
                     "notes": .array(state.notes.map { .string($0) }), "metadata": metadataJSON(state.metadata)])
    }

    // MARK: Invariants of a state

    /// What every read command does with a state: STATE.md, `show --json`,
    /// `resume-info --json`. None may crash, whatever the state.
    /// Also: the STATE.md is valid and parses, and the JSON of `show` and
    /// `resume-info` parses back.
    package static func renderProblems(_ state: WorkflowState) -> [String] {
        var broken: [String] = []
        let text = MarkdownRenderer.render(state)
        let problems = MarkdownValidator.validate(text)
        if !problems.isEmpty {
            broken.append("the STATE.md rendered for a folded state is not valid: \(problems.prefix(3).map(\.description))")
        }
        do { _ = try MarkdownParser.parse(text) } catch {
            broken.append("the STATE.md rendered for a folded state cannot be parsed: \(error)")
        }
        if (try? JSON.parse(state.json().encoded())) == nil { broken.append("the state's JSON (show --json) does not parse") }
        if (try? JSON.parse(ResumeInfo(state).json().encoded())) == nil { broken.append("resume-info's JSON does not parse") }
        return broken
    }

    /// A state the fold accepts (checked as `payload`, a replacement, when
    /// given) renders to a STATE.md that is valid and reads back the same.
    package static func projectionProblems(of state: WorkflowState, as what: String, of payload: Event.Payload?) -> [String] {
        // Only a state the fold accepts must render well: a file of the
        // earlier tool may hold what the fold refuses (a task id with a
        // space), and import refuses it before anything is rendered.
        if let payload {
            let event = Event(seq: max(state.seq, 1), time: state.updated, actor: "fuzz", pid: 1, payload: payload)
            guard (try? WorkflowState.applying(event, to: nil)) != nil else { return [] }
        }
        var broken = renderProblems(state)
        if !broken.isEmpty { return broken }
        let text = MarkdownRenderer.render(state)
        let problems = MarkdownValidator.validate(text)
        if !problems.isEmpty {
            broken.append("the STATE.md rendered for a \(what) state is not valid: \(problems.prefix(3).map(\.description))")
        }
        guard let file = try? MarkdownParser.parse(text), let back = file.state() else {
            broken.append("the STATE.md rendered for a \(what) state cannot be read back")
            return broken
        }
        broken += differences(state, back, truncated: file.filesTruncated).map { "\(what) state round trip: \($0)" }
        return broken
    }

    /// How `back` (read from STATE.md) differs from `state`, beyond what
    /// STATE.md does not show: times below the second, files after the third,
    /// failed tasks' waves.
    package static func differences(_ state: WorkflowState, _ back: WorkflowState, truncated: [String: Int]) -> [String] {
        var out: [String] = []
        func check<T: Equatable>(_ name: String, _ a: T, _ b: T) { if a != b { out.append("\(name): \(a) became \(b)") } }
        check("workflow id", state.workflowID, back.workflowID)
        check("name", state.name, back.name)
        check("current wave", state.currentWave, back.currentWave)
        check("total waves", state.totalWaves, back.totalWaves)
        check("started", state.started.localDateTime, back.started.localDateTime)
        check("updated", state.updated.localDateTime, back.updated.localDateTime)
        check("seq", state.seq, back.seq)
        check("notes", state.notes, back.notes)
        check("metadata", state.metadata, back.metadata)
        check("task count", state.tasks.count, back.tasks.count)
        for task in state.tasks {
            guard let other = back.task(task.id) else { out.append("task \(task.id) is missing"); continue }
            var expected = task
            expected.files = Array(task.files.prefix(StateMarkdown.filesShown))
            // Failed tasks are listed flat, as the earlier tool writes them: their wave is not in the file.
            if task.status == .failed { expected.wave = other.wave }
            check("task \(task.id)", expected, other)
            check("task \(task.id) hidden files", max(task.files.count - StateMarkdown.filesShown, 0), truncated[task.id] ?? 0)
        }
        return out
    }
}
