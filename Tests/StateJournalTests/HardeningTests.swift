import Foundation
import Synchronization
import Testing
@testable import StateJournal
@testable import StateJournalEngine

/// Hostile surroundings (issue 7): temporary files, symbolic links planted
/// where StateJournal writes, lock files, and inputs too large to hold.
@Suite struct HardeningTests {
    // MARK: Temporary files

    /// Every file StateJournal creates is created with O_EXCL and O_NOFOLLOW
    /// (lock files, which are reused, with O_NOFOLLOW), in the state file's
    /// directory or the journal directory.
    @Test func temporaryFilesAreExclusiveAndNeverFollowLinks() throws {
        let dir = TemporaryDirectory()
        let state = dir.file("STATE.md")
        let recorder = RecordingSystemCalls()
        let manager = smallManager(state, segmentSize: 1024, system: recorder)
        try manager.write(initPayload())
        for i in 1...4 { try manager.write(.taskStarted(taskID: "w1t\(i)")) }
        try manager.write(.noteAdded(text: "a note"))
        _ = try manager.compact()
        writeBytes(state, Array("hand-edited".utf8))  // damaged: kept aside and regenerated
        _ = try manager.loadState()

        let creates = recorder.opens.filter { $0.flags & O_CREAT != 0 }
        #expect(creates.count >= 10)
        for open in creates {
            #expect(open.flags & O_NOFOLLOW != 0, "\(open.path) created without O_NOFOLLOW")
            let where_ = FileSystem.directory(of: open.path)
            #expect(where_ == dir.path || where_ == state + ".journal", "\(open.path) created outside the state file's directories")
            if open.path.contains(".tmp-") {
                #expect(open.flags & O_EXCL != 0, "\(open.path) created without O_EXCL")
            } else {
                #expect(open.path.hasSuffix(".lock"), "\(open.path) is created in place, not as a temporary")
            }
        }
    }

    /// A replaced STATE.md keeps the permissions it had, whatever the umask
    /// (0o664 loses its group write under the usual umask 022 without fchmod).
    @Test(arguments: [0o664, 0o600, 0o640] as [UInt32])
    func replacedStateFileKeepsItsPermissions(_ mode: UInt32) throws {
        let dir = TemporaryDirectory()
        let state = dir.file("STATE.md")
        let manager = smallManager(state)
        try manager.write(initPayload())
        #expect(chmod(state, mode_t(mode)) == 0)
        try manager.write(.taskStarted(taskID: "w1t1"))
        let permissions = try FileManager.default.attributesOfItem(atPath: state)[.posixPermissions] as? Int
        #expect(permissions == Int(mode))
        #expect(try #require(readText(state)).contains("[~] **w1t1**"))
    }

    // MARK: Symbolic links

    /// STATE.md, its lock file and its journal directory as symbolic links:
    /// refused with a message naming the path, before anything is written.
    @Test(arguments: ["STATE.md", "STATE.md.lock", "STATE.md.journal", "STATE.md.journal/projector.lock"])
    func symbolicLinkIsRefusedBeforeAnythingIsWritten(_ name: String) throws {
        let dir = TemporaryDirectory()
        let state = dir.file("STATE.md")
        let manager = smallManager(state)
        try manager.write(initPayload())
        let link = dir.file(name)
        let target = dir.file("elsewhere")
        try FileManager.default.moveItem(atPath: link, toPath: target)
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: target)
        let before = try Self.contents(of: target)
        let journal = name == "STATE.md.journal" ? target : state + ".journal"
        let journalBefore = try Self.contents(of: journal)

        let error = try #require(throws: StateJournalError.self) { try manager.write(.taskStarted(taskID: "w1t1")) }
        #expect(error.code == .badInput)
        #expect(error.path == link)
        #expect(error.message.contains("'\(link)'"))
        #expect(error.message.contains("is a symbolic link"))
        #expect(error.message.contains("--allow-symlinks"))
        #expect(try Self.contents(of: target) == before)
        #expect(try Self.contents(of: journal) == journalBefore)
    }

    /// With `allowSymlinks`, each link is followed: a symlinked STATE.md's
    /// target is replaced and the link stays a link.
    @Test(arguments: ["STATE.md", "STATE.md.lock", "STATE.md.journal", "STATE.md.journal/projector.lock"])
    func symbolicLinkIsFollowedWhenAllowed(_ name: String) throws {
        let dir = TemporaryDirectory()
        let state = dir.file("STATE.md")
        let other = TemporaryDirectory()
        try smallManager(state).write(initPayload())
        let link = dir.file(name)
        let target = other.file(name.replacingOccurrences(of: "/", with: "-"))
        try FileManager.default.moveItem(atPath: link, toPath: target)
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: target)

        var configuration = smallManager(state).configuration
        configuration.allowSymlinks = true
        let manager = StateManager(configuration: configuration)
        try manager.write(.taskStarted(taskID: "w1t1"))
        #expect(try manager.loadState()?.task("w1t1")?.status == .inProgress)
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: link) == target)
        if name == "STATE.md" {
            #expect(try #require(readText(target)).contains("[~] **w1t1**"))
            #expect(listDirectory(other.path).filter { $0.contains(".tmp-") }.isEmpty)
        }
        if name == "STATE.md.journal" { #expect(listDirectory(target).contains { $0.hasPrefix("segment-") }) }
    }

    /// A link planted at a temporary file's name is never followed: O_EXCL
    /// fails on it, and the file it points to is untouched.
    @Test func writeNewFileNeverFollowsALinkAtItsName() throws {
        let dir = TemporaryDirectory()
        let victim = dir.file("victim")
        writeBytes(victim, Array("keep me".utf8))
        let temp = dir.file("STATE.md.tmp-1-2")
        try FileManager.default.createSymbolicLink(atPath: temp, withDestinationPath: victim)
        #expect(throws: StateJournalError.self) { try FileSystem().writeNewFile(temp, Array("x".utf8)) }
        #expect(readText(victim) == "keep me")
    }

    // MARK: Lock files

    /// A writer that does not get the lock leaves the lock file alone (same
    /// inode, the holder's note intact); the holder empties it when done but
    /// never deletes it.
    @Test func lockFileIsNeverDeletedByAProcessThatDoesNotHoldIt() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("STATE.md.lock")
        let holder = FileLock(path: path, fileSystem: FileSystem())
        try holder.acquire(LockPolicy(timeout: 1), command: "holder")
        let inode = try Self.inode(path)
        let note = try #require(readText(path))
        #expect(note.contains("command=holder"))

        let waiter = FileLock(path: path, fileSystem: FileSystem())
        let error = try #require(throws: StateJournalError.self) { try waiter.acquire(LockPolicy(timeout: 0.05), command: "waiter") }
        #expect(error.code == .lockTimeout)
        #expect(error.message.contains("holder"))
        #expect(try Self.inode(path) == inode)
        #expect(readText(path) == note)

        holder.release()
        #expect(try Self.inode(path) == inode)
        try waiter.acquire(LockPolicy(timeout: 1), command: "waiter")
        #expect(try Self.inode(path) == inode)
        waiter.release()
    }

    /// No operation — writes, refused writes, lock timeouts, compaction,
    /// verify, self-healing, import — ever unlinks or renames over a lock file.
    @Test func noOperationRemovesOrReplacesALockFile() throws {
        let dir = TemporaryDirectory()
        let state = dir.file("STATE.md")
        let recorder = RecordingSystemCalls()
        let manager = smallManager(state, segmentSize: 1024, system: recorder)
        try manager.write(initPayload())
        for i in 1...4 { try manager.write(.taskCompleted(taskID: "w1t\(i)", commit: nil, files: [])) }
        #expect(throws: StateJournalError.self) { try manager.write(.taskStarted(taskID: "nope")) }
        _ = try manager.compact()
        _ = try manager.verify()
        writeBytes(state, Array("garbled".utf8))
        _ = try manager.loadState()
        let other = smallManager(dir.file("IMPORTED.md"), system: recorder)
        try other.importHistory(Array(MarkdownRenderer.render(try #require(try manager.loadState())).utf8), source: "test")

        let holder = FileLock(path: state + ".lock", fileSystem: FileSystem())
        try holder.acquire(LockPolicy(timeout: 1), command: "holder")
        var impatient = manager.configuration
        impatient.lock = LockPolicy(timeout: 0.05)
        impatient.fileSystem = FileSystem(recorder)
        #expect(throws: StateJournalError.self) { try StateManager(configuration: impatient).write(.noteAdded(text: "late")) }
        holder.release()

        #expect(recorder.removals.filter { $0.hasSuffix(".lock") }.isEmpty, "\(recorder.removals)")
        #expect(FileManager.default.fileExists(atPath: state + ".lock"))
        #expect(FileManager.default.fileExists(atPath: state + ".journal/" + FileJournal.projectorLockName))
    }

    // MARK: Resource limits

    /// An event larger than the configured record limit is refused with what
    /// to do, and nothing is written.
    @Test func recordLargerThanTheConfiguredMaximumIsRefused() throws {
        let dir = TemporaryDirectory()
        let state = dir.file("STATE.md")
        var configuration = smallManager(state).configuration
        configuration.journal.maximumRecordSize = 4096
        let watcher = QueueWatcher()
        let manager = StateManager(configuration: configuration, logger: watcher.logger)
        try manager.write(initPayload())
        let before = try #require(readBytes(state))
        let events = try manager.events().count

        let error = try #require(throws: StateJournalError.self) {
            try manager.write(.noteAdded(text: String(repeating: "x", count: 5000)))
        }
        #expect(error.code == .badInput)
        #expect(error.message.contains("record limit"))
        #expect(error.message.contains("4096"))
        #expect(try manager.events().count == events)
        #expect(readBytes(state) == before)
        try manager.write(.noteAdded(text: String(repeating: "x", count: 3000)))
    }

    /// An event too large for a record, queued with others in one group
    /// commit, fails alone: the others land.
    @Test func anOversizedWriteInABatchFailsAlone() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("STATE.md")
        var configuration = smallManager(path).configuration
        configuration.journal.maximumRecordSize = 4096
        let watcher = QueueWatcher()
        let manager = StateManager(configuration: configuration, logger: watcher.logger)
        try manager.write(initPayload(tasks: 3, waves: 1))
        let holder = FileLock(path: path + ".lock", fileSystem: FileSystem())
        try holder.acquire(LockPolicy(timeout: 5), command: "test holder")
        let queued = watcher.count
        let errors = Locked<[Int: StateJournalError]>([:])
        let join = startThreads(4) { i in
            let payload: Event.Payload = i == 3 ? .noteAdded(text: String(repeating: "x", count: 5000)) : .taskStarted(taskID: "w1t\(i + 1)")
            do { try manager.write(payload) } catch let error as StateJournalError { errors.withLock { $0[i] = error } } catch {}
        }
        // Handshake: all four are queued behind the lock, so they commit as one batch.
        watcher.wait(for: queued + 4)
        holder.release()
        join()
        let failed = errors.withLock { $0 }
        #expect(failed.keys.sorted() == [3])
        #expect(failed[3]?.message.contains("record limit") == true)
        #expect(try manager.events().count == 4)
        #expect(try manager.loadState()?.tasks.allSatisfy { $0.status == .inProgress } == true)
    }

    /// A damaged region of 4 MiB in which every fourth offset holds a
    /// plausible 1 MiB record length: looking for a valid record after the
    /// damage checksummed a candidate at each (about a terabyte of CRC, an
    /// open that never finished); now only offsets where an event starts are
    /// checked. A valid record after the damage is still found.
    @Test func aLargeDamagedRegionIsClassifiedInLinearTime() throws {
        var bytes: [UInt8] = []
        RecordFormat.appendRecord(sampleEvent(1).json().encoded(), to: &bytes)
        let goodEnd = bytes.count
        for _ in 0..<(1 << 20) { bytes += [0x00, 0x00, 0x10, 0x00] }
        let tornInput = bytes
        let validAt = bytes.count
        RecordFormat.appendRecord(sampleEvent(2).json().encoded(), to: &bytes)
        let corruptInput = bytes
        // On a thread, with a bound far above the linear scan's cost (well
        // under a second): a regression to the quadratic scan (about a
        // terabyte of CRC) fails here instead of hanging the suite.
        let results = Locked<[RecordFormat.Tail]>([])
        let done = DispatchSemaphore(value: 0)
        Thread {
            let torn = tornInput.withUnsafeBytes { RecordFormat.scan($0, from: 0) { _, _ in } }
            let corrupt = corruptInput.withUnsafeBytes { RecordFormat.scan($0, from: 0) { _, _ in } }
            results.withLock { $0 = [torn, corrupt] }
            done.signal()
        }.start()
        let finished = done.wait(timeout: .now() + 120) == .success
        try #require(finished, "scanning a 4 MiB damaged region did not finish: the scan is no longer linear")
        #expect(results.withLock { $0 } == [.torn(offset: goodEnd, length: tornInput.count - goodEnd),
                                             .corrupt(offset: goodEnd, nextValidRecord: validAt)])
    }

    /// A description of megabytes works when its event fits the record limit
    /// (16 MiB by default), and is refused clearly when it does not.
    @Test func descriptionOfMegabytes() throws {
        let dir = TemporaryDirectory()
        let state = dir.file("STATE.md")
        let manager = smallManager(state, segmentSize: 4 << 20)
        try manager.write(initPayload())
        let big = String(repeating: "abcdefgh", count: 3 << 17)  // 3 MiB
        try manager.write(.taskAdded(taskID: "big", wave: 1, description: big))
        #expect(try manager.loadState()?.task("big")?.description == big)
        #expect(try MarkdownParser.parse(try #require(readText(state))).state()?.task("big")?.description == big)

        let huge = String(repeating: "abcdefgh", count: 17 << 17)  // 17 MiB
        let error = try #require(throws: StateJournalError.self) {
            try manager.write(.taskAdded(taskID: "huge", wave: 1, description: huge))
        }
        #expect(error.code == .badInput)
        #expect(error.message.contains("record limit"))
        #expect(try manager.loadState()?.task("huge") == nil)
    }

    /// A plan of a million tasks is one event of about 60 MB, more than the
    /// 16 MiB record limit: refused with a clear message, nothing written,
    /// no crash. (Docs/FUZZING.md has the measured limits.)
    @Test func aMillionTasksInOnePlanIsRefusedClearly() throws {
        let dir = TemporaryDirectory()
        let state = dir.file("STATE.md")
        let manager = smallManager(state)
        let tasks = (1...1_000_000).map { Event.PlannedTask(id: "task_\($0)", description: "Task \($0)") }
        let error = try #require(throws: StateJournalError.self) {
            try manager.write(.workflowInitialized(id: "wf", name: "Huge", waves: [tasks], metadata: []))
        }
        #expect(error.code == .badInput)
        #expect(error.message.contains("record limit"))
        #expect(!FileManager.default.fileExists(atPath: state))
        #expect(try manager.events().isEmpty)
    }

    // MARK: Helpers

    static func contents(of path: String) throws -> [String: [UInt8]] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { return [:] }
        if !isDirectory.boolValue { return [path: readBytes(path) ?? []] }
        var out: [String: [UInt8]] = [:]
        for name in listDirectory(path) where !name.hasSuffix(".lock") { out[name] = readBytes(path + "/" + name) ?? [] }
        return out
    }

    static func inode(_ path: String) throws -> UInt64 {
        let number = try FileManager.default.attributesOfItem(atPath: path)[.systemFileNumber] as? Int
        return UInt64(try #require(number))
    }
}

/// Real system calls, recording every `open` (path, flags) and every path
/// removed or replaced (`unlink`, the target of `rename`).
final class RecordingSystemCalls: SystemCalls, Sendable {
    struct Open: Sendable { var path: String; var flags: Int32 }
    private let base = RealSystemCalls()
    private let log = Locked<(opens: [Open], removals: [String])>(([], []))

    var opens: [Open] { log.withLock { $0.opens } }
    var removals: [String] { log.withLock { $0.removals } }

    func open(_ path: String, flags: Int32, mode: UInt32) -> Result<Int32, Errno> {
        log.withLock { $0.opens.append(Open(path: path, flags: flags)) }
        return base.open(path, flags: flags, mode: mode)
    }
    func unlink(_ path: String) -> Result<Void, Errno> {
        log.withLock { $0.removals.append(path) }
        return base.unlink(path)
    }
    func rename(_ from: String, _ to: String) -> Result<Void, Errno> {
        log.withLock { $0.removals.append(to) }
        return base.rename(from, to)
    }
    func close(_ fd: Int32) -> Result<Void, Errno> { base.close(fd) }
    func read(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer) -> Result<Int, Errno> { base.read(fd, into: buffer) }
    func pread(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, offset: Int64) -> Result<Int, Errno> {
        base.pread(fd, into: buffer, offset: offset)
    }
    func write(_ fd: Int32, from buffer: UnsafeRawBufferPointer) -> Result<Int, Errno> { base.write(fd, from: buffer) }
    func pwrite(_ fd: Int32, from buffer: UnsafeRawBufferPointer, offset: Int64) -> Result<Int, Errno> {
        base.pwrite(fd, from: buffer, offset: offset)
    }
    func fsync(_ fd: Int32) -> Result<Void, Errno> { base.fsync(fd) }
    func fdatasync(_ fd: Int32) -> Result<Void, Errno> { base.fdatasync(fd) }
    func ftruncate(_ fd: Int32, length: Int64) -> Result<Void, Errno> { base.ftruncate(fd, length: length) }
    func fstat(_ fd: Int32) -> Result<FileStatus, Errno> { base.fstat(fd) }
    func lstat(_ path: String) -> Result<FileStatus, Errno> { base.lstat(path) }
    func link(_ from: String, _ to: String) -> Result<Void, Errno> { base.link(from, to) }
    func exchange(_ a: String, _ b: String) -> Result<Void, Errno> { base.exchange(a, b) }
    func mkdir(_ path: String, mode: UInt32) -> Result<Void, Errno> { base.mkdir(path, mode: mode) }
    func flock(_ fd: Int32, operation: Int32) -> Result<Void, Errno> { base.flock(fd, operation: operation) }
    func listDirectory(_ path: String) -> Result<[String], Errno> { base.listDirectory(path) }
    func availableSpace(_ path: String) -> Result<Int64, Errno> { base.availableSpace(path) }
    func fchmod(_ fd: Int32, mode: UInt32) -> Result<Void, Errno> { base.fchmod(fd, mode: mode) }
    func readlink(_ path: String) -> Result<String, Errno> { base.readlink(path) }
}
