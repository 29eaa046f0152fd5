import Foundation
import Testing
@testable import StateJournal
@testable import StateJournalEngine
import StateJournalTesting

/// One read session per operation: each operation lists the journal
/// directory once and opens no segment more than it needs, counted through
/// the system-call layer (never timed).
@Suite struct ReadSessionTests {
    /// Counts directory listings and opens of segment files.
    final class Counter: ForwardingSystemCalls, @unchecked Sendable {
        let base: any SystemCalls = RealSystemCalls()
        private let lock = NSLock()
        private var listed: [String] = []
        private var opened: [String] = []
        var listings: [String] { lock.lock(); defer { lock.unlock() }; return listed }
        var segmentOpens: [String] { lock.lock(); defer { lock.unlock() }; return opened }
        func reset() { lock.lock(); listed = []; opened = []; lock.unlock() }
        func listDirectory(_ path: String) -> Result<[String], Errno> {
            lock.lock(); listed.append(path); lock.unlock()
            return base.listDirectory(path)
        }
        func open(_ path: String, flags: Int32, mode: UInt32) -> Result<Int32, Errno> {
            if let name = path.split(separator: "/").last, name.hasPrefix("segment-"), !name.contains(".tmp-") {
                lock.lock(); opened.append(String(name)); lock.unlock()
            }
            return base.open(path, flags: flags, mode: mode)
        }
    }

    struct Cost: CustomStringConvertible {
        var listings: Int
        var opens: Int
        var description: String { "\(listings)/\(opens)" }
    }

    @Test func measure() throws {
        let dir = TemporaryDirectory()
        let path = dir.file("STATE.md")
        let counter = Counter()
        func manager() -> StateManager { smallManager(path, segmentSize: 1024, system: counter) }
        let writer = manager()
        try writer.write(initPayload())
        for i in 2...33 { try writer.write(.noteAdded(text: "note \(i)")) }
        let segments = listDirectory(path + ".journal").filter { $0.hasPrefix("segment-") }
        print("segments:", segments)
        let events = try manager().events()
        let at = events[19].time
        func cost(_ name: String, _ body: (StateManager) throws -> Void) rethrows -> Cost {
            let m = manager()
            counter.reset()
            try body(m)
            let c = Cost(listings: counter.listings.count, opens: counter.segmentOpens.count)
            print("COST \(name): \(c) listings=\(counter.listings.map { $0.split(separator: "/").last ?? "" }) opens=\(counter.segmentOpens)")
            return c
        }
        _ = try cost("show") { _ = try $0.loadState() }
        _ = try cost("show --seq 5 (lib)") { _ = try $0.state(atSeq: 5) }
        _ = try cost("show --seq 5 (cli)") { try $0.refreshProjection(); _ = try $0.state(atSeq: 5) }
        _ = try cost("show --at (lib)") { _ = try $0.state(at: at) }
        _ = try cost("show --at (cli)") { try $0.refreshProjection(); _ = try $0.state(at: at) }
        _ = try cost("log (lib)") { _ = try $0.events(matching: EventFilter()) }
        _ = try cost("log (cli)") { try $0.refreshProjection(); _ = try $0.events(matching: EventFilter()) }
        _ = try cost("log --since (lib)") { _ = try $0.events(matching: EventFilter(since: at)) }
        _ = try cost("blame (lib)") { _ = try $0.blame() }
        _ = try cost("blame (cli)") { try $0.refreshProjection(); _ = try $0.blame() }
        _ = try cost("export (cli)") { try $0.refreshProjection(); _ = try $0.events() }
        _ = try cost("replay (cli)") { try $0.refreshProjection(); _ = try $0.replay() }
        _ = try cost("resume-info") { _ = try $0.resumeInfo() }
        _ = try cost("restore --dry-run") { _ = try $0.planRestore(.seq(5)) }
        _ = try cost("restore") { _ = try $0.restore(.seq(5)) }
    }
}
