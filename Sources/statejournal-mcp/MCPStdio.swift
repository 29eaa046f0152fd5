#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch
import Foundation
import Logging
import MCP
import Synchronization

/// The stdio transport of `statejournal mcp`: one JSON-RPC message a line
/// on stdin and stdout.
///
/// Not the SDK's `StdioTransport`, for two reasons: that one makes stdin
/// and stdout non-blocking and polls them every 10 ms while idle (a server
/// per agent would keep waking up), and it ends the session at end of input
/// even while requests read before it are still being answered (a client
/// that writes its requests and closes stdin would lose the answers). Here
/// a thread blocks in read(2), and end of input ends the session only once
/// every request read has been answered (or cancelled by the client).
actor MCPStdioTransport: Transport {
    nonisolated let logger = Logger(label: "statejournal.mcp") { _ in SwiftLogNoOpLogHandler() }
    private nonisolated let messages: AsyncThrowingStream<Data, any Error>
    private nonisolated let continuation: AsyncThrowingStream<Data, any Error>.Continuation
    /// Requests read and not answered yet, and whether input has ended.
    private nonisolated let open = Mutex<(pending: Set<ID>, inputEnded: Bool)>(([], false))
    private var started = false

    init() {
        (messages, continuation) = AsyncThrowingStream.makeStream(of: Data.self, throwing: (any Error).self)
    }

    func connect() async throws {
        guard !started else { return }
        started = true
        DispatchQueue(label: "statejournal.mcp.stdin").async { [self] in readLoop() }
    }

    func disconnect() async { continuation.finish() }

    func receive() -> AsyncThrowingStream<Data, any Error> { messages }

    func send(_ data: Data) async throws {
        var bytes = [UInt8](data)
        bytes.append(UInt8(ascii: "\n"))
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { write(1, $0.baseAddress! + done, $0.count - done) }
            if n < 0 {
                if errno == EINTR { continue }
                throw MCPError.internalError("cannot write to stdout: \(String(cString: strerror(errno)))")
            }
            done += n
        }
        let answered = Self.envelopes(data).filter { $0.method == nil }.compactMap(\.id)
        if !answered.isEmpty { settle { $0.subtract(answered) } }
    }

    /// Reads stdin until its end, one message a line.
    private nonisolated func readLoop() {
        var buffer = [UInt8](repeating: 0, count: 65536)
        var line: [UInt8] = []
        while true {
            let n = buffer.withUnsafeMutableBytes { read(0, $0.baseAddress!, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            var start = 0
            for i in 0..<n where buffer[i] == UInt8(ascii: "\n") {
                line += buffer[start..<i]
                start = i + 1
                deliver(line)
                line.removeAll(keepingCapacity: true)
            }
            line += buffer[start..<n]
        }
        if !line.isEmpty { deliver(line) }
        open.withLock { $0.inputEnded = true }
        settle { _ in }
    }

    private nonisolated func deliver(_ line: [UInt8]) {
        var line = line
        if line.last == UInt8(ascii: "\r") { line.removeLast() }
        guard line.contains(where: { ![9, 10, 13, 32].contains($0) }) else { return }
        let data = Data(line)
        var requests: Set<ID> = []
        var cancelled: Set<ID> = []
        for envelope in Self.envelopes(data) {
            if let id = envelope.id, envelope.method != nil { requests.insert(id) }
            if envelope.method == "notifications/cancelled", let id = envelope.params?.requestId { cancelled.insert(id) }
        }
        if !requests.isEmpty || !cancelled.isEmpty { settle { $0.formUnion(requests); $0.subtract(cancelled) } }
        continuation.yield(data)
    }

    /// Changes the set of unanswered requests; ends the stream once input
    /// has ended and none is left.
    private nonisolated func settle(_ change: (inout Set<ID>) -> Void) {
        let finished = open.withLock { state -> Bool in
            change(&state.pending)
            return state.inputEnded && state.pending.isEmpty
        }
        if finished { continuation.finish() }
    }

    /// The fields of a message (or of each message of a batch) that tell a
    /// request, a notification and a response apart.
    private struct Envelope: Decodable {
        struct Params: Decodable {
            var requestId: ID?
            private enum CodingKeys: String, CodingKey { case requestId }
            init(from decoder: any Decoder) throws {
                requestId = try? decoder.container(keyedBy: CodingKeys.self).decode(ID.self, forKey: .requestId)
            }
        }
        var id: ID?
        var method: String?
        var params: Params?
        private enum CodingKeys: String, CodingKey { case id, method, params }
        init(from decoder: any Decoder) throws {
            let fields = try decoder.container(keyedBy: CodingKeys.self)
            id = try? fields.decode(ID.self, forKey: .id)
            method = try? fields.decode(String.self, forKey: .method)
            params = try? fields.decode(Params.self, forKey: .params)
        }
    }

    private static func envelopes(_ data: Data) -> [Envelope] {
        let decoder = JSONDecoder()
        if let one = try? decoder.decode(Envelope.self, from: data) { return [one] }
        return (try? decoder.decode([Envelope].self, from: data)) ?? []
    }
}
