#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import StateJournal

/// A ``SystemCalls`` that forwards every call to `base`. Test wrappers that
/// watch or change one or two calls (``ObservingSystemCalls``,
/// ``DirectorySyncFault``, ``Sabotage``, the tests' own) subclass it and
/// override only those: the list of calls to forward exists here alone.
open class ForwardingSystemCalls: SystemCalls, @unchecked Sendable {
    public let base: any SystemCalls

    public init(_ base: any SystemCalls) { self.base = base }

    open func open(_ path: String, flags: Int32, mode: UInt32) -> Result<Int32, Errno> { base.open(path, flags: flags, mode: mode) }
    open func close(_ fd: Int32) -> Result<Void, Errno> { base.close(fd) }
    open func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) -> Result<Int, Errno> { base.read(fd, into: buffer) }
    open func pread(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, offset: Int64) -> Result<Int, Errno> {
        base.pread(fd, into: buffer, offset: offset)
    }
    open func write(_ fd: Int32, from buffer: UnsafeRawBufferPointer) -> Result<Int, Errno> { base.write(fd, from: buffer) }
    open func pwrite(_ fd: Int32, from buffer: UnsafeRawBufferPointer, offset: Int64) -> Result<Int, Errno> {
        base.pwrite(fd, from: buffer, offset: offset)
    }
    open func fsync(_ fd: Int32) -> Result<Void, Errno> { base.fsync(fd) }
    open func fdatasync(_ fd: Int32) -> Result<Void, Errno> { base.fdatasync(fd) }
    open func ftruncate(_ fd: Int32, length: Int64) -> Result<Void, Errno> { base.ftruncate(fd, length: length) }
    open func fstat(_ fd: Int32) -> Result<FileStatus, Errno> { base.fstat(fd) }
    open func lstat(_ path: String) -> Result<FileStatus, Errno> { base.lstat(path) }
    open func rename(_ from: String, _ to: String) -> Result<Void, Errno> { base.rename(from, to) }
    open func link(_ from: String, _ to: String) -> Result<Void, Errno> { base.link(from, to) }
    open func unlink(_ path: String) -> Result<Void, Errno> { base.unlink(path) }
    open func mkdir(_ path: String, mode: UInt32) -> Result<Void, Errno> { base.mkdir(path, mode: mode) }
    open func flock(_ fd: Int32, operation: Int32) -> Result<Void, Errno> { base.flock(fd, operation: operation) }
    open func listDirectory(_ path: String) -> Result<[String], Errno> { base.listDirectory(path) }
    open func availableSpace(_ path: String) -> Result<Int64, Errno> { base.availableSpace(path) }
    open func fchmod(_ fd: Int32, mode: UInt32) -> Result<Void, Errno> { base.fchmod(fd, mode: mode) }
    open func readlink(_ path: String) -> Result<String, Errno> { base.readlink(path) }

    /// Whether `fd` is a directory (nil when `fstat` fails), asked of the
    /// kernel directly: what a wrapper that treats directory syncs apart
    /// needs, whatever `base` is.
    public static func isDirectory(_ fd: Int32) -> Bool? {
        var st = stat()
        guard Glibc.fstat(fd, &st) == 0 else { return nil }
        return st.st_mode & S_IFMT == S_IFDIR
    }
}
