import StateJournalModel
extension FileJournal {
    /// Reads every segment (decompressing sealed ones and checking their
    /// checksums), every record and every snapshot, changing nothing.
    package func verify() throws -> [JournalProblem] {
        var problems: [JournalProblem] = []
        let list = try listing()
        for stray in list.strays {
            problems.append(JournalProblem(file: path(stray), message: "not part of the journal (left alone)", isCorruption: false))
        }
        var expected: UInt64?
        for (i, segment) in list.segments.enumerated() {
            let isLast = i == list.segments.count - 1
            let name = segment.raw ?? segment.sealed ?? ""
            if let e = expected, e != segment.firstSeq {
                problems.append(JournalProblem(file: path(name), message: "starts at seq \(segment.firstSeq) but seq \(e) was expected: events \(e)…\(segment.firstSeq - 1) are missing"))
            }
            if let sealed = segment.sealed {
                do {
                    let header = try scanSealed(sealed, firstSeq: segment.firstSeq, previous: nil, after: 0, verifyAll: true) { _ in }
                    expected = header.lastSeq + 1
                } catch let error as StateJournalError {
                    problems.append(JournalProblem(file: path(sealed), message: error.message))
                    expected = nil
                }
            }
            if let raw = segment.raw {
                do {
                    let last = try scanRaw(raw, firstSeq: segment.firstSeq, isLast: isLast && segment.sealed == nil, after: 0) { _ in }
                    expected = last + 1
                } catch let error as StateJournalError {
                    problems.append(JournalProblem(file: path(raw), message: error.message))
                    expected = nil
                }
            }
        }
        for snapshot in list.snapshots {
            guard let bytes = try fs.readFileIfExists(path(snapshot.name)) else { continue }
            if case .failure(let problem) = SnapshotFormat.decode(bytes) {
                problems.append(JournalProblem(file: path(snapshot.name), message: "snapshot at seq \(snapshot.seq) is unreadable: \(problem)"))
            }
        }
        return problems
    }
}
