import Foundation
import Testing
@testable import StateJournal
@testable import StateJournalEngine

/// Library users choose when STATE.md is rewritten.
@Suite struct ProjectionPolicyTests {
    func footerSeq(_ path: String) -> UInt64? {
        guard let bytes = readBytes(path), case .valid(let seq) = ProjectionFooter.check(bytes) else { return nil }
        return seq
    }

    @Test func eagerShowsEveryWrite() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("STATE.md")
        let manager = smallManager(path, projection: .eager)
        try manager.write(initPayload())
        for i in 2...5 {
            try manager.write(.noteAdded(text: "n\(i)"))
            #expect(footerSeq(path) == UInt64(i))
        }
    }

    @Test func everyNEventsRewritesWhenThatFarBehind() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("STATE.md")
        let manager = smallManager(path, projection: .everyEvents(3))
        try manager.write(initPayload())
        #expect(footerSeq(path) == 1)  // a missing STATE.md is always written
        var seen: [UInt64?] = []
        for i in 2...7 {
            try manager.write(.noteAdded(text: "n\(i)"))
            seen.append(footerSeq(path))
        }
        #expect(seen == [1, 1, 4, 4, 4, 7])
    }

    @Test func intervalRewritesAtMostThatOften() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("STATE.md")
        let manager = smallManager(path, projection: .interval(milliseconds: 3_600_000))
        try manager.write(initPayload())
        for i in 2...4 { try manager.write(.noteAdded(text: "n\(i)")) }
        #expect(footerSeq(path) == 1)
        try manager.refreshProjection()
        #expect(footerSeq(path) == 4)
    }

    @Test func manualRewritesOnlyWhenAsked() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("STATE.md")
        let manager = smallManager(path, projection: .manual)
        try manager.write(initPayload())
        try manager.write(.noteAdded(text: "x"))
        #expect(footerSeq(path) == 1)
        try manager.compact()
        #expect(footerSeq(path) == 2)
        // Reading regenerates a stale STATE.md whatever the policy.
        try manager.write(.noteAdded(text: "y"))
        _ = try manager.loadState()
        #expect(footerSeq(path) == 3)
    }
}
