import Testing
@testable import StateJournal
@testable import StateJournalEngine

/// Dependencies, readiness and claims in the fold: decided by the events'
/// own times, so a replay decides every claim as the writer did.
@Suite struct ClaimFoldTests {
    static let t0 = Timestamp(microseconds: 1_800_000_000_000_000)
    static let second: Int64 = 1_000_000

    func event(_ seq: UInt64, at offset: Int64, by actor: String, _ payload: Event.Payload) -> Event {
        Event(seq: seq, time: Timestamp(microseconds: Self.t0.microseconds + offset), actor: actor, pid: 1, payload: payload)
    }

    /// Wave 1: a, b after a; wave 2: c after a and b.
    func initialized() throws -> WorkflowState {
        try WorkflowState.applying(event(1, at: 0, by: "o", .workflowInitialized(
            id: "wf", name: "W",
            waves: [[.init(id: "a", description: ""), .init(id: "b", description: "", dependsOn: ["a"])],
                    [.init(id: "c", description: "", dependsOn: ["a", "b"])]], metadata: [])), to: nil)
    }

    func claim(_ id: String, by owner: String, at offset: Int64, lease seconds: Int64?, force: Bool = false,
               previous: String? = nil) -> Event.Payload {
        .taskClaimed(taskID: id, owner: owner, leaseExpires: seconds.map { Timestamp(microseconds: Self.t0.microseconds + offset + $0 * Self.second) },
                     previousOwner: previous, force: force)
    }

    @Test func readinessFollowsDependenciesAndWaves() throws {
        var s = try initialized()
        #expect(s.readyTasks().map(\.id) == ["a"])
        s = try WorkflowState.applying(event(2, at: 1, by: "o", .taskCompleted(taskID: "a", commit: nil, files: [])), to: s)
        #expect(s.readyTasks().map(\.id) == ["b"])
        s = try WorkflowState.applying(event(3, at: 2, by: "o", .taskCompleted(taskID: "b", commit: nil, files: [])), to: s)
        #expect(s.readyTasks().isEmpty)  // c waits for wave 2
        s = try WorkflowState.applying(event(4, at: 3, by: "o", .waveSet(wave: 2)), to: s)
        #expect(s.readyTasks().map(\.id) == ["c"])
    }

    @Test func aLiveLeaseRefusesOthersAndAnExpiredOneDoesNot() throws {
        var s = try initialized()
        s = try WorkflowState.applying(event(2, at: 0, by: "x", claim("a", by: "x", at: 0, lease: 10)), to: s)
        #expect(s.task("a")?.owner == "x" && s.task("a")?.status == .inProgress)
        // Nine seconds later x's lease is live: y is refused (conflict), x itself is not.
        let early = event(3, at: 9 * Self.second, by: "y", claim("a", by: "y", at: 9 * Self.second, lease: 10, previous: "x"))
        #expect(throws: StateJournalError.self) { _ = try WorkflowState.applying(early, to: s) }
        do { _ = try WorkflowState.applying(early, to: s) } catch { #expect((error as? StateJournalError)?.code == .conflict) }
        let complete = event(3, at: 9 * Self.second, by: "y", .taskCompleted(taskID: "a", commit: nil, files: []))
        #expect(throws: StateJournalError.self) { _ = try WorkflowState.applying(complete, to: s) }
        // Forced, or at the lease's end (an event at exactly the expiry), it applies.
        _ = try WorkflowState.applying(event(3, at: 9 * Self.second, by: "y",
                                             claim("a", by: "y", at: 9 * Self.second, lease: 10, force: true, previous: "x")), to: s)
        let late = try WorkflowState.applying(event(3, at: 10 * Self.second, by: "y",
                                                    claim("a", by: "y", at: 10 * Self.second, lease: nil, previous: "x")), to: s)
        #expect(late.task("a")?.owner == "y" && late.task("a")?.leaseExpires == nil)
        // Completion ends the claim.
        let done = try WorkflowState.applying(event(4, at: 11 * Self.second, by: "y", .taskCompleted(taskID: "a", commit: nil, files: [])), to: late)
        #expect(done.task("a")?.owner == nil && done.task("a")?.status == .completed)
    }

    @Test func dependenciesMustBeKnownAndAcyclic() throws {
        func initialize(_ waves: [[Event.PlannedTask]]) throws -> WorkflowState {
            try WorkflowState.applying(event(1, at: 0, by: "o", .workflowInitialized(id: "wf", name: "W", waves: waves, metadata: [])), to: nil)
        }
        #expect(throws: StateJournalError.self) { _ = try initialize([[.init(id: "a", description: "", dependsOn: ["zz"])]]) }
        #expect(throws: StateJournalError.self) {
            _ = try initialize([[.init(id: "a", description: "", dependsOn: ["b"]), .init(id: "b", description: "", dependsOn: ["a"])]])
        }
        let s = try initialized()
        #expect(throws: StateJournalError.self) {
            _ = try WorkflowState.applying(event(2, at: 1, by: "o", .taskAdded(taskID: "d", wave: 1, description: "", dependsOn: ["zz"])), to: s)
        }
        let added = try WorkflowState.applying(event(2, at: 1, by: "o", .taskAdded(taskID: "d", wave: 1, description: "", dependsOn: ["c"])), to: s)
        #expect(added.task("d")?.dependsOn == ["c"])
    }

    @Test func newEventsRoundTripThroughJSON() throws {
        let payloads: [Event.Payload] = [
            claim("a", by: "x", at: 0, lease: 30, force: true, previous: "y"),
            claim("a", by: "x", at: 0, lease: nil),
            .taskLeaseRenewed(taskID: "a", owner: "x", leaseExpires: Self.t0),
            .taskReleased(taskID: "a", owner: "x", force: true),
            .taskCompleted(taskID: "a", commit: nil, files: [], force: true),
            .taskFailed(taskID: "a", error: "e", force: true),
            .taskAdded(taskID: "d", wave: 1, description: "", dependsOn: ["a", "b"]),
            .workflowInitialized(id: "wf", name: "W", waves: [[.init(id: "a", description: "", dependsOn: ["b"])]], metadata: []),
        ]
        for (i, payload) in payloads.enumerated() {
            let e = event(UInt64(i + 1), at: 0, by: "x", payload)
            #expect(try Event(json: try JSON.parse(e.json().encoded())) == e)
        }
    }

    @Test func leaseDurationsParseAndPrint() throws {
        let cases: [(String, Int64?, String)] = [
            ("30s", 30_000_000, "30s"), ("15m", 900_000_000, "15m"), ("1h30m", 5_400_000_000, "1h30m"),
            ("2d", 172_800_000_000, "2d"), ("500ms", 500_000, "500ms"), ("45", 45_000_000, "45s"), ("none", nil, "none"),
        ]
        for (text, micros, shown) in cases {
            let lease = try LeaseDuration(parsing: text)
            #expect(lease.microseconds == micros && lease.description == shown)
        }
        for bad in ["", "5x", "0s", "m", "1h30", "-5s", "99999999999999999999s"] {
            #expect(throws: StateJournalError.self) { _ = try LeaseDuration(parsing: bad) }
        }
    }
}
