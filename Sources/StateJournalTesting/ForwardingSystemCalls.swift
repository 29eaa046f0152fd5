#if canImport(Glibc)
import Glibc
#endif
import StateJournal
import StateJournalEngine
import StateJournalModel

/// A ``SystemCalls`` that forwards every call to `base`. Test wrappers that
/// watch or change one or two calls conform to it and implement only those,
/// instead of repeating the other fifteen.
package protocol ForwardingSystemCalls: SystemCalls {
    var base: any SystemCalls { get }
}

extension ForwardingSystemCalls {
    package func open(_ path: String, flags: Int32, mode: UInt32) -> Result<Int32, Errno> { base.open(path, flags: flags, mode: mode) }
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
    package func exchange(_ a: String, _ b: String) -> Result<Void, Errno> { base.exchange(a, b) }
    package func unlink(_ path: String) -> Result<Void, Errno> { base.unlink(path) }
    package func mkdir(_ path: String, mode: UInt32) -> Result<Void, Errno> { base.mkdir(path, mode: mode) }
    package func flock(_ fd: Int32, operation: Int32) -> Result<Void, Errno> { base.flock(fd, operation: operation) }
    package func listDirectory(_ path: String) -> Result<[String], Errno> { base.listDirectory(path) }
    package func availableSpace(_ path: String) -> Result<Int64, Errno> { base.availableSpace(path) }
    package func fchmod(_ fd: Int32, mode: UInt32) -> Result<Void, Errno> { base.fchmod(fd, mode: mode) }
    package func readlink(_ path: String) -> Result<String, Errno> { base.readlink(path) }
}

extension ForwardingSystemCalls {
    /// Whether `fd` is a directory (nil when `fstat` fails): wrappers that
    /// fault directory fsyncs tell them from file fsyncs with it.
    package static func isDirectory(_ fd: Int32) -> Bool? {
        var st = stat()
        guard Glibc.fstat(fd, &st) == 0 else { return nil }
        return st.st_mode & S_IFMT == S_IFDIR
    }
}
