import Foundation
import StateJournal
import StateJournalEngine
import StateJournalModel

/// A ``SystemCalls`` that forwards to another one and steps in at the
/// moment that matters most to durability: the `fsync`/`fdatasync` of a
/// journal segment that follows a write to it — an append's own sync.
///
/// `hook` is called there (on the writer's thread) and decides what happens:
/// - ``Action/proceed``: the sync happens;
/// - ``Action/fail(_:)``: the sync fails with that errno;
/// - ``Action/die``: the process "is killed" there — the sync and every later
///   call fail with `EIO` and change nothing, except `close` and unlocking,
///   which the kernel does for a dead process. The bytes written stay in the
///   page cache (of the simulated disk, when `base` is one).
///
/// A sync of a segment that was not written through this value (the sync a
/// writer makes before using bytes others wrote) is not hooked.
package final class SegmentSyncHook: SystemCalls, @unchecked Sendable {
    package enum Action: Sendable { case proceed, fail(Errno), die }

    private let base: any SystemCalls
    private let hook: @Sendable () -> Action
    private let lock = NSLock()
    private var paths: [Int32: String] = [:]
    private var written: Set<Int32> = []
    private var dead = false
    private var hooked = 0

    /// How many times the hook was called.
    package var hookCount: Int { lock.lock(); defer { lock.unlock() }; return hooked }

    package init(_ base: any SystemCalls, hook: @escaping @Sendable () -> Action) {
        self.base = base
        self.hook = hook
    }

    private var isDead: Bool { lock.lock(); defer { lock.unlock() }; return dead }

    private func gated<T>(_ body: () -> Result<T, Errno>) -> Result<T, Errno> {
        isDead ? .failure(.ioError) : body()
    }

    private static func isSegment(_ path: String) -> Bool {
        path.contains(".journal/segment-") && !path.contains(".tmp-")
    }

    private func sync(_ fd: Int32, _ call: (Int32) -> Result<Void, Errno>) -> Result<Void, Errno> {
        if isDead { return .failure(.ioError) }
        lock.lock()
        let hooking = written.contains(fd)
        if hooking { written.remove(fd); hooked += 1 }
        lock.unlock()
        guard hooking else { return call(fd) }
        switch hook() {
        case .proceed: return call(fd)
        case .fail(let errno): return .failure(errno)
        case .die:
            lock.lock(); dead = true; lock.unlock()
            return .failure(.ioError)
        }
    }

    package func open(_ path: String, flags: Int32, mode: UInt32) -> Result<Int32, Errno> {
        let result = gated { base.open(path, flags: flags, mode: mode) }
        if case .success(let fd) = result, Self.isSegment(path) {
            lock.lock(); paths[fd] = path; written.remove(fd); lock.unlock()
        }
        return result
    }
    package func close(_ fd: Int32) -> Result<Void, Errno> {
        lock.lock(); paths[fd] = nil; written.remove(fd); lock.unlock()
        return base.close(fd)
    }
    package func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) -> Result<Int, Errno> { gated { base.read(fd, into: buffer) } }
    package func pread(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, offset: Int64) -> Result<Int, Errno> {
        gated { base.pread(fd, into: buffer, offset: offset) }
    }
    package func write(_ fd: Int32, from buffer: UnsafeRawBufferPointer) -> Result<Int, Errno> { gated { base.write(fd, from: buffer) } }
    package func pwrite(_ fd: Int32, from buffer: UnsafeRawBufferPointer, offset: Int64) -> Result<Int, Errno> {
        let result = gated { base.pwrite(fd, from: buffer, offset: offset) }
        lock.lock(); if paths[fd] != nil { written.insert(fd) }; lock.unlock()
        return result
    }
    package func fsync(_ fd: Int32) -> Result<Void, Errno> { sync(fd) { base.fsync($0) } }
    package func fdatasync(_ fd: Int32) -> Result<Void, Errno> { sync(fd) { base.fdatasync($0) } }
    package func ftruncate(_ fd: Int32, length: Int64) -> Result<Void, Errno> { gated { base.ftruncate(fd, length: length) } }
    package func fstat(_ fd: Int32) -> Result<FileStatus, Errno> { gated { base.fstat(fd) } }
    package func lstat(_ path: String) -> Result<FileStatus, Errno> { gated { base.lstat(path) } }
    package func rename(_ from: String, _ to: String) -> Result<Void, Errno> { gated { base.rename(from, to) } }
    package func link(_ from: String, _ to: String) -> Result<Void, Errno> { gated { base.link(from, to) } }
    package func exchange(_ a: String, _ b: String) -> Result<Void, Errno> { gated { base.exchange(a, b) } }
    package func unlink(_ path: String) -> Result<Void, Errno> { gated { base.unlink(path) } }
    package func mkdir(_ path: String, mode: UInt32) -> Result<Void, Errno> { gated { base.mkdir(path, mode: mode) } }
    package func flock(_ fd: Int32, operation: Int32) -> Result<Void, Errno> {
        // A dead process's locks are released by the kernel.
        if isDead && operation & LOCK_UN == 0 { return .failure(.ioError) }
        return base.flock(fd, operation: operation)
    }
    package func listDirectory(_ path: String) -> Result<[String], Errno> { gated { base.listDirectory(path) } }
    package func availableSpace(_ path: String) -> Result<Int64, Errno> { gated { base.availableSpace(path) } }
}
