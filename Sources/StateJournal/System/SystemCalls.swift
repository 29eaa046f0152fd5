#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Information about a file, as returned by `fstat`/`lstat`.
public struct FileStatus: Sendable, Equatable {
    public var size: Int64
    public var mode: UInt32
    /// The inode number: tells a file from another one later given its name.
    public var inode: UInt64
    /// The device the file is on (with `inode`, a file's identity).
    public var device: UInt64
    /// How many names the file has (0: it was removed while open).
    public var linkCount: UInt64

    public init(size: Int64, mode: UInt32, inode: UInt64 = 0, device: UInt64 = 0, linkCount: UInt64 = 1) {
        self.size = size
        self.mode = mode
        self.inode = inode
        self.device = device
        self.linkCount = linkCount
    }

    public var isRegularFile: Bool { mode & UInt32(S_IFMT) == UInt32(S_IFREG) }
    public var isDirectory: Bool { mode & UInt32(S_IFMT) == UInt32(S_IFDIR) }
    public var isSymbolicLink: Bool { mode & UInt32(S_IFMT) == UInt32(S_IFLNK) }
    /// Permission bits only (`0o644` and so on).
    public var permissions: UInt32 { mode & 0o7777 }
}

/// The operating-system calls StateJournal makes, and nothing else.
///
/// Every system call the library performs goes through one value of this
/// protocol, so that tests can substitute an implementation that fails a
/// chosen `write`, `fsync`, `rename`, … and prove that nothing acknowledged is
/// lost. ``RealSystemCalls`` is the production implementation; it retries
/// `EINTR` in exactly one place and never retries `close`.
///
/// Methods return `Result` rather than throwing so that the layer above can
/// attach the operation and the path to the error in one place.
public protocol SystemCalls: Sendable {
    func open(_ path: String, flags: Int32, mode: UInt32) -> Result<Int32, Errno>
    func close(_ fd: Int32) -> Result<Void, Errno>
    func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) -> Result<Int, Errno>
    func pread(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, offset: Int64) -> Result<Int, Errno>
    func write(_ fd: Int32, from buffer: UnsafeRawBufferPointer) -> Result<Int, Errno>
    func pwrite(_ fd: Int32, from buffer: UnsafeRawBufferPointer, offset: Int64) -> Result<Int, Errno>
    func fsync(_ fd: Int32) -> Result<Void, Errno>
    func fdatasync(_ fd: Int32) -> Result<Void, Errno>
    func ftruncate(_ fd: Int32, length: Int64) -> Result<Void, Errno>
    func fstat(_ fd: Int32) -> Result<FileStatus, Errno>
    func lstat(_ path: String) -> Result<FileStatus, Errno>
    func rename(_ from: String, _ to: String) -> Result<Void, Errno>
    func link(_ from: String, _ to: String) -> Result<Void, Errno>
    func unlink(_ path: String) -> Result<Void, Errno>
    func mkdir(_ path: String, mode: UInt32) -> Result<Void, Errno>
    /// `flock(2)`; `operation` is `LOCK_EX`, `LOCK_UN`, optionally `| LOCK_NB`.
    func flock(_ fd: Int32, operation: Int32) -> Result<Void, Errno>
    /// The names in a directory, without `.` and `..`.
    func listDirectory(_ path: String) -> Result<[String], Errno>
    /// Bytes available to this user on the file system holding `path` (`statvfs`).
    func availableSpace(_ path: String) -> Result<Int64, Errno>
    /// `fchmod(2)`: sets the permission bits, whatever the umask took away at `open`.
    func fchmod(_ fd: Int32, mode: UInt32) -> Result<Void, Errno>
    /// `readlink(2)`: what the symbolic link `path` points to.
    func readlink(_ path: String) -> Result<String, Errno>
}

extension SystemCalls {
    // Defaults for implementations written before these calls existed (they
    // wrap real descriptors and paths): the real calls.
    public func fchmod(_ fd: Int32, mode: UInt32) -> Result<Void, Errno> { RealSystemCalls().fchmod(fd, mode: mode) }
    public func readlink(_ path: String) -> Result<String, Errno> { RealSystemCalls().readlink(path) }
}

/// Runs `body` until it returns something other than `-1`/`EINTR`.
///
/// This is the only place where `EINTR` is retried.
@inline(__always)
func valueOrErrno<T: FixedWidthInteger>(retryOnInterrupt: Bool = true, _ body: () -> T) -> Result<T, Errno> {
    while true {
        let value = body()
        if value != -1 { return .success(value) }
        let error = Errno.current
        if retryOnInterrupt && error == .interrupted { continue }
        return .failure(error)
    }
}

@inline(__always)
func nothingOrErrno<T: FixedWidthInteger>(retryOnInterrupt: Bool = true, _ body: () -> T) -> Result<Void, Errno> {
    valueOrErrno(retryOnInterrupt: retryOnInterrupt, body).map { _ in () }
}

private func makeStatus(_ s: stat) -> FileStatus {
    FileStatus(size: Int64(s.st_size), mode: UInt32(s.st_mode), inode: UInt64(s.st_ino), device: UInt64(s.st_dev),
               linkCount: UInt64(s.st_nlink))
}

/// The production ``SystemCalls``: thin wrappers over libc.
public struct RealSystemCalls: SystemCalls {
    public init() {}

    public func open(_ path: String, flags: Int32, mode: UInt32) -> Result<Int32, Errno> {
        valueOrErrno { Glibc.open(path, flags | O_CLOEXEC, mode_t(mode)) }
    }

    public func close(_ fd: Int32) -> Result<Void, Errno> {
        // Never retried: on Linux the descriptor is released even on EINTR.
        nothingOrErrno(retryOnInterrupt: false) { Glibc.close(fd) }
    }

    public func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) -> Result<Int, Errno> {
        valueOrErrno { Glibc.read(fd, buffer.baseAddress, buffer.count) }
    }

    public func pread(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, offset: Int64) -> Result<Int, Errno> {
        valueOrErrno { Glibc.pread(fd, buffer.baseAddress, buffer.count, off_t(offset)) }
    }

    public func write(_ fd: Int32, from buffer: UnsafeRawBufferPointer) -> Result<Int, Errno> {
        valueOrErrno { Glibc.write(fd, buffer.baseAddress, buffer.count) }
    }

    public func pwrite(_ fd: Int32, from buffer: UnsafeRawBufferPointer, offset: Int64) -> Result<Int, Errno> {
        valueOrErrno { Glibc.pwrite(fd, buffer.baseAddress, buffer.count, off_t(offset)) }
    }

    public func fsync(_ fd: Int32) -> Result<Void, Errno> {
        nothingOrErrno { Glibc.fsync(fd) }
    }

    public func fdatasync(_ fd: Int32) -> Result<Void, Errno> {
        nothingOrErrno { Glibc.fdatasync(fd) }
    }

    public func ftruncate(_ fd: Int32, length: Int64) -> Result<Void, Errno> {
        nothingOrErrno { Glibc.ftruncate(fd, off_t(length)) }
    }

    public func fstat(_ fd: Int32) -> Result<FileStatus, Errno> {
        var s = stat()
        return nothingOrErrno { Glibc.fstat(fd, &s) }.map { makeStatus(s) }
    }

    public func lstat(_ path: String) -> Result<FileStatus, Errno> {
        var s = stat()
        return nothingOrErrno { Glibc.lstat(path, &s) }.map { makeStatus(s) }
    }

    public func rename(_ from: String, _ to: String) -> Result<Void, Errno> {
        nothingOrErrno { Glibc.rename(from, to) }
    }

    public func link(_ from: String, _ to: String) -> Result<Void, Errno> {
        nothingOrErrno { Glibc.link(from, to) }
    }

    public func unlink(_ path: String) -> Result<Void, Errno> {
        nothingOrErrno { Glibc.unlink(path) }
    }

    public func mkdir(_ path: String, mode: UInt32) -> Result<Void, Errno> {
        nothingOrErrno { Glibc.mkdir(path, mode_t(mode)) }
    }

    public func flock(_ fd: Int32, operation: Int32) -> Result<Void, Errno> {
        nothingOrErrno { sj_flock(fd, operation) }
    }

    public func fchmod(_ fd: Int32, mode: UInt32) -> Result<Void, Errno> {
        nothingOrErrno { Glibc.fchmod(fd, mode_t(mode)) }
    }

    public func readlink(_ path: String) -> Result<String, Errno> {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        return valueOrErrno { buffer.withUnsafeMutableBufferPointer { b in b.baseAddress.map { Glibc.readlink(path, $0, b.count) } ?? -1 } }
            .map { n in String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) }
    }

    public func availableSpace(_ path: String) -> Result<Int64, Errno> {
        var s = statvfs()
        return nothingOrErrno { sj_statvfs(path, &s) }.map { Int64(s.f_bavail) * Int64(s.f_frsize) }
    }

    public func listDirectory(_ path: String) -> Result<[String], Errno> {
        guard let dir = opendir(path) else { return .failure(.current) }
        defer { closedir(dir) }
        var names: [String] = []
        while true {
            errno = 0
            guard let entry = readdir(dir) else {
                if errno != 0 { return .failure(.current) }
                break
            }
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return .success(names.sorted())
    }
}

/// libc's `flock(2)`, under a name that the `struct flock` type does not shadow.
@_silgen_name("flock")
private func sj_flock(_ fd: Int32, _ operation: Int32) -> Int32

/// libc's `statvfs(3)`, under a name that the `struct statvfs` type does not shadow.
@_silgen_name("statvfs")
private func sj_statvfs(_ path: UnsafePointer<CChar>, _ buf: UnsafeMutablePointer<statvfs>) -> Int32
