#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Logging
import Synchronization

/// How STATE.md on disk relates to the journal.
enum ProjectionStatus: Equatable {
    /// Intact (its checksum matches) and shows the journal at `seq`.
    case intact(seq: UInt64)
    /// Missing: there is nothing to keep, only to regenerate.
    case missing
    /// Truncated, garbled or edited by hand: kept aside, then regenerated.
    case damaged(String)
}

extension StateManager {
    var projectorLockPath: String { statePath + ".journal/" + FileJournal.projectorLockName }

    /// Reads STATE.md's footer (sequence number and checksum).
    func projectionStatus() throws -> ProjectionStatus {
        guard let bytes = try fs.readFileIfExists(statePath) else { return .missing }
        switch ProjectionFooter.check(bytes) {
        case .valid(let seq): return .intact(seq: seq)
        case .invalid(let reason): return .damaged(reason)
        }
    }

    /// The seq STATE.md's last line claims, read from the end of the file
    /// only (not checked against the content); nil when there is no file or
    /// no footer.
    func footerSeq() throws -> UInt64? {
        guard let fd = try fs.openIfExists(statePath, O_RDONLY) else { return nil }
        defer { fs.closeQuietly(fd) }
        let size = try fs.sys.fstat(fd).get("stat", statePath).size
        let tailLength = Int(min(size, 160))
        var tail = [UInt8](repeating: 0, count: tailLength)
        let n = try tail.withUnsafeMutableBytes { try fs.sys.pread(fd, into: $0, offset: size - Int64(tailLength)).get("read", statePath) }
        guard n == tailLength, tail.last == UInt8(ascii: "\n") else { return nil }
        let lines = tail.dropLast().split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        guard let last = lines.last else { return nil }
        return StateMarkdown.parseFooter(String(decoding: last, as: UTF8.self))?.seq
    }

    /// Rewrites STATE.md now if it does not show the journal's last event.
    /// Also removes temporary files a killed writer left beside STATE.md.
    public func refreshProjection() throws {
        let folded = try fold(makeStore())
        guard folded.state != nil else { return }
        try publish(folded.lastSeq, policy: .eager, cleanUp: true)
    }

    /// Makes STATE.md show event `seq` or a later one, as `policy` says.
    ///
    /// Projectors take their own lock (not the writers'), so writers keep
    /// appending meanwhile; a projector renders the newest state it can read,
    /// so one rewrite covers every writer that finished before it — the
    /// others find STATE.md already past their event and return at once.
    /// A damaged STATE.md is kept as `STATE.md.damaged-<UTC time>` first.
    ///
    /// With `cleanUp`, it always takes the projectors' lock and removes the
    /// temporary files (`STATE.md.tmp-…`, `STATE.md.backup.tmp-…`) that a
    /// writer killed while replacing STATE.md left behind: only holders of
    /// that lock create them, so under it none is in use.
    func publish(_ seq: UInt64, policy: ProjectionPolicy, cleanUp: Bool = false) throws {
        // Before anything is read or kept aside through it.
        try fs.refuseSymbolicLink(statePath, as: "the state file")
        if !cleanUp, policy != .eager {
            // Deciding to wait needs only the footer's seq (the last line),
            // not the whole file's checksum; a missing file is written anyway.
            if let shown = try footerSeq() {
                switch policy {
                case .manual: return
                case .everyEvents(let n): if shown >= seq || seq - shown < n { return }
                case .interval(let ms):
                    let last = lastProjection.withLock { $0 }
                    if shown >= seq || Timestamp.now().microseconds - last < ms * 1000 { return }
                case .eager: break
                }
            }
        }
        let status = try projectionStatus()
        if !cleanUp, case .intact(let shown) = status, shown >= seq { return }
        let lock = FileLock(path: projectorLockPath, fileSystem: fs)
        try lock.acquire(configuration.lock, command: configuration.command + " (projecting STATE.md)")
        defer { lock.release() }
        var isIntact = false
        if case .intact = status { isIntact = true }
        if cleanUp || !isIntact { try removeStaleTemporaries() }
        let folded = try currentFold(makeStore())
        guard let state = folded.state else { return }
        var backup: String? = backupPath
        switch try projectionStatus() {
        case .intact(let shown) where shown >= seq && shown <= folded.lastSeq:
            return  // another projector got there first
        case .intact(let shown) where shown > folded.lastSeq:
            let kept = try keepDamagedCopy()
            backup = nil
            logger.warning("STATE.md claims a later event than the journal holds; kept it and regenerated it",
                           metadata: ["path": "\(statePath)", "fileSeq": "\(shown)", "journalSeq": "\(folded.lastSeq)", "keptAs": "\(kept)"])
        case .intact:
            break
        case .missing:
            logger.debug("STATE.md was missing; regenerating it from the journal", metadata: ["path": "\(statePath)"])
        case .damaged(let reason):
            let kept = try keepDamagedCopy()
            backup = nil  // the backup keeps the last good projection
            logger.warning("STATE.md was damaged or edited by hand; kept it and regenerated it from the journal",
                           metadata: ["path": "\(statePath)", "reason": "\(reason)", "keptAs": "\(kept)"])
        }
        try fs.atomicReplace(statePath, with: Array(MarkdownRenderer.render(state).utf8), backup: backup)
        lastProjection.withLock { $0 = Timestamp.now().microseconds }
    }

    /// Under the projectors' lock: removes temporaries of STATE.md and its backup.
    private func removeStaleTemporaries() throws {
        let dir = FileSystem.directory(of: statePath)
        let base = String(statePath.split(separator: "/").last ?? "")
        let prefixes = [base + ".tmp-", base + ".backup.tmp-"]
        for name in try fs.list(dir) where prefixes.contains(where: { name.hasPrefix($0) }) {
            try fs.unlinkIfExists(FileSystem.join(dir, name))
            logger.notice("removed a temporary file left by an interrupted write", metadata: ["file": "\(FileSystem.join(dir, name))"])
        }
    }

    /// Keeps the current STATE.md under a name never used before.
    func keepDamagedCopy() throws -> String {
        let base = statePath + ".damaged-" + Timestamp.now().compactUTC
        var name = base
        var attempt = 1
        while true {
            do {
                try fs.keepCopy(of: statePath, as: name, replacing: false)
                try fs.fsyncDirectory(FileSystem.directory(of: statePath))
                return name
            } catch {
                guard error.errno == .fileExists, attempt < 1000 else { throw error }
                attempt += 1
                name = base + "-\(attempt)"
            }
        }
    }
}

/// Checks the footer StateJournal writes as the last line of STATE.md
/// (`<!-- statejournal v1 seq=N crc32c=XXXXXXXX -->`): the journal position
/// the file shows and a CRC-32C of every byte before that line.
public enum ProjectionFooter {
    public enum Check: Equatable, Sendable {
        case valid(seq: UInt64)
        case invalid(String)
    }

    /// Whether `bytes` end with a footer whose checksum matches the rest.
    /// Cheaper than parsing the file: only the last line is read.
    public static func check(_ bytes: [UInt8]) -> Check {
        var end = bytes.count
        guard end > 0, bytes[end - 1] == UInt8(ascii: "\n") else {
            return .invalid(bytes.isEmpty ? "the file is empty" : "the file does not end with a newline (truncated?)")
        }
        end -= 1
        var start = end
        while start > 0 && bytes[start - 1] != UInt8(ascii: "\n") { start -= 1 }
        guard let footer = StateMarkdown.parseFooter(String(decoding: bytes[start..<end], as: UTF8.self)) else {
            return .invalid("the last line is not a statejournal footer")
        }
        let actual = bytes.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[0..<start])) }
        guard actual == footer.crc32c else { return .invalid("the checksum in the footer does not match the content") }
        return .valid(seq: footer.seq)
    }
}

extension Timestamp {
    /// `20261127T232825.123456Z`: sortable and safe in a file name.
    var compactUTC: String {
        rfc3339.filter { $0 != "-" && $0 != ":" }
    }
}
