import Foundation
import Logging
@testable import StateJournal
@testable import StateJournalEngine

/// A fresh directory under /tmp, removed when the value is released.
final class TemporaryDirectory {
    let path: String

    init() {
        var template = Array("/tmp/statejournal-test.XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        path = made.map { String(cString: $0) } ?? "/tmp/statejournal-test-\(UUID().uuidString)"
        if made == nil { try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) }
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    func file(_ name: String) -> String { path + "/" + name }
}

func readBytes(_ path: String) -> [UInt8]? {
    FileManager.default.contents(atPath: path).map { [UInt8]($0) }
}

func writeBytes(_ path: String, _ bytes: [UInt8]) {
    _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
}

func readText(_ path: String) -> String? {
    readBytes(path).map { String(decoding: $0, as: UTF8.self) }
}

/// The package root, found from this file's path.
let packageRoot: String = {
    var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
    parts.removeLast(3)
    return parts.joined(separator: "/")
}()

func sampleEvent(_ seq: UInt64, _ payload: Event.Payload? = nil) -> Event {
    Event(seq: seq, time: Timestamp(microseconds: 1_800_000_000_000_000 + Int64(seq)), actor: "tester", pid: 7,
          payload: payload ?? (seq == 1
            ? .workflowInitialized(id: "wf", name: "Journal test", waves: [[.init(id: "t1", description: "one")]], metadata: [])
            : .noteAdded(text: "note \(seq)")))
}

/// A manager on `dir` with small segments so tests exercise rotation.
func smallManager(_ statePath: String, segmentSize: Int = 2048, snapshotInterval: UInt64 = 1000,
                  system: any SystemCalls = RealSystemCalls(), projection: StateManager.ProjectionPolicy = .eager,
                  logger: Logger = Logger(label: "statejournal")) -> StateManager {
    var journal = FileJournal.Options()
    journal.segmentSize = segmentSize
    return StateManager(configuration: .init(statePath: statePath, actor: "tester", lock: LockPolicy(timeout: 5),
                                             fileSystem: FileSystem(system), journal: journal,
                                             projection: projection, snapshotInterval: snapshotInterval),
                        logger: logger)
}

/// Counts the writes a manager queued for group commit, from its trace log
/// ("write queued"): the handshake of tests that need several writes in one
/// batch. Give ``logger`` to the manager.
final class QueueWatcher: LogHandler, @unchecked Sendable {
    private let lock = NSLock()
    private var queued = 0
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    var count: Int { lock.lock(); defer { lock.unlock() }; return queued }
    var logger: Logger { Logger(label: "statejournal") { _ in self } }

    /// Waits until `n` writes were queued in all.
    func wait(for n: Int) { while count < n { sched_yield() } }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        guard event.message.description == "write queued" else { return }
        lock.lock(); queued += 1; lock.unlock()
    }
}

func initPayload(tasks: Int = 4, waves: Int = 2) -> Event.Payload {
    .workflowInitialized(id: "wf", name: "Test flow",
                         waves: (1...waves).map { w in (1...tasks).map { Event.PlannedTask(id: "w\(w)t\($0)", description: "Task \($0) of wave \(w)") } },
                         metadata: [MetadataEntry(key: "owner", value: "tests")])
}

/// The names in a directory (empty when it does not exist).
func listDirectory(_ path: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []).sorted()
}

/// Runs a program and returns its exit status.
@discardableResult
func runProgram(_ path: String, _ args: [String]) throws -> Int32 {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: path)
    p.arguments = args
    p.standardOutput = FileHandle.nullDevice
    p.standardError = FileHandle.nullDevice
    try p.run()
    p.waitUntilExit()
    return p.terminationStatus
}

/// A full replay of the journal from seq 1, ignoring snapshots.
func fullReplay(_ statePath: String, upTo limit: UInt64 = .max) throws -> WorkflowState? {
    var state: WorkflowState?
    try FileJournal(statePath: statePath).readEvents(after: 0) { event in
        if event.seq <= limit { state = try WorkflowState.applying(event, to: state) }
    }
    return state
}

/// Starts `count` real threads running `body(i)` and returns a function
/// that waits for all of them. (Dispatch's pool adds threads for blocked
/// work only slowly; these tests need all of them running at once.)
func startThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) -> () -> Void {
    let group = DispatchGroup()
    for i in 0..<count {
        group.enter()
        let thread = Thread {
            body(i)
            group.leave()
        }
        thread.start()
    }
    return { group.wait() }
}
