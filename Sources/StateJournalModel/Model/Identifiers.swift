/// Rules for identifiers (workflow ids, task ids, commit hashes).
///
/// Identifiers are shown verbatim in STATE.md (inside `**…**` and back-ticks),
/// so they may not contain white space, control characters or the markdown
/// characters that would end those spans. Free text (names, descriptions,
/// notes, errors, metadata) has no such limits: it is escaped instead.
package enum Identifier {
    package static let maximumLength = 256
    package static let forbidden: Set<Character> = ["`", "*", "\\", "[", "]", "<", ">", "|", ","]

    /// Why `value` is not a valid identifier, or nil when it is.
    package static func problem(_ value: String) -> String? {
        if value.isEmpty { return "is empty" }
        if value.utf8.count > maximumLength { return "is longer than \(maximumLength) bytes" }
        // Fast path: printable ASCII without a forbidden character (over
        // the contiguous bytes: a replay checks every task id and commit).
        var contiguous = value
        if contiguous.withUTF8({ $0.allSatisfy(isPlainByte) }) { return nil }
        for ch in value {
            if ch.isWhitespace { return "contains white space" }
            if ch.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
                return "contains a control character"
            }
            if forbidden.contains(ch) { return "contains '\(ch)' (not allowed: white space and ` * \\ [ ] < > | ,)" }
        }
        return nil
    }

    /// Printable ASCII other than ` * \ [ ] < > | , (the fast path's bytes).
    @inline(__always)
    private static func isPlainByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "`"), UInt8(ascii: "*"), UInt8(ascii: "\\"), UInt8(ascii: "["), UInt8(ascii: "]"),
             UInt8(ascii: "<"), UInt8(ascii: ">"), UInt8(ascii: "|"), UInt8(ascii: ","): return false
        default: return byte > 0x20 && byte < 0x7F
        }
    }

    package static func check(_ value: String, as what: String) throws(StateJournalError) {
        if let problem = problem(value) {
            throw .badInput("\(what) '\(value.prefix(80))' \(problem); use letters, digits and - _ . : / @ + = #")
        }
    }
}
