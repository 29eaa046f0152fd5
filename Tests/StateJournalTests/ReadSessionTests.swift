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

    /// A journal of 33 events in five segments (four sealed, the active
    /// one from seq 33), snapshots at the start of each new segment.
    struct Journal {
        let dir = TemporaryDirectory()
        let counter = Counter()
        var path: String { dir.file("STATE.md") }
        func manager() -> StateManager { smallManager(path, segmentSize: 1024, system: counter) }
        var segments: [String] { listDirectory(path + ".journal").filter { $0.hasPrefix("segment-") } }
        /// The segment file holding `seq`.
        func segment(of seq: UInt64) -> String {
            segments.last { UInt64($0.dropFirst("segment-".count).prefix(20))! <= seq }!
        }

        init() throws {
            let writer = smallManager(dir.file("STATE.md"), segmentSize: 1024)
            try writer.write(initPayload())
            for i in 2...33 { try writer.write(.noteAdded(text: "note \(i)")) }
        }

        /// What `body` did through a manager of its own (as a command does).
        func cost(_ body: (StateManager) throws -> Void) throws -> (listings: [String], opens: [String]) {
            let m = manager()
            counter.reset()
            try body(m)
            return (counter.listings, counter.segmentOpens)
        }
    }

    /// Every operation lists the journal directory once — `show`, `show
    /// --seq`, `show --at`, `restore --dry-run`, `restore` (plan and write
    /// and STATE.md), `log`, `log --since`, `blame`, `export`, `replay`,
    /// `resume-info`, a write — and opens each segment at most once; reads
    /// of the past open no segment after their point. (Before one read session per
    /// operation: `show` listed 3 times, `show --seq 5` 3 times opening all
    /// 5 segments, `show --at` 5 times with 11 opens, `restore` 10 times
    /// with 11 opens; and the command line healed STATE.md through a second
    /// store besides.)
    @Test func eachOperationListsTheJournalOnceAndOpensEachSegmentOnce() throws {
        let journal = try Journal()
        #expect(journal.segments.count == 5, "\(journal.segments)")
        let active = journal.segment(of: 33)
        let events = try journal.manager().events()
        let at = events[19].time  // seq 20, in the third segment
        let all = Set(journal.segments)
        let operations: [(name: String, body: (StateManager) throws -> Void, opens: Set<String>)] = [
            ("show", { _ = try $0.loadState() }, [active]),
            ("resume-info", { _ = try $0.resumeInfo() }, [active]),
            ("show --seq 5", { _ = try $0.state(atSeq: 5) }, [active, journal.segment(of: 5)]),
            ("show --at", { _ = try $0.state(at: at) }, all),
            ("log", { _ = try $0.events(matching: EventFilter()) }, all),
            ("log --since", { _ = try $0.events(matching: EventFilter(since: at)) }, all),
            ("export", { _ = try $0.events() }, all),
            ("blame", { _ = try $0.blame() }, all),
            ("replay", { _ = try $0.replay() }, all),
            ("replay --to-seq 5", { _ = try $0.replay(toSeq: 5) }, [active, journal.segment(of: 5)]),
            ("restore --dry-run", { _ = try $0.planRestore(.seq(5)) }, [active, journal.segment(of: 5)]),
            ("note", { _ = try $0.addNote("one more") }, [active]),
            ("restore", { _ = try $0.restore(.seq(5)) }, [active, journal.segment(of: 5)]),
        ]
        for operation in operations {
            let (listings, opens) = try journal.cost(operation.body)
            #expect(listings == [journal.path + ".journal"], "\(operation.name): \(listings.count) listings: \(listings)")
            #expect(Set(opens).isSubset(of: operation.opens), "\(operation.name) opened \(Set(opens).subtracting(operation.opens).sorted())")
            // A write opens the active segment to read and append to it under
            // the lock, and again for STATE.md's rewrite, up to the new boundary
            // (a restore also for its plan).
            let limit = ["note": [active: 2], "restore": [active: 3]][operation.name] ?? [:]
            for (name, count) in Dictionary(opens.map { ($0, 1) }, uniquingKeysWith: +) where count > limit[name, default: 1] {
                Issue.record("\(operation.name) opened \(name) \(count) times")
            }
        }
        // The note and the restore were written, and STATE.md shows them.
        #expect(try journal.manager().loadState()?.seq == 35)
        #expect(readText(journal.path)?.contains("seq=35 ") == true)
    }

    /// Every read of the library heals STATE.md, as the command line's read
    /// commands do (Docs/GUARANTEES.md, Self-healing): a library caller of
    /// `blame()` gets a missing file regenerated, a damaged one kept aside
    /// and regenerated, and an edited one recorded as events.
    @Test(arguments: ["show", "show --seq", "show --at", "log", "export", "blame", "replay", "time", "restore --dry-run"])
    func everyReadOfTheLibraryHealsStateMd(_ read: String) throws {
        let journal = try Journal()
        let good = try #require(readText(journal.path))
        let at = try journal.manager().events()[19].time
        func run() throws {
            let m = journal.manager()
            switch read {
            case "show": _ = try m.loadState()
            case "show --seq": _ = try m.state(atSeq: 5)
            case "show --at": _ = try m.state(at: at)
            case "log": _ = try m.events(matching: EventFilter(actor: "nobody"))
            case "export": _ = try m.events()
            case "blame": _ = try m.blame()
            case "replay": _ = try m.replay(toSeq: 3)
            case "time": _ = try m.lastSeq(atOrBefore: at)
            default: _ = try m.planRestore(.seq(5))
            }
        }
        try FileManager.default.removeItem(atPath: journal.path)
        try run()
        #expect(readText(journal.path) == good, "\(read) after a delete")
        // A file that does not parse: kept aside, regenerated.
        writeBytes(journal.path, Array(good.replacingOccurrences(of: "# Workflow:", with: "# Workflw:").utf8))
        try run()
        #expect(readText(journal.path) == good, "\(read) after damage")
        #expect(listDirectory(journal.dir.path).contains { $0.hasPrefix("STATE.md.damaged-") })
        // An edit that parses: recorded as events first (EditMergeTests), then rendered.
        writeBytes(journal.path, Array(good.replacingOccurrences(of: "note 7", with: "edited by hand").utf8))
        try run()
        let after = try #require(readText(journal.path))
        #expect(after != good && after.contains("edited by hand") && !after.contains("- note 7\n"), "\(read) after an edit")
        #expect(try journal.manager().events().suffix(2).allSatisfy { $0.via == "edit" })
    }

    /// A listing kept from an earlier look is not used over a seal another
    /// writer left half-done (its sealed copy renamed into place, the raw
    /// file not yet removed — here put back as the same file): the writer
    /// lists anew, finishes the seal and appends to a new segment. Appended
    /// to the raw file instead, the event would be removed with it when the
    /// next writer finishes the seal.
    @Test func aKeptListingIsNotUsedOverAHalfDoneSeal() throws {
        let journal = try Journal()
        let store = FileJournal(statePath: journal.path)
        let last = try store.readEvents(after: 0) { _ in }  // a read session: its listing is kept
        #expect(last == 33)
        let raw = journal.path + ".journal/" + journal.segment(of: 33)
        #expect(raw.hasSuffix(".log"))
        // Another writer seals the active segment and is killed before it
        // removes the raw file (put back: same file, same inode).
        #expect(link(raw, journal.dir.file("raw-copy")) == 0)
        let other = FileJournal(statePath: journal.path)
        try other.withWriteLock(LockPolicy(timeout: 5), command: "sealer") { try other.sealActiveSegment() }
        #expect(rename(journal.dir.file("raw-copy"), raw) == 0)
        // The store with the kept listing writes event 34.
        try store.withWriteLock(LockPolicy(timeout: 5), command: "writer") {
            let at = try store.readEvents(after: .max) { _ in }
            try store.append([sampleEvent(at + 1, .noteAdded(text: "after the half-done seal"))])
        }
        // The next writer finishes whatever seal is left; event 34 stays.
        let next = FileJournal(statePath: journal.path)
        try next.withWriteLock(LockPolicy(timeout: 5), command: "next") { _ = try next.readEvents(after: .max) { _ in } }
        var seqs: [UInt64] = []
        try FileJournal(statePath: journal.path).readEvents(after: 0) { seqs.append($0.seq) }
        #expect(seqs == Array(1...34))
    }
}
