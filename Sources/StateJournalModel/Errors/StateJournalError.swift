/// The error every StateJournal operation throws.
///
/// An error carries a ``Code`` (what kind of failure; the command line turns
/// it into its exit status), a message that says what went wrong and what
/// to do next, and — for file-system failures — the operation, the path and
/// the underlying ``Errno``.
///
/// ```swift
/// do { try manager.completeTask("t1") }
/// catch let error as StateJournalError where error.code == .badInput { … }
/// ```
public struct StateJournalError: Error, CustomStringConvertible, Sendable {
    /// The kind of failure. New codes may be added; switch with a `default`.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let raw: UInt8
        private init(_ raw: UInt8) { self.raw = raw }

        /// Arguments, JSON, an unknown task, a transition that is not allowed.
        public static let badInput = Code(2)
        /// The lock was not acquired before the deadline.
        public static let lockTimeout = Code(3)
        /// `expectSeq` did not match the journal's last sequence number.
        public static let conflict = Code(4)
        /// Damage that cannot be repaired without losing data.
        public static let corruption = Code(5)
        /// A failing system call (I/O error, full disk, permissions, …).
        public static let io = Code(1)
        /// No workflow has been initialised at this path yet.
        public static let notInitialized = Code(6)

        public var description: String {
            switch self {
            case .badInput: return "bad input"
            case .lockTimeout: return "lock timeout"
            case .conflict: return "conflict"
            case .corruption: return "corruption"
            case .notInitialized: return "not initialized"
            default: return "i/o error"
            }
        }
    }

    /// What kind of failure this is.
    public let code: Code
    /// What happened and what to do next, in one or two sentences.
    public let message: String
    /// The file the failure concerns, if any.
    public let path: String?
    /// The system error behind an ``Code/io`` failure.
    public let errno: Errno?
    /// Set when the failure came *after* the write's event was made durable
    /// (e.g. rewriting STATE.md failed): the event is in the journal at this
    /// sequence number and must not be written again. Nil when nothing of the
    /// failed operation was written.
    public let durableSeq: UInt64?

    /// An error of kind `code`; `message` says what went wrong and what to do next.
    public init(_ code: Code, _ message: String, path: String? = nil, errno: Errno? = nil, durableSeq: UInt64? = nil) {
        self.code = code
        self.message = message
        self.path = path
        self.errno = errno
        self.durableSeq = durableSeq
    }

    public var description: String {
        if let errno { return "\(message): \(errno) (errno \(errno.rawValue))" }
        return message
    }

    package static func badInput(_ message: String) -> StateJournalError { .init(.badInput, message) }
    package static func corruption(_ message: String, path: String) -> StateJournalError {
        .init(.corruption, message, path: path)
    }

    /// A failed system call: names the operation, the path and the errno, and
    /// for the common cases says what to do.
    package static func system(_ operation: String, _ path: String, _ errno: Errno) -> StateJournalError {
        var message = "\(operation) '\(path)' failed"
        switch errno {
        case .noSpace: message += " — the disk is full; free space and retry"
        case Errno(rawValue: 13), Errno(rawValue: 1): message += " — check the permissions of the file and its directory"
        default: break
        }
        return .init(.io, message, path: path, errno: errno)
    }
}

extension Result where Failure == Errno {
    /// Unwraps the result, turning an errno into a ``StateJournalError`` that
    /// names `operation` and `path`.
    @inline(__always)
    package func get(_ operation: String, _ path: String) throws(StateJournalError) -> Success {
        switch self {
        case .success(let value): return value
        case .failure(let errno): throw .system(operation, path, errno)
        }
    }
}
