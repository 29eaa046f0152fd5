#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ArgumentParser
import StateJournal

/// Where the command line writes: results on stdout, messages on stderr,
/// and the one mapping from errors to exit statuses and to the one error
/// style (Docs/CLI.md, Exit status and Errors):
///
/// ```
/// statejournal: error: WHAT WENT WRONG
/// hint: WHAT TO DO
/// ```
///
/// or, when the command line has `--json`, one line of JSON on stderr:
/// `{"error":{"code":"…","message":"…","hint":"…","exit_status":N}}`.
enum Output {
    static func stdout(_ text: String) {
        var line = text
        if !line.hasSuffix("\n") { line += "\n" }
        writeAll(1, line)
    }

    static func stderr(_ text: String) {
        writeAll(2, text.hasSuffix("\n") ? text : text + "\n")
    }

    static func json(_ value: JSON) { stdout(value.compactString) }

    /// `text` as it is (no newline added) on descriptor `fd`.
    static func raw(_ fd: Int32, _ text: String) { writeAll(fd, text) }

    private static func writeAll(_ fd: Int32, _ text: String) {
        var bytes = Array(text.utf8)
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeMutableBytes { write(fd, $0.baseAddress! + done, $0.count - done) }
            if n < 0 { if errno == EINTR { continue }; return }
            done += n
        }
    }

    /// The command line's arguments after the program name, up to `--`
    /// (after it everything is an operand).
    static let optionArguments: [String] = Array(CommandLine.arguments.dropFirst().prefix { $0 != "--" })

    /// Whether this invocation asked for JSON: errors are then JSON too.
    static let wantsJSON: Bool = optionArguments.contains("--json")

    /// The state file of this invocation, once a command has chosen it (for
    /// messages that name it).
    nonisolated(unsafe) static var statePath: String?
    nonisolated(unsafe) static var storeLocation: String?

    /// `statejournal: warning: …` and a hint on stderr (text even with
    /// `--json`: stdout carries the result).
    static func warning(_ message: String, hint: String? = nil) {
        stderr("statejournal: warning: \(message)" + (hint.map { "\nhint: \($0)" } ?? ""))
    }

    /// Prints `error` in the one error style and returns the exit status for
    /// it: 2 bad input (including usage errors), 3 lock timeout, 4 conflict,
    /// 5 corruption, 1 anything else; 0 for help and `--version`.
    static func report(_ error: any Error) -> Int32 {
        if let error = error as? CLIError { return fail(error) }
        if let error = error as? StateJournalError { return fail(CLIError(error)) }
        if let exit = error as? ExitCode { return exit.rawValue }
        let code = StateJournalCommand.exitCode(for: error)
        if code == .success { return CommandLineHelp.answer(error) }
        return fail(CommandLineHelp.usageError(error, status: code == .validationFailure ? 2 : code.rawValue))
    }

    /// Prints `error` (text or JSON) and returns its exit status.
    static func fail(_ error: CLIError) -> Int32 {
        if wantsJSON {
            let object: JSON = .obj([
                "error": .obj([
                    "code": .string(error.code),
                    "message": .string(error.message),
                    "hint": error.hint.map { .string($0) } ?? .null,
                    "exit_status": .int(Int64(error.status)),
                ]),
            ])
            stderr(object.compactString)
        } else {
            var lines = ["statejournal: error: \(error.message)"]
            if let usage = error.usage { lines.append("usage: \(usage)") }
            if let hint = error.hint { lines.append("hint: \(hint)") }
            stderr(lines.joined(separator: "\n"))
        }
        return error.status
    }
}

/// An error as the command line reports it: what went wrong, what to do,
/// the machine-readable code and the exit status.
struct CLIError: Error {
    /// `bad_input`, `usage`, `not_initialized`, `lock_timeout`, `conflict`,
    /// `corruption` or `io` (Docs/CLI.md, Errors).
    var code: String
    var message: String
    var hint: String?
    var status: Int32
    /// The command's usage line, for usage errors (text output only).
    var usage: String?

    init(_ code: String, _ message: String, hint: String? = nil, status: Int32, usage: String? = nil) {
        self.code = code
        self.message = message
        self.hint = hint
        self.status = status
        self.usage = usage
    }

    static func badInput(_ message: String, hint: String? = nil) -> CLIError {
        CLIError("bad_input", message, hint: hint, status: 2)
    }

    /// A library error: its message split into what went wrong and the
    /// advice after its last " — " (the library's style), the errno kept
    /// with what went wrong.
    init(_ error: StateJournalError) {
        if error.code == .notInitialized {
            self = CLIError.noWorkflow(at: error.path ?? Output.statePath ?? "STATE.md")
            return
        }
        var message = error.message
        var hint: String?
        if let dash = message.ranges(of: " — ").last {
            hint = String(message[dash.upperBound...])
            message = String(message[..<dash.lowerBound])
        }
        if let errno = error.errno { message += ": \(errno) (errno \(errno.rawValue))" }
        // A database's failure (no errno: not a file of this host) is not the disk's.
        if hint == nil, error.code == .io, error.errno == nil, Output.storeLocation != nil {
            hint = "check that the PostgreSQL server runs and this host reaches it, then retry"
        }
        self.init(error.code.name, message, hint: hint ?? CLIError.hint(for: error.code), status: error.code.exitStatus)
    }

    /// What to do after an error of `code` whose message gives no advice.
    static func hint(for code: StateJournalError.Code) -> String {
        let command = CommandLineHelp.resolve(Output.optionArguments).commandLine
        switch code {
        case .badInput: return "nothing was written; see '\(command) --help'"
        case .lockTimeout: return "retry later, or raise --lock-timeout"
        case .conflict: return "nothing was written; reread the state ('statejournal show --json') and retry"
        case .corruption: return "run 'statejournal verify', then see Docs/OPERATIONS.md (When something is damaged)"
        default: return "check the disk and the permissions of the state file's directory, then retry"
        }
    }

    /// The one wording, for every command, of a state path without a workflow.
    static func noWorkflow(at path: String) -> CLIError {
        if let store = Output.storeLocation {
            return CLIError("not_initialized", "no workflow at '\(store)' (the journal for '\(path)')",
                            hint: "run 'statejournal init' (or 'statejournal migrate --to URL' from a file journal) with the same --store first",
                            status: 2)
        }
        var isFile = stat()
        if lstat(path, &isFile) == 0 {
            return CLIError("not_initialized", "no workflow at '\(path)': the file has no journal ('\(path).journal/')",
                            hint: "adopt it with 'statejournal import \(path)', or start a new workflow with 'statejournal init'",
                            status: 2)
        }
        return CLIError("not_initialized", "no workflow at '\(path)'",
                        hint: "run 'statejournal init' (a sample plan: 'statejournal init --example') or 'statejournal import FILE' first",
                        status: 2)
    }
}

extension StateJournalError.Code {
    /// The exit status for this code (Docs/CLI.md, "Exit status").
    var exitStatus: Int32 {
        switch self {
        case .badInput, .notInitialized: return 2
        case .lockTimeout: return 3
        case .conflict: return 4
        case .corruption: return 5
        default: return 1
        }
    }

    /// The code's name in JSON errors.
    var name: String {
        switch self {
        case .badInput: return "bad_input"
        case .notInitialized: return "not_initialized"
        case .lockTimeout: return "lock_timeout"
        case .conflict: return "conflict"
        case .corruption: return "corruption"
        default: return "io"
        }
    }
}
