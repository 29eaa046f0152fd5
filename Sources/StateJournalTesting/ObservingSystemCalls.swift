#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import StateJournal

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
public final class ObservingSystemCalls: SystemCalls, Sendable {
    private struct State {
        var availableSpace: Int64?
        var unreadable: (@Sendable (String) -> Bool)?
        var flockAnswer: (@Sendable (Int32) -> Result<Void, Errno>?)?
        var opened: [String] = []
        var flockCalls = 0
    }

    private let base: any SystemCalls
    private let state = LockedState(State())

    public init(_ base: any SystemCalls = RealSystemCalls()) { self.base = base }

    /// When set, what `availableSpace` reports for every path.
    public var availableSpace: Int64? {
        get { state.withLock { $0.availableSpace } }
        set { state.withLock { $0.availableSpace = newValue } }
    }

    /// Paths for which `open` fails with EIO, as if the file could not be read.
    public var unreadable: (@Sendable (String) -> Bool)? {
        get { state.withLock { $0.unreadable } }
        set { state.withLock { $0.unreadable = newValue } }
    }

    /// Answers `flock(fd, operation)` instead of the kernel when it returns
    /// non-nil (gets the operation: `LOCK_EX`, `LOCK_UN`, `| LOCK_NB`).
    public var flockAnswer: (@Sendable (Int32) -> Result<Void, Errno>?)? {
        get { state.withLock { $0.flockAnswer } }
        set { state.withLock { $0.flockAnswer = newValue } }
    }

    /// Every path passed to `open`, in order (also the ones refused).
    public var openedPaths: [String] { state.withLock { $0.opened } }

    /// How many times `flock` was called.
    public var flockCalls: Int { state.withLock { $0.flockCalls } }

    /// Forgets the paths opened so far.
    public func resetObservations() { state.withLock { $0.opened = []; $0.flockCalls = 0 } }

    public func open(_ path: String, flags: Int32, mode: UInt32) -> Result<Int32, Errno> {
        let refuse = state.withLock { s -> Bool in
            s.opened.append(path)
            return s.unreadable?(path) ?? false
        }
        if refuse { return .failure(.ioError) }
        return base.open(path, flags: flags, mode: mode)
    }
    public func close(_ fd: Int32) -> Result<Void, Errno> { base.close(fd) }
    public func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) -> Result<Int, Errno> { base.read(fd, into: buffer) }
    public func pread(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, offset: Int64) -> Result<Int, Errno> {
        base.pread(fd, into: buffer, offset: offset)
    }
    public func write(_ fd: Int32, from buffer: UnsafeRawBufferPointer) -> Result<Int, Errno> { base.write(fd, from: buffer) }
    public func pwrite(_ fd: Int32, from buffer: UnsafeRawBufferPointer, offset: Int64) -> Result<Int, Errno> {
        base.pwrite(fd, from: buffer, offset: offset)
    }
    public func fsync(_ fd: Int32) -> Result<Void, Errno> { base.fsync(fd) }
    public func fdatasync(_ fd: Int32) -> Result<Void, Errno> { base.fdatasync(fd) }
    public func ftruncate(_ fd: Int32, length: Int64) -> Result<Void, Errno> { base.ftruncate(fd, length: length) }
    public func fstat(_ fd: Int32) -> Result<FileStatus, Errno> { base.fstat(fd) }
    public func lstat(_ path: String) -> Result<FileStatus, Errno> { base.lstat(path) }
    public func rename(_ from: String, _ to: String) -> Result<Void, Errno> { base.rename(from, to) }
    public func link(_ from: String, _ to: String) -> Result<Void, Errno> { base.link(from, to) }
    public func unlink(_ path: String) -> Result<Void, Errno> { base.unlink(path) }
    public func mkdir(_ path: String, mode: UInt32) -> Result<Void, Errno> { base.mkdir(path, mode: mode) }
    public func flock(_ fd: Int32, operation: Int32) -> Result<Void, Errno> {
        let answer = state.withLock { s -> (@Sendable (Int32) -> Result<Void, Errno>?)? in
            s.flockCalls += 1
            return s.flockAnswer
        }
        if let answer, let result = answer(operation) { return result }
        return base.flock(fd, operation: operation)
    }
    public func listDirectory(_ path: String) -> Result<[String], Errno> { base.listDirectory(path) }
    public func availableSpace(_ path: String) -> Result<Int64, Errno> {
        if let space = availableSpace { return .success(space) }
        return base.availableSpace(path)
    }
    public func fchmod(_ fd: Int32, mode: UInt32) -> Result<Void, Errno> { base.fchmod(fd, mode: mode) }
    public func readlink(_ path: String) -> Result<String, Errno> { base.readlink(path) }
}
