#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import Dispatch
import Logging

// Small system helpers for the bench. The bench avoids Foundation so that
// the child processes it measures (replay's peak RSS, workers) carry only
// what the library itself loads.

/// Seconds on the monotonic clock (system-wide, so comparable across processes).
func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// Times `body`, in seconds.
func timed(_ body: () throws -> Void) rethrows -> Double {
    let start = now()
    try body()
    return now() - start
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Fails with the errno's text when `result` is -1.
@discardableResult
func check(_ result: Int32, _ what: @autoclosure () -> String) throws -> Int32 {
    if result == -1 { throw BenchError("\(what()): \(String(cString: strerror(errno)))") }
    return result
}

@discardableResult
func check(_ result: Int, _ what: @autoclosure () -> String) throws -> Int {
    if result == -1 { throw BenchError("\(what()): \(String(cString: strerror(errno)))") }
    return result
}

// MARK: - Statistics

extension Array where Element == Double {
    /// The q-quantile (0…1) by nearest rank on a sorted copy.
    func quantile(_ q: Double) -> Double {
        guard !isEmpty else { return .nan }
        let sorted = self.sorted()
        let rank = Int((q * Double(sorted.count - 1)).rounded())
        return sorted[Swift.min(Swift.max(rank, 0), sorted.count - 1)]
    }

    var median: Double { quantile(0.5) }
}

// MARK: - Files

enum Files {
    static func write(_ path: String, _ bytes: [UInt8]) throws {
        let fd = try check(open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644), "open \(path)")
        defer { close(fd) }
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + done, $0.count - done) }
            if n < 0 && errno == EINTR { continue }
            try check(n, "write \(path)")
            done += n
        }
    }

    static func write(_ path: String, _ text: String) throws { try write(path, Array(text.utf8)) }

    static func read(_ path: String) throws -> [UInt8] {
        let fd = try check(open(path, O_RDONLY), "open \(path)")
        defer { close(fd) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress!, $0.count) }
            if n < 0 && errno == EINTR { continue }
            try check(n, "read \(path)")
            if n == 0 { return out }
            out.append(contentsOf: chunk[0..<n])
        }
    }

    static func size(_ path: String) -> Int64 {
        var st = stat()
        return stat(path, &st) == 0 ? Int64(st.st_size) : -1
    }

    static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    static func list(_ dir: String) -> [String] {
        guard let d = opendir(dir) else { return [] }
        defer { closedir(d) }
        var names: [String] = []
        while let entry = readdir(d) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    static func mkdirs(_ path: String) throws {
        var current = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") {
            current += "/" + part
            if mkdir(current, 0o755) == -1 && errno != EEXIST { try check(Int32(-1), "mkdir \(current)") }
        }
    }

    /// `rm -rf`, for the bench's own directories only.
    static func removeTree(_ path: String) {
        var st = stat()
        guard lstat(path, &st) == 0 else { return }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            for name in list(path) { removeTree(path + "/" + name) }
            rmdir(path)
        } else {
            unlink(path)
        }
    }

    static func fsyncDirectory(_ path: String) throws {
        let fd = try check(open(path, O_RDONLY | O_DIRECTORY), "open \(path)")
        defer { close(fd) }
        try check(fsync(fd), "fsync \(path)")
    }

    /// Where this executable is.
    static func selfExecutable() -> String {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard n > 0 else { return CommandLine.arguments[0] }
        return String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }
}

// MARK: - Processes

/// A child process started with `posix_spawn` (no shell, no Foundation).
struct Child {
    let pid: pid_t

    struct Exit {
        var status: Int32
        /// Peak resident set size of the child, bytes (from wait4's rusage).
        var maxRSS: Int
        var userSeconds: Double
        var systemSeconds: Double
    }

    /// Starts `argv` with `environment` added to this process's. `fds` maps
    /// child descriptor numbers to descriptors of ours (dup2'd); stdout and
    /// stderr go to `/dev/null` unless mapped.
    static func spawn(_ argv: [String], environment: [String: String] = [:], fds: [Int32: Int32] = [:],
                      quiet: Bool = true) throws -> Child {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        if quiet {
            if fds[1] == nil { posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0) }
            if fds[2] == nil { posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0) }
        }
        for (target, source) in fds { posix_spawn_file_actions_adddup2(&actions, source, target) }

        var env = Dictionary(uniqueKeysWithValues: currentEnvironment().map { ($0.0, $0.1) })
        for (k, v) in environment { env[k] = v }
        let envStrings = env.map { "\($0.key)=\($0.value)" }

        let cArgs = argv.map { strdup($0) } + [nil]
        let cEnv = envStrings.map { strdup($0) } + [nil]
        defer {
            for p in cArgs { free(p) }
            for p in cEnv { free(p) }
        }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, argv[0], &actions, nil, cArgs, cEnv)
        guard rc == 0 else { throw BenchError("spawn \(argv[0]): \(String(cString: strerror(rc)))") }
        return Child(pid: pid)
    }

    func wait() throws -> Exit {
        var status: Int32 = 0
        var usage = rusage()
        while wait4(pid, &status, 0, &usage) == -1 {
            if errno != EINTR { try check(Int32(-1), "wait for \(pid)") }
        }
        let code: Int32 = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
        return Exit(status: code, maxRSS: Int(usage.ru_maxrss) * 1024,
                    userSeconds: seconds(usage.ru_utime), systemSeconds: seconds(usage.ru_stime))
    }

    static func currentEnvironment() -> [(String, String)] {
        var result: [(String, String)] = []
        var p = environ
        while let entry = p.pointee {
            let s = String(cString: entry)
            if let eq = s.firstIndex(of: "=") {
                result.append((String(s[..<eq]), String(s[s.index(after: eq)...])))
            }
            p += 1
        }
        return result
    }

    /// Runs `argv` to completion; returns its wall time (spawn to reaped) and exit.
    static func run(_ argv: [String], environment: [String: String] = [:]) throws -> (seconds: Double, exit: Exit) {
        let start = now()
        let child = try spawn(argv, environment: environment)
        let exit = try child.wait()
        return (now() - start, exit)
    }

    /// Runs `argv` and returns what it printed on stdout.
    static func output(_ argv: [String], environment: [String: String] = [:]) throws -> (String, Exit) {
        var pipeFDs: [Int32] = [0, 0]
        try makePipe(&pipeFDs)
        let child: Child
        do {
            child = try spawn(argv, environment: environment, fds: [1: pipeFDs[1]])
        } catch {
            close(pipeFDs[0]); close(pipeFDs[1])
            throw error
        }
        close(pipeFDs[1])
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(pipeFDs[0], $0.baseAddress!, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            out.append(contentsOf: chunk[0..<n])
        }
        close(pipeFDs[0])
        return (String(decoding: out, as: UTF8.self), try child.wait())
    }
}

// MARK: - Threads

/// Runs `body(i)` on `count` new OS threads (not a pool: each may block in
/// fsync or flock), released together, and waits for all of them.
func runThreads(_ count: Int, _ body: @escaping @Sendable (Int) -> Void) {
    final class Box: @unchecked Sendable {
        let index: Int
        let body: @Sendable (Int) -> Void
        let go: DispatchSemaphore
        let ready: DispatchSemaphore
        init(_ index: Int, _ body: @escaping @Sendable (Int) -> Void, go: DispatchSemaphore, ready: DispatchSemaphore) {
            self.index = index; self.body = body; self.go = go; self.ready = ready
        }
    }
    let go = DispatchSemaphore(value: 0)
    let ready = DispatchSemaphore(value: 0)
    var threads: [pthread_t] = []
    for i in 0..<count {
        let box = Unmanaged.passRetained(Box(i, body, go: go, ready: ready)).toOpaque()
        var thread = pthread_t()
        let rc = pthread_create(&thread, nil, { raw in
            let box = Unmanaged<Box>.fromOpaque(raw!).takeRetainedValue()
            box.ready.signal()
            box.go.wait()
            box.body(box.index)
            return nil
        }, box)
        precondition(rc == 0, "pthread_create failed: \(rc)")
        threads.append(thread)
    }
    for _ in 0..<count { ready.wait() }
    for _ in 0..<count { go.signal() }
    for thread in threads { pthread_join(thread, nil) }
}

/// A value shared between threads under a lock.
final class Locked<Value>: @unchecked Sendable {
    private var value: Value
    private var mutex = pthread_mutex_t()
    init(_ value: Value) {
        self.value = value
        pthread_mutex_init(&mutex, nil)
    }
    func withLock<T>(_ body: (inout Value) -> T) -> T {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return body(&value)
    }
}

// MARK: - Formatting

enum Format {
    /// `1234567.8` → `1,234,568`.
    static func grouped(_ value: Double) -> String {
        guard value.isFinite else { return "—" }
        let n = Int(value.rounded())
        var digits = String(abs(n))
        var out = ""
        while digits.count > 3 {
            out = "," + digits.suffix(3) + out
            digits.removeLast(3)
        }
        return (n < 0 ? "-" : "") + digits + out
    }

    /// A number with `places` decimals.
    static func fixed(_ value: Double, _ places: Int) -> String {
        guard value.isFinite else { return "—" }
        var scale = 1.0
        for _ in 0..<places { scale *= 10 }
        let scaled = Int((abs(value) * scale).rounded())
        let whole = scaled / Int(scale)
        var fraction = String(scaled % Int(scale))
        while fraction.count < places { fraction = "0" + fraction }
        return (value < 0 ? "-" : "") + String(whole) + (places > 0 ? "." + fraction : "")
    }

    /// Milliseconds from seconds, 2 decimals (or 3 below 1 ms).
    static func ms(_ seconds: Double) -> String {
        let ms = seconds * 1000
        return fixed(ms, ms < 1 ? 3 : (ms < 100 ? 2 : 0)) + " ms"
    }

    static func mib(_ bytes: Double) -> String { fixed(bytes / 1_048_576, 1) + " MiB" }

    static func ratio(_ value: Double) -> String { fixed(value, value < 10 ? 2 : 1) + "×" }

    static func pad(_ s: String, _ width: Int, right: Bool = false) -> String {
        let n = s.count
        guard n < width else { return s }
        let fill = String(repeating: " ", count: width - n)
        return right ? fill + s : s + fill
    }
}

// MARK: - Logging

/// The library's notices (e.g. "STATE.md was missing; regenerating it" on a
/// fresh journal) are expected here; only warnings and errors are shown.
let benchLogger: Logger = {
    var logger = Logger(label: "statejournal-bench")
    logger.logLevel = .warning
    return logger
}()

/// A pipe whose ends are closed on exec: a child gets only the ends it is
/// given (dup2 clears the flag), so a barrier's EOF is not held up by a copy
/// of its write end in a child.
func makePipe(_ fds: inout [Int32]) throws {
    try check(pipe(&fds), "pipe")
    for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
}
