#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ArgumentParser
import StateJournal

/// `statejournal mcp`: replaces itself with `statejournal-mcp`, the MCP
/// server (a program of its own, so that every other command starts without
/// the MCP SDK's Foundation and libcurl), found beside this executable or
/// else on the PATH.
struct MCPCommand: GlobalCommand, Exemplified {
    static let configuration = CommandConfiguration(
        commandName: "mcp",
        abstract: "Serve the workflow to an MCP client (Model Context Protocol) over stdin/stdout.",
        discussion: """
            Started by an MCP client, not by people: JSON-RPC on stdin and stdout, messages on \
            stderr; it ends when stdin closes. Each tool call runs one statejournal command (the \
            same lock, durability and STATE.md rewrite before the answer), and a refused call is a \
            tool error with the command's message. The actor is --actor, else $STATEJOURNAL_ACTOR, \
            else the client's name (from its initialize request), else user@host. The tools and \
            their arguments: Docs/CLI.md (mcp). The server is the program statejournal-mcp, which \
            must be installed beside statejournal.
            """)

    static let examples = [
        "statejournal mcp --state /path/to/STATE.md",
        "statejournal mcp --state /path/to/STATE.md --actor agent-3",
    ]

    @ParentCommand var root: StateJournalCommand
    @OptionGroup(title: "Global options") var trailing: GlobalOptions<Trailing>

    func run() throws {
        let options = global
        var arguments = ["statejournal-mcp"]
        if let state = options.state { arguments += ["--state", state] }
        if let actor = options.actor { arguments += ["--actor", actor] }
        if let timeout = options.lockTimeout { arguments += ["--lock-timeout", String(timeout)] }
        if options.allowSymlinks { arguments.append("--allow-symlinks") }
        try Program.replaceProcess(with: "statejournal-mcp", arguments: Array(arguments.dropFirst()),
                                   hint: "install statejournal-mcp beside statejournal ('make release' builds both; 'swift build --product statejournal-mcp')")
    }
}
