import MCP
import StateJournal

/// One tool of `statejournal mcp`: its schema, the command it stands for
/// (named in hints) and what it does — one library operation.
struct MCPTool: Sendable {
    /// An argument: its name, JSON Schema and whether it is required.
    struct Argument: Sendable {
        var name: String
        var schema: Value
        var required = false
    }

    var name: String
    var description: String
    /// The command line the tool stands for, e.g. `statejournal task complete`.
    var command: String
    var arguments: [Argument] = []
    var run: @Sendable (MCPSession, MCPArguments) throws -> String

    /// What `tools/list` shows: kept short, as every client sends it to its model.
    var definition: Tool {
        var schema: [String: Value] = [
            "type": "object",
            "properties": .object(Dictionary(uniqueKeysWithValues: arguments.map { ($0.name, $0.schema) })),
        ]
        let required = arguments.filter(\.required).map { Value.string($0.name) }
        if !required.isEmpty { schema["required"] = .array(required) }
        return Tool(name: name, description: description, inputSchema: .object(schema))
    }
}

/// The tools, in the order `tools/list` gives them.
enum MCPTools {
    static let string: Value = ["type": "string"]

    static func string(_ description: String) -> Value { ["type": "string", "description": .string(description)] }

    /// How many events `log` returns when no limit is given.
    static let defaultLogLimit = 20

    static let all: [MCPTool] = [
        MCPTool(name: "status", description: "The workflow now: wave, task counts, who works on what, failures, last 5 events.",
                command: "statejournal status") { session, _ in
            try session.read { try StatusSummary($0, events: 5).json() }
        },
        MCPTool(name: "complete", description: "Mark a task completed.", command: "statejournal task complete",
                arguments: [.init(name: "task", schema: string, required: true), .init(name: "commit", schema: string),
                            .init(name: "files", schema: ["type": "array", "items": string])]) { session, args in
            let write = OneEventWrite.taskComplete(id: try args.string("task"), commit: try args.optionalString("commit"),
                                                   files: try args.strings("files"))
            return try session.write { try $0.write(write.payload) }
        },
        MCPTool(name: "fail", description: "Mark a task failed.", command: "statejournal task fail",
                arguments: [.init(name: "task", schema: string, required: true), .init(name: "error", schema: string, required: true)]) { session, args in
            let write = OneEventWrite.taskFail(id: try args.string("task"), error: try args.string("error"))
            return try session.write { try $0.write(write.payload) }
        },
        MCPTool(name: "note", description: "Append a note to the workflow.", command: "statejournal note",
                arguments: [.init(name: "text", schema: string, required: true)]) { session, args in
            let write = OneEventWrite.note(text: try args.string("text"))
            return try session.write { try $0.write(write.payload) }
        },
        MCPTool(name: "log", description: "Audit trail: matching events, oldest first (default: the \(defaultLogLimit) newest).",
                command: "statejournal log",
                arguments: [.init(name: "actor", schema: string), .init(name: "task", schema: string),
                            .init(name: "type", schema: string("e.g. task.completed")),
                            .init(name: "since", schema: string("e.g. 30m, 2h, 2026-11-29, RFC 3339")),
                            .init(name: "limit", schema: ["type": "integer", "minimum": 0])]) { session, args in
            let filter = try logFilter(args)
            let limit = try args.optionalInt("limit") ?? defaultLogLimit
            return try session.read { manager in .array(try matchingEvents(manager, filter, limit: limit).map { $0.json() }) }
        },
    ]

    static let named: [String: MCPTool] = Dictionary(uniqueKeysWithValues: all.map { ($0.name, $0) })

    /// The `log` tool's filter, checked as `log` checks its options.
    static func logFilter(_ args: MCPArguments) throws -> EventFilter {
        let now = Timestamp.now()
        var since: Timestamp?
        if let text = try args.optionalString("since") {
            guard let time = TimeArgument.parse(text, as: .start, now: now) else {
                throw CLIError.badInput("since '\(text)' is not a time; use \(TimeArgument.forms)")
            }
            since = time
        }
        let type = try args.optionalString("type")
        if let type, !Event.Payload.allTypeNames.contains(type) {
            let guess = Suggestion.didYouMean(type, in: Event.Payload.allTypeNames).map { "; \($0)" } ?? ""
            throw CLIError.badInput("unknown event type '\(type)'\(guess) (one of: \(Event.Payload.allTypeNames.joined(separator: ", ")))")
        }
        return EventFilter(actor: try args.optionalString("actor"), taskID: try args.optionalString("task"), type: type, since: since)
    }

    /// A refused call: a tool error whose text is what the command line
    /// prints on stderr for the same refusal.
    static func failure(_ error: CLIError) -> CallTool.Result {
        .init(content: [.text(text: error.text, annotations: nil, _meta: nil)], isError: true)
    }
}

/// A call's arguments, checked against its tool: unknown names and wrong
/// types are refused as bad input, as the command line refuses them.
struct MCPArguments {
    private let values: [String: Value]
    private let tool: String

    init(_ values: [String: Value], tool: MCPTool) throws {
        let known = tool.arguments.map(\.name)
        for name in values.keys.sorted() where !known.contains(name) {
            throw CLIError.badInput("unknown argument '\(name)' for the tool '\(tool.name)'",
                                    hint: known.isEmpty ? "it takes no arguments" : "it takes: \(known.joined(separator: ", "))")
        }
        for argument in tool.arguments where argument.required && (values[argument.name] ?? .null).isNull {
            throw CLIError.badInput("the tool '\(tool.name)' needs the argument '\(argument.name)'")
        }
        self.values = values
        self.tool = tool.name
    }

    private func wrongType(_ name: String, _ expected: String) -> CLIError {
        CLIError.badInput("the argument '\(name)' of the tool '\(tool)' must be \(expected)")
    }

    func optionalString(_ name: String) throws -> String? {
        guard let value = values[name], !value.isNull else { return nil }
        guard let text = value.stringValue else { throw wrongType(name, "a string") }
        return text
    }

    /// A required string (its presence is checked at init).
    func string(_ name: String) throws -> String {
        guard let text = try optionalString(name) else { throw wrongType(name, "a string") }
        return text
    }

    func strings(_ name: String) throws -> [String] {
        guard let value = values[name], !value.isNull else { return [] }
        guard let items = value.arrayValue else { throw wrongType(name, "an array of strings") }
        return try items.map { item in
            guard let text = item.stringValue else { throw wrongType(name, "an array of strings") }
            return text
        }
    }

    func optionalInt(_ name: String) throws -> Int? {
        guard let value = values[name], !value.isNull else { return nil }
        let number: Int?
        switch value {
        case .int(let int): number = int
        case .double(let double) where double.rounded() == double && abs(double) < 9.0e15: number = Int(double)
        default: number = nil
        }
        guard let number, number >= 0 else { throw wrongType(name, "an integer ≥ 0") }
        return number
    }
}
