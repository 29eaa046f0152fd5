#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import StateJournal

/// How the command line opens a journal named by `--store` (or
/// `STATEJOURNAL_STORE`).
///
/// `statejournal` itself links no database client, so that every command on
/// the file journal starts without one: given a `postgres://` store, it
/// replaces itself with `statejournal-pg` (beside it, else on the PATH) —
/// the same commands, linked with the PostgreSQL store — before it has read
/// or written anything. `statejournal-pg` sets ``open`` at start-up.
package enum StoreOpener {
    /// Opens a manager on the journal at a `postgres://` URL; nil in
    /// `statejournal`, which hands such a command to `statejournal-pg`.
    nonisolated(unsafe) package static var open: ((StateManager.Configuration, String) throws -> StateManager)?

    /// Whether `text` names a PostgreSQL journal.
    static func isPostgresURL(_ text: String) -> Bool {
        text.hasPrefix("postgres://") || text.hasPrefix("postgresql://")
    }

    /// A manager on the store at `url`, or (in `statejournal`) this process
    /// replaced by `statejournal-pg` with the same arguments.
    static func manager(_ configuration: StateManager.Configuration, url: String) throws -> StateManager {
        if let open { return try open(configuration, url) }
        try Program.replaceProcess(with: "statejournal-pg", arguments: Array(CommandLine.arguments.dropFirst()),
                                   hint: "install statejournal-pg beside statejournal ('make release' builds it; 'swift build --product statejournal-pg'); it is the command line with the PostgreSQL store")
    }
}

/// The programs installed beside `statejournal`.
enum Program {
    /// Replaces this process with `name` (found beside this executable, else
    /// on the PATH) run with `arguments`; returns only by throwing.
    static func replaceProcess(with name: String, arguments: [String], hint: String) throws -> Never {
        let directory = directoryOfExecutable()
        let beside = directory.map { $0 + "/" + name }
        var argv = ([name] + arguments).map { strdup($0) } + [nil]
        if let beside, access(beside, X_OK) == 0 {
            execv(beside, &argv)
        } else {
            execvp(name, &argv)
        }
        let error = errno
        throw CLIError("io", "cannot start \(name) (looked in '\(directory ?? "?")' and on the PATH): \(String(cString: strerror(error)))",
                       hint: hint, status: 1)
    }

    /// The directory of the running executable (/proc/self/exe on Linux,
    /// else the first argument when it names a path).
    static func directoryOfExecutable() -> String? {
        var path: String?
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        if n > 0 {
            path = String(decoding: buffer.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        } else if let first = CommandLine.arguments.first, first.contains("/") {
            path = first
        }
        guard let path, let slash = path.lastIndex(of: "/") else { return nil }
        return String(path[..<slash])
    }
}
