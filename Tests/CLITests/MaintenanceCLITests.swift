import Foundation
import Testing
import StateJournal

/// `compact` and `verify` through the real executable.
@Suite struct MaintenanceCLITests {
    let ws = Workspace()

    func history() throws {
        #expect(try ws.sj("init", "--id", "wf", "--name", "Maintenance", "--plan", "-", stdin: planJSON(waves: 2, perWave: 5)).status == 0)
        for i in 1...5 { #expect(try ws.sj("task", "complete", "w1_t\(i)", "--commit", "c\(i)").status == 0) }
    }

    var journal: String { ws.state + ".journal" }
    func files(_ suffix: String) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: journal)) ?? []).filter { $0.hasSuffix(suffix) }.sorted()
    }

    @Test func compactSealsWithZstdAndVerifyPasses() throws {
        try history()
        let r = try ws.sj("compact", "--json")
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try JSON.parse(r.stdout)["seq"]?.intValue == 6)
        let sealed = files(".log.zst")
        #expect(sealed.count == 1)
        let zstd = Process()
        zstd.executableURL = URL(fileURLWithPath: "/usr/bin/zstd")
        zstd.arguments = ["-q", "-t", journal + "/" + sealed[0]]
        try zstd.run(); zstd.waitUntilExit()
        #expect(zstd.terminationStatus == 0)
        #expect(files(".snap").count == 1)
        let v = try ws.sj("verify", "--json")
        #expect(v.status == 0, "\(v.stdout)\(v.stderr)")
        #expect(try JSON.parse(v.stdout)["ok"]?.boolValue == true)
        // Writes go on in a new segment; the state is unchanged by compaction.
        #expect(try ws.sj("task", "start", "w2_t1").status == 0)
        #expect(try ws.showJSON()["seq"]?.intValue == 7)
    }

    @Test func verifyExitsFiveNamingTheCorruptFileAndChangesNothing() throws {
        try history()
        #expect(try ws.sj("compact").status == 0)
        #expect(try ws.sj("note", "after").status == 0)
        let file = journal + "/" + files(".log.zst")[0]
        var bytes = try #require(FileManager.default.contents(atPath: file))
        bytes[bytes.count / 2] ^= 0x40
        FileManager.default.createFile(atPath: file, contents: bytes)
        let before = ws.snapshot()
        let r = try ws.sj("verify")
        #expect(r.status == 5)
        #expect(r.stdout.contains(file))
        #expect(ws.snapshot() == before)
        // Any other command that needs that history refuses too, with exit 5.
        #expect(try ws.sj("export").status == 5)
    }

    @Test func verifyRepairsATornTailAndExitsZero() throws {
        try history()
        let raw = journal + "/" + files(".log")[0]
        let intact = try #require(FileManager.default.contents(atPath: raw))
        let handle = try #require(FileHandle(forWritingAtPath: raw))
        handle.seekToEndOfFile()
        handle.write(Data([0x40, 0, 0, 0, 1, 2, 3]))  // half a record: an interrupted append
        try handle.close()
        #expect(FileManager.default.contents(atPath: raw)?.count == intact.count + 7)
        let r = try ws.sj("verify")
        #expect(r.status == 0, "\(r.stdout)\(r.stderr)")
        // The torn tail was cut: the segment is byte for byte what it was before the interrupted append.
        #expect(FileManager.default.contents(atPath: raw) == intact)
        #expect(try ws.showJSON()["seq"]?.intValue == 6)
        #expect(try ws.sj("note", "next").status == 0)
        #expect(try ws.showJSON()["seq"]?.intValue == 7)
    }

    @Test func verifyRegeneratesADamagedStateFile() throws {
        try history()
        FileManager.default.createFile(atPath: ws.state, contents: Data("# hand edit\n".utf8))
        let r = try ws.sj("verify")
        #expect(r.status == 0)
        #expect(try ws.sj("validate", ws.state).status == 0)
        let kept = try FileManager.default.contentsOfDirectory(atPath: ws.path).filter { $0.hasPrefix("STATE.md.damaged-") }
        #expect(kept.count == 1)
    }
}
