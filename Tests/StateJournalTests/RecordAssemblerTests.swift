import Testing
@testable import StateJournalEngine
import StateJournalTesting

/// The assembler hands over records where they lie in each chunk and copies
/// only a record split across chunks: fed in pieces of any size, it must
/// find exactly the records, offsets and end that one scan of the whole
/// region finds, damaged regions included.
@Suite struct RecordAssemblerTests {
    struct Found: Equatable {
        var records: [[UInt8]] = []
        var offsets: [Int] = []
        var end = 0
    }

    static func scanned(_ region: [UInt8], maximumSize: Int) -> Found {
        var found = Found()
        let tail = region.withUnsafeBytes { raw in
            RecordFormat.scan(raw, from: 0, maximumSize: maximumSize) { payload, offset in
                found.records.append(Array(payload))
                found.offsets.append(offset)
            }
        }
        switch tail {
        case .clean: found.end = region.count
        case .torn(let offset, _), .corrupt(let offset, _): found.end = offset
        }
        return found
    }

    static func assembled(_ region: [UInt8], pieces: [Int], maximumSize: Int) -> (Found, clean: Bool, leftover: Int) {
        var found = Found()
        var assembler = RecordAssembler(startingAt: 0, maximumSize: maximumSize)
        var clean = true
        var start = 0
        var piece = 0
        region.withUnsafeBytes { raw in
            while clean && start < raw.count {
                let end = min(start + pieces[piece % pieces.count], raw.count)
                piece += 1
                clean = assembler.feed(UnsafeRawBufferPointer(rebasing: raw[start..<end])) { payload, offset in
                    found.records.append(Array(payload))
                    found.offsets.append(offset)
                }
                start = end
            }
        }
        found.end = assembler.offset
        return (found, clean, assembler.leftover)
    }

    @Test func piecesOfAnySizeFindWhatOneScanFinds() {
        var rng = SeededRandom(seed: 41)
        var checked = 0
        for round in 0..<600 {
            // Records of 1 to 600 bytes, some longer than the limit below.
            var region: [UInt8] = []
            for _ in 0..<Int.random(in: 0...40, using: &rng) {
                let payload = (0..<Int.random(in: 1...600, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
                RecordFormat.appendRecord(payload, to: &region)
            }
            let maximumSize = round % 3 == 0 ? 400 : RecordFormat.defaultMaximumRecordSize
            // Damage: a byte changed, a cut, garbage or zeros at the end, or none.
            switch Int.random(in: 0..<5, using: &rng) {
            case 0 where !region.isEmpty: region[Int.random(in: 0..<region.count, using: &rng)] ^= UInt8.random(in: 1...255, using: &rng)
            case 1 where !region.isEmpty: region.removeLast(Int.random(in: 1...min(region.count, 300), using: &rng))
            case 2: region += (0..<Int.random(in: 1...20, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            case 3: region += [UInt8](repeating: 0, count: Int.random(in: 1...20, using: &rng))
            default: break
            }
            let expected = Self.scanned(region, maximumSize: maximumSize)
            let pieceSets: [[Int]] = [[1], [3, 7], [8], [9], [4096], [region.count + 1],
                                      (0..<8).map { _ in Int.random(in: 1...700, using: &rng) }]
            for pieces in pieceSets {
                let (found, clean, leftover) = Self.assembled(region, pieces: pieces, maximumSize: maximumSize)
                #expect(found == expected, "round \(round), pieces \(pieces)")
                // Readers take bytes after the last record for a tail to classify
                // when the assembler stopped or holds bytes back.
                #expect((found.end == region.count) == (clean && leftover == 0), "round \(round), pieces \(pieces)")
                checked += 1
            }
        }
        #expect(checked == 600 * 7)
    }
}
