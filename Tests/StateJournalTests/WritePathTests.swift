import Foundation
import Testing
@testable import StateJournal
import StateJournalTesting

/// What the steady-state write costs, counted through the system-call
/// layer (never timed).
@Suite struct WritePathTests {
    /// Counts renames into place by the kind of file they name.
    final class RenameCounter: SystemCalls, @unchecked Sendable {
        let base = RealSystemCalls()
        private let lock = NSLock()
        private var snapshots = 0
        var snapshotCount: Int { lock.lock(); defer { lock.unlock() }; return snapshots }
        func rename(_ from: String, _ to: String) -> Result<Void, Errno> {
            if to.contains("/snapshot-") { lock.lock(); snapshots += 1; lock.unlock() }
            return base.rename(from, to)
        }
        func open(_ path: String, flags: Int32, mode: UInt32) -> Result<Int32, Errno> { base.open(path, flags: flags, mode: mode) }
        func close(_ fd: Int32) -> Result<Void, Errno> { base.close(fd) }
        func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) -> Result<Int, Errno> { base.read(fd, into: buffer) }
        func pread(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, offset: Int64) -> Result<Int, Errno> { base.pread(fd, into: buffer, offset: offset) }
        func write(_ fd: Int32, from buffer: UnsafeRawBufferPointer) -> Result<Int, Errno> { base.write(fd, from: buffer) }
        func pwrite(_ fd: Int32, from buffer: UnsafeRawBufferPointer, offset: Int64) -> Result<Int, Errno> { base.pwrite(fd, from: buffer, offset: offset) }
        func fsync(_ fd: Int32) -> Result<Void, Errno> { base.fsync(fd) }
        func fdatasync(_ fd: Int32) -> Result<Void, Errno> { base.fdatasync(fd) }
        func ftruncate(_ fd: Int32, length: Int64) -> Result<Void, Errno> { base.ftruncate(fd, length: length) }
        func fstat(_ fd: Int32) -> Result<FileStatus, Errno> { base.fstat(fd) }
        func lstat(_ path: String) -> Result<FileStatus, Errno> { base.lstat(path) }
        func link(_ from: String, _ to: String) -> Result<Void, Errno> { base.link(from, to) }
        func unlink(_ path: String) -> Result<Void, Errno> { base.unlink(path) }
        func mkdir(_ path: String, mode: UInt32) -> Result<Void, Errno> { base.mkdir(path, mode: mode) }
        func flock(_ fd: Int32, operation: Int32) -> Result<Void, Errno> { base.flock(fd, operation: operation) }
        func listDirectory(_ path: String) -> Result<[String], Errno> { base.listDirectory(path) }
        func availableSpace(_ path: String) -> Result<Int64, Errno> { base.availableSpace(path) }
    }

    /// A snapshot every 128 events (the default interval), not one every
    /// few writes: a process's cached fold counts from the snapshot it wrote
    /// itself. (At most 8 per 1,000 writes of a small state.)
    @Test func aThousandWritesWriteAtMostEightSnapshots() throws {
        let dir = TemporaryDirectory()
        let counter = RenameCounter()
        let manager = StateManager(configuration: .init(statePath: dir.file("STATE.md"), actor: "t", fileSystem: FileSystem(counter),
                                                        projection: .manual))
        try manager.write(initPayload())
        let before = counter.snapshotCount
        for i in 0..<1_000 { try manager.write(.metadataSet(key: "k", value: "\(i)")) }
        let written = counter.snapshotCount - before
        #expect(written >= 1 && written <= 8, "\(written) snapshots for 1,000 writes")
    }
}
