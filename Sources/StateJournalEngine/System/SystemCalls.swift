#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import CFileCalls
import StateJournalModel

/// Information about a file, as returned by `fstat`/`lstat`.
package struct FileStatus: Sendable, Equatable {
    package var size: Int64
    package var mode: UInt32
    /// The inode number: tells a file from another one later given its name.
    package var inode: UInt64
    /// The device the file is on (with `inode`, a file's identity).
    package var device: UInt64
    /// How many names the file has (0: it was removed while open).
    package var linkCount: UInt64
    /// The last modification, in µs since the epoch (0 when unknown). Not part of `==`.
    package var modifiedMicroseconds: Int64 = 0
    /// The owner's user id. Not part of `==`.
    package var owner: UInt32 = 0

    package init(size: Int64, mode: UInt32, inode: UInt64 = 0, device: UInt64 = 0, linkCount: UInt64 = 1) {
        self.size = size
        self.mode = mode
        self.inode = inode
        self.device = device
        self.linkCount = linkCount
    }

    package static func == (a: FileStatus, b: FileStatus) -> Bool {
        a.size == b.size && a.mode == b.mode && a.inode == b.inode && a.device == b.device && a.linkCount == b.linkCount
    }

    package var isRegularFile: Bool { mode & UInt32(S_IFMT) == UInt32(S_IFREG) }
    package var isDirectory: Bool { mode & UInt32(S_IFMT) == UInt32(S_IFDIR) }
    package var isSymbolicLink: Bool { mode & UInt32(S_IFMT) == UInt32(S_IFLNK) }
    /// Permission bits only (`0o644` and so on).
    package var permissions: UInt32 { mode & 0o7777 }
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
package protocol SystemCalls: Sendable {
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
    /// Atomically swaps the files named `a` and `b` (`renameat2` with
    /// `RENAME_EXCHANGE`): `noSuchFile` when either is missing; `EINVAL` or
    /// `ENOSYS` where the kernel or file system cannot.
    func exchange(_ a: String, _ b: String) -> Result<Void, Errno>
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
    package func fchmod(_ fd: Int32, mode: UInt32) -> Result<Void, Errno> { RealSystemCalls().fchmod(fd, mode: mode) }
    package func readlink(_ path: String) -> Result<String, Errno> { RealSystemCalls().readlink(path) }
}

/// Runs `body` until it returns something other than `-1`/`EINTR`.
///
/// This is the only place where `EINTR` is retried.
@inline(__always)
package func valueOrErrno<T: FixedWidthInteger>(retryOnInterrupt: Bool = true, _ body: () -> T) -> Result<T, Errno> {
    while true {
        let value = body()
        if value != -1 { return .success(value) }
        let error = Errno.current
        if retryOnInterrupt && error == .interrupted { continue }
        return .failure(error)
    }
}

@inline(__always)
package func nothingOrErrno<T: FixedWidthInteger>(retryOnInterrupt: Bool = true, _ body: () -> T) -> Result<Void, Errno> {
    valueOrErrno(retryOnInterrupt: retryOnInterrupt, body).map { _ in () }
}

private func makeStatus(_ s: stat) -> FileStatus {
    var status = FileStatus(size: Int64(s.st_size), mode: UInt32(s.st_mode), inode: UInt64(s.st_ino), device: UInt64(s.st_dev),
                            linkCount: UInt64(s.st_nlink))
    #if canImport(Darwin)
    status.modifiedMicroseconds = Int64(s.st_mtimespec.tv_sec) * 1_000_000 + Int64(s.st_mtimespec.tv_nsec) / 1000
    #else
    status.modifiedMicroseconds = Int64(s.st_mtim.tv_sec) * 1_000_000 + Int64(s.st_mtim.tv_nsec) / 1000
    #endif
    status.owner = UInt32(s.st_uid)
    return status
}

/// The production ``SystemCalls``: thin wrappers over libc.
package struct RealSystemCalls: SystemCalls {
    package init() {}

    package func open(_ path: String, flags: Int32, mode: UInt32) -> Result<Int32, Errno> {
        valueOrErrno { Glibc.open(path, flags | O_CLOEXEC, mode_t(mode)) }
    }

    package func close(_ fd: Int32) -> Result<Void, Errno> {
        // Never retried: on Linux the descriptor is released even on EINTR.
        nothingOrErrno(retryOnInterrupt: false) { Glibc.close(fd) }
    }

    package func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) -> Result<Int, Errno> {
        valueOrErrno { Glibc.read(fd, buffer.baseAddress, buffer.count) }
    }

    package func pread(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, offset: Int64) -> Result<Int, Errno> {
        valueOrErrno { Glibc.pread(fd, buffer.baseAddress, buffer.count, off_t(offset)) }
    }

    package func write(_ fd: Int32, from buffer: UnsafeRawBufferPointer) -> Result<Int, Errno> {
        valueOrErrno { Glibc.write(fd, buffer.baseAddress, buffer.count) }
    }

    package func pwrite(_ fd: Int32, from buffer: UnsafeRawBufferPointer, offset: Int64) -> Result<Int, Errno> {
        valueOrErrno { Glibc.pwrite(fd, buffer.baseAddress, buffer.count, off_t(offset)) }
    }

    package func fsync(_ fd: Int32) -> Result<Void, Errno> {
        nothingOrErrno { Glibc.fsync(fd) }
    }

    package func fdatasync(_ fd: Int32) -> Result<Void, Errno> {
        nothingOrErrno { Glibc.fdatasync(fd) }
    }

    package func ftruncate(_ fd: Int32, length: Int64) -> Result<Void, Errno> {
        nothingOrErrno { Glibc.ftruncate(fd, off_t(length)) }
    }

    package func fstat(_ fd: Int32) -> Result<FileStatus, Errno> {
        var s = stat()
        return nothingOrErrno { Glibc.fstat(fd, &s) }.map { makeStatus(s) }
    }

    package func lstat(_ path: String) -> Result<FileStatus, Errno> {
        var s = stat()
        return nothingOrErrno { Glibc.lstat(path, &s) }.map { makeStatus(s) }
    }

    package func rename(_ from: String, _ to: String) -> Result<Void, Errno> {
        nothingOrErrno { Glibc.rename(from, to) }
    }

    package func link(_ from: String, _ to: String) -> Result<Void, Errno> {
        nothingOrErrno { Glibc.link(from, to) }
    }

    package func exchange(_ a: String, _ b: String) -> Result<Void, Errno> {
        nothingOrErrno { statejournal_exchange(a, b) }
    }

    package func unlink(_ path: String) -> Result<Void, Errno> {
        nothingOrErrno { Glibc.unlink(path) }
    }

    package func mkdir(_ path: String, mode: UInt32) -> Result<Void, Errno> {
        nothingOrErrno { Glibc.mkdir(path, mode_t(mode)) }
    }

    package func flock(_ fd: Int32, operation: Int32) -> Result<Void, Errno> {
        nothingOrErrno { sj_flock(fd, operation) }
    }

    package func fchmod(_ fd: Int32, mode: UInt32) -> Result<Void, Errno> {
        nothingOrErrno { Glibc.fchmod(fd, mode_t(mode)) }
    }

    package func readlink(_ path: String) -> Result<String, Errno> {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        return valueOrErrno { buffer.withUnsafeMutableBufferPointer { b in b.baseAddress.map { Glibc.readlink(path, $0, b.count) } ?? -1 } }
            .map { n in String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) }
    }

    package func availableSpace(_ path: String) -> Result<Int64, Errno> {
        var s = statvfs()
        return nothingOrErrno { sj_statvfs(path, &s) }.map { Int64(s.f_bavail) * Int64(s.f_frsize) }
    }

    package func listDirectory(_ path: String) -> Result<[String], Errno> {
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
