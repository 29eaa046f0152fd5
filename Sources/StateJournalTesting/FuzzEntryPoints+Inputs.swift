import Logging
import StateJournal
import StateJournalEngine
import StateJournalModel

extension FuzzEntryPoints {
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
}
