#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ArgumentParser
import Dispatch
import MCP
import StateJournal
import Synchronization

/// `statejournal mcp`: the workflow's tools for an MCP client, over stdio.
struct MCPCommand: GlobalCommand, Exemplified {
    static let configuration = CommandConfiguration(
        commandName: "mcp",
        abstract: "Serve the workflow to an MCP client (Model Context Protocol) over stdin/stdout.",
        discussion: """
            Started by the client, not by people: JSON-RPC on stdin and stdout, messages on stderr; it \
            ends when stdin closes. Each tool call is one command's work with the same lock, durability \
            and STATE.md rewrite before the answer, and a refused call is a tool error with the \
            command's message. The actor is --actor, else $STATEJOURNAL_ACTOR, else the client's name \
            (from its initialize request), else user@host. Tools: see Docs/CLI.md (mcp).
            """)

    static let examples = [
        "statejournal mcp --state /path/to/STATE.md",
        "statejournal mcp --state /path/to/STATE.md --actor agent-3",
    ]

    @ParentCommand var root: StateJournalCommand
    @OptionGroup(title: "Global options") var trailing: GlobalOptions<Trailing>

    func run() throws {
        let session = MCPSession(settings: global.settings)
        let failure = Mutex<(any Error)?>(nil)
        let done = DispatchSemaphore(value: 0)
        Task {
            do { try await session.serve() } catch { failure.withLock { $0 = error } }
            done.signal()
        }
        done.wait()
        if let error = failure.withLock({ $0 }) { throw error }
    }
}

/// One client's session: who it writes as, and its tool calls run one at a
/// time, off Swift's cooperative threads (a call may wait for the lock).
final class MCPSession: Sendable {
    private let settings: GlobalSettings
    private let clientName = Mutex<String?>(nil)
    private let managerCache = Mutex<StateManager?>(nil)
    private let queue = DispatchQueue(label: "statejournal.mcp.calls")

    init(settings: GlobalSettings) {
        self.settings = settings
    }

    /// Serves stdin/stdout until the client closes stdin.
    func serve() async throws {
        let server = Server(name: "statejournal", version: StateManager.version,
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

    /// The actor: --actor, else $STATEJOURNAL_ACTOR, else the client's
    /// name, else user@host.
    var actor: String {
        var chosen = settings
        if chosen.actor == nil, getenv("STATEJOURNAL_ACTOR").map({ $0.pointee == 0 }) ?? true {
            chosen.actor = clientName.withLock { $0 }
        }
        return chosen.resolvedActor
    }

    /// The session's manager, made at the first call (after initialize,
    /// which names the client); it keeps its fold between calls.
    private func manager() throws -> StateManager {
        try settings.requireWorkflow()
        return managerCache.withLock { cached in
            if let cached { return cached }
            var chosen = settings
            chosen.actor = actor
            let made = chosen.manager(command: "mcp")
            cached = made
            return made
        }
    }

    /// One tool call: its result as text, or a tool error with the text the
    /// command line prints for the same refusal.
    func call(_ name: String, _ arguments: [String: Value]) -> CallTool.Result {
        guard let tool = MCPTools.named[name] else {
            return MCPTools.failure(CLIError.badInput("unknown tool '\(name)'",
                                                       hint: "the tools are: \(MCPTools.all.map(\.name).joined(separator: ", "))"))
        }
        do {
            let args = try MCPArguments(arguments, tool: tool)
            return .init(content: [.text(text: try tool.run(self, args), annotations: nil, _meta: nil)], isError: false)
        } catch let error as CLIError {
            return MCPTools.failure(error)
        } catch let error as StateJournalError {
            return MCPTools.failure(CLIError(error, command: tool.command))
        } catch {
            return MCPTools.failure(CLIError("io", "\(error)", status: 1))
        }
    }

    /// Runs `write` (one library write) as the command line's writes do and
    /// answers with the event's JSON (`--json`); when the event is durable
    /// but STATE.md could not be rewritten, with `"state_md_updated": false`
    /// and the command line's warning.
    func write(_ body: (StateManager) throws -> StateManager.WriteOutcome) throws -> String {
        let manager = try manager()
        let written = try performWrite(manager, key: nil) { try body(manager) }
        var object = written.outcome.json()
        if let behind = written.behind, case .object(var members) = object {
            members.append(.init("state_md_updated", .bool(false)))
            members.append(.init("warning", .string("statejournal: warning: \(behind.message)\nhint: \(behind.hint)")))
            object = .object(members)
        }
        return object.compactString
    }

    /// Runs `body` with the session's manager (reads).
    func read(_ body: (StateManager) throws -> JSON) throws -> String {
        try body(try manager()).compactString
    }
}
