#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import StateJournalModel

/// An exclusive `flock(2)` on `PATH.lock`.
///
/// `flock` locks belong to an open file description, so every `FileLock`
/// value opens the file itself: two threads of one process, each with its
/// own value, exclude each other just as two processes do, and no unrelated
/// `close()` in the process can drop the lock (classic POSIX `fcntl` locks
/// have that flaw and are never used). A value used by one thread at a time
/// for many acquisitions (a manager's group-commit leader) keeps its
/// descriptor open between them (``keepsDescriptor``) and checks at each
/// acquisition that it is still the file at the path. The holder writes its
/// pid, command and start time into the file, so a waiter that times out can
/// say who holds it. The file is never deleted.
package final class FileLock {
    package let path: String
    let fs: FileSystem
    /// The descriptor while the lock is held.
    private var fd: Int32?
    /// The device and inode of the file open as `fd` (or `kept`), learnt
    /// once per open: the descriptor keeps the inode alive, so its number
    /// cannot be given to another file while it is open.
    private var identity: (device: UInt64, inode: UInt64) = (0, 0)
    /// The descriptor kept open between acquisitions (not locked).
    private var kept: Int32?
    /// Whether the descriptor stays open between acquisitions, for the next
    /// one (only for a value one thread at a time uses). It is opened with
    /// `O_CLOEXEC`; a child forked *without* exec would share its open file
    /// description, and so its lock, with this process.
    package var keepsDescriptor = false

    package init(path: String, fileSystem: FileSystem) {
        self.path = path
        self.fs = fileSystem
    }

    deinit {
        if let fd { fs.closeQuietly(fd) }
        if let kept { fs.closeQuietly(kept) }
    }

    package var isHeld: Bool { fd != nil }

    /// Acquires the lock before `policy.timeout` elapses, retrying with
    /// exponential backoff and jitter.
    ///
    /// - Parameter announce: write the holder's note (pid, command, start)
    ///   into the file now; without it, the note goes with the first
    ///   ``record(_:note:)`` (or is written by ``announceHolder()``), and a
    ///   waiter that times out before then finds the holder in `/proc/locks`.
    /// - Throws: ``StateJournalError/Code/lockTimeout`` naming the holder, or
    ///   an I/O error if the lock file cannot be opened.
    package func acquire(_ policy: LockPolicy, command: String, announce: Bool = true) throws(StateJournalError) {
        if fd != nil { return }  // already held by this value
        let start = Self.monotonicSeconds()
        var backoff = policy.initialBackoff
        var fd: Int32
        if let kept {
            fd = kept
            self.kept = nil
        } else {
            fd = try openLockFile()
        }
        while true {
            switch fs.sys.flock(fd, operation: LOCK_EX | LOCK_NB) {
            case .success:
                // A lock on a file that is no longer the one at the path (it
                // was removed or replaced while we waited) excludes nobody:
                // whoever opens the path now locks another file. Start again
                // on the file that is there.
                let current: Bool
                do throws(StateJournalError) { current = try isStillAtPath(fd) } catch {
                    fs.closeQuietly(fd)  // releases the lock
                    throw error
                }
                guard current else {
                    fs.closeQuietly(fd)
                    fd = try openLockFile()
                    continue
                }
                self.fd = fd
                recordHolder(fd, command: command, announce: announce)
                return
            case .failure(.wouldBlock):
                let elapsed = Self.monotonicSeconds() - start
                if elapsed >= policy.timeout {
                    var holder = Holder.parse(String(decoding: (try? fs.readAll(fd, path)) ?? [], as: UTF8.self))
                    // The kernel knows the holder; the note may be missing
                    // (another tool, or a holder that had not written it
                    // yet) or left by an earlier holder that died.
                    if case .success(let status) = fs.sys.fstat(fd),
                       let kernel = kernelHolder(device: status.device, inode: status.inode), kernel.pid != holder.pid {
                        holder = kernel
                    }
                    fs.closeQuietly(fd)
                    throw StateJournalError(.lockTimeout,
                        "could not lock '\(path)' within \(Holder.seconds(policy.timeout)): it is held by \(holder); "
                        + "retry later, or raise --lock-timeout", path: path)
                }
                let jittered = backoff * Double.random(in: 0.5...1.0)
                Self.sleep(min(jittered, policy.timeout - elapsed))
                backoff = min(backoff * 2, policy.maximumBackoff)
            case .failure(let e):
                fs.closeQuietly(fd)
                throw .system("lock", path, e)
            }
        }
    }

    /// One attempt, without waiting: true when the lock is now held (by a
    /// file still at the path), false when another holder has it (or the
    /// file was replaced: the caller then waits in
    /// ``acquire(_:command:announce:)``, which opens the path again). The
    /// record is not read and the holder's note not written: for a lock
    /// whose file carries nothing but the note (the projectors' lock),
    /// taken for a moment.
    package func tryAcquire(command: String) throws(StateJournalError) -> Bool {
        if fd != nil { return true }
        let fd: Int32
        if let kept {
            fd = kept
            self.kept = nil
        } else {
            do throws(StateJournalError) { fd = try openLockFile() } catch where error.errno == .noSuchFile {
                return false  // its directory does not exist yet
            }
        }
        switch fs.sys.flock(fd, operation: LOCK_EX | LOCK_NB) {
        case .success:
            let current: Bool
            do throws(StateJournalError) { current = try isStillAtPath(fd) } catch {
                fs.closeQuietly(fd)
                throw error
            }
            if !current {
                fs.closeQuietly(fd)  // the next acquisition opens the path again
                return false
            }
            self.fd = fd
            fields = []
            fieldsWritten = false
            recordFailed = false
            noteWritten = false
            holder = (command, Timestamp.now())
            return true
        case .failure(.wouldBlock):
            if keepsDescriptor { kept = fd } else { fs.closeQuietly(fd) }
            return false
        case .failure(let e):
            fs.closeQuietly(fd)
            throw .system("lock", path, e)
        }
    }

    /// Whether the lock file could only be opened for reading (a reader
    /// without write permission): the lock still excludes writers, but
    /// nothing can be recorded in the file.
    package private(set) var isReadOnly = false

    /// Opens the lock file and learns its identity (one `fstat` per open).
    private func openLockFile() throws(StateJournalError) -> Int32 {
        let fd = try openLockPath()
        switch fs.sys.fstat(fd) {
        case .success(let status):
            identity = (status.device, status.inode)
            return fd
        case .failure(let e):
            fs.closeQuietly(fd)
            throw .system("stat", path, e)
        }
    }

    private func openLockPath() throws(StateJournalError) -> Int32 {
        // O_NOFOLLOW: a lock file that is a symbolic link is refused (ELOOP), not followed.
        let noFollow = fs.allowsSymbolicLinks ? 0 : O_NOFOLLOW
        isReadOnly = false
        switch fs.sys.open(path, flags: O_RDWR | O_CREAT | noFollow, mode: 0o644) {
        case .success(let opened): return opened
        case .failure(.permissionDenied):
            // Another user's lock file: flock works on a descriptor open for reading.
            guard case .success(let opened) = fs.sys.open(path, flags: O_RDONLY | noFollow, mode: 0) else {
                throw .system("open", path, .permissionDenied)
            }
            isReadOnly = true
            return opened
        case .failure(.tooManySymbolicLinks) where !fs.allowsSymbolicLinks:
            throw FileSystem.symbolicLinkRefused(path, as: "a lock file")
        case .failure(let e): throw .system("open", path, e)
        }
    }

    /// Whether the locked descriptor's file is still the one named `path`:
    /// the name leads to the device and inode learnt when it was opened.
    /// (The open descriptor keeps its inode alive, so no other file can have
    /// that number meanwhile; a file unlinked while open is not at the path.)
    private func isStillAtPath(_ fd: Int32) throws(StateJournalError) -> Bool {
        let held = identity
        let named: FileStatus
        switch fs.sys.lstat(path) {
        case .success(let status) where status.isSymbolicLink:
            // A descriptor kept from an earlier acquisition was opened
            // before the link was put there: refused, as opening it would be.
            guard fs.allowsSymbolicLinks else { throw FileSystem.symbolicLinkRefused(path, as: "a lock file") }
            return true  // allowed links: followed at open, not checked
        case .success(let status): named = status
        case .failure(.noSuchFile): return false
        case .failure(let e): throw .system("stat", path, e)
        }
        return named.inode == held.inode && named.device == held.device
    }

    /// Checks, just before a change the lock protects, that the lock still
    /// means something: its file is still the one at the path. If the lock
    /// file was removed or replaced while held, another process may hold a
    /// lock on the new file: nothing may be written.
    ///
    /// - Throws: ``StateJournalError/Code/io`` saying so.
    package func validate() throws(StateJournalError) {
        guard let fd else {
            throw StateJournalError(.io, "'\(path)' is not locked by this process; nothing was written")
        }
        guard try isStillAtPath(fd) else {
            throw StateJournalError(.io,
                "the lock file '\(path)' was removed or replaced while this process held it, so another writer may be working at the same time; "
                + "nothing was written — do not remove lock files, then retry", path: path)
        }
    }

    /// Releases the lock. Safe to call when not held.
    package func release() {
        guard let fd else { return }
        self.fd = nil
        // The holder's note goes; the fields (what holders tell the next
        // one, see ``record(_:note:)``) stay.
        if !isReadOnly, noteWritten { try? write(fd, holder: nil) }
        guard case .success = fs.sys.flock(fd, operation: LOCK_UN), keepsDescriptor else {
            fs.closeQuietly(fd)  // also releases the lock
            return
        }
        kept = fd
    }

    /// `key=value` lines the previous holder left in the lock file (other
    /// than its pid, command and start), read when the lock was acquired;
    /// only a complete set (ended by `end=1`) counts.
    package private(set) var fields: [(key: String, value: String)] = []
    /// What this holder's note says: the command and when the lock was
    /// taken (made into text only when the note is written).
    private var holder: (command: String, since: Timestamp) = ("", Timestamp(microseconds: 0)) {
        didSet { holderNoteBytes = nil }
    }
    /// The note's bytes, made once per hold (a hold may rewrite the record twice a write).
    private var holderNoteBytes: [UInt8]?
    private var holderNote: [UInt8] {
        if let bytes = holderNoteBytes { return bytes }
        let bytes = Array("pid=\(getpid())\ncommand=\(holder.command.replacingNewlines())\nsince=\(holder.since.rfc3339)\n".utf8)
        holderNoteBytes = bytes
        return bytes
    }

    /// Replaces the fields kept in the lock file for the next holder, which
    /// finds them in ``fields``. The file is the lock holders' shared memory
    /// within one boot: it is never fsynced, so after a machine crash it may
    /// hold anything, and readers of a field must check it.
    ///
    /// - Parameter note: write the holder's note with them (else the record
    ///   names no holder, and ``release()`` has nothing to erase).
    /// - Throws: when the file could not be rewritten; it then holds either
    ///   the fields as they were or no complete set of fields.
    package func record(_ newFields: [(key: String, value: String)], note: Bool = true) throws(StateJournalError) {
        guard let fd else { throw StateJournalError(.io, "'\(path)' is not locked by this process") }
        guard !isReadOnly else { throw .system("write", path, .permissionDenied) }
        fields = newFields
        do throws(StateJournalError) { try write(fd, holder: note ? holderNote : nil) } catch {
            fieldsWritten = false
            throw error
        }
    }

    /// Whether a rewrite of the record failed during this hold: the file
    /// may then hold the record as it was, or no complete record.
    package private(set) var recordFailed = false

    /// Writes the holder's note now, if ``acquire(_:command:announce:)``
    /// did not (best effort, as there).
    package func announceHolder() {
        guard let fd, !isReadOnly, !noteWritten else { return }
        try? write(fd, holder: holderNote)
    }

    /// Whether the record in the file names this holder (so that
    /// ``release()`` must erase its note).
    private var noteWritten = false

    private func recordHolder(_ fd: Int32, command: String, announce: Bool) {
        var found: [(key: String, value: String)] = []
        var complete = false
        // The record is the file's first `recordSize` bytes: one read.
        var bytes = [UInt8](repeating: 0, count: Self.recordSize)
        let got = bytes.withUnsafeMutableBytes { fs.sys.pread(fd, into: $0, offset: 0) }
        if case .success(let n) = got { bytes.removeSubrange(n...) } else { bytes = [] }
        // `key=value` lines, taken apart as bytes (a newline or `=` byte
        // never occurs inside a multi-byte UTF-8 character).
        var start = 0
        while start < bytes.count {
            let end = bytes[start...].firstIndex(of: UInt8(ascii: "\n")) ?? bytes.count
            let line = bytes[start..<end]
            start = end + 1
            guard let eq = line.firstIndex(of: UInt8(ascii: "=")) else { continue }
            let key = line[..<eq]
            if key.elementsEqual("end".utf8) { complete = true; break }
            if key.elementsEqual("pid".utf8) || key.elementsEqual("command".utf8) || key.elementsEqual("since".utf8) { continue }
            found.append((String(decoding: key, as: UTF8.self), String(decoding: line[(eq + 1)...], as: UTF8.self)))
        }
        fields = complete ? found : []
        fieldsWritten = false
        recordFailed = false
        noteWritten = false
        holder = (command, Timestamp.now())
        // Best effort: the lock is held whether or not the note is written
        // (and a failed rewrite leaves the previous record whole).
        if announce { announceHolder() }
    }

    /// The lock file's content is one record of this many bytes (padded
    /// with newlines), rewritten by a single `pwrite` at offset 0: a holder
    /// killed at any instant leaves the old record or the new one, never a
    /// mix and never an empty file, and nothing needs truncating.
    package static let recordSize = 512

    /// Writes the note and the fields, ended by `end=1`, as one record.
    private func write(_ fd: Int32, holder: [UInt8]?) throws(StateJournalError) {
        // A newline or carriage return inside a value would end its line early.
        func appendLine(_ text: String, to out: inout [UInt8]) {
            var text = text
            text.withUTF8 { bytes in
                for byte in bytes { out.append(byte == 10 || byte == 13 ? UInt8(ascii: " ") : byte) }
            }
        }
        var body: [UInt8] = []
        body.reserveCapacity(Self.recordSize)
        for field in fields {
            appendLine(field.key, to: &body)
            body.append(UInt8(ascii: "="))
            appendLine(field.value, to: &body)
            body.append(UInt8(ascii: "\n"))
        }
        if !fields.isEmpty { body += "end=1\n".utf8 }
        var note = holder ?? []
        // The fields first in importance: a long command is shortened to fit
        // (at a character's boundary).
        if note.count + body.count > Self.recordSize {
            note.removeLast(note.count - max(0, Self.recordSize - body.count - 1))
            while let last = note.last, last & 0xC0 == 0x80 { note.removeLast() }
            if let last = note.last, last >= 0xC0 { note.removeLast() }
            if !note.isEmpty && note.last != UInt8(ascii: "\n") { note.append(UInt8(ascii: "\n")) }
        }
        if note.count + body.count > Self.recordSize { body = [] }  // cannot happen with our fields
        var bytes: [UInt8] = []
        bytes.reserveCapacity(Self.recordSize)
        bytes.append(contentsOf: note)
        bytes.append(contentsOf: body)
        bytes.append(contentsOf: repeatElement(UInt8(ascii: "\n"), count: max(0, Self.recordSize - bytes.count)))
        do throws(StateJournalError) {
            try fs.writeAll(fd, bytes, at: 0, path)
        } catch {
            recordFailed = true
            throw error
        }
        fieldsWritten = true
        recordFailed = false
        noteWritten = !note.isEmpty
    }

    /// Whether ``fields`` are in the file as they are in memory (false after
    /// a failed rewrite: they must be written again before anything relies
    /// on them).
    package private(set) var fieldsWritten = false

    package static func monotonicSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    package static func sleep(_ seconds: Double) {
        guard seconds > 0 else { return }
        var ts = timespec(tv_sec: Int(seconds), tv_nsec: Int((seconds - Double(Int(seconds))) * 1e9))
        var rem = timespec()
        while nanosleep(&ts, &rem) == -1 && errno == EINTR { ts = rem }
    }
}

extension String {
    package func replacingNewlines() -> String {
        guard utf8.contains(where: { $0 == 10 || $0 == 13 }) else { return self }
        return String(decoding: utf8.map { $0 == 10 || $0 == 13 ? UInt8(ascii: " ") : $0 }, as: UTF8.self)
    }
}
