#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch
import MCP
import StateJournalModel
import Synchronization

/// One client's session: who it writes as, and its tool calls, run one at
/// a time off Swift's cooperative threads (a call waits for a command,
/// which may wait for the lock).
final class MCPSession: Sendable {
    let cli: CLIRunner
    private let clientName = Mutex<String?>(nil)
    private let queue = DispatchQueue(label: "statejournal.mcp.calls")

    init(cli: CLIRunner) {
        self.cli = cli
    }

    /// Serves stdin/stdout until the client closes stdin.
    func serve() async throws {
        let server = Server(name: "statejournal", version: MCPTools.version(cli),
                            capabilities: .init(tools: .init(listChanged: false)))
        await server.withMethodHandler(ListTools.self) { _ in .init(tools: MCPTools.all.map(\.definition)) }
        await server.withMethodHandler(CallTool.self) { [self] params in
            await withCheckedContinuation { continuation in
                queue.async { continuation.resume(returning: self.call(params.name, params.arguments ?? [:])) }
            }
        }
        try await server.start(transport: MCPStdioTransport()) { [self] client, _ in
            clientName.withLock { $0 = client.name.isEmpty ? nil : client.name }
        }
        await server.waitUntilCompleted()
    }

    /// The actor: --actor, else $STATEJOURNAL_ACTOR, else the client's name
    /// (nil: the command line's default, user@host).
    var actor: String? {
        if let actor = cli.options.actor { return actor }
        if let env = getenv("STATEJOURNAL_ACTOR"), env.pointee != 0 { return String(cString: env) }
        return clientName.withLock { $0 }
    }

    /// One tool call: its result, or a tool error with the text the command
    /// line prints for the same refusal.
    func call(_ name: String, _ arguments: [String: Value]) -> CallTool.Result {
        guard let tool = MCPTools.named[name] else {
            return MCPTools.failure("unknown tool '\(name)'",
                                    hint: "the tools are: \(MCPTools.all.map(\.name).joined(separator: ", "))")
        }
        do {
            let args = try MCPArguments(arguments, tool: tool)
            let command = try tool.command(args)
            let result = cli.run(command, actor: actor)
            guard result.status == 0 else { return MCPTools.failure(result) }
            var content: [Tool.Content] = [.text(text: tool.answer(result.stdout), annotations: nil, _meta: nil)]
            // A warning (e.g. STATE.md could not be rewritten after a durable write) goes with the answer.
            let warning = result.stderr.trimmingSuffix()
            if !warning.isEmpty { content.append(.text(text: warning, annotations: nil, _meta: nil)) }
            return .init(content: content, isError: false)
        } catch let refusal as MCPArguments.Refusal {
            return MCPTools.failure(refusal.message, hint: refusal.hint)
        } catch {
            return MCPTools.failure("\(error)", hint: nil)
        }
    }
}

extension String {
    func trimmingSuffix() -> String {
        var text = Substring(self)
        while let last = text.last, last.isWhitespace { text = text.dropLast() }
        return String(text)
    }
}
