#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import StateJournal
import StateJournalEngine
import StateJournalModel


/// A ``SystemCalls`` over a file system held in memory: regular files and
/// directories, no links between names, no permissions.
///
/// The fuzz targets (`Tools/fuzz`) run the journal reader on it, so that each
/// input costs no disk I/O and leaves nothing behind; their regression tests
/// replay the saved inputs the same way. Locks always succeed (one process),
/// and nothing is ever out of space.
package final class MemorySystemCalls: SystemCalls, Sendable {
    private struct Node {
        package var isDirectory: Bool
        package var bytes: [UInt8] = []
        package var mode: UInt32
    }

    private struct Open {
        package var path: String
        package var writable: Bool
    }

    private struct State {
        package var nodes: [String: Node] = ["/": Node(isDirectory: true, mode: 0o755)]
        package var descriptors: [Int32: Open] = [:]
        package var nextDescriptor: Int32 = 3
    }

    private let state = Locked(State())

    package init() {}

    /// Creates `path` (and its parent directories) holding `bytes`.
    package func install(_ path: String, _ bytes: [UInt8]) {
        state.withLock { s in
            var dir = FileSystem.directory(of: path)
            var parents: [String] = []
            while s.nodes[dir] == nil { parents.append(dir); dir = FileSystem.directory(of: dir) }
            for parent in parents { s.nodes[parent] = Node(isDirectory: true, mode: 0o755) }
            s.nodes[path] = Node(isDirectory: false, bytes: bytes, mode: 0o644)
        }
    }

    /// The bytes of `path`, if it is a regular file.
    package func contents(_ path: String) -> [UInt8]? {
        state.withLock { s in s.nodes[path].flatMap { $0.isDirectory ? nil : $0.bytes } }
    }

    /// How many descriptors are open (a leak shows as a number above 0 once
    /// every operation returned).
    package var openDescriptors: Int { state.withLock { $0.descriptors.count } }

    private static func normalized(_ path: String) -> String {
        var p = path
        while p.count > 1 && p.hasSuffix("/") { p.removeLast() }
        return p
    }

    package func open(_ path: String, flags: Int32, mode: UInt32) -> Result<Int32, Errno> {
        let path = Self.normalized(path)
        return state.withLock { s in
            let accessMode = flags & O_ACCMODE
            if let node = s.nodes[path] {
                if flags & O_CREAT != 0 && flags & O_EXCL != 0 { return .failure(.fileExists) }
                if node.isDirectory && accessMode != O_RDONLY { return .failure(Errno(rawValue: EISDIR)) }
                if !node.isDirectory && flags & O_DIRECTORY != 0 { return .failure(.notDirectory) }
                if flags & O_TRUNC != 0 && !node.isDirectory { s.nodes[path]?.bytes = [] }
            } else {
                guard flags & O_CREAT != 0 else { return .failure(.noSuchFile) }
                guard s.nodes[FileSystem.directory(of: path)]?.isDirectory == true else { return .failure(.noSuchFile) }
                s.nodes[path] = Node(isDirectory: false, mode: mode)
            }
            let fd = s.nextDescriptor
            s.nextDescriptor += 1
            s.descriptors[fd] = Open(path: path, writable: accessMode != O_RDONLY)
            return .success(fd)
        }
    }

    package func close(_ fd: Int32) -> Result<Void, Errno> {
        state.withLock { s in s.descriptors.removeValue(forKey: fd) == nil ? .failure(Errno(rawValue: EBADF)) : .success(()) }
    }

    package func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) -> Result<Int, Errno> {
        .failure(Errno(rawValue: ENOSYS))  // the library reads with pread only
    }

    package func pread(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, offset: Int64) -> Result<Int, Errno> {
        state.withLock { s in
            guard let open = s.descriptors[fd], let node = s.nodes[open.path] else { return .failure(Errno(rawValue: EBADF)) }
            guard !node.isDirectory else { return .failure(Errno(rawValue: EISDIR)) }
            guard offset >= 0 else { return .failure(Errno(rawValue: EINVAL)) }
            guard offset < Int64(node.bytes.count) else { return .success(0) }
            let start = Int(offset)
            let n = min(buffer.count, node.bytes.count - start)
            node.bytes.withUnsafeBytes { source in
                buffer.copyMemory(from: UnsafeRawBufferPointer(rebasing: source[start..<(start + n)]))
            }
            return .success(n)
        }
    }

    package func write(_ fd: Int32, from buffer: UnsafeRawBufferPointer) -> Result<Int, Errno> {
        .failure(Errno(rawValue: ENOSYS))  // the library writes with pwrite only
    }

    package func pwrite(_ fd: Int32, from buffer: UnsafeRawBufferPointer, offset: Int64) -> Result<Int, Errno> {
        state.withLock { s in
            guard let open = s.descriptors[fd], open.writable, var node = s.nodes[open.path] else {
                return .failure(Errno(rawValue: EBADF))
            }
            guard offset >= 0 else { return .failure(Errno(rawValue: EINVAL)) }
            let start = Int(offset)
            if node.bytes.count < start + buffer.count {
                node.bytes.append(contentsOf: repeatElement(0, count: start + buffer.count - node.bytes.count))
            }
            node.bytes.withUnsafeMutableBytes { target in
                UnsafeMutableRawBufferPointer(rebasing: target[start..<(start + buffer.count)]).copyMemory(from: buffer)
            }
            s.nodes[open.path] = node
            return .success(buffer.count)
        }
    }

    package func fsync(_ fd: Int32) -> Result<Void, Errno> { check(fd) }
    package func fdatasync(_ fd: Int32) -> Result<Void, Errno> { check(fd) }

    private func check(_ fd: Int32) -> Result<Void, Errno> {
        state.withLock { s in s.descriptors[fd] == nil ? .failure(Errno(rawValue: EBADF)) : .success(()) }
    }

    package func ftruncate(_ fd: Int32, length: Int64) -> Result<Void, Errno> {
        state.withLock { s in
            guard let open = s.descriptors[fd], open.writable, var node = s.nodes[open.path], !node.isDirectory else {
                return .failure(Errno(rawValue: EBADF))
            }
            guard length >= 0 else { return .failure(Errno(rawValue: EINVAL)) }
            let n = Int(length)
            if n < node.bytes.count {
                node.bytes.removeSubrange(n...)
            } else {
                node.bytes.append(contentsOf: repeatElement(0, count: n - node.bytes.count))
            }
            s.nodes[open.path] = node
            return .success(())
        }
    }

    private static func status(_ node: Node) -> FileStatus {
        FileStatus(size: Int64(node.bytes.count), mode: (node.isDirectory ? UInt32(S_IFDIR) : UInt32(S_IFREG)) | node.mode)
    }

    package func fstat(_ fd: Int32) -> Result<FileStatus, Errno> {
        state.withLock { s in
            guard let open = s.descriptors[fd], let node = s.nodes[open.path] else { return .failure(Errno(rawValue: EBADF)) }
            return .success(Self.status(node))
        }
    }

    package func lstat(_ path: String) -> Result<FileStatus, Errno> {
        let path = Self.normalized(path)
        return state.withLock { s in s.nodes[path].map { .success(Self.status($0)) } ?? .failure(.noSuchFile) }
    }

    package func rename(_ from: String, _ to: String) -> Result<Void, Errno> {
        let from = Self.normalized(from), to = Self.normalized(to)
        return state.withLock { s in
            guard let node = s.nodes[from] else { return .failure(.noSuchFile) }
            guard !node.isDirectory else { return .failure(Errno(rawValue: EXDEV)) }
            guard s.nodes[FileSystem.directory(of: to)]?.isDirectory == true else { return .failure(.noSuchFile) }
            if from == to { return .success(()) }
            s.nodes[to] = node
            s.nodes[from] = nil
            // Open descriptors follow the file.
            for (fd, open) in s.descriptors where open.path == from { s.descriptors[fd]?.path = to }
            return .success(())
        }
    }

    /// No hard links here: the library copies instead, as on file systems without them.
    package func link(_ from: String, _ to: String) -> Result<Void, Errno> {
        .failure(Errno(rawValue: EPERM))
    }

    /// No exchange here (`EINVAL`): the library falls back to a link and two
    /// renames, as on file systems without `RENAME_EXCHANGE`.
    package func exchange(_ a: String, _ b: String) -> Result<Void, Errno> {
        .failure(Errno(rawValue: EINVAL))
    }

    package func unlink(_ path: String) -> Result<Void, Errno> {
        let path = Self.normalized(path)
        return state.withLock { s in
            guard let node = s.nodes[path] else { return .failure(.noSuchFile) }
            guard !node.isDirectory else { return .failure(Errno(rawValue: EISDIR)) }
            s.nodes[path] = nil
            return .success(())
        }
    }

    package func mkdir(_ path: String, mode: UInt32) -> Result<Void, Errno> {
        let path = Self.normalized(path)
        return state.withLock { s in
            guard s.nodes[path] == nil else { return .failure(.fileExists) }
            guard s.nodes[FileSystem.directory(of: path)]?.isDirectory == true else { return .failure(.noSuchFile) }
            s.nodes[path] = Node(isDirectory: true, mode: mode)
            return .success(())
        }
    }

    package func flock(_ fd: Int32, operation: Int32) -> Result<Void, Errno> { check(fd) }

    package func listDirectory(_ path: String) -> Result<[String], Errno> {
        let dir = Self.normalized(path)
        return state.withLock { s in
            guard let node = s.nodes[dir] else { return .failure(.noSuchFile) }
            guard node.isDirectory else { return .failure(.notDirectory) }
            let prefix = dir == "/" ? "/" : dir + "/"
            let names = s.nodes.keys.compactMap { key -> String? in
                guard key.hasPrefix(prefix), key != dir else { return nil }
                let name = key.dropFirst(prefix.count)
                return name.contains("/") ? nil : String(name)
            }
            return .success(names.sorted())
        }
    }

    package func availableSpace(_ path: String) -> Result<Int64, Errno> { .success(1 << 40) }

    package func fchmod(_ fd: Int32, mode: UInt32) -> Result<Void, Errno> {
        state.withLock { s in
            guard let open = s.descriptors[fd] else { return .failure(Errno(rawValue: EBADF)) }
            s.nodes[open.path]?.mode = mode & 0o7777
            return .success(())
        }
    }

    /// No symbolic links here.
    package func readlink(_ path: String) -> Result<String, Errno> {
        lstat(path).flatMap { _ in .failure(Errno(rawValue: EINVAL)) }
    }
}
