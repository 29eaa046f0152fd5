import Foundation
import Testing
@testable import StateJournal
import StateJournalTesting
@testable import StateJournalEngine

/// Inputs the fuzz targets (`Tools/fuzz`, Docs/FUZZING.md) crashed on, kept
/// in `Fixtures/fuzz-regressions/<target>/`, replayed through the same entry
/// points; and, for each bug, what the library does now.
@Suite struct FuzzRegressionTests {
    static let directory = packageRoot + "/Fixtures/fuzz-regressions"

    static func input(_ target: String, _ name: String) throws -> [UInt8] {
        try #require(readBytes("\(directory)/\(target)/\(name)"), "missing fixture \(target)/\(name)")
    }

    static func run(_ target: String, _ bytes: [UInt8]) -> [String] {
        bytes.withUnsafeBytes { FuzzEntryPoints.run(target, $0) } ?? ["unknown target \(target)"]
    }

    @Test func everySavedInputPassesItsTarget() throws {
        var count = 0
        for target in FuzzEntryPoints.targets {
            for name in listDirectory("\(Self.directory)/\(target)") {
                let broken = Self.run(target, try Self.input(target, name))
                #expect(broken.isEmpty, "\(target)/\(name): \(broken)")
                count += 1
            }
        }
        #expect(count >= 10)
    }

    @Test func generatedSeedsPassTheirTargets() throws {
        let fixtures = listDirectory(packageRoot + "/Fixtures/seed-format").compactMap {
            readBytes(packageRoot + "/Fixtures/seed-format/\($0)/STATE.md")
        }
        #expect(fixtures.count >= 5)
        for target in FuzzEntryPoints.targets {
            let seeds = FuzzEntryPoints.seeds(for: target, stateFiles: fixtures)
            #expect(!seeds.isEmpty, "no seeds for \(target)")
            for (i, seed) in seeds.enumerated() {
                let broken = Self.run(target, seed)
                #expect(broken.isEmpty, "\(target) seed \(i): \(broken)")
            }
        }
    }

    // MARK: One test per bug

    /// `UInt64(-1)` trapped while decoding a `state.restored` event.
    @Test func negativeRestoredSeqIsADecodingError() throws {
        let bytes = try Self.input("records", "negative-restored-seq")
        let json = try JSON.parse(Array(bytes.dropFirst()))
        #expect(throws: EventDecodingError.self) { try Event(json: json) }
        #expect(Self.run("records", bytes).isEmpty)
    }

    /// A snapshot whose payload `seq`, state `seq` or idempotency-key seq is
    /// negative trapped; now it is unreadable and passed over.
    @Test(arguments: ["negative-payload-seq", "negative-idempotency-key-seq", "negative-state-seq", "state-the-fold-would-refuse"])
    func damagedSnapshotPayloadIsPassedOver(_ name: String) throws {
        let bytes = try Self.input("snapshot", name)
        #expect(Self.run("snapshot", bytes).isEmpty)
        let file = Self.snapshotFile(payload: Array(bytes.dropFirst()))
        guard case .failure(let problem) = SnapshotFormat.decode(file) else {
            Issue.record("\(name) decoded")
            return
        }
        #expect("\(problem)".count > 10)
    }

    /// A state with `**Status:** Wave 9223372036854775807/9223372036854775807`
    /// overflowed in the progress bar and in `resume-info`'s next wave.
    @Test func hugeWaveNumbersRenderWithoutOverflow() throws {
        let text = String(decoding: try Self.input("statefile", "huge-wave-numbers.md"), as: UTF8.self)
        let state = try #require(try MarkdownParser.parse(text).state())
        // The bar counts tasks (issue 17): this file has none, so 0%.
        #expect(MarkdownRenderer.render(state).contains("`░░░░░░░░░░░░░░░░░░░░` 0%"))
        #expect(ResumeInfo(state).resumeWave == Int.max)
        // Full-width arithmetic: the largest counts do not overflow.
        #expect(StateMarkdown.progressLine(completed: Int.max, total: Int.max) == "**Progress:** `████████████████████` 100%")
        #expect(StateMarkdown.progressLine(completed: Int.max - 1, total: Int.max) == "**Progress:** `███████████████████░` 99%")
        #expect(StateMarkdown.progressLine(completed: 2, total: 4) == "**Progress:** `██████████░░░░░░░░░░` 50%")
        #expect(StateMarkdown.progressLine(completed: 1, total: 3) == "**Progress:** `██████░░░░░░░░░░░░░░` 33%")
        #expect(Self.run("statefile", Array(text.utf8)).isEmpty)
    }

    /// A sealed header claiming last seq 2⁶⁴−1 overflowed `lastSeq + 1`.
    @Test func sealedHeaderWithLastSeqMaxIsCorruption() throws {
        let bytes = try Self.input("segment", "sealed-header-last-seq-max")
        #expect(Self.run("segment", bytes).isEmpty)
        let error = try Self.readError(segmentInput: bytes)
        #expect(error.code == .corruption)
        #expect(error.message.contains("its header does not match its name"))
    }

    /// A segment named `segment-00000000000000000000.log` (seq 0) underflowed
    /// `next - 1`; one named 2⁶⁴−1 overflowed `next + 1` in a writer's read.
    @Test(arguments: ["raw-segment-named-seq-0", "sealed-segment-named-seq-0", "raw-segment-named-seq-max"])
    func segmentNamedOutsideTheSeqRangeIsCorruption(_ name: String) throws {
        let bytes = try Self.input("segment", name)
        #expect(Self.run("segment", bytes).isEmpty)
        let error = try Self.readError(segmentInput: bytes)
        #expect(error.code == .corruption)
        #expect(error.message.contains("sequence numbers run from 1 to"))
        #expect(error.path?.hasSuffix(".log") == true || error.path?.hasSuffix(".log.zst") == true)
    }

    // MARK: Helpers

    /// A snapshot file around `payload`, with the right size and checksums.
    static func snapshotFile(payload: [UInt8]) -> [UInt8] {
        var header = SnapshotFormat.magic
        header.appendLE(SnapshotFormat.version)
        header.appendLE(UInt16(0))
        header.appendLE(UInt64(1))
        header.appendLE(UInt64(0))
        header.appendLE(UInt64(0))
        header.appendLE(UInt64(payload.count))
        header.appendLE(CRC32C.mask(CRC32C.checksum(payload)))
        header.appendLE(CRC32C.mask(CRC32C.checksum(header)))
        return header + payload
    }

    /// `renderProblems` (every target's check of a folded state) can fail: a
    /// state the fold would never accept, whose STATE.md is not valid,
    /// is reported.
    @Test func renderProblemsReportsAStateThatDoesNotRenderValid() throws {
        let good = try #require(FuzzEntryPoints.sampleState)
        #expect(FuzzEntryPoints.renderProblems(good) == [])
        var bad = good
        bad.workflowID = "wf`\n\n# Another document\n\n## Tasks"
        #expect(!FuzzEntryPoints.renderProblems(bad).isEmpty)
    }

    /// The segment target tells corruption (a damaged record with valid ones
    /// after it: refused, never cut) from a torn tail (cut under the lock
    /// exactly where the damage starts); both inputs pass, and a reader that
    /// cut corruption as a torn tail would break the first.
    @Test func theSegmentTargetTellsCorruptionFromATornTail() {
        let newline: [UInt8] = [UInt8(ascii: "\n")]
        let events = (1...3).map { sampleEvent(UInt64($0)).json().encoded() }
        let damage = Array("#XXXXXXXXXXXX".utf8)
        let corrupt: [UInt8] = [5] + events[0] + newline + damage + newline + events[1] + newline + events[2]
        let torn: [UInt8] = [5] + events[0] + newline + events[1] + newline + damage
        #expect(Self.run("segment", corrupt) == [])
        #expect(Self.run("segment", torn) == [])
        // The same reader over the corrupt segment refuses it with `.corruption`.
        #expect((try? Self.readError(segmentInput: corrupt).code) == .corruption)
    }

    /// The error a writer's read of the segment a `segment` input describes throws.
    static func readError(segmentInput bytes: [UInt8]) throws -> StateJournalError {
        let mode = bytes[0]
        let named: UInt64 = [1, 1, 0, .max][Int(mode >> 3 & 3)]
        var file = RecordFormat.encodeHeader(.init(firstSeq: named, created: FuzzEntryPoints.time))
        for line in bytes.dropFirst().split(separator: UInt8(ascii: "\n")) { RecordFormat.appendRecord(Array(line), to: &file) }
        let sealed = mode & 3 == 3
        if sealed { file = FuzzEntryPoints.sealed(file, firstSeq: named, lyingAboutLastSeq: mode & 0x20 != 0) }
        let sys = MemorySystemCalls()
        let name = sealed ? FileJournal.sealedName(firstSeq: named) : FileJournal.segmentName(firstSeq: named)
        sys.install("/t/STATE.md.journal/" + name, file)
        let journal = FileJournal(statePath: "/t/STATE.md", fileSystem: FileSystem(sys), logger: FuzzEntryPoints.quiet)
        do {
            try journal.withWriteLock(LockPolicy(timeout: 0), command: "test") { try journal.readEvents(after: .max) { _ in } }
        } catch let error as StateJournalError {
            return error
        }
        throw StateJournalError(.io, "no error")
    }
}
