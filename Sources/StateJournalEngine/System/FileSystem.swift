#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import StateJournalModel

/// File operations built on ``SystemCalls``, throwing ``StateJournalError``s
/// that name the operation and the path.
///
/// This is the only layer above the system calls; nothing else in the
/// library talks to the operating system.
package struct FileSystem: Sendable {
    package let sys: any SystemCalls

    /// Whether STATE.md, its lock files and its journal directory may be
    /// symbolic links (``StateManager/Configuration/allowSymlinks``, the
    /// command line's `--allow-symlinks`). Off, each is refused with a message
    /// naming it, so that a planted link cannot redirect a write; on, a
    /// symlinked STATE.md is followed and the file it points to is replaced.
    package var allowsSymbolicLinks = false

    package init(_ sys: any SystemCalls = RealSystemCalls()) { self.sys = sys }

    // MARK: Symbolic links

    /// Throws when `path` is a symbolic link and links are not allowed.
    /// - Parameter what: what `path` is, for the message ("the state file").
    package func refuseSymbolicLink(_ path: String, as what: String) throws(StateJournalError) {
        guard !allowsSymbolicLinks, let status = try lstat(path), status.isSymbolicLink else { return }
        throw Self.symbolicLinkRefused(path, as: what)
    }

    package static func symbolicLinkRefused(_ path: String, as what: String) -> StateJournalError {
        StateJournalError(.badInput,
            "'\(path)' (\(what)) is a symbolic link; StateJournal does not write through links unless told to, "
            + "so that a planted link cannot redirect its writes — point --state at the real file, "
            + "or pass --allow-symlinks (StateManager.Configuration.allowSymlinks) to follow it", path: path)
    }

    /// `path` with symbolic links in its last component followed (only when
    /// links are allowed; otherwise a link is refused), so that a replacement
    /// writes the file a link points to and the link stays.
    package func resolvingSymbolicLinks(_ path: String, as what: String) throws(StateJournalError) -> String {
        var current = path
        for _ in 0..<40 {
            guard let status = try lstat(current), status.isSymbolicLink else { return current }
            guard allowsSymbolicLinks else { throw Self.symbolicLinkRefused(path, as: what) }
            let target = try sys.readlink(current).get("read the symbolic link", current)
            current = target.hasPrefix("/") ? target : Self.join(Self.directory(of: current), target)
        }
        throw .system("follow the symbolic links of", path, .tooManySymbolicLinks)
    }

    // MARK: Paths

    package static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let dir = String(path[..<slash])
        return dir.isEmpty ? "/" : dir
    }

    package static func join(_ dir: String, _ name: String) -> String {
        dir.hasSuffix("/") ? dir + name : dir + "/" + name
    }

    // MARK: Descriptors

    package func open(_ path: String, _ flags: Int32, mode: UInt32 = 0o644) throws(StateJournalError) -> Int32 {
        try sys.open(path, flags: flags, mode: mode).get("open", path)
    }

    /// Opens `path`, or returns nil when it does not exist.
    package func openIfExists(_ path: String, _ flags: Int32) throws(StateJournalError) -> Int32? {
        switch sys.open(path, flags: flags, mode: 0) {
        case .success(let fd): return fd
        case .failure(.noSuchFile): return nil
        case .failure(let e): throw .system("open", path, e)
        }
    }

    /// Closes `fd`. A failing close after a successful fsync loses nothing,
    /// so callers that already synced may ignore the result.
    package func close(_ fd: Int32, _ path: String) throws(StateJournalError) {
        try sys.close(fd).get("close", path)
    }

    package func closeQuietly(_ fd: Int32) { _ = sys.close(fd) }

    /// Writes all of `bytes` at `offset`, looping over short writes.
    package func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, at offset: Int64, _ path: String) throws(StateJournalError) {
        var done = 0
        while done < bytes.count {
            let rest = UnsafeRawBufferPointer(rebasing: bytes[done...])
            let n = try sys.pwrite(fd, from: rest, offset: offset + Int64(done)).get("write", path)
            if n == 0 { throw .system("write", path, .ioError) }
            done += n
        }
    }

    package func writeAll(_ fd: Int32, _ bytes: [UInt8], at offset: Int64, _ path: String) throws(StateJournalError) {
        let result: Result<Void, StateJournalError> = bytes.withUnsafeBytes { raw in
            do throws(StateJournalError) { try writeAll(fd, raw, at: offset, path); return .success(()) }
            catch { return .failure(error) }
        }
        try result.get()
    }

    package func fsync(_ fd: Int32, _ path: String) throws(StateJournalError) {
        try sys.fsync(fd).get("fsync", path)
    }

    package func fdatasync(_ fd: Int32, _ path: String) throws(StateJournalError) {
        try sys.fdatasync(fd).get("fdatasync", path)
    }

    /// Makes a directory entry change (create, rename, unlink) durable.
    package func fsyncDirectory(_ dir: String) throws(StateJournalError) {
        let fd = try open(dir, O_RDONLY | O_DIRECTORY)
        defer { closeQuietly(fd) }
        try sys.fsync(fd).get("fsync directory", dir)
    }

    /// The first `limit` bytes of the file open as `fd`; without a limit,
    /// the whole file, also what was appended while it was read.
    package func readAll(_ fd: Int32, _ path: String, upTo limit: Int64 = .max) throws(StateJournalError) -> [UInt8] {
        let size = min(try sys.fstat(fd).get("stat", path).size, limit)
        var out = [UInt8](repeating: 0, count: Int(max(size, 0)))
        var done = 0
        while true {
            if done == out.count {
                guard limit == .max else { break }
                out.append(contentsOf: repeatElement(0, count: max(4096, out.count / 2)))
            }
            let result = out.withUnsafeMutableBytes { raw in
                sys.pread(fd, into: UnsafeMutableRawBufferPointer(rebasing: raw[done...]), offset: Int64(done))
            }
            let n = try result.get("read", path)
            if n == 0 { break }
            done += n
        }
        out.removeSubrange(done...)
        return out
    }

    /// The contents of `path`, or nil when it does not exist.
    package func readFileIfExists(_ path: String) throws(StateJournalError) -> [UInt8]? {
        guard let fd = try openIfExists(path, O_RDONLY) else { return nil }
        defer { closeQuietly(fd) }
        return try readAll(fd, path)
    }

    package func lstat(_ path: String) throws(StateJournalError) -> FileStatus? {
        switch sys.lstat(path) {
        case .success(let s): return s
        case .failure(.noSuchFile): return nil
        case .failure(let e): throw .system("stat", path, e)
        }
    }

    package func rename(_ from: String, _ to: String) throws(StateJournalError) {
        try sys.rename(from, to).get("rename to '\(to)' from", from)
    }

    package func unlinkIfExists(_ path: String) throws(StateJournalError) {
        switch sys.unlink(path) {
        case .success, .failure(.noSuchFile): return
        case .failure(let e): throw .system("unlink", path, e)
        }
    }

    /// Creates `path` as a directory (and fsyncs its parent) unless it exists.
    package func ensureDirectory(_ path: String) throws(StateJournalError) {
        if let status = try lstat(path) {
            if status.isSymbolicLink {
                // Allowed: a link to a directory (opening files in it fails clearly otherwise).
                guard allowsSymbolicLinks else { throw Self.symbolicLinkRefused(path, as: "the journal directory") }
                return
            }
            guard status.isDirectory else {
                throw StateJournalError(.io, "'\(path)' exists but is not a directory; move it away", path: path)
            }
            return
        }
        switch sys.mkdir(path, mode: 0o755) {
        case .success: try fsyncDirectory(Self.directory(of: path))
        case .failure(.fileExists): return
        case .failure(let e): throw .system("create directory", path, e)
        }
    }

    package func list(_ dir: String) throws(StateJournalError) -> [String] {
        try sys.listDirectory(dir).get("list directory", dir)
    }

    // MARK: Atomic replace

    /// A temporary name beside `path` that no other process uses.
    package static func temporaryName(for path: String) -> String {
        let n = temporaryNumbers.withLock { n in
            n &+= 1
            return n
        }
        return "\(path).tmp-\(getpid())-\(UInt32(truncatingIfNeeded: n))"
    }

    /// Numbers for temporary names: random at first (a leftover of an
    /// earlier process with this pid is not named again), then counted —
    /// one call for random bytes per process, not one per name.
    private static let temporaryNumbers = Locked<UInt64>(UInt64.random(in: 0...UInt64.max))

    /// Creates a new file that did not exist (O_EXCL, O_NOFOLLOW), writes
    /// `bytes`, fsyncs it and closes it. On failure the file is removed.
    /// - Parameter exactMode: give the file exactly `mode`, whatever the
    ///   umask (for a file that replaces one with these permissions).
    /// - Parameter durable: fsync it (without: it reaches the disk when the
    ///   kernel writes it back; a power loss may leave it empty or short).
    package func writeNewFile(_ path: String, _ bytes: [UInt8], mode: UInt32 = 0o644, exactMode: Bool = false,
                              durable: Bool = true) throws(StateJournalError) {
        let fd = try open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode: mode)
        do throws(StateJournalError) {
            if exactMode { try sys.fchmod(fd, mode: mode).get("set the permissions of", path) }
            try writeAll(fd, bytes, at: 0, path)
            if durable { try fsync(fd, path) }
        } catch {
            closeQuietly(fd)
            _ = sys.unlink(path)
            throw error
        }
        closeQuietly(fd)
    }

    /// A new version of a file, written and fsynced under a temporary name,
    /// waiting for ``FileSystem/commit(_:backup:)``.
    package struct PendingReplacement: Sendable {
        package let path: String
        package let temporaryPath: String
        /// What was at `path` when the new file was written: a regular file
        /// (so the commit may exchange the two), or something else or nothing.
        package var replacesRegularFile = false
    }

    /// First half of an atomic replace: writes `bytes` to a new temporary file
    /// beside `path` (O_EXCL, O_NOFOLLOW, the current file's permissions) and
    /// fsyncs it. Nothing a reader of `path` sees has changed yet.
    ///
    /// A symbolic link at `path` is refused, or — with
    /// ``allowsSymbolicLinks`` — followed: the file it points to is replaced,
    /// its temporary written beside it, and the link stays.
    ///
    /// - Parameter known: what `lstat(path)` just returned (nil: nothing
    ///   there), to spare the calls when the caller looked already; a
    ///   symbolic link is looked at again.
    package func prepareReplacement(of path: String, with bytes: [UInt8], known: FileStatus?? = .none,
                                    durable: Bool = true) throws(StateJournalError) -> PendingReplacement {
        let target: String
        let existing: FileStatus?
        if case .some(let status) = known, status?.isSymbolicLink != true {
            target = path
            existing = status
        } else {
            target = try resolvingSymbolicLinks(path, as: "a file StateJournal replaces")
            existing = try lstat(target)
        }
        let temp = Self.temporaryName(for: target)
        try writeNewFile(temp, bytes, mode: existing?.permissions ?? 0o644, exactMode: existing != nil, durable: durable)
        return PendingReplacement(path: target, temporaryPath: temp, replacesRegularFile: existing?.isRegularFile == true)
    }

    /// Abandons a prepared replacement, removing its temporary file.
    package func discard(_ pending: PendingReplacement) {
        _ = sys.unlink(pending.temporaryPath)
    }

    /// Second half of an atomic replace: keeps the current file byte for byte
    /// as `backup` (a hard link, so no copy is made; a copy where links are
    /// not supported), renames the new file over `path` and fsyncs the
    /// directory. A reader sees the old file or the new one, never a mixture
    /// or nothing. On failure `path` is unchanged and the temporary is removed.
    /// Without `durable`, the directory is not fsynced: the rename reaches
    /// the disk when the kernel commits it (a power loss may undo it).
    ///
    /// With a backup, where the file system can (Linux `renameat2` with
    /// `RENAME_EXCHANGE`), the new file and the current one trade names (`path`
    /// is never missing), then the backup before is removed and the current
    /// file renamed to the backup's name: no file is renamed over another —
    /// which on ext4 starts writing the new file's data at once (its
    /// `auto_da_alloc` rule for files replaced by rename), a write the
    /// journal's next `fdatasync` then waits for.
    package func commit(_ pending: PendingReplacement, backup: String?, durable: Bool = true) throws(StateJournalError) {
        let path = pending.path
        if let backup, pending.replacesRegularFile, try commitByExchange(pending, backup: backup) {
            if durable { try fsyncDirectory(Self.directory(of: path)) }
            return
        }
        do throws(StateJournalError) {
            if let backup { try keepCopy(of: path, as: backup, replacing: true) }
            try rename(pending.temporaryPath, path)
        } catch {
            discard(pending)
            throw error
        }
        if durable { try fsyncDirectory(Self.directory(of: path)) }
    }

    /// ``commit(_:backup:durable:)`` by two exchanges; false (nothing changed)
    /// where this file system cannot exchange, or `path` is gone.
    private func commitByExchange(_ pending: PendingReplacement, backup: String) throws(StateJournalError) -> Bool {
        let path = pending.path, temp = pending.temporaryPath
        switch sys.exchange(temp, path) {
        case .success:
            break
        case .failure(let errno) where Self.cannotExchange(errno) || errno == .noSuchFile:
            return false
        case .failure(let errno):
            discard(pending)
            throw .system("replace", path, errno)
        }
        // `temp` now names the previous file: it becomes the backup. The
        // backup before goes first, so that the rename replaces nothing.
        _ = sys.unlink(backup)
        guard case .failure(let errno) = sys.rename(temp, backup) else { return true }
        // Put the previous file back under `path`, so that a failed commit
        // leaves it as it was; then the new file (under `temp`) goes.
        if case .success = sys.exchange(temp, path) { discard(pending) }
        throw .system("keep a copy as", backup, errno)
    }

    /// Errors that say the file system (or kernel) has no exchange.
    private static func cannotExchange(_ errno: Errno) -> Bool {
        [EINVAL, ENOSYS, EOPNOTSUPP, EPERM, EXDEV].contains(errno.rawValue)
    }

    /// Replaces `path` with `bytes` atomically, keeping the previous file as
    /// `backup`: ``prepareReplacement(of:with:)`` then ``commit(_:backup:)``.
    package func atomicReplace(_ path: String, with bytes: [UInt8], backup: String?,
                               known: FileStatus?? = .none, durable: Bool = true) throws(StateJournalError) {
        try commit(try prepareReplacement(of: path, with: bytes, known: known, durable: durable), backup: backup, durable: durable)
    }

    /// Makes `copy` a byte-for-byte copy of `path` (a hard link where
    /// possible). With `replacing`, an existing `copy` is atomically replaced;
    /// without, an existing `copy` is an error (`EEXIST`). Does nothing when
    /// `path` does not exist.
    package func keepCopy(of path: String, as copy: String, replacing: Bool) throws(StateJournalError) {
        // link(2) does not follow a symbolic link: keep the file's bytes, not the link.
        let path = allowsSymbolicLinks ? try resolvingSymbolicLinks(path, as: "a file StateJournal keeps a copy of") : path
        let target = replacing ? Self.temporaryName(for: copy) : copy
        switch sys.link(path, target) {
        case .success:
            break
        case .failure(.noSuchFile):
            return
        case .failure(.fileExists) where !replacing:
            throw .system("keep a copy as", copy, .fileExists)
        case .failure:
            // No hard links on this file system: copy instead.
            guard let old = try readFileIfExists(path) else { return }
            try writeNewFile(target, old, mode: (try lstat(path))?.permissions ?? 0o644, exactMode: true)
        }
        if replacing {
            do throws(StateJournalError) { try rename(target, copy) } catch { _ = sys.unlink(target); throw error }
            // rename(2) does nothing when both names are links to one file
            // (a backup that already is this file): the temporary name remains.
            _ = sys.unlink(target)
        }
    }
}
