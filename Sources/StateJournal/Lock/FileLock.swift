#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// How long to wait for the writers' lock, and how to back off meanwhile.
public struct LockPolicy: Sendable, Equatable {
    /// Give up after this many seconds (fractions allowed).
    public var timeout: Double
    /// The first retry waits about this long (seconds); each retry doubles it.
    public var initialBackoff: Double
    /// Retries never wait longer than this (seconds).
    public var maximumBackoff: Double

    public init(timeout: Double = 10, initialBackoff: Double = 0.000_5, maximumBackoff: Double = 0.05) {
        self.timeout = timeout
        self.initialBackoff = initialBackoff
        self.maximumBackoff = maximumBackoff
    }
}

/// An exclusive `flock(2)` on `PATH.lock`.
///
/// `flock` locks belong to an open file description, so every acquisition
/// opens the file anew: two threads of one process exclude each other just as
/// two processes do, and no unrelated `close()` in the process can drop the
/// lock (classic POSIX `fcntl` locks have that flaw and are never used). The
/// holder writes its pid, command and start time into the file, so a waiter
/// that times out can say who holds it. The file is never deleted.
public final class FileLock {
    public let path: String
    private let fs: FileSystem
    private var fd: Int32?

    public init(path: String, fileSystem: FileSystem) {
        self.path = path
        self.fs = fileSystem
    }

    deinit { if let fd { fs.closeQuietly(fd) } }

    public var isHeld: Bool { fd != nil }

    /// What the holder recorded about itself.
    public struct Holder: Sendable, Equatable, CustomStringConvertible {
        public var pid: Int32?
        public var command: String?
        public var since: Timestamp?

        public var description: String {
            var parts = ["process \(pid.map(String.init) ?? "unknown")"]
            if let command { parts.append("(\(command))") }
            if let since {
                let held = Double(Timestamp.now().microseconds - since.microseconds) / 1_000_000
                parts.append("which has held it for \(Self.seconds(held))")
            }
            return parts.joined(separator: " ")
        }

        static func seconds(_ s: Double) -> String {
            let tenths = Int((s * 10).rounded())
            return "\(tenths / 10).\(tenths % 10)s"
        }

        static func parse(_ text: String) -> Holder {
            var holder = Holder()
            for line in text.split(separator: "\n") {
                guard let eq = line.firstIndex(of: "=") else { continue }
                let key = line[..<eq], value = String(line[line.index(after: eq)...])
                switch key {
                case "pid": holder.pid = Int32(value)
                case "command": holder.command = value
                case "since": holder.since = Timestamp(parsing: value)
                default: break
                }
            }
            return holder
        }
    }

    /// Acquires the lock before `policy.timeout` elapses, retrying with
    /// exponential backoff and jitter.
    ///
    /// - Throws: ``StateJournalError/Code/lockTimeout`` naming the holder, or
    ///   an I/O error if the lock file cannot be opened.
    public func acquire(_ policy: LockPolicy, command: String) throws(StateJournalError) {
        if fd != nil { return }  // already held by this value
        // O_NOFOLLOW: a lock file that is a symbolic link is refused (ELOOP), not followed.
        let fd: Int32
        switch fs.sys.open(path, flags: O_RDWR | O_CREAT | (fs.allowsSymbolicLinks ? 0 : O_NOFOLLOW), mode: 0o644) {
        case .success(let opened): fd = opened
        case .failure(.tooManySymbolicLinks) where !fs.allowsSymbolicLinks:
            throw FileSystem.symbolicLinkRefused(path, as: "a lock file")
        case .failure(let e): throw .system("open", path, e)
        }
        let start = Self.monotonicSeconds()
        var backoff = policy.initialBackoff
        while true {
            switch fs.sys.flock(fd, operation: LOCK_EX | LOCK_NB) {
            case .success:
                self.fd = fd
                recordHolder(fd, command: command)
                return
            case .failure(.wouldBlock):
                let elapsed = Self.monotonicSeconds() - start
                if elapsed >= policy.timeout {
                    let holder = Holder.parse(String(decoding: (try? fs.readAll(fd, path)) ?? [], as: UTF8.self))
                    fs.closeQuietly(fd)
                    throw StateJournalError(.lockTimeout,
                        "could not lock '\(path)' within \(Holder.seconds(policy.timeout)): it is held by \(holder); "
                        + "retry later, or raise --lock-timeout", path: path)
                }
                let jittered = backoff * Double.random(in: 0.5...1.0)
                Self.sleep(min(jittered, policy.timeout - elapsed))
                backoff = min(backoff * 2, policy.maximumBackoff)
            case .failure(let e):
                fs.closeQuietly(fd)
                throw .system("lock", path, e)
            }
        }
    }

    /// Releases the lock. Safe to call when not held.
    public func release() {
        guard let fd else { return }
        _ = fs.sys.ftruncate(fd, length: 0)
        _ = fs.sys.flock(fd, operation: LOCK_UN)
        fs.closeQuietly(fd)
        self.fd = nil
    }

    private func recordHolder(_ fd: Int32, command: String) {
        let text = "pid=\(getpid())\ncommand=\(command.replacingNewlines())\nsince=\(Timestamp.now().rfc3339)\n"
        _ = fs.sys.ftruncate(fd, length: 0)
        // Best effort: the lock is held whether or not this note is written.
        _ = try? fs.writeAll(fd, Array(text.utf8), at: 0, path)
    }

    static func monotonicSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    static func sleep(_ seconds: Double) {
        guard seconds > 0 else { return }
        var ts = timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - Double(Int(seconds))) * 1e9))
        var rem = timespec()
        while nanosleep(&ts, &rem) == -1 && errno == EINTR { ts = rem }
    }
}

extension String {
    func replacingNewlines() -> String {
        String(map { $0 == "\n" || $0 == "\r" ? " " : $0 })
    }
}
