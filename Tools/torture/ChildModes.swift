import Foundation
import StateJournal
import StateJournalEngine
import StateJournalTesting
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// `torture lib-writer --state PATH --writer W --from I --to J`: writes the
/// library writer's intended events I..<J through ``StateManager`` and prints
/// `ack KEY SEQ DUPLICATE INDEX` after each write returns — the harness's
/// record of what this writer was told.
enum LibraryWriter {
    static func key(_ writer: Int, _ index: Int) -> String { "l\(writer)-\(index)" }

    /// The index-th intended write of a library writer: add a task, start it,
    /// complete it, write a note — always the same for the same index, so a
    /// retry after a kill repeats it with the same key.
    static func payload(_ writer: Int, _ index: Int) -> Event.Payload {
        let cycle = index / 4, task = "l\(writer)-t\(cycle)"
        switch index % 4 {
        case 0: return .taskAdded(taskID: task, wave: 2, description: "library task \(cycle) of \(writer)\n## not a section")
        case 1: return .taskStarted(taskID: task)
        case 2: return .taskCompleted(taskID: task, commit: "abc\(writer)\(cycle)", files: (0..<(cycle % 6)).map { "lib/\($0).c" })
        default: return .noteAdded(text: "library note \(index) of \(writer) — ✅ [x]")
        }
    }

    static func run(_ options: [String: String]) -> Int32 {
        guard let state = options["state"], let w = options["writer"].flatMap(Int.init),
              let from = options["from"].flatMap(Int.init), let to = options["to"].flatMap(Int.init) else {
            emit("usage: lib-writer --state PATH --writer W --from I --to J")
            return 2
        }
        // Where a kill lands: phase markers in a file the harness reads
        // after the kill, and optionally a SIGKILL of our own right after an
        // append was made durable, before STATE.md is renamed.
        let markers = options["markers"].map { PhaseMarkers(path: $0, statePath: state) }
        let dieAtRename = options["die-at-rename"].flatMap(Int.init)
        // `--stop-at availableSpace`: stop (SIGSTOP) once, right before the
        // first append's free-space check — the lock held, the journal read;
        // the harness sees the stop with waitpid and continues us (SIGCONT).
        let stopAt = options["stop-at"].flatMap(FaultInjector.Operation.init(rawValue:))
        let stopped = Atomic<Bool>(false)
        let sys: any SystemCalls = markers == nil && stopAt == nil ? RealSystemCalls() : ScriptedCalls(RealSystemCalls()) { call in
            markers?.before(call, dieAtRename: dieAtRename)
            if call.operation == stopAt, !stopped.exchange(true, ordering: .relaxed) { Glibc.kill(getpid(), SIGSTOP) }
            return .pass
        }
        // Small segments and frequent snapshots: rotation, sealing and
        // snapshot writing happen often, so kills land in them too.
        var configuration = StateManager.Configuration(statePath: state, actor: "lib-\(w)", lock: LockPolicy(timeout: 60),
                                                       command: "torture lib-writer \(w)", fileSystem: FileSystem(sys))
        configuration.journal.segmentSize = 8 << 10
        configuration.snapshotInterval = 25
        let manager = StateManager(configuration: configuration, logger: RepairLog(echo: true).logger())
        for index in from..<to {
            let key = key(w, index)
            var attempts = 0
            while true {
                attempts += 1
                do {
                    let outcome = try manager.write(payload(w, index), options: .init(idempotencyKey: key))
                    emit("ack \(key) \(outcome.event.seq) \(outcome.wasDuplicate ? 1 : 0) \(index)")
                    markers?.mark("returned")
                    break
                } catch let error as StateJournalError where error.code == .lockTimeout && attempts < 10 {
                    continue
                } catch let error as StateJournalError where error.durableSeq != nil {
                    emit("error-durable \(key) \(error.durableSeq ?? 0): \(error)".replacingOccurrences(of: "\n", with: " "))
                    if attempts >= 5 { return 1 }
                } catch {
                    // Reported, then retried with the same key (the write may have landed).
                    emit("error \(key): \(error)".replacingOccurrences(of: "\n", with: " "))
                    if attempts >= 5 { return 1 }
                }
            }
        }
        return 0
    }

    /// One `write(2)` a line, so a kill never leaves half a line that parses.
    static func emit(_ line: String) {
        let bytes = Array((line + "\n").utf8)
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(1, $0.baseAddress! + done, $0.count - done) }
            if n < 0 { if errno == EINTR { continue }; return }
            done += n
        }
    }
}

/// Phase stamps a library writer leaves, one line a step, written with
/// `write(2)` before the step's system call runs (a SIGKILL after it leaves
/// the line): `append` (a segment pwrite), `durable` (its fdatasync
/// returned), `rename` (STATE.md about to be renamed, or exchanged, into
/// place). The last
/// line after a kill says where it landed.
final class PhaseMarkers: Sendable {
    let fd: Int32
    let statePath: String
    private let state = Mutex((wrote: false, synced: false, renames: 0, renamed: false))

    init(path: String, statePath: String) {
        fd = Glibc.open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        self.statePath = statePath
    }

    func mark(_ text: String) {
        let line = Array((text + "\n").utf8)
        _ = line.withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
    }

    /// Called before each system call of the writer.
    func before(_ call: ScriptedCalls.Call, dieAtRename: Int?) {
        switch call.operation {
        case .pwrite where call.isSegment:
            state.withLock { $0.wrote = true; $0.synced = false }
            mark("append")
        case .fdatasync where call.isSegment:
            // Marked as durable when the next call comes (the sync returned).
            state.withLock { if $0.wrote { $0.synced = true } }
        case .rename where call.target == statePath, .exchange where call.target == statePath:
            let (synced, n) = state.withLock { s -> (Bool, Int) in
                let synced = s.synced
                s.synced = false
                s.wrote = false
                if synced { s.renames += 1 }
                s.renamed = true
                return (synced, s.renames)
            }
            mark(synced ? "rename-after-append" : "rename")
            if synced, let dieAtRename, n == dieAtRename { Glibc.kill(getpid(), SIGKILL) }
            return
        default:
            break
        }
        if call.operation != .fdatasync, state.withLock({ s in
            if s.synced && s.wrote { s.wrote = false; return true }
            return false
        }) {
            mark("durable")
        }
        if state.withLock({ s in defer { s.renamed = false }; return s.renamed }) { mark("renamed") }
    }

    /// Where a kill landed, from the last stamp.
    static func landing(_ path: String) -> String {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return "before any append" }
        switch text.split(separator: "\n").last {
        case "append": return Landing.sync
        case "durable", "rename-after-append": return Landing.postAppend
        case "rename": return "at a STATE.md rename"
        case "renamed": return "after the STATE.md rename"
        case "returned": return "after a write returned"
        default: return "before any append"
        }
    }
}

/// `torture reader --state PATH`: reads STATE.md as fast as it can until its
/// stdin is closed, checking every read is a complete, valid file whose
/// footer checksum matches and whose sequence number never goes back; then
/// prints `reads N`, `torn N` and the first problems.
enum Reader {
    static func run(_ options: [String: String]) -> Int32 {
        guard let path = options["state"] else { return 2 }
        let fs = FileSystem()
        var reads = 0, torn = 0
        var lastSeq: UInt64 = 0
        var problems: [String] = []
        func problem(_ text: String) { if problems.count < 5 { problems.append(text.replacingOccurrences(of: "\n", with: " ")) } }
        while !stdinClosed() {
            reads += 1
            let bytes: [UInt8]
            do {
                guard let read = try fs.readFileIfExists(path) else {
                    torn += 1; problem("read \(reads): STATE.md is missing")
                    continue
                }
                bytes = read
            } catch {
                torn += 1; problem("read \(reads): \(error)")
                continue
            }
            switch ProjectionFooter.check(bytes) {
            case .valid(let seq):
                if seq < lastSeq { problem("read \(reads): STATE.md went back from seq \(lastSeq) to \(seq)") }
                lastSeq = max(lastSeq, seq)
            case .invalid(let why):
                torn += 1; problem("read \(reads): \(why)")
                continue
            }
            let invalid = MarkdownValidator.validate(String(decoding: bytes, as: UTF8.self))
            if !invalid.isEmpty {
                torn += 1; problem("read \(reads): \(invalid[0])")
            }
        }
        LibraryWriter.emit("reads \(reads)")
        LibraryWriter.emit("torn \(torn)")
        for p in problems { LibraryWriter.emit("problem \(p)") }
        return 0
    }

    /// Whether the harness closed our stdin (EOF is readable), without waiting.
    static func stdinClosed() -> Bool {
        var fd = pollfd(fd: 0, events: Int16(POLLIN), revents: 0)
        return poll(&fd, 1, 0) > 0
    }
}
