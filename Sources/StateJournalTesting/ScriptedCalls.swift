import Foundation
import StateJournal
#if canImport(Glibc)
import Glibc
#endif
import StateJournalEngine
import StateJournalModel

/// A ``SystemCalls`` that forwards to another one and lets a script decide,
/// call by call, what happens: pass it on, fail it, block the calling thread
/// until released, run something first, or end the "process" there.
///
/// The torture harness's reproductions use it to put a process — one
/// ``StateManager`` with its own ``ScriptedCalls`` — at an exact point (a
/// writer killed between its `pwrite` and its `fdatasync`, a holder of the
/// lock delayed before it appends) deterministically, without timers.
///
/// Every call is described by a ``Call``: the operation and the path it
/// concerns (for descriptor-based calls, the path the descriptor was opened
/// with).
package final class ScriptedCalls: SystemCalls, Sendable {
    package struct Call: Sendable, CustomStringConvertible {
        package var operation: FaultInjector.Operation
        /// The path the call names, or the path its descriptor was opened with.
        package var path: String
        /// The second path of `rename`/`link`.
        package var target: String?
        /// The flags of an `open`.
        package var flags: Int32?

        package var isSegment: Bool { path.contains("/segment-") && path.hasSuffix(".log") }
        package var description: String { "\(operation) \(path)\(target.map { " -> " + $0 } ?? "")" }
    }

    package enum Action: Sendable {
        /// Make the call.
        case pass
        /// Fail it with this errno without making it.
        case fail(Errno)
        /// Make the call, then report this errno instead of its result.
        case passThenFail(Errno)
        /// The process dies here: this call and every later one fail (EIO)
        /// without being made, except `close` and unlocking, which the
        /// kernel does for a dead process.
        case die
    }

    private struct State {
        package var paths: [Int32: String] = [:]
        package var dead = false
        package var diedAt: Call?
        package var log: [String] = []
    }

    private let base: any SystemCalls
    private let state = LockedState(State())
    private let script: @Sendable (Call) -> Action

    /// - Parameter script: called before each call (from the calling thread,
    ///   with no lock of ours held, so it may block); returns what to do.
    package init(_ base: any SystemCalls, script: @escaping @Sendable (Call) -> Action) {
        self.base = base
        self.script = script
    }

    /// Whether the process "died" (a ``Action/die`` was returned).
    package var isDead: Bool { state.withLock { $0.dead } }
    /// The call the process died at.
    package var diedAt: Call? { state.withLock { $0.diedAt } }
    /// Every call seen, in order (for a post-mortem).
    package var log: [String] { state.withLock { $0.log } }

    private func path(_ fd: Int32) -> String { state.withLock { $0.paths[fd] ?? "fd \(fd)" } }

    private func decide(_ call: Call) -> Action {
        if state.withLock({ $0.dead }) { return .fail(.ioError) }
        let action = script(call)
        state.withLock { s in
            s.log.append("\(call)")
            if case .die = action, !s.dead {
                s.dead = true
                s.diedAt = call
                s.log.append("  DIED")
            }
        }
        return action
    }

    private func run<T>(_ call: Call, _ body: () -> Result<T, Errno>) -> Result<T, Errno> {
        switch decide(call) {
        case .pass: return body()
        case .fail(let e): return .failure(e)
        case .passThenFail(let e):
            _ = body()
            return .failure(e)
        case .die: return .failure(.ioError)
        }
    }

    private func call(_ op: FaultInjector.Operation, _ path: String, _ target: String? = nil) -> Call {
        Call(operation: op, path: path, target: target)
    }

    package func open(_ path: String, flags: Int32, mode: UInt32) -> Result<Int32, Errno> {
        let result = run(Call(operation: .open, path: path, target: nil, flags: flags)) { base.open(path, flags: flags, mode: mode) }
        if case .success(let fd) = result { state.withLock { $0.paths[fd] = path } }
        return result
    }
    package func close(_ fd: Int32) -> Result<Void, Errno> {
        state.withLock { $0.paths[fd] = nil }
        return base.close(fd)
    }
    package func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) -> Result<Int, Errno> {
        run(call(.read, path(fd))) { base.read(fd, into: buffer) }
    }
    package func pread(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, offset: Int64) -> Result<Int, Errno> {
        run(call(.pread, path(fd))) { base.pread(fd, into: buffer, offset: offset) }
    }
    package func write(_ fd: Int32, from buffer: UnsafeRawBufferPointer) -> Result<Int, Errno> {
        run(call(.write, path(fd))) { base.write(fd, from: buffer) }
    }
    package func pwrite(_ fd: Int32, from buffer: UnsafeRawBufferPointer, offset: Int64) -> Result<Int, Errno> {
        run(call(.pwrite, path(fd))) { base.pwrite(fd, from: buffer, offset: offset) }
    }
    package func fsync(_ fd: Int32) -> Result<Void, Errno> { run(call(.fsync, path(fd))) { base.fsync(fd) } }
    package func fdatasync(_ fd: Int32) -> Result<Void, Errno> { run(call(.fdatasync, path(fd))) { base.fdatasync(fd) } }
    package func ftruncate(_ fd: Int32, length: Int64) -> Result<Void, Errno> {
        run(call(.ftruncate, path(fd))) { base.ftruncate(fd, length: length) }
    }
    package func fstat(_ fd: Int32) -> Result<FileStatus, Errno> { run(call(.fstat, path(fd))) { base.fstat(fd) } }
    package func lstat(_ path: String) -> Result<FileStatus, Errno> { run(call(.lstat, path)) { base.lstat(path) } }
    package func rename(_ from: String, _ to: String) -> Result<Void, Errno> { run(call(.rename, from, to)) { base.rename(from, to) } }
    package func link(_ from: String, _ to: String) -> Result<Void, Errno> { run(call(.link, from, to)) { base.link(from, to) } }
    package func exchange(_ a: String, _ b: String) -> Result<Void, Errno> { run(call(.exchange, a, b)) { base.exchange(a, b) } }
    package func unlink(_ path: String) -> Result<Void, Errno> { run(call(.unlink, path)) { base.unlink(path) } }
    package func mkdir(_ path: String, mode: UInt32) -> Result<Void, Errno> { run(call(.mkdir, path)) { base.mkdir(path, mode: mode) } }
    package func flock(_ fd: Int32, operation: Int32) -> Result<Void, Errno> {
        // Unlocking is what the kernel does when a process dies, so it always
        // happens; the script sees it (target "LOCK_UN") but cannot change it.
        if operation & LOCK_UN != 0 {
            let result = base.flock(fd, operation: operation)
            if !isDead { _ = script(Call(operation: .flock, path: path(fd), target: "LOCK_UN")) }
            return result
        }
        return run(call(.flock, path(fd))) { base.flock(fd, operation: operation) }
    }
    package func listDirectory(_ path: String) -> Result<[String], Errno> {
        run(call(.listDirectory, path)) { base.listDirectory(path) }
    }
    package func availableSpace(_ path: String) -> Result<Int64, Errno> {
        run(call(.availableSpace, path)) { base.availableSpace(path) }
    }
    package func fchmod(_ fd: Int32, mode: UInt32) -> Result<Void, Errno> { base.fchmod(fd, mode: mode) }
    package func readlink(_ path: String) -> Result<String, Errno> { base.readlink(path) }
}

/// A one-shot gate: a thread waits at it until another opens it; the
/// opener can first wait until someone has arrived. A handshake, not a timer.
package final class Gate: @unchecked Sendable {
    private let condition = NSCondition()
    private var arrived = 0
    private var open = false

    package init() {}

    /// Called by the thread that must stop here: records its arrival and
    /// waits until ``release()``.
    package func arriveAndWait() {
        condition.lock()
        arrived += 1
        condition.broadcast()
        while !open { condition.wait() }
        condition.unlock()
    }

    /// Waits until `count` threads arrived (false when `deadline` seconds
    /// pass first — a broken setup, reported as such, never a verdict).
    package func waitForArrivals(_ count: Int = 1, deadline: Double = 60) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        let limit = Date(timeIntervalSinceNow: deadline)
        while arrived < count {
            if !condition.wait(until: limit) { return arrived >= count }
        }
        return true
    }

    /// Records an arrival without waiting (for a thread that only reports).
    package func arrive() {
        condition.lock()
        arrived += 1
        condition.broadcast()
        condition.unlock()
    }

    package func release() {
        condition.lock()
        open = true
        condition.broadcast()
        condition.unlock()
    }

    package var arrivals: Int {
        condition.lock()
        defer { condition.unlock() }
        return arrived
    }
}
