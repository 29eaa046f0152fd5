import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A child process started with `posix_spawn`, whose output goes to files
/// (so a large output never blocks it) and which the harness can SIGKILL at
/// any instant. Only the thread that spawned a child waits for it, so a pid
/// is never reused while someone may still kill it.
final class Child {
    let pid: pid_t
    let stdoutPath: String
    let stderrPath: String
    /// The write end of the child's stdin pipe, when one was asked for.
    private(set) var stdinFD: Int32?
    let started: Double

    struct Exit {
        /// The exit status, when the child exited.
        var status: Int32?
        /// The signal that ended it, when it was killed.
        var signal: Int32?
        var killed: Bool { signal == SIGKILL }
    }

    enum SpawnError: Error, CustomStringConvertible {
        case failed(String, Int32)
        var description: String {
            switch self { case .failed(let exe, let e): return "posix_spawn '\(exe)' failed: \(String(cString: strerror(e)))" }
        }
    }

    /// Starts `executable` with `arguments`; stdout and stderr go to new
    /// files in `directory`; with `stdinPipe`, stdin is a pipe the harness
    /// closes to tell the child to stop (a handshake, not a timer).
    init(_ executable: String, _ arguments: [String], outputIn directory: String, stdinPipe: Bool = false) throws {
        let tag = "\(UInt64.random(in: 0...UInt64.max))"
        stdoutPath = directory + "/out-" + tag
        stderrPath = directory + "/err-" + tag
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        var pipeFDs: [Int32] = [-1, -1]
        if stdinPipe {
            guard pipe(&pipeFDs) == 0 else { throw SpawnError.failed(executable, errno) }
            for fd in pipeFDs { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
            posix_spawn_file_actions_adddup2(&actions, pipeFDs[0], 0)
        } else {
            posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        }
        posix_spawn_file_actions_addopen(&actions, 1, stdoutPath, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, stderrPath, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0o644)
        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        var child: pid_t = 0
        let result = argv.withUnsafeBufferPointer { buffer in
            posix_spawn(&child, executable, &actions, nil, buffer.baseAddress!, environ)
        }
        if stdinPipe { close(pipeFDs[0]) }
        guard result == 0 else {
            if stdinPipe { close(pipeFDs[1]) }
            throw SpawnError.failed(executable, result)
        }
        pid = child
        stdinFD = stdinPipe ? pipeFDs[1] : nil
        started = Clock.now
    }

    deinit {
        closeStdin()
        unlink(stdoutPath)
        unlink(stderrPath)
    }

    /// Closing the pipe is the child's signal to finish and report.
    func closeStdin() {
        if let fd = stdinFD { close(fd) }
        stdinFD = nil
    }

    func kill() { _ = Glibc.kill(pid, SIGKILL) }

    /// Waits until the child stops itself (SIGSTOP); false when it ended instead.
    func waitUntilStopped() -> Bool {
        var status: Int32 = 0
        while waitpid(pid, &status, WUNTRACED) == -1 {
            if errno != EINTR { return false }
        }
        if status & 0xff == 0x7f { return true }
        exitedEarly = status
        return false
    }

    func resume() { _ = Glibc.kill(pid, SIGCONT) }

    /// The status reaped by ``waitUntilStopped()`` when the child ended.
    private var exitedEarly: Int32?

    /// Waits for the child to end and reaps it.
    func wait() -> Exit {
        var status: Int32 = 0
        if let early = exitedEarly { status = early } else {
            while waitpid(pid, &status, 0) == -1 {
                if errno != EINTR { return Exit(status: nil, signal: nil) }
            }
        }
        // WIFEXITED / WTERMSIG are macros; decode by hand.
        if status & 0x7f == 0 { return Exit(status: (status >> 8) & 0xff, signal: nil) }
        return Exit(status: nil, signal: status & 0x7f)
    }

    var stdout: [UInt8] { (FileManager.default.contents(atPath: stdoutPath)).map { [UInt8]($0) } ?? [] }
    var stderr: String { String(decoding: (FileManager.default.contents(atPath: stderrPath)) ?? Data(), as: UTF8.self) }
}

enum Clock {
    /// Monotonic seconds.
    static var now: Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// Sleeps for `seconds`. Only used to pick a random kill instant — never
    /// to wait for another process to reach a point.
    static func sleep(_ seconds: Double) {
        guard seconds > 0 else { return }
        var ts = timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - Double(Int(seconds))) * 1e9))
        var rem = timespec()
        while nanosleep(&ts, &rem) == -1 && errno == EINTR { ts = rem }
    }
}

/// Runs `body(i)` on `count` threads at once and waits for all of them.
func onThreads(_ count: Int, stackSize: Int = 4 << 20, _ body: @escaping @Sendable (Int) -> Void) {
    let group = DispatchGroup()
    for i in 0..<count {
        group.enter()
        let thread = Thread {
            body(i)
            group.leave()
        }
        thread.stackSize = stackSize
        thread.start()
    }
    group.wait()
}

/// The path of this executable, for re-executing it in a child mode.
let selfExecutable: String = {
    (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
}()
