import Testing
@testable import StateJournal
@testable import StateJournalEngine

/// Every transition of the fold, allowed and refused.
@Suite struct FoldTests {
    static let t0 = Timestamp(microseconds: 1_800_000_000_000_000)

    func event(_ seq: UInt64, _ payload: Event.Payload) -> Event {
        Event(seq: seq, time: Timestamp(microseconds: Self.t0.microseconds + Int64(seq)), actor: "tester", pid: 1, payload: payload)
    }

    func initialized() throws -> WorkflowState {
        try WorkflowState.applying(event(1, .workflowInitialized(
            id: "wf", name: "Flow",
            waves: [[.init(id: "a", description: "A"), .init(id: "b", description: "B")], [.init(id: "c", description: "C")]],
            metadata: [MetadataEntry(key: "owner", value: "me")])), to: nil)
    }

    func apply(_ payload: Event.Payload, to state: WorkflowState) throws -> WorkflowState {
        try WorkflowState.applying(event(state.seq + 1, payload), to: state)
    }

    func status(_ s: TaskStatus, _ id: String = "a") throws -> WorkflowState {
        let s0 = try initialized()
        switch s {
        case .pending: return s0
        case .inProgress: return try apply(.taskStarted(taskID: id), to: s0)
        case .completed: return try apply(.taskCompleted(taskID: id, commit: nil, files: []), to: s0)
        case .failed: return try apply(.taskFailed(taskID: id, error: "boom"), to: s0)
        }
    }

    func refuses(_ payload: Event.Payload, in state: WorkflowState, code: StateJournalError.Code = .badInput) {
        #expect(throws: StateJournalError.self) { _ = try apply(payload, to: state) }
        do { _ = try apply(payload, to: state) } catch { #expect((error as? StateJournalError)?.code == code) }
    }

    @Test func initializeBuildsWavesInPlanOrder() throws {
        let s = try initialized()
        #expect(s.tasks.map(\.id) == ["a", "b", "c"])
        #expect(s.tasks.map(\.wave) == [1, 1, 2])
        #expect(s.totalWaves == 2 && s.currentWave == 0 && s.seq == 1)
        #expect(s.metadataValue("owner") == "me")
        #expect(s.tasks.allSatisfy { $0.status == .pending })
    }

    @Test func reinitializeStartsANewWorkflow() throws {
        let s = try apply(.workflowInitialized(id: "wf2", name: "Second", waves: [[]], metadata: []), to: try status(.completed))
        #expect(s.workflowID == "wf2" && s.tasks.isEmpty && s.totalWaves == 1)
    }

    @Test func initializeRefusesDuplicateAndInvalidIDs() throws {
        #expect(throws: StateJournalError.self) {
            _ = try WorkflowState.applying(event(1, .workflowInitialized(id: "wf", name: "x", waves: [[.init(id: "a", description: ""), .init(id: "a", description: "")]], metadata: [])), to: nil)
        }
        #expect(throws: StateJournalError.self) {
            _ = try WorkflowState.applying(event(1, .workflowInitialized(id: "w f", name: "x", waves: [], metadata: [])), to: nil)
        }
        #expect(throws: StateJournalError.self) {
            _ = try WorkflowState.applying(event(1, .workflowInitialized(id: "wf", name: "x", waves: [[.init(id: "a*b", description: "")]], metadata: [])), to: nil)
        }
    }

    @Test func anyEventBeforeInitIsRefused() {
        #expect(throws: StateJournalError.self) { _ = try WorkflowState.applying(event(1, .taskStarted(taskID: "a")), to: nil) }
        let error = #expect(throws: StateJournalError.self) {
            _ = try WorkflowState.applying(event(1, .noteAdded(text: "x")), to: nil)
        }
        #expect(error?.code == .notInitialized)
    }

    // Allowed: pending → in progress, completed or failed; in progress →
    // completed or failed; failed → in progress or completed.
    @Test(arguments: [
        (TaskStatus.pending, TaskStatus.inProgress), (.pending, .completed), (.pending, .failed),
        (.inProgress, .completed), (.inProgress, .failed), (.failed, .inProgress), (.failed, .completed),
    ])
    func allowedTransition(from: TaskStatus, to: TaskStatus) throws {
        let s = try status(from)
        let payload: Event.Payload
        switch to {
        case .inProgress: payload = .taskStarted(taskID: "a")
        case .completed: payload = .taskCompleted(taskID: "a", commit: "abc123", files: ["x.swift"])
        case .failed: payload = .taskFailed(taskID: "a", error: "it broke")
        case .pending: return
        }
        let next = try apply(payload, to: s)
        #expect(next.task("a")?.status == to)
        #expect(next.seq == s.seq + 1)
        if to == .completed {
            #expect(next.task("a")?.commit == "abc123" && next.task("a")?.files == ["x.swift"] && next.task("a")?.error == nil)
        }
        if to == .failed { #expect(next.task("a")?.error == "it broke") }
        if to == .inProgress { #expect(next.task("a")?.error == nil) }
    }

    @Test(arguments: [
        (TaskStatus.inProgress, TaskStatus.inProgress), (.failed, .failed),
        (.completed, .inProgress), (.completed, .completed), (.completed, .failed),
    ])
    func refusedTransition(from: TaskStatus, to: TaskStatus) throws {
        let s = try status(from)
        switch to {
        case .inProgress: refuses(.taskStarted(taskID: "a"), in: s)
        case .completed: refuses(.taskCompleted(taskID: "a", commit: nil, files: []), in: s)
        case .failed: refuses(.taskFailed(taskID: "a", error: "x"), in: s)
        case .pending: break
        }
    }

    @Test func unknownTaskIsRefused() throws {
        let s = try initialized()
        refuses(.taskStarted(taskID: "zzz"), in: s)
        refuses(.taskCompleted(taskID: "zzz", commit: nil, files: []), in: s)
        refuses(.taskFailed(taskID: "zzz", error: "x"), in: s)
    }

    @Test func addTaskJoinsItsWaveInPlanOrder() throws {
        let s = try apply(.taskAdded(taskID: "a2", wave: 1, description: "late"), to: try initialized())
        #expect(s.tasks.map(\.id) == ["a", "b", "a2", "c"])
        #expect(s.task("a2")?.status == .pending)
        refuses(.taskAdded(taskID: "a", wave: 1, description: ""), in: s)
        refuses(.taskAdded(taskID: "n", wave: 0, description: ""), in: s)
        refuses(.taskAdded(taskID: "n", wave: 3, description: ""), in: s)
    }

    @Test func waveSetStaysInRange() throws {
        let s = try initialized()
        #expect(try apply(.waveSet(wave: 2), to: s).currentWave == 2)
        #expect(try apply(.waveSet(wave: 0), to: s).currentWave == 0)
        refuses(.waveSet(wave: 3), in: s)
        refuses(.waveSet(wave: -1), in: s)
    }

    @Test func notesAppendAndMetadataKeepsOrder() throws {
        var s = try apply(.noteAdded(text: "one"), to: try initialized())
        s = try apply(.noteAdded(text: "two"), to: s)
        s = try apply(.metadataSet(key: "branch", value: "main"), to: s)
        s = try apply(.metadataSet(key: "owner", value: "you"), to: s)
        #expect(s.notes == ["one", "two"])
        #expect(s.metadata.map(\.key) == ["owner", "branch"])
        #expect(s.metadataValue("owner") == "you")
        refuses(.noteAdded(text: ""), in: s)
        refuses(.metadataSet(key: "", value: "x"), in: s)
    }

    @Test func replaceAndRestoreTakeTheWholeState() throws {
        let s = try status(.completed)
        let image = StateImage(try initialized())
        let replaced = try apply(.stateReplaced(image), to: s)
        #expect(replaced.task("a")?.status == .pending)
        #expect(replaced.seq == s.seq + 1)
        let restored = try apply(.stateRestored(fromSeq: 2, state: StateImage(s)), to: replaced)
        #expect(restored.task("a")?.status == .completed)
    }

    @Test func eventJSONRoundTrips() throws {
        let payloads: [Event.Payload] = [
            .workflowInitialized(id: "wf", name: "N\n\"q\"", waves: [[.init(id: "a", description: "d")], []], metadata: [MetadataEntry(key: "k", value: "v")]),
            .taskAdded(taskID: "t", wave: 2, description: "🚀 x"),
            .taskStarted(taskID: "t"),
            .taskCompleted(taskID: "t", commit: "abc", files: ["a", "b"]),
            .taskCompleted(taskID: "t", commit: nil, files: []),
            .taskFailed(taskID: "t", error: "e\u{1}"),
            .waveSet(wave: 1),
            .noteAdded(text: "note"),
            .metadataSet(key: "k", value: "v"),
            .stateReplaced(StateImage(try status(.failed))),
            .stateRestored(fromSeq: 3, state: StateImage(try status(.completed))),
        ]
        for (i, payload) in payloads.enumerated() {
            let e = Event(seq: UInt64(i + 1), time: Timestamp(microseconds: 1_700_000_000_123_456), actor: "a@b", pid: 42,
                          idempotencyKey: i % 2 == 0 ? "key-\(i)" : nil, payload: payload)
            let decoded = try Event(json: try JSON.parse(e.json().encoded()))
            #expect(decoded == e)
        }
    }
}
