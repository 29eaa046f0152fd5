#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import StateJournal
import StateJournalEngine
import StateJournalModel

/// A ``SystemCalls`` that fails (EIO), once, the first directory `fsync`
/// after the `segment`-th new segment file is renamed into place — the
/// moment a segment exists whose directory entry is not durable. Everything
/// else goes to `base` (e.g. a ``SimulatedDisk``, to crash afterwards).
package final class DirectorySyncFault: SystemCalls, Sendable {
    private struct State { var segments = 0; var armed = false; var fired = false }
    private let base: any SystemCalls
    private let segment: Int
    private let state = LockedState(State())

    package init(_ base: any SystemCalls, segment: Int = 2) {
        self.base = base
        self.segment = segment
    }

    /// Whether the fault fired.
    package var fired: Bool { state.withLock { $0.fired } }

    package func rename(_ from: String, _ to: String) -> Result<Void, Errno> {
        let result = base.rename(from, to)
        if case .success = result, to.hasSuffix(".log"), to.contains("/segment-") {
            state.withLock { s in
                s.segments += 1
                if s.segments == segment && !s.fired { s.armed = true }
            }
        }
        return result
    }

    package func fsync(_ fd: Int32) -> Result<Void, Errno> {
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

    package func fdatasync(_ fd: Int32) -> Result<Void, Errno> { base.fdatasync(fd) }
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
    package func ftruncate(_ fd: Int32, length: Int64) -> Result<Void, Errno> { base.ftruncate(fd, length: length) }
    package func fstat(_ fd: Int32) -> Result<FileStatus, Errno> { base.fstat(fd) }
    package func lstat(_ path: String) -> Result<FileStatus, Errno> { base.lstat(path) }
    package func link(_ from: String, _ to: String) -> Result<Void, Errno> { base.link(from, to) }
    package func unlink(_ path: String) -> Result<Void, Errno> { base.unlink(path) }
    package func mkdir(_ path: String, mode: UInt32) -> Result<Void, Errno> { base.mkdir(path, mode: mode) }
    package func flock(_ fd: Int32, operation: Int32) -> Result<Void, Errno> { base.flock(fd, operation: operation) }
    package func listDirectory(_ path: String) -> Result<[String], Errno> { base.listDirectory(path) }
    package func availableSpace(_ path: String) -> Result<Int64, Errno> { base.availableSpace(path) }
    package func fchmod(_ fd: Int32, mode: UInt32) -> Result<Void, Errno> { base.fchmod(fd, mode: mode) }
    package func readlink(_ path: String) -> Result<String, Errno> { base.readlink(path) }
}
