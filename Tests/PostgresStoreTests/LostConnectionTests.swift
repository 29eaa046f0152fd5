import Foundation
import XCTest
import Logging
import Synchronization
@testable import StateJournal
@testable import StateJournalModel
@testable import StateJournalPostgres

/// A TCP proxy in front of the server that, once armed, forwards the
/// client's `COMMIT` to the server and then cuts the client off before the
/// server's answer reaches it: the commit happened, the client cannot know.
final class CuttingProxy: @unchecked Sendable {
    let port: UInt16
    private let listener: Int32
    private let target: UInt16
    private let armed = Mutex(false)

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

    /// Cuts the next connection that sends a COMMIT.
    func arm() { armed.withLock { $0 = true } }

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
                    let isCommit = String(decoding: chunk, as: UTF8.self).contains("COMMIT")
                    if write(server, chunk, n) != n { break }
                    if isCommit, armed.withLock({ let was = $0; $0 = false; return was }) {
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
}
