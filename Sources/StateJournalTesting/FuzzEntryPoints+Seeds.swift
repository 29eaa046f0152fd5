import Logging
import StateJournal
import StateJournalEngine
import StateJournalModel

extension FuzzEntryPoints {
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
            state.tasks.filter { $0.wave == w }.map { Event.PlannedTask(id: $0.id, description: $0.description, dependsOn: $0.dependsOn) }
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
        // What an edit of STATE.md records (every event type the fold knows).
        if let first = state.tasks.first {
            payloads.append(.taskEdited(taskID: first.id, description: first.description, commit: first.commit,
                                        files: first.files, error: first.error))
        }
        payloads += [.noteAdded(text: "to remove"), .noteRemoved(text: "to remove"),
                     .metadataSet(key: "removed-key", value: "v"), .metadataRemoved(key: "removed-key"),
                     .workflowRenamed(name: state.name)]
        payloads += state.sections.map { .sectionSet($0) }
        payloads.append(.sectionSet(FreeSection(name: "Fuzz decisions", after: "notes", markdown: "We *chose* `x`.\n\n- [ ] not a task")))
        payloads.append(.taskAdded(taskID: "added-task", wave: max(state.totalWaves, 1), description: "added"))
        // A claim, its renewal and its release (the events' actor is "fuzz").
        let lease = Timestamp(microseconds: time.microseconds + 60_000_000)
        payloads.append(.taskClaimed(taskID: "added-task", owner: "fuzz", leaseExpires: lease, previousOwner: nil, force: false))
        payloads.append(.taskLeaseRenewed(taskID: "added-task", owner: "fuzz", leaseExpires: nil))
        payloads.append(.taskReleased(taskID: "added-task", owner: "fuzz", force: false))
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
                       : .obj(["task_id": .string(task.id), "description": .string(task.description),
                               "depends_on": task.dependsOn.isEmpty ? nil : .array(task.dependsOn.map { .string($0) })])
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
}
