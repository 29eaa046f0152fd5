import Foundation
import Logging
import Testing
@testable import StateJournal
@testable import StateJournalEngine
import StateJournalTesting

/// A reader that can neither open nor create the lock file (another user's
/// lock file with mode 000, or a directory it cannot write with no lock
/// file yet) cannot learn where committed data ends, so it reads every
/// record — a write in progress included. It may answer from that, but it
/// must never project it into STATE.md: the write may yet fail and be cut,
/// and STATE.md would show an event the journal does not hold.
@Suite struct UnknownBoundaryTests {
    static let quiet = Logger(label: "unknown-boundary", factory: { _ in SwiftLogNoOpLogHandler() })

    static func manager(_ path: String, _ system: any SystemCalls) -> StateManager {
        StateManager(configuration: .init(statePath: path, actor: "reader", lock: LockPolicy(timeout: 5),
                                          fileSystem: FileSystem(system)), logger: quiet)
    }

    @Test func aReaderWithoutTheLockFileNeverProjectsAWriteInProgress() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("STATE.md")
        try Self.manager(path, RealSystemCalls()).write(initPayload())
        let noLockFile = ScriptedCalls(RealSystemCalls()) { call in
            call.operation == .open && call.path == path + ".lock" ? .fail(.permissionDenied) : .pass
        }
        let reader = Self.manager(path, noLockFile)
        let readerSaw = Locked<[String]>([])
        let writer = Self.manager(path, SegmentSyncHook(RealSystemCalls()) {
            // The writer's record is in the file, its fsync not done: the reader reads now.
            if let state = try? reader.loadState() { readerSaw.withLock { $0 = state.notes } }
            return .fail(.ioError)
        })
        #expect(throws: (any Error).self) { try writer.write(.noteAdded(text: "NEVER-DURABLE")) }
        #expect(readerSaw.withLock { $0 } == ["NEVER-DURABLE"], "the reader did not read at the moment it should (the test's hook missed)")
        let shown = String(decoding: try #require(FileManager.default.contents(atPath: path)), as: UTF8.self)
        #expect(!shown.contains("NEVER-DURABLE"), "STATE.md shows an event whose write failed and was cut")
        #expect(try fullReplay(path)?.notes == [])
    }
}

/// Two faults in one append: recording the journal's durable end in the
/// lock file fails, and so does cutting the append's bytes back out. The
/// record is durable in the segment and the lock file may hold no
/// watermark, so the next writer may keep it: the error must not say
/// "nothing was written" (a plain retry would write it twice).
@Suite struct UncutAppendTests {
    @Test func anAppendWhoseBytesCouldNotBeCutIsNotReportedAsNothingWritten() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("STATE.md")
        try UnknownBoundaryTests.manager(path, RealSystemCalls()).write(initPayload())
        // After the record reached the segment: the lock file's rewrite
        // (the confirmation) fails, then the cut fails.
        let recordWritten = Locked(false)
        let confirmationFailed = Locked(false)
        let faults = ScriptedCalls(RealSystemCalls()) { call in
            if call.operation == .pwrite, call.isSegment { recordWritten.withLock { $0 = true } }
            if call.operation == .pwrite, call.path == path + ".lock", recordWritten.withLock({ $0 }) {
                confirmationFailed.withLock { $0 = true }
                return .fail(.ioError)
            }
            if call.operation == .ftruncate, call.isSegment, confirmationFailed.withLock({ $0 }) { return .fail(.ioError) }
            return .pass
        }
        let writer = UnknownBoundaryTests.manager(path, faults)
        var message = ""
        do { try writer.write(.noteAdded(text: "MAYBE")) } catch { message = "\(error)" }
        #expect(confirmationFailed.withLock { $0 }, "the confirmation was never attempted")
        #expect(!message.isEmpty, "the write succeeded although its confirmation failed")
        #expect(!message.contains("nothing was written"), "the error says nothing was written, but the bytes were not cut: \(message)")
        #expect(message.contains("may or may not be in the journal"))
    }
}
