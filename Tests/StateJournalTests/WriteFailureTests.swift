import Foundation
import Testing
@testable import StateJournal
@testable import StateJournalEngine
import StateJournalTesting

/// What a write reports when STATE.md cannot be rewritten after its append
/// (found by the torture harness; see Docs/GUARANTEES.md).
@Suite struct WriteFailureTests {
    /// Visible: a write — also a retry found by its idempotency key — returns
    /// success only once STATE.md shows it.
    @Test func aRetriedWriteReturnsOnlyOnceStateMDShowsIt() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("STATE.md")
        let manager = StateManager(configuration: .init(statePath: path, actor: "t", lock: LockPolicy(timeout: 0.05)))
        try manager.write(.workflowInitialized(id: "wf", name: "n", waves: [[]], metadata: []))
        // Another process is rewriting STATE.md: it holds the projector lock.
        let projector = FileLock(path: path + ".journal/projector.lock", fileSystem: FileSystem())
        try projector.acquire(LockPolicy(), command: "another projector")

        #expect(throws: StateJournalError.self) { try manager.write(.noteAdded(text: "x"), options: .init(idempotencyKey: "k")) }
        #expect(throws: StateJournalError.self) { try manager.write(.noteAdded(text: "x"), options: .init(idempotencyKey: "k")) }
        projector.release()

        let retry = try manager.write(.noteAdded(text: "x"), options: .init(idempotencyKey: "k"))
        #expect(retry.wasDuplicate)
        #expect(ProjectionFooter.check(readBytes(path) ?? []) == .valid(seq: retry.event.seq))
        #expect(try manager.events().count == 2)
    }

    /// A failure after the event became durable says so (and how to confirm),
    /// instead of claiming nothing was written.
    @Test func aWriteThatFailsAfterItsAppendSaysTheEventIsInTheJournal() throws {
        let dir = TemporaryDirectory()
        let faults = FaultInjector(RealSystemCalls())
        let manager = StateManager(configuration: .init(statePath: dir.file("STATE.md"), actor: "t",
                                                        fileSystem: FileSystem(faults)))
        try manager.write(.workflowInitialized(id: "wf", name: "n", waves: [[]], metadata: []))
        faults.fail(.exchange, errno: .noSpace)  // replacing STATE.md fails (the new file and STATE.md exchange names)

        var message = ""
        do { try manager.write(.noteAdded(text: "x")) } catch { message = "\(error)" }

        #expect(try manager.events().count == 2)
        #expect(message.contains("durable in the journal (seq 2)"), "\(message)")
        // No advice to retry: a retry without a key would write it twice.
        #expect(!message.contains("idempotency-key"))
        #expect(message.contains("do not write it again"))
        #expect(!message.contains("nothing was written"))
        // The next command regenerates STATE.md.
        #expect(try manager.loadState()?.notes == ["x"])
        #expect(ProjectionFooter.check(readBytes(dir.file("STATE.md")) ?? []) == .valid(seq: 2))
    }
}
