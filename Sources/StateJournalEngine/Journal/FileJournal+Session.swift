#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import StateJournalModel

// One read session per store value: what one operation's reads share, so
// that the operation lists the journal directory once and opens each segment
// once, whichever queries it makes (fold, log, blame, `show --at`/`--seq`,
// restore: `bounds()`, `lastSeq(atOrBefore:)`, `latestSnapshot`,
// `readEvents`).
//
// Without the lock, the listing is the one taken under the writers' lock
// together with the committed boundary (``committedBoundary()``): one
// consistent view of what was committed when the store first looked. A raw
// segment sealed meanwhile by a writer is found by listing again (its
// records are in the sealed file); nothing beyond the boundary is read
// either way. Under the lock nobody else changes the directory: the listing
// is taken once per lock hold and forgotten whenever this store changes the
// directory itself (a new segment, a seal, a snapshot, a recovery).
extension FileJournal {
    /// What one store value remembers between its reads.
    package struct Session {
        /// The journal directory's listing (see ``FileJournal/currentListing()``).
        package var listing: Listing?
        /// Read-only descriptors of segment files opened by lock-free reads,
        /// oldest first (at most ``FileJournal/descriptorsKept``).
        package var descriptors: [(path: String, fd: Int32)] = []
        /// Each segment's first and last (seq, time), by first seq, learnt by
        /// lock-free reads up to the committed boundary.
        package var times: [UInt64: SegmentTimes] = [:]
        /// The segment the committed boundary lies in, whose descriptor —
        /// opened under the lock with the boundary — is never evicted:
        /// reopened by path, it may be another file (the journal put back
        /// from an older copy), whose bytes up to the boundary are not
        /// the ones confirmed durable.
        package var pinned: String?

        package init() {}
    }

    /// How many segment descriptors a read session keeps open.
    package static let descriptorsKept = 16

    /// The journal directory's listing: listed once per read session (or
    /// per lock hold), then reused. Without the lock it is the one taken
    /// with the committed boundary, under the lock.
    package func currentListing() throws -> Listing {
        if let listing = session.listing { return listing }
        if !locked, boundary == nil {
            _ = try committedBoundary()
            if let listing = session.listing { return listing }
        }
        let list = try listing()
        session.listing = list
        return list
    }

    /// Whether `listing`, taken earlier by this store, still describes the
    /// journal's segments: the watermark just read under the lock names its
    /// last segment, and that raw file is still the one the watermark names
    /// (same inode), and no sealed copy of it exists. Every holder that
    /// finds a newer segment, creates one or rewrites one records it in the
    /// watermark (``confirm(_:pendingEnd:)``); a seal writes the sealed copy
    /// first, then removes the raw file (and only then creates the next
    /// segment): so a segment added, sealed — even half-way, by a writer
    /// killed before it removed the raw file, which the next writer must
    /// finish before appending — or replaced since shows as a mismatch, and
    /// the directory is listed anew. Snapshots written since are not in it
    /// (an older one is used); snapshots removed since are passed over when
    /// they are not found.
    package func listingIsCurrent(_ listing: Listing) -> Bool {
        guard locked, let mark = watermark, let last = listing.segments.last, last.firstSeq == mark.segmentFirstSeq,
              let raw = last.raw, case .success(let status) = fs.sys.lstat(path(raw)), status.isRegularFile,
              status.inode == mark.inode,
              case .failure(.noSuchFile) = fs.sys.lstat(path(Self.sealedName(firstSeq: last.firstSeq))) else { return false }
        return true
    }

    /// Forgets the listing and what was learnt from it: this store changed
    /// the directory, or found it changed (a segment sealed meanwhile).
    package func forgetListing() {
        session.listing = nil
        session.times = [:]
    }

    /// Ends the read session: at taking the lock, a writer sees the
    /// directory as it is now, and lock-free descriptors are closed.
    package func endSession() {
        forgetListing()
        for entry in session.descriptors { fs.closeQuietly(entry.fd) }
        session.descriptors = []
        session.pinned = nil
    }

    /// Runs `body` with a read-only descriptor of `file`: without the lock,
    /// the session's (opened once, kept); under it, a fresh one closed after.
    package func withReadDescriptor<T>(_ file: String, _ body: (Int32) throws -> T) throws -> T {
        if locked {
            let fd = try fs.open(file, O_RDONLY)
            defer { fs.closeQuietly(fd) }
            return try body(fd)
        }
        return try body(try sessionDescriptor(file))
    }

    /// The session's read-only descriptor of `file`, opened on first use.
    package func sessionDescriptor(_ file: String) throws(StateJournalError) -> Int32 {
        if let entry = session.descriptors.first(where: { $0.path == file }) { return entry.fd }
        let fd = try fs.open(file, O_RDONLY)
        keepDescriptor(fd, for: file)
        return fd
    }

    /// Keeps `fd` (read-only, of `file`) for this session's later reads.
    package func keepDescriptor(_ fd: Int32, for file: String) {
        if let i = session.descriptors.firstIndex(where: { $0.path == file }) {
            fs.closeQuietly(session.descriptors.remove(at: i).fd)
        }
        if session.descriptors.count >= Self.descriptorsKept,
           let oldest = session.descriptors.firstIndex(where: { $0.path != session.pinned }) {
            fs.closeQuietly(session.descriptors.remove(at: oldest).fd)
        }
        session.descriptors.append((file, fd))
    }
}
