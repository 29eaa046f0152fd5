import Foundation
import Testing
@testable import StateJournal
@testable import StateJournalEngine
import StateJournalTesting

/// What the steady-state write costs, counted through the system-call
/// layer (never timed).
@Suite struct WritePathTests {
    /// Counts renames into place by the kind of file they name.
    final class RenameCounter: ForwardingSystemCalls, @unchecked Sendable {
        let base: any SystemCalls = RealSystemCalls()
        private let lock = NSLock()
        private var snapshots = 0
        var snapshotCount: Int { lock.lock(); defer { lock.unlock() }; return snapshots }
        func rename(_ from: String, _ to: String) -> Result<Void, Errno> {
            if to.contains("/snapshot-") { lock.lock(); snapshots += 1; lock.unlock() }
            return base.rename(from, to)
        }
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
