#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif
import CSQLite
import StateJournal
import StateJournalEngine

/// Something that performs one durable operation at a time, measured in
/// rounds interleaved with the other peers (so that load from elsewhere on
/// the machine hits them all alike).
protocol OperationLoop: AnyObject {
    /// Performs one operation.
    func step(_ i: Int) throws
    func close()
}

// MARK: - The physical limit

/// One 200-byte record a step, `pwrite` at `offset` then `fdatasync`.
class RawRecordLoop: OperationLoop {
    let fd: Int32
    let record = [UInt8](repeating: 0x61, count: Workload.recordSize)
    var offset: Int64 = 0
    let path: String

    init(path: String, flags: Int32) throws {
        self.path = path
        fd = try check(open(path, flags | O_CREAT | O_TRUNC, 0o644), "open \(path)")
    }

    func step(_ i: Int) throws {
        let n = record.withUnsafeBytes { pwrite(fd, $0.baseAddress!, $0.count, off_t(offset)) }
        guard n == record.count else { throw BenchError("short write to \(path)") }
        offset += Int64(n)
        try check(fdatasync(fd), "fdatasync \(path)")
    }

    func close() { Glibc.close(fd) }
}

/// The floor of every durable append: `pwrite` of 200 bytes at the end of
/// a file, then `fdatasync`.
final class RawAppendLoop: RawRecordLoop {
    init(directory: String) throws { try super.init(path: directory + "/raw.log", flags: O_WRONLY) }
}

/// For comparison only (not a target): overwriting a preallocated, already
/// synced file, so that `fdatasync` has no file size (metadata) to commit.
final class RawOverwriteLoop: RawRecordLoop {
    let size: Int64 = 64 << 20

    init(directory: String) throws {
        try super.init(path: directory + "/prealloc.log", flags: O_RDWR)
        // Zeros written (not just fallocated: unwritten extents would still
        // need a metadata commit on first write), then synced once.
        let zeros = [UInt8](repeating: 0, count: 1 << 20)
        var done: Int64 = 0
        while done < size {
            let n = zeros.withUnsafeBytes { pwrite(fd, $0.baseAddress!, $0.count, off_t(done)) }
            try check(n, "write \(path)")
            done += Int64(n)
        }
        try check(fsync(fd), "fsync \(path)")
    }

    override func step(_ i: Int) throws {
        if offset + Int64(record.count) > size { offset = 0 }
        try super.step(i)
    }
}

// MARK: - SQLite

/// SQLite in WAL mode with `synchronous=FULL`: one 200-byte insert per
/// transaction (autocommit), a prepared statement reused.
final class SQLiteLoop: OperationLoop {
    private var db: OpaquePointer?
    private var insert: OpaquePointer?
    let record = [UInt8](repeating: 0x61, count: Workload.recordSize)
    let path: String

    init(directory: String) throws {
        path = directory + "/sqlite.db"
        guard sqlite3_open(path, &db) == SQLITE_OK else { throw BenchError("sqlite3_open \(path): \(message)") }
        try exec("PRAGMA journal_mode=WAL")
        try exec("PRAGMA synchronous=FULL")
        try exec("CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY, body BLOB NOT NULL)")
        guard sqlite3_prepare_v2(db, "INSERT INTO events (body) VALUES (?1)", -1, &insert, nil) == SQLITE_OK else {
            throw BenchError("sqlite3_prepare_v2: \(message)")
        }
        let mode = try query("PRAGMA journal_mode")
        guard mode == "wal" else { throw BenchError("SQLite did not enter WAL mode (\(mode))") }
    }

    var message: String { db.map { String(cString: sqlite3_errmsg($0)) } ?? "no database" }

    private func exec(_ sql: String) throws {
        guard sqlite3_exec(db, sql, nil, nil, nil) == SQLITE_OK else { throw BenchError("\(sql): \(message)") }
    }

    private func query(_ sql: String) throws -> String {
        var stmt: OpaquePointer?
        guard sqlite3_prepare_v2(db, sql, -1, &stmt, nil) == SQLITE_OK else { throw BenchError("\(sql): \(message)") }
        defer { sqlite3_finalize(stmt) }
        guard sqlite3_step(stmt) == SQLITE_ROW, let text = sqlite3_column_text(stmt, 0) else { return "" }
        return String(cString: text)
    }

    func step(_ i: Int) throws {
        let rc = record.withUnsafeBytes { sqlite3_bind_blob(insert, 1, $0.baseAddress, Int32($0.count), nil) }
        guard rc == SQLITE_OK else { throw BenchError("sqlite3_bind_blob: \(message)") }
        guard sqlite3_step(insert) == SQLITE_DONE else { throw BenchError("insert: \(message)") }
        sqlite3_reset(insert)
    }

    func close() {
        sqlite3_finalize(insert)
        sqlite3_close(db)
    }
}

// MARK: - The earlier tool's approach

/// The earlier tool's update, in Swift: take a lock, copy STATE.md to a
/// backup, render the whole file, write it under a temporary name, rename
/// it over STATE.md. `durable` adds what a crash-safe version needs and the
/// earlier tool lacked: fsync of the new file before the rename, and of the
/// directory after it (the backup copy is not synced: it is not the update).
final class EarlierToolLoop: OperationLoop {
    let directory: String
    let statePath: String
    let durable: Bool
    var state: WorkflowState
    var lockPath: String { statePath + ".lock" }
    var backupPath: String { statePath + ".backup" }
    var tempPath: String { statePath + ".tmp" }

    init(directory: String, name: String, tasks: Int, durable: Bool) throws {
        self.directory = directory + "/" + name
        try Files.mkdirs(self.directory)
        statePath = self.directory + "/STATE.md"
        self.durable = durable
        state = Workload.bigState(tasks: tasks, waves: 4)
        try Files.write(statePath, MarkdownRenderer.render(state))
    }

    func step(_ i: Int) throws {
        let lock = try check(open(lockPath, O_RDWR | O_CREAT, 0o644), "open \(lockPath)")
        defer { Glibc.close(lock) }
        try check(flock(lock, LOCK_EX), "flock \(lockPath)")
        // shutil.copy: read the file, write the copy.
        try Files.write(backupPath, try Files.read(statePath))
        // The update: one change, then the whole file rendered again.
        let event = Event(seq: state.seq + 1, time: .now(), actor: "earlier-tool", pid: getpid(),
                          payload: .metadataSet(key: "last_update", value: String(i)))
        state = try WorkflowState.applying(event, to: state)
        let bytes = Array(MarkdownRenderer.render(state).utf8)
        let fd = try check(open(tempPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644), "open \(tempPath)")
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + done, $0.count - done) }
            try check(n, "write \(tempPath)")
            done += n
        }
        if durable { try check(fsync(fd), "fsync \(tempPath)") }
        Glibc.close(fd)
        try check(rename(tempPath, statePath), "rename \(tempPath)")
        if durable { try Files.fsyncDirectory(directory) }
    }

    func close() {}
}
