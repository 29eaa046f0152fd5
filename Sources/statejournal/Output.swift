#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ArgumentParser
import StateJournal

/// Where the command line writes: results on stdout, messages on stderr,
/// and the one mapping from errors to exit statuses (Docs/CLI.md, Exit status).
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

    private static func writeAll(_ fd: Int32, _ text: String) {
        var bytes = Array(text.utf8)
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeMutableBytes { write(fd, $0.baseAddress! + done, $0.count - done) }
            if n < 0 { if errno == EINTR { continue }; return }
            done += n
        }
    }

    /// Prints `error` and returns the exit status for it:
    /// 2 bad input (including usage errors), 3 lock timeout, 4 conflict,
    /// 5 corruption, 1 anything else.
    static func report(_ error: any Error) -> Int32 {
        if let error = error as? StateJournalError {
            stderr("statejournal: error: \(error)")
            return error.code.exitStatus
        }
        if let exit = error as? ExitCode { return exit.rawValue }
        let code = StateJournalCommand.exitCode(for: error)
        let message = StateJournalCommand.fullMessage(for: error)
        if code == .success {
            stdout(message)
            return 0
        }
        if !message.isEmpty { stderr(message) }
        // Usage errors are bad input: 2, not argument parser's 64.
        return code == .validationFailure ? 2 : code.rawValue
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
}
