import Foundation
import Testing
import StateJournal

/// Outside review of the event codec, through the real executable: what a
/// command acknowledges must replay.
@Suite struct ReviewCodecCLITests {
    /// `task claim --lease 3000000d` is accepted (exit 0, "until 10240-…"),
    /// but the lease's end is written as `10240-08-…Z`, a time neither
    /// decoder reads: every later command then reports the journal corrupt
    /// (exit 5) and `verify` calls the record damaged.
    @Test(arguments: ["3000000d", "106751991d"])
    func aVeryLongLeaseLeavesAJournalThatReplays(lease: String) throws {
        let ws = Workspace()
        let plan = #"{"waves":[[{"task_id":"t1","description":"d"},{"task_id":"t2","description":"e"}]]}"#
        let r = try ws.sj("init", "--id", "w", "--name", "n", "--plan", "-", stdin: plan)
        try #require(r.status == 0, "\(r.stderr)")
        let claim = try ws.sj("task", "claim", "t1", "--lease", lease, actor: "a1")
        #expect(claim.status == 2, "a lease the journal cannot hold is refused as bad input: \(claim.stderr)")
        let status = try ws.sj("status")
        #expect(status.status == 0, "claim acknowledged (\(claim.stderr)), then: \(status.stderr)")
        let start = try ws.sj("task", "start", "t2", actor: "a2")
        #expect(start.status == 0, "\(start.stderr)")
        let verify = try ws.sj("verify")
        #expect(verify.status == 0, "\(verify.stdout) \(verify.stderr)")
    }
}
