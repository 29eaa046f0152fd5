import Foundation
import StateJournal
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
        // Small segments and frequent snapshots: rotation, sealing and
        // snapshot writing happen often, so kills land in them too.
        var configuration = StateManager.Configuration(statePath: state, actor: "lib-\(w)", lock: LockPolicy(timeout: 60),
                                                       command: "torture lib-writer \(w)")
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
                    break
                } catch let error as StateJournalError where error.code == .lockTimeout && attempts < 10 {
                    continue
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
