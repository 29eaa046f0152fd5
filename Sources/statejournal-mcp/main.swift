#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch
import Synchronization

// statejournal-mcp: the MCP server that `statejournal mcp` starts (see
// MCPSession.swift). Its options are the command line's global options.

/// Writes `text` and a newline to stderr.
func complain(_ text: String) {
    let bytes = Array((text + "\n").utf8)
    var done = 0
    while done < bytes.count {
        let n = bytes.withUnsafeBytes { write(2, $0.baseAddress! + done, $0.count - done) }
        if n <= 0 { return }
        done += n
    }
}

let usage = "usage: statejournal mcp [--state PATH] [--actor NAME] [--lock-timeout SECONDS] [--allow-symlinks]"
var options = CLIOptions()
var words = Array(CommandLine.arguments.dropFirst())
while !words.isEmpty {
    let word = words.removeFirst()
    var name = word
    var value: String?
    if let eq = word.firstIndex(of: "="), word.hasPrefix("--") {
        name = String(word[..<eq])
        value = String(word[word.index(after: eq)...])
    }
    func take() -> String {
        if let value { return value }
        guard !words.isEmpty else {
            complain("statejournal: error: \(name) needs a value\n\(usage)")
            exit(2)
        }
        return words.removeFirst()
    }
    switch name {
    case "--state": options.state = take()
    case "--actor": options.actor = take()
    case "--lock-timeout": options.lockTimeout = take()
    case "--allow-symlinks": options.allowSymlinks = true
    case "-h", "--help":
        print("statejournal mcp: serves the workflow to an MCP client over stdin/stdout (Docs/CLI.md, mcp).\n\(usage)")
        exit(0)
    default:
        complain("statejournal: error: unknown option '\(word)'\n\(usage)")
        exit(2)
    }
}

guard let cli = CLIRunner(options: options) else {
    complain("statejournal: error: cannot find the statejournal command line beside statejournal-mcp or on the PATH\n"
          + "hint: install statejournal and statejournal-mcp in one directory ('make release' builds both)")
    exit(1)
}
let failure = Mutex<String?>(nil)
let done = DispatchSemaphore(value: 0)
Task.detached {
    do { try await MCPSession(cli: cli).serve() } catch { failure.withLock { $0 = "\(error)" } }
    done.signal()
}
done.wait()
if let message = failure.withLock({ $0 }) {
    complain("statejournal: error: the MCP session ended: \(message)")
    exit(1)
}
exit(0)
