import Foundation
import StateJournal
#if canImport(Glibc)
import Glibc
import StateJournalEngine
import StateJournalModel
#endif

/// A ``SystemCalls`` that behaves like a page cache over a real directory
/// and can simulate a machine crash, LazyFS-style.
///
/// Every call really happens on the directory below `root` (so the library
/// reads back what it wrote, as from a page cache), while the simulator
/// keeps, in memory, what a disk would hold:
/// - a file's contents become durable only at `fsync`/`fdatasync` of that
///   file (a snapshot of its bytes at that moment);
/// - directory entries (create, rename, unlink, link, mkdir) become durable
///   only at `fsync` of the directory (a snapshot of its names at that moment).
///
/// ``crash()`` (or the countdown of ``crash(afterCalls:)``) freezes the
/// durable image; from then on every call fails with `EIO`, as if the
/// process died there. ``materialize(_:)`` then replaces the directory with
/// the durable image — un-synced data and un-synced directory changes are
/// gone — and recovery runs with real system calls on what is left.
///
/// A descriptor opened with `O_DIRECT` reads what the disk holds (the
/// durable image), as a process bypassing the page cache would. After a
/// crash the machine counts as rebooted (see ``fromPreviousBoot(_:)``),
/// unless ``materialize(_:reboot:)`` is told the storage alone lost data.
///
/// Files are tracked by a logical id, not by inode number, so an inode
/// number reused after an unlink does not alias the old file's durable
/// contents. Real `fsync` is never called: durability is simulated.
package final class SimulatedDisk: SystemCalls, Sendable {
    static let trace = ProcessInfo.processInfo.environment["TORTURE_TRACE"] != nil
    static func trace(_ text: @autoclosure () -> String) {
        if trace { FileHandle.standardError.write(Data("[disk] \(text())\n".utf8)) }
    }
    /// What a crash keeps of data written but not synced.
    package enum CrashMode: String, CaseIterable, Sendable {
        /// Nothing: all un-synced data and directory changes are lost.
        case dropAll
        /// For each file, a random prefix of the un-synced bytes appended
        /// after its durable contents also reached the disk (a torn write).
        case tornTail
    }

    struct Node: Equatable {
        var id: Int
        var isDirectory: Bool
    }

    struct Descriptor {
        var id: Int
        var isDirectory: Bool
        var path: String
        /// Opened with `O_DIRECT`: reads bypass the page cache and see the disk.
        var direct = false
    }

    #if arch(x86_64)
    static let directFlag: Int32 = 0o40000
    #else
    static let directFlag: Int32 = 0o200000
    #endif

    struct State {
        var nextID = 1
        var idOfInode: [UInt64: Int] = [:]
        var descriptors: [Int32: Descriptor] = [:]
        var durableData: [Int: [UInt8]] = [:]
        var durableEntries: [Int: [String: Node]] = [:]
        var rootID = 0
        var crashed = false
        var countdown: Int?
        var calls = 0
        var syncs = 0
        var shortWrites = 0
        var rng = SeededRandom(seed: 1)
        /// File syncs still to fail as a lost writeback (see ``failNextFileSync()``).
        var failingFileSyncs = 0
        /// Per file: bytes whose writeback failed — the contents then, and the
        /// durable contents then. Later syncs do not persist them unless they
        /// were written again.
        var lostWriteback: [Int: (lost: [Bool], durable: [UInt8])] = [:]
        var shortWriteChance = 0.0
        /// Files whose next sync fails as a lost writeback (``failWriteback(ofNextSyncOf:)``).
        var writebackFailurePattern: String?
        var writebackFailures = 0
        /// Whether ``materialize(_:reboot:)`` models a reboot.
        var reboot = true
        /// What happened, for a post-mortem when a check fails.
        var journal: [String] = []
    }

    package let root: String
    let real = RealSystemCalls()
    let state = LockedState(State())

    /// Starts with everything under `root` durable.
    package init(root: String, seed: UInt64, shortWriteChance: Double = 0) {
        self.root = root
        state.withLock { s in
            s.rng = SeededRandom(seed: seed)
            s.shortWriteChance = shortWriteChance
            s.rootID = Self.snapshotTree(root, &s)
        }
    }

    // MARK: Crash control

    /// Crashes when the `calls`-th system call from now is made.
    package func crash(afterCalls calls: Int) { state.withLock { $0.countdown = calls } }

    /// Crashes now (if not crashed yet).
    package func crash() { state.withLock { $0.crashed = true } }

    /// The next `fsync`/`fdatasync` of a regular file fails with `EIO` the way
    /// a failed writeback does on Linux: the dirty pages are marked clean
    /// without reaching the disk and the error is reported once, to that
    /// call. A later sync of the file succeeds but does not write those bytes
    /// (unless they were written again): after a crash they are zeros, or
    /// what the disk held before.
    package func failNextFileSync() { state.withLock { $0.failingFileSyncs += 1 } }

    /// Like ``failNextFileSync()``, for the next sync of a regular file whose
    /// path contains `pathContaining` only (e.g. "/segment-"): that
    /// `fsync`/`fdatasync` fails with EIO and the dirty bytes never reach the
    /// disk, unless written again; the page cache keeps them, and the next
    /// sync succeeds.
    package func failWriteback(ofNextSyncOf pathContaining: String) {
        state.withLock { $0.writebackFailurePattern = pathContaining }
    }

    /// How many writeback failures fired (both kinds).
    package var writebackFailureCount: Int { state.withLock { $0.writebackFailures } }

    package var hasCrashed: Bool { state.withLock { $0.crashed } }
    package var callCount: Int { state.withLock { $0.calls } }
    package var shortWriteCount: Int { state.withLock { $0.shortWrites } }

    /// Replaces the directory with the durable image. Call after ``crash()``.
    ///
    /// - Parameter reboot: whether the machine rebooted (a power loss) — the
    ///   default — or only the storage lost its unsynced data without one
    ///   (a forced unmount, a device reset, a FUSE or NFS server restart):
    ///   then what files recorded about the boot stays current.
    package func materialize(_ mode: CrashMode, reboot: Bool = true) {
        Self.trace("materialize \(ObjectIdentifier(self)) \(mode) on \(Thread.current)")
        defer { Self.trace("materialized \(ObjectIdentifier(self))") }
        state.withLock { s in
            s.crashed = true
            s.reboot = reboot
            // The page cache's contents per logical file, for torn tails.
            var live: [Int: [UInt8]] = [:]
            if mode == .tornTail { Self.readLive(root, &s, into: &live) }
            try? FileManager.default.removeItem(atPath: root)
            Glibc.mkdir(root, 0o755)
            Self.recreate(s.rootID, isDirectory: true, at: root, &s, live: live, mode: mode)
        }
    }

    // MARK: Bookkeeping

    static func inode(_ path: String) -> (UInt64, Bool)? {
        var st = stat()
        guard Glibc.lstat(path, &st) == 0 else { return nil }
        return (UInt64(st.st_ino), st.st_mode & S_IFMT == S_IFDIR)
    }

    static func id(ofInode ino: UInt64, _ s: inout State) -> Int {
        if let id = s.idOfInode[ino] { return id }
        let id = s.nextID
        s.nextID += 1
        s.idOfInode[ino] = id
        return id
    }

    static func newID(forInode ino: UInt64, _ s: inout State) -> Int {
        let id = s.nextID
        s.nextID += 1
        s.idOfInode[ino] = id
        return id
    }

    /// Makes everything under `path` durable as it is now; returns its id.
    static func snapshotTree(_ path: String, _ s: inout State) -> Int {
        guard let (ino, isDir) = inode(path) else { return 0 }
        let id = id(ofInode: ino, &s)
        if isDir {
            s.durableEntries[id] = entries(of: path, &s)
            for name in (s.durableEntries[id] ?? [:]).keys {
                _ = snapshotTree(path + "/" + name, &s)
            }
        } else {
            s.durableData[id] = (FileManager.default.contents(atPath: path)).map { [UInt8]($0) } ?? []
        }
        return id
    }

    static func entries(of dir: String, _ s: inout State) -> [String: Node] {
        var out: [String: Node] = [:]
        for name in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] {
            guard let (ino, isDir) = inode(dir + "/" + name) else { continue }
            out[name] = Node(id: id(ofInode: ino, &s), isDirectory: isDir)
        }
        return out
    }

    static func readLive(_ dir: String, _ s: inout State, into live: inout [Int: [UInt8]]) {
        for name in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] {
            let path = dir + "/" + name
            guard let (ino, isDir) = inode(path), let id = s.idOfInode[ino] else { continue }
            if isDir { readLive(path, &s, into: &live) } else {
                live[id] = (FileManager.default.contents(atPath: path)).map { [UInt8]($0) } ?? []
            }
        }
    }

    static func recreate(_ id: Int, isDirectory: Bool, at path: String, _ s: inout State,
                              live: [Int: [UInt8]], mode: CrashMode) {
        if isDirectory {
            for (name, node) in s.durableEntries[id] ?? [:] {
                let child = path + "/" + name
                if node.isDirectory { Glibc.mkdir(child, 0o755) }
                recreate(node.id, isDirectory: node.isDirectory, at: child, &s, live: live, mode: mode)
            }
            return
        }
        var bytes = s.durableData[id] ?? []
        if mode == .tornTail, let now = live[id], now.count > bytes.count, now.starts(with: bytes) {
            let extra = Int.random(in: 0...(now.count - bytes.count), using: &s.rng)
            bytes += now[bytes.count..<(bytes.count + extra)]
        }
        if s.reboot && path.hasSuffix(".lock") { bytes = Self.fromPreviousBoot(bytes) }
        _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
        trace("recreate \(path) id \(id): \(bytes.count) bytes (durable \(s.durableData[id]?.count ?? -1))")
    }

    /// A machine crash is followed by a new boot, and recovery runs in it:
    /// what a lock file recorded about the boot that wrote it (StateJournal's
    /// `boot=` field, read against `/proc/sys/kernel/random/boot_id`) must
    /// name a boot that is over. The simulated crash cannot change the real
    /// boot id, so it changes the recorded one. (Without this, a watermark
    /// the crash took back to an older value would look current whenever the
    /// recreated segment happens to get its old inode number back.)
    static func fromPreviousBoot(_ bytes: [UInt8]) -> [UInt8] {
        let text = String(decoding: bytes, as: UTF8.self)
        guard text.contains("boot=") else { return bytes }
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            line.hasPrefix("boot=") ? "boot=before-simulated-crash-" + line.dropFirst(5) : String(line)
        }
        return Array(lines.joined(separator: "\n").utf8)
    }

    /// Counts a call; false when the machine has crashed (now or before).
    func alive(_ s: inout State) -> Bool {
        if s.crashed { return false }
        s.calls += 1
        if let n = s.countdown {
            if n <= 1 { s.crashed = true; s.countdown = nil; return false }
            s.countdown = n - 1
        }
        return true
    }

    func gated<T>(_ body: (inout State) -> Result<T, Errno>) -> Result<T, Errno> {
        state.withLock { s in alive(&s) ? body(&s) : .failure(.ioError) }
    }

    /// Like ``gated(_:)``, and records the call and its outcome.
    func logged<T>(_ what: @autoclosure () -> String, _ body: (inout State) -> Result<T, Errno>) -> Result<T, Errno> {
        state.withLock { s in
            guard alive(&s) else { s.journal.append("CRASHED at \(what())"); return .failure(.ioError) }
            let result = body(&s)
            switch result {
            case .success(let value): s.journal.append("\(what()) -> \(value)")
            case .failure(let e): s.journal.append("\(what()) -> \(e)")
            }
            return result
        }
    }

    /// Every mutating call made through this disk, in order.
    package var operations: [String] { state.withLock { $0.journal } }
}
