import StateJournalEngine
/// The vocabulary of STATE.md (Docs/FORMAT.md, STATE.md), shared by ``MarkdownRenderer``,
/// ``MarkdownParser`` and ``MarkdownValidator`` so that what one writes the
/// others read.
package enum StateMarkdown {
    package static let titlePrefix = "# Workflow:"
    package static let workflowIDLabel = "**Workflow ID:**"
    package static let statusLabel = "**Status:**"
    package static let startedLabel = "**Started:**"
    package static let updatedLabel = "**Updated:**"
    package static let progressLabel = "**Progress:**"
    package static let rule = "---"
    package static let wavePrefix = "### Wave "
    package static let sectionPrefix = "## "
    package static let commitLabel = "- Commit:"
    package static let filesLabel = "- Files:"
    package static let errorLabel = "- Error:"
    package static let dependsOnLabel = "- Depends on:"
    package static let ownerLabel = "- Owner:"
    package static let leaseLabel = "- Lease until:"
    /// The indentation of a task's detail lines.
    package static let detailIndent = "  "
    /// How many of a task's files STATE.md shows.
    package static let filesShown = 3
    package static let progressCells = 20

    /// `label` followed by a space and `text`, or `label` alone when `text` is
    /// empty, so that no line ends in white space.
    package static func labelled(_ label: String, _ text: String) -> String {
        text.isEmpty ? label : label + " " + text
    }

    /// "1 task", "2 tasks".
    package static func taskCount(_ n: Int) -> String { n == 1 ? "1 task" : "\(n) tasks" }

    /// The wave a task belongs to when its section has no `### Wave` header:
    /// the current wave, or wave 1 before the first wave starts.
    package static func defaultWave(currentWave: Int) -> Int { max(currentWave, 1) }

    /// `**Progress:** \`████░░…\` P%` for `completed` of `total` tasks.
    ///
    /// The ratio is completed tasks over all tasks (Docs/FORMAT.md, STATE.md): the earlier
    /// tool drew the `Wave C/T` of the status line, which showed 100% while
    /// tasks were still open; its readers ignore the bar. No tasks: 0%.
    /// `completed` is clamped to 0…`total`.
    package static func progressLine(completed: Int, total: Int) -> String {
        let done = total > 0 ? min(max(completed, 0), total) : 0
        // floor(done · n / total) without overflow.
        func scaled(_ n: Int) -> Int { total > 0 ? total.dividingFullWidth(done.multipliedFullWidth(by: n)).quotient : 0 }
        let filled = scaled(progressCells)
        let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: progressCells - filled)
        return "\(progressLabel) `\(bar)` \(scaled(100))%"
    }

    /// The progress line of `state`: its completed tasks over all its tasks.
    package static func progressLine(of state: WorkflowState) -> String {
        progressLine(completed: state.tasks.reduce(0) { $0 + ($1.status == .completed ? 1 : 0) }, total: state.tasks.count)
    }

    /// Whether `line` has the shape of a progress line (values are not checked).
    package static func isProgressLine(_ line: String) -> Bool {
        guard line.hasPrefix(progressLabel + " `") else { return false }
        let scalars = Array(line.unicodeScalars.dropFirst(progressLabel.unicodeScalars.count + 2))
        guard scalars.count > progressCells + 2,
              scalars[0..<progressCells].allSatisfy({ $0 == "█" || $0 == "░" }),
              scalars[progressCells] == "`", scalars[progressCells + 1] == " ", scalars.last == "%"
        else { return false }
        let digits = scalars[(progressCells + 2)..<(scalars.count - 1)]
        return !digits.isEmpty && digits.allSatisfy { ("0"..."9").contains($0) }
    }

    /// Whether `text` is a local time exactly as STATE.md shows it:
    /// `YYYY-MM-DD HH:MM:SS`.
    package static func isLocalDateTime(_ text: String) -> Bool {
        text.utf8.count == 19 && Array(text.utf8)[10] == UInt8(ascii: " ") && Timestamp(parsing: text) != nil
    }

    /// Eight lower-case hex digits.
    package static func hex8(_ value: UInt32) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 8 - digits.count) + digits
    }
}

/// The sections of STATE.md, in the order they appear.
package enum StateFileSection: CaseIterable {
    case completed, inProgress, pending, failed, notes, metadata

    package var title: String {
        switch self {
        case .completed: return "Completed"
        case .inProgress: return "In Progress"
        case .pending: return "Pending"
        case .failed: return "Failed"
        case .notes: return "Notes"
        case .metadata: return "Metadata"
        }
    }

    package var emoji: String? {
        switch self {
        case .completed: return "✅"
        case .inProgress: return "🔄"
        case .pending: return "📋"
        case .failed: return "❌"
        case .notes, .metadata: return nil
        }
    }

    /// Its name as a ``FreeSection/after`` place.
    package var place: String {
        switch self {
        case .completed: return "completed"
        case .inProgress: return "in_progress"
        case .pending: return "pending"
        case .failed: return "failed"
        case .notes: return "notes"
        case .metadata: return "metadata"
        }
    }

    /// The status of the tasks listed in this section; nil for notes and metadata.
    package var status: TaskStatus? {
        switch self {
        case .completed: return .completed
        case .inProgress: return .inProgress
        case .pending: return .pending
        case .failed: return .failed
        case .notes, .metadata: return nil
        }
    }

    /// What goes between the brackets of a task's checkbox in this section.
    package var checkbox: Character {
        switch self {
        case .completed: return "x"
        case .inProgress: return "~"
        default: return " "
        }
    }

    /// Whether tasks are grouped under `### Wave W` even when they are all in
    /// the current wave.
    package var alwaysGroupsByWave: Bool { self == .pending }

    /// The heading line, e.g. `## ✅ Completed (3 tasks)`.
    package func heading(taskCount: Int) -> String {
        let name = emoji.map { "\($0) \(title)" } ?? title
        return status == nil ? StateMarkdown.sectionPrefix + name
            : StateMarkdown.sectionPrefix + name + " (\(StateMarkdown.taskCount(taskCount)))"
    }

    /// What a `## ` heading says, read leniently: the emoji may be missing or
    /// carry a variation selector, and "(1 tasks)" (the earlier tool's
    /// spelling) is accepted.
    package enum Heading: Equatable {
        case section(StateFileSection, count: Int?)
        case malformedCount(StateFileSection)
        case unknown
    }

    /// Reads the text of a heading after `## `.
    package static func heading(_ heading: Substring) -> Heading {
        let text = String(String.UnicodeScalarView(heading.unicodeScalars.filter { $0 != "\u{FE0F}" }))
        for section in allCases {
            let names = [section.emoji.map { "\($0) \(section.title)" }, section.title].compactMap { $0 }
            guard let name = names.first(where: { text.hasPrefix($0) }) else { continue }
            let rest = text.dropFirst(name.count)
            if rest.isEmpty { return .section(section, count: nil) }
            guard section.status != nil, rest.hasPrefix(" ("), rest.hasSuffix(")") else { return .unknown }
            let words = rest.dropFirst(2).dropLast().split(separator: " ", omittingEmptySubsequences: false)
            guard words.count == 2, let count = Int(words[0]), count >= 0, words[1] == "task" || words[1] == "tasks"
            else { return .malformedCount(section) }
            return .section(section, count: count)
        }
        return .unknown
    }
}

/// Escaping of user text (names, descriptions, notes, errors, metadata, file
/// names) so that it renders as literal text and can never change the
/// structure of STATE.md.
///
/// - The characters `` \ ` * _ [ ] < > # | & ~ `` (and in file names also
///   `, ( )`) are escaped with a backslash.
/// - A line feed becomes `<br>`.
/// - Other control characters (U+0000–U+001F except TAB, U+007F–U+009F) and the
///   Unicode line and paragraph separators become `&#xHH;`, upper-case hex.
/// - White space at the end of a field (and, in a list item, at its start) is
///   written as `&#x20;` / `&#x09;`, so that editors that strip trailing white
///   space cannot change the text; no rendered line ends in white space.
/// - A note that begins like a list marker (`-`, `+`, `1.`) has that marker
///   escaped, so `- - x` cannot become a nested list.
///
/// ``unescape(_:)`` is the exact inverse; identifiers (which
/// ``Identifier`` keeps free of these characters) are written verbatim.
package enum MarkdownEscaping {
    /// Where a piece of user text goes.
    package enum Field {
        /// Inside a line, after a label (names, descriptions, errors, metadata).
        case inline
        /// In the comma-separated `Files:` list.
        case fileName
        /// The whole content of a `- ` list item (notes).
        case listItem
    }

    private static let backslashed: Set<Unicode.Scalar> = ["\\", "`", "*", "_", "[", "]", "<", ">", "#", "|", "&", "~"]
    private static let backslashedInFileNames: Set<Unicode.Scalar> = [",", "(", ")"]

    package static func escape(_ text: String, as field: Field = .inline) -> String {
        if isPlain(text, as: field) { return text }
        let scalars = Array(text.unicodeScalars)
        var end = scalars.count
        while end > 0, isBlank(scalars[end - 1]) { end -= 1 }
        var start = 0
        if field == .listItem { while start < end, isBlank(scalars[start]) { start += 1 } }
        let marker = field == .listItem ? listMarkerIndex(scalars, from: start) : nil

        var out = String.UnicodeScalarView()
        for (i, scalar) in scalars.enumerated() {
            if i < start || i >= end || needsEntity(scalar) {
                appendEntity(scalar, to: &out)
            } else if scalar == "\n" {
                out.append(contentsOf: "<br>".unicodeScalars)
            } else if (backslashed.contains(scalar) && !(scalar == "_" && isIntraword(scalars, i))) || i == marker
                        || (field == .fileName && backslashedInFileNames.contains(scalar)) {
                out.append("\\")
                out.append(scalar)
            } else {
                out.append(scalar)
            }
        }
        return String(out)
    }

    /// An underscore between two ASCII letters or digits (`snake_case`)
    /// cannot start or end emphasis, so it stays as it is, for readability.
    private static func isIntraword(_ scalars: [Unicode.Scalar], _ i: Int) -> Bool {
        func alnum(_ s: Unicode.Scalar) -> Bool { s.isASCII && (s.properties.isAlphabetic || ("0"..."9").contains(s)) }
        return i > 0 && i + 1 < scalars.count && alnum(scalars[i - 1]) && alnum(scalars[i + 1])
    }

    /// Whether `text` needs no escaping at all: printable ASCII without a
    /// character that means something to markdown (an intraword `_` is
    /// fine), no white space at either end, and — for a list item — no list
    /// marker at its start. The common case, checked on bytes.
    private static func isPlain(_ text: String, as field: Field) -> Bool {
        if let plain = text.utf8.withContiguousStorageIfAvailable({ isPlain($0, as: field) }) { return plain }
        var text = text
        return text.withUTF8 { isPlain($0, as: field) }
    }

    private static func isPlain(_ bytes: UnsafeBufferPointer<UInt8>, as field: Field) -> Bool {
        guard let first = bytes.first, let last = bytes.last, first != 0x20, last != 0x20 else { return bytes.isEmpty }
        if field == .listItem, first == UInt8(ascii: "-") || first == UInt8(ascii: "+") || (0x30...0x39).contains(first) {
            return false
        }
        func alnum(_ b: UInt8) -> Bool { byteClass[Int(b)] == 2 }
        let commaAndParentheses: UInt8 = field == .fileName ? 0 : 1
        for i in bytes.indices {
            switch byteClass[Int(bytes[i])] {
            case 1, 2:
                continue
            case 3:
                if commaAndParentheses == 0 { return false }
            case 4:
                guard i > bytes.startIndex, i + 1 < bytes.endIndex, alnum(bytes[i - 1]), alnum(bytes[i + 1]) else { return false }
            default:
                return false
            }
        }
        return true
    }

    /// What each byte is to ``isPlain(_:as:)``: 0 needs escaping, 1 plain,
    /// 2 plain and a letter or digit (around an intraword `_`), 3 `,` `(`
    /// `)` (plain but in file names), 4 `_`.
    private static let byteClass: [UInt8] = (0...255).map { (b: Int) -> UInt8 in
        switch b {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: return 2
        case 0x20, 0x21, 0x22, 0x24, 0x25, 0x27, 0x2B, 0x2D...0x2F, 0x3A, 0x3B, 0x3D, 0x3F, 0x40, 0x5E, 0x7B, 0x7D: return 1
        case 0x28, 0x29, 0x2C: return 3
        case 0x5F: return 4
        default: return 0
        }
    }

    /// The text that ``escape(_:as:)`` turned into `raw`: `\c` is `c`,
    /// `<br>` a line feed, `&#xH…;` that scalar; everything else is literal.
    package static func unescape<S: StringProtocol>(_ raw: S) -> String {
        let s = Array(raw.unicodeScalars)
        var out = String.UnicodeScalarView()
        var i = 0
        while i < s.count {
            if s[i] == "\\", i + 1 < s.count {
                out.append(s[i + 1])
                i += 2
            } else if s[i] == "<", i + 3 < s.count, s[i + 1] == "b", s[i + 2] == "r", s[i + 3] == ">" {
                out.append("\n")
                i += 4
            } else if s[i] == "&", let (scalar, length) = entity(s, at: i) {
                out.append(scalar)
                i += length
            } else {
                out.append(s[i])
                i += 1
            }
        }
        return String(out)
    }

    private static func isBlank(_ scalar: Unicode.Scalar) -> Bool { scalar == " " || scalar == "\t" }

    private static func needsEntity(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x09, 0x0A: return false
        case 0x00...0x1F, 0x7F...0x9F, 0x2028, 0x2029: return true
        default: return false
        }
    }

    private static func appendEntity(_ scalar: Unicode.Scalar, to out: inout String.UnicodeScalarView) {
        let hex = String(scalar.value, radix: 16, uppercase: true)
        out.append(contentsOf: "&#x\(hex.count < 2 ? "0" + hex : hex);".unicodeScalars)
    }

    /// The scalar and length of an `&#xH…;` entity (1 to 6 hex digits) at `i`.
    private static func entity(_ s: [Unicode.Scalar], at i: Int) -> (Unicode.Scalar, Int)? {
        guard i + 4 < s.count, s[i + 1] == "#", s[i + 2] == "x" || s[i + 2] == "X" else { return nil }
        var value: UInt32 = 0
        var j = i + 3
        while j < s.count, j - (i + 3) < 6, let digit = hexValue(s[j]) {
            value = value * 16 + digit
            j += 1
        }
        guard j > i + 3, j < s.count, s[j] == ";", let scalar = Unicode.Scalar(value) else { return nil }
        return (scalar, j + 1 - i)
    }

    private static func hexValue(_ c: Unicode.Scalar) -> UInt32? {
        switch c {
        case "0"..."9": return c.value - 0x30
        case "a"..."f": return c.value - 0x61 + 10
        case "A"..."F": return c.value - 0x41 + 10
        default: return nil
        }
    }

    /// The index of the character that would make a list item's content start
    /// a block of its own: a leading `-` or `+`, or the `.`/`)` after leading digits.
    private static func listMarkerIndex(_ s: [Unicode.Scalar], from start: Int) -> Int? {
        guard start < s.count else { return nil }
        if s[start] == "-" || s[start] == "+" { return start }
        var i = start
        while i < s.count, ("0"..."9").contains(s[i]) { i += 1 }
        guard i > start, i < s.count, s[i] == "." || s[i] == ")" else { return nil }
        return i
    }
}
