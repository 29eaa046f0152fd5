import Foundation
import XCTest
import Logging
import Synchronization
@testable import StateJournal
@testable import StateJournalModel
@testable import StateJournalPostgres

/// A TCP proxy in front of the server that, once armed, cuts the connection
/// at the client's next message containing a word: for `COMMIT` it forwards
/// the message and cuts the client off before the server's answer reaches
/// it (the commit happened, the client cannot know); for any other word it
/// cuts before forwarding (the server never sees it and rolls back).
final class CuttingProxy: @unchecked Sendable {
    let port: UInt16
    private let listener: Int32
    private let target: UInt16
    private let armed = Mutex<String?>(nil)

    init(targetPort: UInt16) throws {
        target = targetPort
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
        listen(fd, 16)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        listener = fd
        port = UInt16(bigEndian: addr.sin_port)
        Thread.detachNewThread { [self] in acceptLoop() }
    }

    /// Cuts the next connection that sends a message containing `word`.
    func arm(at word: String = "COMMIT") { armed.withLock { $0 = word } }

    private func acceptLoop() {
        while true {
            let client = accept(listener, nil, nil)
            if client < 0 { return }
            let server = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_addr.s_addr = inet_addr("127.0.0.1")
            addr.sin_port = target.bigEndian
            let ok = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(server, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            if ok != 0 { close(client); close(server); continue }
            let cut = Mutex(false)
            Thread.detachNewThread { [self] in
                // client → server; a COMMIT while armed: forward it, then cut.
                var buffer = [UInt8](repeating: 0, count: 65536)
                while true {
                    let n = read(client, &buffer, buffer.count)
                    if n <= 0 { break }
                    let chunk = Array(buffer[0..<n])
                    let text = String(decoding: chunk, as: UTF8.self)
                    let trigger = armed.withLock { word -> String? in
                        guard let w = word, text.contains(w) else { return nil }
                        word = nil
                        return w
                    }
                    if let trigger, trigger != "COMMIT" {
                        // Cut before the server sees it.
                        cut.withLock { $0 = true }
                        shutdown(client, Int32(SHUT_RDWR))
                        shutdown(server, Int32(SHUT_RDWR))
                        break
                    }
                    if write(server, chunk, n) != n { break }
                    if trigger == "COMMIT" {
                        cut.withLock { $0 = true }
                        // Let the server commit (its answer is dropped), then cut the client.
                        var answer = [UInt8](repeating: 0, count: 4096)
                        _ = read(server, &answer, answer.count)
                        shutdown(client, Int32(SHUT_RDWR))
                        shutdown(server, Int32(SHUT_RDWR))
                        break
                    }
                }
                shutdown(server, Int32(SHUT_WR))
            }
            Thread.detachNewThread {
                var buffer = [UInt8](repeating: 0, count: 65536)
                while true {
                    let n = read(server, &buffer, buffer.count)
                    if n <= 0 || cut.withLock({ $0 }) { break }
                    if write(client, buffer, n) != n { break }
                }
                shutdown(client, Int32(SHUT_RDWR))
            }
        }
    }
}

final class LostConnectionTests: XCTestCase {
    /// The connection lost while committing: the write fails (exit 1 on
    /// the command line) saying the event may be in the journal; a retry
    /// with the same idempotency key reports the committed event and
    /// writes nothing.
    func testCommitWhoseAnswerIsLostIsReportedByTheRetry() throws {
        let direct = try TestServer.url()
        let port = UInt16(ProcessInfo.processInfo.environment["PG_PORT"] ?? "54329") ?? 54329
        guard direct.contains("127.0.0.1:\(port)") else { throw XCTSkip("needs make pg-start's server on 127.0.0.1") }
        let proxy = try CuttingProxy(targetPort: port)
        let viaProxy = direct.replacingOccurrences(of: "127.0.0.1:\(port)", with: "127.0.0.1:\(proxy.port)") + "&sslmode=disable"
        let dir = TempDir()
        let config = StateManager.Configuration(statePath: dir.path + "/STATE.md", actor: "lost")
        let manager = try StateManager(configuration: config, storeURL: viaProxy)
        try manager.initialize(id: "wf", name: "Lost", waves: [[.init(id: "t1", description: "one")]])
        proxy.arm()
        XCTAssertThrowsError(try manager.write(.noteAdded(text: "maybe"), options: .init(idempotencyKey: "k-lost"))) { error in
            let e = error as? StateJournalError
            XCTAssertEqual(e?.code, .io)
            XCTAssertTrue(e?.message.contains("may or may not be in the journal") == true, "\(error)")
            XCTAssertTrue(e?.message.contains("--idempotency-key") == true, "\(error)")
        }
        // Another process (a new manager, the direct connection) retries.
        let retry = try StateManager(configuration: config, storeURL: direct)
            .write(.noteAdded(text: "maybe"), options: .init(idempotencyKey: "k-lost"))
        XCTAssertTrue(retry.wasDuplicate, "the commit happened: the retry reports it")
        XCTAssertEqual(retry.event.seq, 2)
        XCTAssertEqual(retry.state.notes.count, 1)
        // The failed manager itself recovers on its next write (a new connection).
        let next = try manager.write(.noteAdded(text: "after"))
        XCTAssertEqual(next.event.seq, 3)
    }

    /// The connection lost before COMMIT (here: the INSERT never reaches
    /// the server): the write fails saying nothing was written, and a retry
    /// with the same idempotency key writes the event once.
    func testConnectionLostBeforeCommitSaysNothingWasWritten() throws {
        let direct = try TestServer.url()
        let port = UInt16(ProcessInfo.processInfo.environment["PG_PORT"] ?? "54329") ?? 54329
        guard direct.contains("127.0.0.1:\(port)") else { throw XCTSkip("needs make pg-start's server on 127.0.0.1") }
        let proxy = try CuttingProxy(targetPort: port)
        let viaProxy = direct.replacingOccurrences(of: "127.0.0.1:\(port)", with: "127.0.0.1:\(proxy.port)") + "&sslmode=disable"
        let dir = TempDir()
        let config = StateManager.Configuration(statePath: dir.path + "/STATE.md", actor: "lost")
        let manager = try StateManager(configuration: config, storeURL: viaProxy)
        try manager.initialize(id: "wf", name: "Lost early", waves: [[.init(id: "t1", description: "one")]])
        proxy.arm(at: "INSERT")
        XCTAssertThrowsError(try manager.write(.noteAdded(text: "never"), options: .init(idempotencyKey: "k-early"))) { error in
            let e = error as? StateJournalError
            XCTAssertEqual(e?.code, .io)
            XCTAssertTrue(e?.message.contains("nothing was written") == true, "\(error)")
        }
        let other = try StateManager(configuration: config, storeURL: direct)
        XCTAssertEqual(try other.loadState()?.seq, 1, "the lost transaction left nothing")
        let retry = try other.write(.noteAdded(text: "never"), options: .init(idempotencyKey: "k-early"))
        XCTAssertFalse(retry.wasDuplicate)
        XCTAssertEqual(retry.event.seq, 2)
        XCTAssertEqual(try manager.write(.noteAdded(text: "after")).event.seq, 3)
    }
}
