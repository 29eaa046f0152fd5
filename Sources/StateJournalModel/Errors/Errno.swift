#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A POSIX error number returned by a failed system call.
public struct Errno: Error, Hashable, Sendable, CustomStringConvertible {
    /// The raw `errno` value.
    public let rawValue: Int32

    package init(rawValue: Int32) { self.rawValue = rawValue }

    /// The `errno` left by the last failed libc call on this thread.
    package static var current: Errno { Errno(rawValue: errno) }

    package static let interrupted = Errno(rawValue: EINTR)
    package static let wouldBlock = Errno(rawValue: EWOULDBLOCK)
    package static let noSuchFile = Errno(rawValue: ENOENT)
    package static let fileExists = Errno(rawValue: EEXIST)
    package static let noSpace = Errno(rawValue: ENOSPC)
    package static let ioError = Errno(rawValue: EIO)
    package static let tooManySymbolicLinks = Errno(rawValue: ELOOP)
    package static let notDirectory = Errno(rawValue: ENOTDIR)
    package static let permissionDenied = Errno(rawValue: EACCES)
    package static let readOnlyFileSystem = Errno(rawValue: EROFS)

    /// The C library's message for this error, e.g. "No space left on device".
    public var description: String {
        guard let cString = strerror(rawValue) else { return "errno \(rawValue)" }
        return String(cString: cString)
    }
}
