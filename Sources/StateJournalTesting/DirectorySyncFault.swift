#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import StateJournal

/// A ``SystemCalls`` that fails (EIO), once, the first directory `fsync`
/// after the `segment`-th new segment file is renamed into place — the
/// moment a segment exists whose directory entry is not durable. Everything
/// else goes to `base` (e.g. a ``SimulatedDisk``, to crash afterwards).
public final class DirectorySyncFault: SystemCalls, Sendable {
    private struct State { var segments = 0; var armed = false; var fired = false }
    private let base: any SystemCalls
    private let segment: Int
    private let state = LockedState(State())

    public init(_ base: any SystemCalls, segment: Int = 2) {
        self.base = base
        self.segment = segment
    }

    /// Whether the fault fired.
    public var fired: Bool { state.withLock { $0.fired } }

    public func rename(_ from: String, _ to: String) -> Result<Void, Errno> {
        let result = base.rename(from, to)
        if case .success = result, to.hasSuffix(".log"), to.contains("/segment-") {
            state.withLock { s in
                s.segments += 1
                if s.segments == segment && !s.fired { s.armed = true }
            }
        }
        return result
    }

    public func fsync(_ fd: Int32) -> Result<Void, Errno> {
        var st = stat()
        let isDirectory = Glibc.fstat(fd, &st) == 0 && st.st_mode & S_IFMT == S_IFDIR
        let fire = isDirectory && state.withLock { s in
            guard s.armed else { return false }
            s.armed = false
            s.fired = true
            return true
        }
        return fire ? .failure(.ioError) : base.fsync(fd)
    }

    public func fdatasync(_ fd: Int32) -> Result<Void, Errno> { base.fdatasync(fd) }
    public func open(_ path: String, flags: Int32, mode: UInt32) -> Result<Int32, Errno> { base.open(path, flags: flags, mode: mode) }
    public func close(_ fd: Int32) -> Result<Void, Errno> { base.close(fd) }
    public func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) -> Result<Int, Errno> { base.read(fd, into: buffer) }
    public func pread(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, offset: Int64) -> Result<Int, Errno> {
        base.pread(fd, into: buffer, offset: offset)
    }
    public func write(_ fd: Int32, from buffer: UnsafeRawBufferPointer) -> Result<Int, Errno> { base.write(fd, from: buffer) }
    public func pwrite(_ fd: Int32, from buffer: UnsafeRawBufferPointer, offset: Int64) -> Result<Int, Errno> {
        base.pwrite(fd, from: buffer, offset: offset)
    }
    public func ftruncate(_ fd: Int32, length: Int64) -> Result<Void, Errno> { base.ftruncate(fd, length: length) }
    public func fstat(_ fd: Int32) -> Result<FileStatus, Errno> { base.fstat(fd) }
    public func lstat(_ path: String) -> Result<FileStatus, Errno> { base.lstat(path) }
    public func link(_ from: String, _ to: String) -> Result<Void, Errno> { base.link(from, to) }
    public func unlink(_ path: String) -> Result<Void, Errno> { base.unlink(path) }
    public func mkdir(_ path: String, mode: UInt32) -> Result<Void, Errno> { base.mkdir(path, mode: mode) }
    public func flock(_ fd: Int32, operation: Int32) -> Result<Void, Errno> { base.flock(fd, operation: operation) }
    public func listDirectory(_ path: String) -> Result<[String], Errno> { base.listDirectory(path) }
    public func availableSpace(_ path: String) -> Result<Int64, Errno> { base.availableSpace(path) }
    public func fchmod(_ fd: Int32, mode: UInt32) -> Result<Void, Errno> { base.fchmod(fd, mode: mode) }
    public func readlink(_ path: String) -> Result<String, Errno> { base.readlink(path) }
}
