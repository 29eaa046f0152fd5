#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import StateJournalModel

/// The global options `statejournal mcp` was given, passed on to every
/// command it runs.
struct CLIOptions: Sendable {
    var state: String?
    var actor: String?
    var lockTimeout: String?
    var allowSymlinks = false
}

/// What one run of the command line printed and its exit status.
struct CLIResult: Sendable {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// Runs the `statejournal` command line — the program installed beside this
/// one, else the one on the PATH — for each tool call, so that a call has
/// every guarantee of the command (its lock, durability, STATE.md rewritten
/// before it exits) and refuses with its very message.
struct CLIRunner: Sendable {
    let program: String
    let options: CLIOptions

    init?(options: CLIOptions) {
        self.options = options
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        var candidates: [String] = []
        if n > 0 {
            let path = String(decoding: buffer.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if let slash = path.lastIndex(of: "/") { candidates.append(String(path[..<slash]) + "/statejournal") }
        }
        if let first = CommandLine.arguments.first, let slash = first.lastIndex(of: "/") {
            candidates.append(String(first[..<slash]) + "/statejournal")
        }
        let path = getenv("PATH").map { String(cString: $0) } ?? "/usr/local/bin:/usr/bin:/bin"
        candidates += path.split(separator: ":").map { ($0.isEmpty ? "." : String($0)) + "/statejournal" }
        guard let found = candidates.first(where: { access($0, X_OK) == 0 }) else { return nil }
        program = found
    }

    /// Runs `statejournal [global options] ARGUMENTS`, with `actor` as `--actor`.
    func run(_ arguments: [String], actor: String?) -> CLIResult {
        // The global options go before the command (after it, a `--` would make them operands).
        var argv = ["statejournal"]
        if let state = options.state { argv += ["--state", state] }
        if let actor { argv += ["--actor", actor] }
        if let timeout = options.lockTimeout { argv += ["--lock-timeout", timeout] }
        if options.allowSymlinks { argv.append("--allow-symlinks") }
        return spawn(argv + arguments)
    }

    private func spawn(_ arguments: [String]) -> CLIResult {
        var out: [Int32] = [-1, -1]
        var err: [Int32] = [-1, -1]
        guard pipe(&out) == 0, pipe(&err) == 0 else { return failed("cannot make a pipe") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, out[1], 1)
        posix_spawn_file_actions_adddup2(&actions, err[1], 2)
        for fd in out + err { posix_spawn_file_actions_addclose(&actions, fd) }
        var argv = arguments.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var pid = pid_t()
        let spawned = posix_spawn(&pid, program, &actions, nil, &argv, environ)
        close(out[1])
        close(err[1])
        guard spawned == 0 else {
            close(out[0])
            close(err[0])
            return failed("cannot run \(program): \(String(cString: strerror(spawned)))")
        }
        let (stdout, stderr) = Self.readBoth(out[0], err[0])
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        // WIFEXITED / WEXITSTATUS, spelled out (the C macros are not imported).
        let exited = status & 0x7f == 0
        return CLIResult(status: exited ? (status >> 8) & 0xff : 128 + (status & 0x7f), stdout: stdout, stderr: stderr)
    }

    /// Reads two pipes to their ends at once (a child that fills one while
    /// the other is read would otherwise block), then closes them.
    private static func readBoth(_ first: Int32, _ second: Int32) -> (String, String) {
        var buffers: [[UInt8]] = [[], []]
        var fds = [pollfd(fd: first, events: Int16(POLLIN), revents: 0), pollfd(fd: second, events: Int16(POLLIN), revents: 0)]
        var chunk = [UInt8](repeating: 0, count: 65536)
        while fds.contains(where: { $0.fd >= 0 }) {
            if poll(&fds, nfds_t(fds.count), -1) < 0 {
                if errno == EINTR { continue }
                break
            }
            for i in fds.indices where fds[i].fd >= 0 && fds[i].revents != 0 {
                let n = chunk.withUnsafeMutableBytes { read(fds[i].fd, $0.baseAddress!, $0.count) }
                if n > 0 {
                    buffers[i] += chunk[..<n]
                } else if n == 0 || errno != EINTR {
                    close(fds[i].fd)
                    fds[i].fd = -1
                }
            }
        }
        return (String(decoding: buffers[0], as: UTF8.self), String(decoding: buffers[1], as: UTF8.self))
    }

    private func failed(_ message: String) -> CLIResult {
        CLIResult(status: 1, stdout: "", stderr: "statejournal: error: \(message)\nhint: check the system's limits on processes and open files, then retry")
    }
}
