import Foundation
import StateJournal
import StateJournalEngine
import StateJournalTesting
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Ends a scenario before it reached its situation, saying why (the run
/// proves nothing: its fault did not fire).
struct Unreached: Error {
    let why: String
    init(_ why: String) { self.why = why }
}

/// What the findings' scenarios share: the run in a fresh workspace, the
/// managers and the setup, the processes stopped or killed at a system call,
/// and the files put back from a copy. The checks are on ``Outcome``.
enum Scenario {
    /// Runs one scenario in a fresh workspace at `directory`: `body` sets up,
    /// provokes and checks, filling in the outcome. A setup step that throws
    /// ends the run as "setup failed", ``Unreached`` with its reason; either
    /// way the fault did not fire. The workspace is removed when the run
    /// went to its end and nothing failed, and kept otherwise, for a look.
    static func run(_ directory: String, _ body: (Workspace, inout Outcome) throws -> Void) -> Outcome {
        var o = Outcome()
        let ws = Workspace(directory)
        do {
            try body(ws, &o)
            if !o.failed { ws.remove() }
        } catch let stop as Unreached {
            o.fired = false
            o.why = stop.why
        } catch {
            o.fired = false
            o.why = "setup failed: \(error)"
        }
        return o
    }

    /// The same on a ``SimulatedDisk`` over the workspace (seeded with
    /// `seed`), for a power loss later.
    static func run(_ directory: String, diskSeed seed: UInt64, _ body: (Workspace, SimulatedDisk, inout Outcome) throws -> Void) -> Outcome {
        run(directory) { ws, o in try body(ws, SimulatedDisk(root: ws.directory, seed: seed), &o) }
    }

    static func manager(_ ws: Workspace, _ sys: (any SystemCalls)? = nil, actor: String = "repro", lockTimeout: Double = 10,
                        projection: StateManager.ProjectionPolicy = .eager, snapshotInterval: UInt64 = 128,
                        segmentSize: Int? = nil) -> StateManager {
        var configuration = StateManager.Configuration(statePath: ws.statePath, actor: actor, lock: LockPolicy(timeout: lockTimeout),
                                                       command: "torture repro \(actor)",
                                                       fileSystem: sys.map { FileSystem($0) } ?? FileSystem(),
                                                       projection: projection, snapshotInterval: snapshotInterval)
        if let segmentSize { configuration.journal.segmentSize = segmentSize }
        return StateManager(configuration: configuration, logger: quietLogger)
    }

    static let initPayload = Event.Payload.workflowInitialized(id: "wf_repro", name: "Repro", waves: [[.init(id: "t1", description: "one")], []],
                                                              metadata: [])

    /// Initialises the workflow through `m` and writes `notes` notes (keys
    /// `prior-1`…); returns what was acknowledged.
    @discardableResult
    static func setUp(_ m: StateManager, notes: Int) throws -> [(key: String, seq: UInt64)] {
        var acked = [("init", try m.write(initPayload, options: .init(idempotencyKey: "init")).event.seq)]
        for i in 0..<notes {
            let key = "prior-\(i + 1)"
            acked.append((key, try m.write(.noteAdded(text: "prior note \(i + 1)"), options: .init(idempotencyKey: key)).event.seq))
        }
        return acked
    }

    /// The same through a process of its own ("setup") on `sys`.
    @discardableResult
    static func setUp(_ ws: Workspace, _ sys: (any SystemCalls)? = nil, notes: Int) throws -> [(key: String, seq: UInt64)] {
        try setUp(manager(ws, sys, actor: "setup"), notes: notes)
    }

    /// The journal read with real system calls (after a simulated crash: what
    /// the disk kept), or the error opening it.
    static func journal(_ ws: Workspace) -> Result<[Event], any Error> {
        Result { try manager(ws, actor: "check").events() }
    }

    static func fold(_ events: [Event]) -> WorkflowState? {
        var state: WorkflowState?
        for event in events { try? WorkflowState.apply(event, to: &state) }
        return state
    }

    /// What STATE.md holds now, read before any command could repair it.
    static func stateFile(_ ws: Workspace) -> [UInt8]? { FileManager.default.contents(atPath: ws.statePath).map { [UInt8]($0) } }

    /// Whether STATE.md shows `text` now.
    static func stateFileShows(_ ws: Workspace, _ text: String) -> Bool {
        stateFile(ws).map { String(decoding: $0, as: UTF8.self).contains(text) } ?? false
    }

    static func firstDifference(_ a: String, _ b: String) -> String {
        let la = a.split(separator: "\n"), lb = b.split(separator: "\n")
        for (x, y) in zip(la, lb) where x != y { return "file has '\(x.prefix(80))', the journal gives '\(y.prefix(80))'" }
        return "\(la.count) vs \(lb.count) lines"
    }

    // MARK: Processes stopped or killed at a system call

    /// A process killed at the segment fdatasync that follows its own
    /// pwrite: its record written, not synced. `wrote`: it got that far.
    static func killedAtOwnSync(_ base: any SystemCalls) -> (calls: ScriptedCalls, wrote: Flag) {
        let wrote = Flag()
        let calls = ScriptedCalls(base) { call in
            if call.operation == .pwrite && call.isSegment { wrote.set() }
            return call.operation == .fdatasync && call.isSegment && wrote.isSet ? .die : .pass
        }
        return (calls, wrote)
    }

    /// A process whose segment fdatasync after its own pwrite first runs
    /// `during` (once), then does `then`: fails (EIO, by default) or, with
    /// ``ScriptedCalls/Action/die``, dies in it. `reached`: it got there.
    static func atOwnSync(_ base: any SystemCalls, then action: ScriptedCalls.Action = .fail(.ioError),
                          during: @escaping @Sendable () -> Void = {}) -> (calls: ScriptedCalls, reached: Flag) {
        let wrote = Flag(), reached = Flag()
        let calls = ScriptedCalls(base) { call in
            if call.operation == .pwrite && call.isSegment { wrote.set() }
            guard call.operation == .fdatasync && call.isSegment && wrote.isSet && !reached.isSet else { return .pass }
            reached.set()
            during()
            return action
        }
        return (calls, reached)
    }

    /// Review R3's writer A (20,000 bytes, key A): its own segment fdatasync
    /// fails as a lost writeback on `disk`, and A dies at its next call,
    /// before it can cut its bytes. Returns A's calls and whether its sync
    /// failed.
    static func writerKilledAfterOwnFailedSync(_ ws: Workspace, _ disk: SimulatedDisk) -> (calls: ScriptedCalls, synced: Flag) {
        let wrote = Flag(), synced = Flag()
        let a = ScriptedCalls(disk) { call in
            if synced.isSet { return .die }  // killed right after its sync returned EIO
            if call.operation == .pwrite && call.isSegment { wrote.set() }
            if call.operation == .fdatasync && call.isSegment && wrote.isSet {
                disk.failWriteback(ofNextSyncOf: "/segment-")
                synced.set()
            }
            return .pass
        }
        _ = try? manager(ws, a, actor: "A").write(.noteAdded(text: String(repeating: "A", count: 20_000)), options: .init(idempotencyKey: "A"))
        return (a, synced)
    }

    // MARK: Files put back from a copy

    static func copyDirectory(_ from: String, _ to: String) {
        try? FileManager.default.removeItem(atPath: to)
        try? FileManager.default.copyItem(atPath: from, toPath: to)
    }

    /// `mv copy path`, after removing `path`: new files, new inodes.
    static func replaceDirectory(_ path: String, with copy: String) -> Bool {
        try? FileManager.default.removeItem(atPath: path)
        return (try? FileManager.default.moveItem(atPath: copy, toPath: path)) != nil
    }

    /// `cp` of `bytes` over `path`: the same file (inode), other contents;
    /// `sync` makes them durable.
    @discardableResult
    static func overwrite(_ path: String, with bytes: Data, sync: Bool = false) -> Bool {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) } == bytes.count
        if sync { fsync(fd) }
        return written
    }

    static func names(in directory: String, prefix: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).filter { $0.hasPrefix(prefix) }
    }
}

extension Workspace {
    var journal: String { statePath + ".journal" }
    var lock: String { statePath + ".lock" }
    var firstSegment: String { journal + "/segment-00000000000000000001.log" }
}

// MARK: - Writes and checks, recorded in the outcome

extension Outcome {
    /// One more attempt: `text` written under `key` through `m`; when it is
    /// acknowledged, it counts and joins ``acked``.
    @discardableResult
    mutating func write(_ m: StateManager, _ text: String, key: String) -> Result<StateManager.WriteOutcome, any Error> {
        attempts += 1
        let result = Result { try m.write(.noteAdded(text: text), options: .init(idempotencyKey: key)) }
        if case .success(let outcome) = result {
            acked.append((key, outcome.event.seq))
            acknowledged += 1
        }
        return result
    }

    /// One more attempt: `statejournal note TEXT --json --idempotency-key KEY
    /// [extra] --state …`; when it printed its event, it counts and joins ``acked``.
    @discardableResult
    mutating func note(_ cli: CLIRunner, _ ws: Workspace, _ text: String, key: String, _ extra: [String] = []) -> CLIRunner.Result {
        attempts += 1
        let r = cli.run(["note", text, "--json", "--idempotency-key", key] + extra + ["--state", ws.statePath])
        if r.status == 0, let event = try? JSON.parse(r.stdout), let seq = event["seq"]?.intValue {
            acked.append((key, UInt64(seq)))
            acknowledged += 1
        }
        return r
    }

    /// The power goes: `disk` keeps only what was made durable. Then every
    /// acknowledged write must be in the journal (a journal that does not
    /// open counts `lostIfUnreadable` lost), and STATE.md may be behind it,
    /// never ahead.
    mutating func powerLoss(_ disk: SimulatedDisk, _ ws: Workspace, lostIfUnreadable: Int = 0, checkingProjection: Bool = true) {
        disk.crash()
        disk.materialize(.dropAll)
        crashes = 1
        checkJournal(ws, "after a simulated power loss", lostIfUnreadable: lostIfUnreadable)
        if checkingProjection { checkProjection(ws, "after a simulated power loss", allowBehind: true) }
    }

    /// Every write in ``acked`` in the journal at its seq, once; seqs 1…n.
    mutating func checkJournal(_ ws: Workspace, _ when: String, lostIfUnreadable: Int = 0) {
        switch Scenario.journal(ws) {
        case .success(let events): checkAcknowledged(in: events, when)
        case .failure(let error): problem("\(when) the journal does not open: \(error)", lost: lostIfUnreadable)
        }
    }

    mutating func checkAcknowledged(in events: [Event], _ when: String) {
        var count: [String: Int] = [:]
        for e in events { if let k = e.idempotencyKey { count[k, default: 0] += 1 } }
        for (key, seq) in acked {
            let at = events.first { $0.seq == seq }
            if at?.idempotencyKey != key {
                problem("\(when): acknowledged \(key)@\(seq) is not in the journal (seq \(seq) holds \(at?.idempotencyKey ?? at.map { $0.payload.typeName } ?? "nothing"))", lost: 1)
            }
        }
        for (key, n) in count where n > 1 { problem("\(when): \(key) is in the journal \(n) times", duplicated: n - 1) }
        let seqs = events.map(\.seq)
        if seqs != Array(1...UInt64(max(seqs.count, 1))).prefix(seqs.count).map({ $0 }) {
            problem("\(when): sequence numbers are not 1…\(seqs.count) without gaps: \(seqs.prefix(12))")
        }
    }

    /// STATE.md must show exactly the journal's state: not an event the
    /// journal does not hold, not a state the journal never had.
    mutating func checkProjection(_ ws: Workspace, _ when: String, allowBehind: Bool = false) {
        let events: [Event]
        switch Scenario.journal(ws) {
        case .success(let e): events = e
        case .failure(let error):
            problem("\(when): the journal does not open: \(error)")
            return
        }
        guard let bytes = Scenario.stateFile(ws) else {
            if !events.isEmpty { problem("\(when): STATE.md is missing") }
            return
        }
        let last = events.last?.seq ?? 0
        switch ProjectionFooter.check(bytes) {
        case .invalid(let why):
            problem("\(when): STATE.md is invalid: \(why)", torn: 1)
        case .valid(let shown) where shown > last:
            problem("\(when): STATE.md shows seq \(shown), the journal holds only up to seq \(last)", ahead: 1)
        case .valid(let shown):
            guard let state = Scenario.fold(events) else { return }
            let expected = MarkdownRenderer.render(state)
            let text = String(decoding: bytes, as: UTF8.self)
            if shown == last && text != expected {
                problem("\(when): STATE.md claims seq \(shown) like the journal but shows other events (\(Scenario.firstDifference(text, expected)))", ahead: 1)
            } else if shown < last && !allowBehind {
                problem("\(when): STATE.md shows seq \(shown), the journal ends at \(last)")
            }
        }
    }

    /// Temporary files left anywhere in the workspace.
    mutating func checkLitter(_ ws: Workspace, _ when: String) {
        let litter = ws.litter()
        if !litter.isEmpty { problem("\(when): temporary files left behind: \(litter.prefix(3).joined(separator: ", "))") }
    }
}

/// A boolean set from any thread.
final class Flag: Sendable {
    private let value = Atomic<Bool>(false)
    func set() { value.store(true, ordering: .sequentiallyConsistent) }
    var isSet: Bool { value.load(ordering: .sequentiallyConsistent) }
}

/// Runs `body` on a new thread; `join()` waits for it.
final class Worker: @unchecked Sendable {
    private let group = DispatchGroup()
    init(_ body: @escaping @Sendable () -> Void) {
        group.enter()
        let thread = Thread { [group] in body(); group.leave() }
        thread.stackSize = 4 << 20
        thread.start()
    }
    func join() { group.wait() }
}
