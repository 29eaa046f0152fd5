#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Output for people through a pager, as git does: only when stdout is a
/// terminal. The pager is `$STATEJOURNAL_PAGER`, else `$PAGER`, else
/// `less` (with `LESS=FRX` unless `LESS` is set: quit when it fits on one
/// screen, keep colours, leave the text on the screen); empty or `cat`
/// means none.
final class Pager {
    private let pid: pid_t

    private init(pid: pid_t) { self.pid = pid }

    /// The pager command, or nil for none.
    static var command: String? {
        for name in ["STATEJOURNAL_PAGER", "PAGER"] {
            if let value = getenv(name) {
                let text = String(cString: value).trimmingSpaces
                return text.isEmpty || text == "cat" ? nil : text
            }
        }
        return access("/usr/bin/less", X_OK) == 0 || access("/bin/less", X_OK) == 0 ? "less" : nil
    }

    /// Starts the pager and sends stdout to it when stdout is a terminal and
    /// paging is not `disabled`; nil when there is none (then stdout is as it was).
    static func start(disabled: Bool) -> Pager? {
        guard !disabled, isatty(1) == 1, let command = command else { return nil }
        _ = Terminal.colour  // decided for the terminal, before stdout becomes a pipe
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { return nil }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, fds[0], 0)
        posix_spawn_file_actions_addclose(&actions, fds[0])
        posix_spawn_file_actions_addclose(&actions, fds[1])
        var environment: [String] = []
        var entry = environ
        while let pointer = entry.pointee {
            environment.append(String(cString: pointer))
            entry += 1
        }
        if getenv("LESS") == nil { environment.append("LESS=FRX") }
        if getenv("LV") == nil { environment.append("LV=-c") }
        let argv = ["/bin/sh", "-c", command]
        var pid: pid_t = 0
        let status = withCStrings(argv) { cArgv in
            withCStrings(environment) { cEnv in
                posix_spawn(&pid, "/bin/sh", &actions, nil, cArgv, cEnv)
            }
        }
        close(fds[0])
        guard status == 0 else {
            close(fds[1])
            return nil
        }
        // A pager quit early closes the pipe: writes then fail (EPIPE), not kill us.
        signal(SIGPIPE, SIG_IGN)
        dup2(fds[1], 1)
        close(fds[1])
        return Pager(pid: pid)
    }

    /// Ends the output and waits until the pager is quit.
    func finish() {
        close(1)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    }
}

/// `body` with `strings` as a NULL-terminated C array.
private func withCStrings<T>(_ strings: [String], _ body: ([UnsafeMutablePointer<CChar>?]) -> T) -> T {
    var pointers = strings.map { strdup($0) }
    pointers.append(nil)
    defer { for pointer in pointers { free(pointer) } }
    return body(pointers)
}
