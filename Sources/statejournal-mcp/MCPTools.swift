import MCP
import StateJournalModel

/// One tool of `statejournal mcp`: its schema, and the command line it runs.
struct MCPTool: Sendable {
    /// An argument: its name, JSON Schema and whether it is required.
    struct Argument: Sendable {
        var name: String
        var schema: Value
        var required = false
    }

    var name: String
    var description: String
    var arguments: [Argument] = []
    /// The command's arguments (after `statejournal`) for a call.
    var command: @Sendable (MCPArguments) throws -> [String]
    /// The answer made of the command's stdout (its `--json` output).
    var answer: @Sendable (String) -> String = MCPTools.compact

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

/// The tools, in the order `tools/list` gives them, each one command.
enum MCPTools {
    static let string: Value = ["type": "string"]

    static func string(_ description: String) -> Value { ["type": "string", "description": .string(description)] }

    /// How many events `log` returns when no limit is given.
    static let defaultLogLimit = 20

    static let lease: Value = string("e.g. 30s, 15m (default), 2h, none")

    static let all: [MCPTool] = [
        MCPTool(name: "brief", description: "What you need to know now, in ~20 lines: workflow, your claims, ready tasks, failures, last events.",
                command: { _ in ["brief"] }, answer: { $0.trimmingSuffix() }),
        MCPTool(name: "status", description: "The workflow now: wave, task counts, who works on what, failures, last 5 events.") { _ in
            ["status", "--json"]
        },
        MCPTool(name: "next", description: "Ready tasks, in plan order.",
                arguments: [.init(name: "limit", schema: ["type": "integer", "minimum": 1])]) { args in
            ["next", "--json"] + (try args.optionalInt("limit").map { ["--limit", String($0)] } ?? [])
        },
        MCPTool(name: "claim", description: "Claim the named task, or the first ready one, with a lease; you own it until complete/fail/release.",
                arguments: [.init(name: "task", schema: string), .init(name: "lease", schema: lease)]) { args in
            var command = ["task", "claim", "--json"]
            if let lease = try args.optionalString("lease") { command.append("--lease=" + lease) }
            if let task = try args.optionalString("task") { command += ["--", task] }
            return command
        },
        MCPTool(name: "heartbeat", description: "Extend the lease of a task you claimed.",
                arguments: [.init(name: "task", schema: string, required: true), .init(name: "lease", schema: lease)]) { args in
            var command = ["task", "heartbeat", "--json"]
            if let lease = try args.optionalString("lease") { command.append("--lease=" + lease) }
            return command + ["--", try args.string("task")]
        },
        MCPTool(name: "release", description: "Give a task you claimed back (pending).",
                arguments: [.init(name: "task", schema: string, required: true)]) { args in
            ["task", "release", "--json", "--", try args.string("task")]
        },
        MCPTool(name: "complete", description: "Mark a task completed.",
                arguments: [.init(name: "task", schema: string, required: true), .init(name: "commit", schema: string),
                            .init(name: "files", schema: ["type": "array", "items": string])]) { args in
            var command = ["task", "complete", "--json"]
            if let commit = try args.optionalString("commit") { command.append("--commit=" + commit) }
            command += try args.strings("files").map { "--file=" + $0 }
            return command + ["--", try args.string("task")]
        },
        MCPTool(name: "fail", description: "Mark a task failed.",
                arguments: [.init(name: "task", schema: string, required: true), .init(name: "error", schema: string, required: true)]) { args in
            ["task", "fail", "--json", "--error=" + (try args.string("error")), "--", try args.string("task")]
        },
        MCPTool(name: "note", description: "Append a note to the workflow.",
                arguments: [.init(name: "text", schema: string, required: true)]) { args in
            ["note", "--json", "--", try args.string("text")]
        },
        MCPTool(name: "log", description: "Audit trail: matching events, oldest first (default: the \(defaultLogLimit) newest).",
                arguments: [.init(name: "actor", schema: string), .init(name: "task", schema: string),
                            .init(name: "type", schema: string("e.g. task.completed")),
                            .init(name: "since", schema: string("e.g. 30m, 2h, 2026-11-29, RFC 3339")),
                            .init(name: "limit", schema: ["type": "integer", "minimum": 0])],
                command: { args in
                    var command = ["log", "--json", "--no-pager", "-n", String(try args.optionalInt("limit") ?? defaultLogLimit)]
                    for (argument, option) in [("actor", "--by"), ("task", "--task"), ("type", "--type"), ("since", "--since")] {
                        if let value = try args.optionalString(argument) { command.append(option + "=" + value) }
                    }
                    return command
                },
                answer: jsonLinesArray),
    ]

    static let named: [String: MCPTool] = Dictionary(uniqueKeysWithValues: all.map { ($0.name, $0) })

    /// A command's JSON output in its compact form (pretty output costs tokens).
    @Sendable static func compact(_ output: String) -> String {
        (try? JSON.parse(output).compactString) ?? output.trimmingSuffix()
    }

    /// JSON Lines (`log --json`) as one JSON array.
    @Sendable static func jsonLinesArray(_ output: String) -> String {
        "[" + output.split(separator: "\n").map { compact(String($0)) }.joined(separator: ",") + "]"
    }

    /// The server's version: the command line's.
    static func version(_ cli: CLIRunner) -> String {
        let words = cli.run(["--version"], actor: nil).stdout.split(separator: " ")
        return words.last.map { $0.trimmingCharacters() } ?? "unknown"
    }

    /// A refused call: a tool error whose text is what the command line
    /// prints on stderr (without --json) for the same refusal.
    static func failure(_ result: CLIResult) -> CallTool.Result {
        // The command ran with --json: its error is one line of JSON on stderr.
        if let error = try? JSON.parse(result.stderr.trimmingSuffix()), let object = error["error"],
           let message = object["message"]?.stringValue {
            return failure(message, hint: object["hint"]?.stringValue)
        }
        // `task claim --json` that cannot claim: {"claimed": null, "reason": …} on stdout, exit 4. The
        // command line without --json prints the reason as a conflict: the advice after its last " — "
        // is the hint, else the conflict's hint.
        if result.status == 4, let answer = try? JSON.parse(result.stdout.trimmingSuffix()),
           let reason = answer["reason"]?.stringValue {
            if let dash = reason.ranges(of: " — ").last {
                return failure(String(reason[..<dash.lowerBound]), hint: String(reason[dash.upperBound...]))
            }
            return failure(reason, hint: "nothing was written; reread the state ('statejournal show --json') and retry")
        }
        let text = result.stderr.trimmingSuffix()
        return .init(content: [.text(text: text.isEmpty ? "statejournal: error: the command exited with status \(result.status)" : text,
                                     annotations: nil, _meta: nil)], isError: true)
    }

    /// `statejournal: error: MESSAGE` and `hint: HINT`, as a tool error.
    static func failure(_ message: String, hint: String?) -> CallTool.Result {
        let text = "statejournal: error: \(message)" + (hint.map { "\nhint: \($0)" } ?? "")
        return .init(content: [.text(text: text, annotations: nil, _meta: nil)], isError: true)
    }
}

extension Substring {
    func trimmingCharacters() -> String { String(self).trimmingSuffix() }
}

/// A call's arguments, checked against its tool: unknown names, missing
/// ones and wrong types are refused before any command runs.
struct MCPArguments {
    struct Refusal: Error {
        var message: String
        var hint: String?
    }

    private let values: [String: Value]
    private let tool: String

    init(_ values: [String: Value], tool: MCPTool) throws {
        let known = tool.arguments.map(\.name)
        for name in values.keys.sorted() where !known.contains(name) {
            throw Refusal(message: "unknown argument '\(name)' for the tool '\(tool.name)'",
                          hint: known.isEmpty ? "it takes no arguments" : "it takes: \(known.joined(separator: ", "))")
        }
        for argument in tool.arguments where argument.required && (values[argument.name] ?? .null).isNull {
            throw Refusal(message: "the tool '\(tool.name)' needs the argument '\(argument.name)'",
                          hint: "it takes: \(known.joined(separator: ", "))")
        }
        self.values = values
        self.tool = tool.name
    }

    private func wrongType(_ name: String, _ expected: String) -> Refusal {
        Refusal(message: "the argument '\(name)' of the tool '\(tool)' must be \(expected)", hint: nil)
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
