#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Logging

/// How STATE.md on disk relates to the journal.
enum ProjectionStatus: Equatable {
    /// Shows the journal's last event; its checksum matches.
    case current
    /// Missing: there is nothing to keep, only to regenerate.
    case missing
    /// Intact but behind the journal (a writer stopped between appending
    /// and replacing STATE.md).
    case stale(seq: UInt64)
    /// Truncated, garbled or edited by hand: kept aside, then regenerated.
    case damaged(String)
}

extension StateManager {
    /// Compares STATE.md's footer (sequence number and checksum) with the journal.
    func projectionStatus(expectedSeq: UInt64) throws -> ProjectionStatus {
        guard let bytes = try fs.readFileIfExists(statePath) else { return .missing }
        switch ProjectionFooter.check(bytes) {
        case .valid(let seq): return seq == expectedSeq ? .current : .stale(seq: seq)
        case .invalid(let reason): return .damaged(reason)
        }
    }

    /// Makes STATE.md show `state` (the journal at `lastSeq`); call under the
    /// lock. A damaged file is first kept as `STATE.md.damaged-<UTC time>`.
    func healProjection(_ state: WorkflowState, lastSeq: UInt64) throws {
        let status = try projectionStatus(expectedSeq: lastSeq)
        var backup: String? = backupPath
        switch status {
        case .current:
            return
        case .missing:
            logger.notice("STATE.md was missing; regenerating it from the journal", metadata: ["path": "\(statePath)"])
        case .stale(let seq):
            logger.notice("STATE.md was behind the journal; regenerating it",
                          metadata: ["path": "\(statePath)", "fileSeq": "\(seq)", "journalSeq": "\(lastSeq)"])
        case .damaged(let reason):
            let kept = try keepDamagedCopy()
            backup = nil  // the backup keeps the last good projection
            logger.warning("STATE.md was damaged or edited by hand; kept it and regenerated it from the journal",
                           metadata: ["path": "\(statePath)", "reason": "\(reason)", "keptAs": "\(kept)"])
        }
        try fs.atomicReplace(statePath, with: Array(MarkdownRenderer.render(state).utf8), backup: backup)
    }

    /// Keeps the current STATE.md under a name never used before.
    func keepDamagedCopy() throws -> String {
        let base = statePath + ".damaged-" + Timestamp.now().compactUTC
        var name = base
        var attempt = 1
        while true {
            do {
                try fs.keepCopy(of: statePath, as: name, replacing: false)
                try fs.fsyncDirectory(FileSystem.directory(of: statePath))
                return name
            } catch {
                guard error.errno == .fileExists, attempt < 1000 else { throw error }
                attempt += 1
                name = base + "-\(attempt)"
            }
        }
    }
}

/// Checks the footer StateJournal writes as the last line of STATE.md
/// (`<!-- statejournal v1 seq=N crc32c=XXXXXXXX -->`): the journal position
/// the file shows and a CRC-32C of every byte before that line.
public enum ProjectionFooter {
    public enum Check: Equatable, Sendable {
        case valid(seq: UInt64)
        case invalid(String)
    }

    /// Whether `bytes` end with a footer whose checksum matches the rest.
    /// Cheaper than parsing the file: only the last line is read.
    public static func check(_ bytes: [UInt8]) -> Check {
        var end = bytes.count
        guard end > 0, bytes[end - 1] == UInt8(ascii: "\n") else {
            return .invalid(bytes.isEmpty ? "the file is empty" : "the file does not end with a newline (truncated?)")
        }
        end -= 1
        var start = end
        while start > 0 && bytes[start - 1] != UInt8(ascii: "\n") { start -= 1 }
        guard let footer = StateMarkdown.parseFooter(String(decoding: bytes[start..<end], as: UTF8.self)) else {
            return .invalid("the last line is not a statejournal footer")
        }
        let actual = bytes.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[0..<start])) }
        guard actual == footer.crc32c else { return .invalid("the checksum in the footer does not match the content") }
        return .valid(seq: footer.seq)
    }
}

extension Timestamp {
    /// `20261127T232825.123456Z`: sortable and safe in a file name.
    var compactUTC: String {
        rfc3339.filter { $0 != "-" && $0 != ":" }
    }
}
