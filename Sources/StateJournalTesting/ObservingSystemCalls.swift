#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import StateJournal
import StateJournalEngine
import StateJournalModel

/// A ``SystemCalls`` that forwards to another one, records which paths were
/// opened, and can stand in for the file system in ways a fault injector
/// cannot: report little free space, make chosen files unreadable, or answer
/// `flock` itself.
///
/// Tests use it to prove what the library *did not* do (it never opened the
/// segments before a snapshot; it never appended on a nearly full disk) and
/// to count lock attempts without timing anything.
///
/// ```swift
/// let sys = ObservingSystemCalls()
/// sys.availableSpace = 4096                              // the disk is nearly full
/// sys.unreadable = { $0.hasSuffix("00000000000000000001.log.zst") }
/// sys.flockAnswer = { op in op & LOCK_NB != 0 ? .failure(.wouldBlock) : nil }
/// ```
package final class ObservingSystemCalls: SystemCalls, Sendable {
    private struct State {
        package var availableSpace: Int64?
        package var unreadable: (@Sendable (String) -> Bool)?
        package var flockAnswer: (@Sendable (Int32) -> Result<Void, Errno>?)?
        package var opened: [String] = []
        package var flockCalls = 0
    }

    private let base: any SystemCalls
    private let state = LockedState(State())

    package init(_ base: any SystemCalls = RealSystemCalls()) { self.base = base }

    /// When set, what `availableSpace` reports for every path.
    package var availableSpace: Int64? {
        get { state.withLock { $0.availableSpace } }
        set { state.withLock { $0.availableSpace = newValue } }
    }

    /// Paths for which `open` fails with EIO, as if the file could not be read.
    package var unreadable: (@Sendable (String) -> Bool)? {
        get { state.withLock { $0.unreadable } }
        set { state.withLock { $0.unreadable = newValue } }
    }

    /// Answers `flock(fd, operation)` instead of the kernel when it returns
    /// non-nil (gets the operation: `LOCK_EX`, `LOCK_UN`, `| LOCK_NB`).
    package var flockAnswer: (@Sendable (Int32) -> Result<Void, Errno>?)? {
        get { state.withLock { $0.flockAnswer } }
        set { state.withLock { $0.flockAnswer = newValue } }
    }

    /// Every path passed to `open`, in order (also the ones refused).
    package var openedPaths: [String] { state.withLock { $0.opened } }

    /// How many times `flock` was called.
    package var flockCalls: Int { state.withLock { $0.flockCalls } }

    /// Forgets the paths opened so far.
    package func resetObservations() { state.withLock { $0.opened = []; $0.flockCalls = 0 } }

    package func open(_ path: String, flags: Int32, mode: UInt32) -> Result<Int32, Errno> {
        let refuse = state.withLock { s -> Bool in
            s.opened.append(path)
            return s.unreadable?(path) ?? false
        }
        if refuse { return .failure(.ioError) }
        return base.open(path, flags: flags, mode: mode)
    }
    package func close(_ fd: Int32) -> Result<Void, Errno> { base.close(fd) }
    package func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) -> Result<Int, Errno> { base.read(fd, into: buffer) }
    package func pread(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, offset: Int64) -> Result<Int, Errno> {
        base.pread(fd, into: buffer, offset: offset)
    }
    package func write(_ fd: Int32, from buffer: UnsafeRawBufferPointer) -> Result<Int, Errno> { base.write(fd, from: buffer) }
    package func pwrite(_ fd: Int32, from buffer: UnsafeRawBufferPointer, offset: Int64) -> Result<Int, Errno> {
        base.pwrite(fd, from: buffer, offset: offset)
    }
    package func fsync(_ fd: Int32) -> Result<Void, Errno> { base.fsync(fd) }
    package func fdatasync(_ fd: Int32) -> Result<Void, Errno> { base.fdatasync(fd) }
    package func ftruncate(_ fd: Int32, length: Int64) -> Result<Void, Errno> { base.ftruncate(fd, length: length) }
    package func fstat(_ fd: Int32) -> Result<FileStatus, Errno> { base.fstat(fd) }
    package func lstat(_ path: String) -> Result<FileStatus, Errno> { base.lstat(path) }
    package func rename(_ from: String, _ to: String) -> Result<Void, Errno> { base.rename(from, to) }
    package func link(_ from: String, _ to: String) -> Result<Void, Errno> { base.link(from, to) }
    package func unlink(_ path: String) -> Result<Void, Errno> { base.unlink(path) }
    package func mkdir(_ path: String, mode: UInt32) -> Result<Void, Errno> { base.mkdir(path, mode: mode) }
    package func flock(_ fd: Int32, operation: Int32) -> Result<Void, Errno> {
        let answer = state.withLock { s -> (@Sendable (Int32) -> Result<Void, Errno>?)? in
            s.flockCalls += 1
            return s.flockAnswer
        }
        if let answer, let result = answer(operation) { return result }
        return base.flock(fd, operation: operation)
    }
    package func listDirectory(_ path: String) -> Result<[String], Errno> { base.listDirectory(path) }
    package func availableSpace(_ path: String) -> Result<Int64, Errno> {
        if let space = availableSpace { return .success(space) }
        return base.availableSpace(path)
    }
    package func fchmod(_ fd: Int32, mode: UInt32) -> Result<Void, Errno> { base.fchmod(fd, mode: mode) }
    package func readlink(_ path: String) -> Result<String, Errno> { base.readlink(path) }
}
