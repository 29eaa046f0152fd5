import Foundation
import StateJournal
import StateJournalEngine
import StateJournalModel

/// A ``SystemCalls`` that forwards to another one and fails chosen calls.
///
/// Tests and the torture harness use it to fail the n-th `write`, `fsync`,
/// `rename`, … of an operation (or to make writes short) and then check that
/// nothing acknowledged was lost and nothing half-done is visible.
///
/// ```swift
/// let faults = FaultInjector(RealSystemCalls())
/// faults.fail(.fdatasync, errno: .ioError)           // the next fdatasync fails
/// faults.fail(.rename, errno: .noSpace, after: 1)    // the second rename fails
/// ```
package final class FaultInjector: SystemCalls, Sendable {
    package enum Operation: String, CaseIterable, Sendable {
        case open, close, read, pread, write, pwrite, fsync, fdatasync, ftruncate, fstat, lstat
        case rename, link, exchange, unlink, mkdir, flock, listDirectory, availableSpace
    }

    private struct Plan {
        package var operation: Operation
        package var errno: Errno
        package var skip: Int
        package var shortWrite: Bool
    }

    private struct State {
        package var plans: [Plan] = []
        package var counts: [Operation: Int] = [:]
        package var injected = 0
    }

    private let base: any SystemCalls
    private let state = LockedState(State())

    package init(_ base: any SystemCalls = RealSystemCalls()) { self.base = base }

    /// Fails the call of `operation` that comes after `after` more successful
    /// ones, once, with `errno`.
    package func fail(_ operation: Operation, errno: Errno, after: Int = 0) {
        state.withLock { $0.plans.append(Plan(operation: operation, errno: errno, skip: after, shortWrite: false)) }
    }

    /// Makes one `write`/`pwrite` (after `after` others) write only half its
    /// bytes and then fail with `errno` — a torn write.
    package func tearWrite(_ operation: Operation = .pwrite, errno: Errno = .noSpace, after: Int = 0) {
        state.withLock { $0.plans.append(Plan(operation: operation, errno: errno, skip: after, shortWrite: true)) }
    }

    /// Forgets planned faults (counts are kept).
    package func reset() { state.withLock { $0.plans = [] } }

    /// How many calls of each operation were made.
    package var counts: [Operation: Int] { state.withLock { $0.counts } }

    /// How many faults were injected so far.
    package var injectedCount: Int { state.withLock { $0.injected } }

    /// Whether any planned fault has not fired yet.
    package var hasPendingFaults: Bool { state.withLock { !$0.plans.isEmpty } }

    private enum Decision { case pass, fail(Errno), tear(Errno) }

    private func decide(_ operation: Operation) -> Decision {
        state.withLock { s in
            s.counts[operation, default: 0] += 1
            guard let i = s.plans.firstIndex(where: { $0.operation == operation }) else { return .pass }
            if s.plans[i].skip > 0 { s.plans[i].skip -= 1; return .pass }
            let plan = s.plans.remove(at: i)
            s.injected += 1
            return plan.shortWrite ? .tear(plan.errno) : .fail(plan.errno)
        }
    }

    private func run<T>(_ operation: Operation, _ body: () -> Result<T, Errno>) -> Result<T, Errno> {
        switch decide(operation) {
        case .pass: return body()
        case .fail(let e), .tear(let e): return .failure(e)
        }
    }

    package func open(_ path: String, flags: Int32, mode: UInt32) -> Result<Int32, Errno> {
        run(.open) { base.open(path, flags: flags, mode: mode) }
    }
    package func close(_ fd: Int32) -> Result<Void, Errno> {
        switch decide(.close) {
        case .pass: return base.close(fd)
        case .fail(let e), .tear(let e):
            _ = base.close(fd)  // the descriptor is gone even when close reports an error
            return .failure(e)
        }
    }
    package func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) -> Result<Int, Errno> {
        run(.read) { base.read(fd, into: buffer) }
    }
    package func pread(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, offset: Int64) -> Result<Int, Errno> {
        run(.pread) { base.pread(fd, into: buffer, offset: offset) }
    }
    package func write(_ fd: Int32, from buffer: UnsafeRawBufferPointer) -> Result<Int, Errno> {
        switch decide(.write) {
        case .pass: return base.write(fd, from: buffer)
        case .fail(let e): return .failure(e)
        case .tear(let e):
            _ = base.write(fd, from: UnsafeRawBufferPointer(rebasing: buffer[0..<(buffer.count / 2)]))
            return .failure(e)
        }
    }
    package func pwrite(_ fd: Int32, from buffer: UnsafeRawBufferPointer, offset: Int64) -> Result<Int, Errno> {
        switch decide(.pwrite) {
        case .pass: return base.pwrite(fd, from: buffer, offset: offset)
        case .fail(let e): return .failure(e)
        case .tear(let e):
            _ = base.pwrite(fd, from: UnsafeRawBufferPointer(rebasing: buffer[0..<(buffer.count / 2)]), offset: offset)
            return .failure(e)
        }
    }
    package func fsync(_ fd: Int32) -> Result<Void, Errno> { run(.fsync) { base.fsync(fd) } }
    package func fdatasync(_ fd: Int32) -> Result<Void, Errno> { run(.fdatasync) { base.fdatasync(fd) } }
    package func ftruncate(_ fd: Int32, length: Int64) -> Result<Void, Errno> {
        run(.ftruncate) { base.ftruncate(fd, length: length) }
    }
    package func fstat(_ fd: Int32) -> Result<FileStatus, Errno> { run(.fstat) { base.fstat(fd) } }
    package func lstat(_ path: String) -> Result<FileStatus, Errno> { run(.lstat) { base.lstat(path) } }
    package func rename(_ from: String, _ to: String) -> Result<Void, Errno> { run(.rename) { base.rename(from, to) } }
    package func link(_ from: String, _ to: String) -> Result<Void, Errno> { run(.link) { base.link(from, to) } }
    package func exchange(_ a: String, _ b: String) -> Result<Void, Errno> { run(.exchange) { base.exchange(a, b) } }
    package func unlink(_ path: String) -> Result<Void, Errno> { run(.unlink) { base.unlink(path) } }
    package func mkdir(_ path: String, mode: UInt32) -> Result<Void, Errno> { run(.mkdir) { base.mkdir(path, mode: mode) } }
    package func flock(_ fd: Int32, operation: Int32) -> Result<Void, Errno> {
        run(.flock) { base.flock(fd, operation: operation) }
    }
    package func listDirectory(_ path: String) -> Result<[String], Errno> {
        run(.listDirectory) { base.listDirectory(path) }
    }
    package func availableSpace(_ path: String) -> Result<Int64, Errno> {
        run(.availableSpace) { base.availableSpace(path) }
    }
    package func fchmod(_ fd: Int32, mode: UInt32) -> Result<Void, Errno> { base.fchmod(fd, mode: mode) }
    package func readlink(_ path: String) -> Result<String, Errno> { base.readlink(path) }
}

/// A value behind an `NSLock` (a pthread mutex, visible to ThreadSanitizer).
package final class LockedState<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value
    package init(_ value: Value) { self.value = value }
    package func withLock<T>(_ body: (inout Value) throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
