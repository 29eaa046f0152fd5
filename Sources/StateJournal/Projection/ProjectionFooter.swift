import StateJournalEngine

/// The footer StateJournal writes as the last line of STATE.md
/// (`<!-- statejournal v1 seq=N event=xxxxxxxx crc32c=xxxxxxxx -->`): the
/// journal position the file shows (the last event's sequence number and
/// identity) and a CRC-32C of every byte before that line.
///
/// Its one owner: the renderer signs a body with it, the parser and
/// validator read it, and the projector (``StateManager``'s
/// `publish`) reads it to decide whether STATE.md shows the journal.
package enum ProjectionFooter {
    /// The start of the footer line; a file that has one was written by
    /// StateJournal, and its user text is escaped.
    package static let prefix = "<!-- statejournal"
    package static let version = "v1"
    /// The footer's shape, for messages.
    package static let template = "<!-- statejournal v1 seq=N event=XXXXXXXX crc32c=XXXXXXXX -->"
    /// How much of a file's end ``claimedPosition(ofFile:in:)`` reads: more
    /// than the longest footer line.
    package static let maximumLineLength = 200

    // MARK: Writing

    /// `body` — the rendered file up to its footer, ending with a newline —
    /// followed by the footer line naming `seq` and `event` and checksumming
    /// `body`.
    package static func signed(_ body: String, seq: UInt64, event: UInt32) -> String {
        body + line(seq: seq, event: event, crc32c: CRC32C.checksum(body.utf8)) + "\n"
    }

    /// The footer line: `event` is the identity of event `seq` (left out
    /// when unknown, as in files written before identities existed).
    package static func line(seq: UInt64, event: UInt32 = 0, crc32c: UInt32) -> String {
        let identity = event == 0 ? "" : " event=\(StateMarkdown.hex8(event))"
        return "\(prefix) \(version) seq=\(seq)\(identity) crc32c=\(StateMarkdown.hex8(crc32c)) -->"
    }

    // MARK: Reading

    /// The sequence number, event identity (nil when the footer has none)
    /// and checksum of a well-formed footer line, or nil.
    package static func parse(_ line: String) -> (seq: UInt64, crc32c: UInt32, event: UInt32?)? {
        let head = "\(prefix) \(version) seq="
        let tail = " -->"
        guard line.hasPrefix(head), line.hasSuffix(tail) else { return nil }
        var fields = line.dropFirst(head.count).dropLast(tail.count)
            .split(separator: " ", omittingEmptySubsequences: false)
        guard fields.count == 2 || fields.count == 3, let seqText = fields.first, !seqText.isEmpty,
              seqText.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }),
              let seq = UInt64(seqText), let crc = hexField(fields.removeLast(), "crc32c=")
        else { return nil }
        var event: UInt32?
        if fields.count == 2 {
            guard let identity = hexField(fields[1], "event="), identity != 0 else { return nil }
            event = identity
        }
        return (seq, crc, event)
    }

    /// The value of `name=xxxxxxxx` (eight lower-case hex digits), or nil.
    private static func hexField(_ field: Substring, _ name: String) -> UInt32? {
        guard field.hasPrefix(name) else { return nil }
        let text = field.dropFirst(name.count)
        guard text.utf8.count == 8,
              text.utf8.allSatisfy({ (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0)
                  || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains($0) })
        else { return nil }
        return UInt32(text, radix: 16)
    }

    package enum Check: Equatable, Sendable {
        case valid(seq: UInt64)
        case invalid(String)
    }

    /// Whether `bytes` end with a footer whose checksum matches the rest.
    /// Cheaper than parsing the file: only the last line is read.
    package static func check(_ bytes: [UInt8]) -> Check {
        switch inspect(bytes) {
        case .success(let footer): return .valid(seq: footer.seq)
        case .failure(let reason): return .invalid(reason.message)
        }
    }

    package struct Reason: Error { var message: String }

    /// The footer's sequence number and event identity when it is intact.
    package static func inspect(_ bytes: [UInt8]) -> Result<(seq: UInt64, event: UInt32?), Reason> {
        var end = bytes.count
        guard end > 0, bytes[end - 1] == UInt8(ascii: "\n") else {
            return .failure(Reason(message: bytes.isEmpty ? "the file is empty" : "the file does not end with a newline (truncated?)"))
        }
        end -= 1
        var start = end
        while start > 0 && bytes[start - 1] != UInt8(ascii: "\n") { start -= 1 }
        guard let footer = parse(String(decoding: bytes[start..<end], as: UTF8.self)) else {
            return .failure(Reason(message: "the last line is not a statejournal footer"))
        }
        let actual = bytes.withUnsafeBytes { CRC32C.checksum(UnsafeRawBufferPointer(rebasing: $0[0..<start])) }
        guard actual == footer.crc32c else { return .failure(Reason(message: "the checksum in the footer does not match the content")) }
        return .success((footer.seq, footer.event))
    }

    /// The seq and event identity the last line of a file claims, from the
    /// file's last bytes (`tail`, at most ``maximumLineLength``) only — not
    /// checked against the content; nil when there is no footer.
    package static func claimedPosition(inTail tail: [UInt8]) -> (seq: UInt64, event: UInt32?)? {
        guard tail.last == UInt8(ascii: "\n") else { return nil }
        let lines = tail.dropLast().split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        guard let last = lines.last, let footer = parse(String(decoding: last, as: UTF8.self)) else { return nil }
        return (footer.seq, footer.event)
    }
}
