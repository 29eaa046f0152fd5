import Foundation
import Synchronization
import Testing
@testable import StateJournal
@testable import StateJournalEngine
import StateJournalTesting

/// Threads of one process share fsyncs.
@Suite struct GroupCommitLeaderTests {
    /// 16 threads write while another process holds the lock; when it is
    /// released, their writes go out in at most two appends (the batch the
    /// first leader took, and everything that queued behind it).
    @Test func waitingWritersShareOneAppend() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("STATE.md")
        let counter = FaultInjector()
        let watcher = QueueWatcher()
        let manager = smallManager(path, system: counter, logger: watcher.logger)
        try manager.write(initPayload(tasks: 16, waves: 1))
        let holder = FileLock(path: path + ".lock", fileSystem: FileSystem())
        try holder.acquire(LockPolicy(timeout: 5), command: "test holder")
        let before = counter.counts[.fdatasync] ?? 0
        let queued = watcher.count
        let failures = Locked(0)  // not Mutex: its futex waits are invisible to ThreadSanitizer
        let join = startThreads(16) { i in
            do { try manager.write(.taskStarted(taskID: "w1t\(i + 1)")) } catch { failures.withLock { $0 += 1 } }
        }
        // Handshake: every request is queued (or taken by the first leader).
        watcher.wait(for: queued + 16)
        holder.release()
        join()
        #expect(failures.withLock { $0 } == 0)
        let appends = (counter.counts[.fdatasync] ?? 0) - before
        #expect(appends >= 1 && appends <= 2, "16 writes took \(appends) appends")
        let events = try manager.events()
        #expect(events.map(\.seq) == Array(1...17))
        #expect(try manager.loadState()?.tasks.allSatisfy { $0.status == .inProgress } == true)
    }

    /// A refused write in a batch fails alone; the others land.
    @Test func aRefusedWriteInABatchFailsAlone() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("STATE.md")
        let watcher = QueueWatcher()
        let manager = smallManager(path, logger: watcher.logger)
        try manager.write(initPayload(tasks: 4, waves: 1))
        let holder = FileLock(path: path + ".lock", fileSystem: FileSystem())
        try holder.acquire(LockPolicy(timeout: 5), command: "test holder")
        let queued = watcher.count
        let results = Locked<[String: Bool]>([:])
        let ids = ["w1t1", "nope", "w1t2", "w1t1"]
        let join = startThreads(4) { i in
            let ok = (try? manager.write(.taskStarted(taskID: ids[i]))) != nil
            results.withLock { $0[ids[i], default: false] = $0[ids[i], default: false] || ok }
        }
        watcher.wait(for: queued + 4)
        holder.release()
        join()
        let r = results.withLock { $0 }
        #expect(r["w1t1"] == true && r["w1t2"] == true && r["nope"] == false)
        #expect(try manager.events().count == 3)  // init + two starts: the second start of w1t1 was refused
    }
}
