#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import StateJournal

/// Output for people: aligned columns, and colour only when stdout is a
/// terminal (and `NO_COLOR` is not set).
enum Terminal {
    static let colour: Bool = {
        guard isatty(1) == 1 else { return false }
        if let noColour = getenv("NO_COLOR"), noColour.pointee != 0 { return false }
        if let term = getenv("TERM"), String(cString: term) == "dumb" { return false }
        return true
    }()

    enum Style: String {
        case bold = "1", dim = "2", red = "31", green = "32", yellow = "33", blue = "34", cyan = "36"
    }

    static func paint(_ text: String, _ style: Style?) -> String {
        guard colour, let style, !text.isEmpty else { return text }
        return "\u{1B}[\(style.rawValue)m\(text)\u{1B}[0m"
    }

    /// One line of user text: newlines and control characters shown as
    /// visible marks, cut to `limit` columns of a terminal.
    static func oneLine(_ text: String, limit: Int = 80) -> String {
        var out = ""
        for ch in text {
            if ch == "\n" || ch == "\r\n" { out += "⏎ " }
            else if ch.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) { out += " " }
            else { out.append(ch) }
        }
        guard width(out) > limit else { return out }
        var cut = ""
        var used = 0
        for ch in out {
            let w = width(ch)
            if used + w > limit - 1 { break }
            cut.append(ch)
            used += w
        }
        return cut + "…"
    }

    /// How many columns of a terminal `text` takes: East Asian wide and
    /// full-width characters and emoji take two, combining marks none.
    static func width(_ text: String) -> Int {
        text.reduce(0) { $0 + width($1) }
    }

    static func width(_ character: Character) -> Int {
        let scalars = character.unicodeScalars
        guard let first = scalars.first else { return 0 }
        if first.value < 0x20 || (0x7F..<0xA0).contains(first.value) { return 0 }
        if first.value < 0x300 { return 1 }
        // An emoji shown as one (its default, or asked for with U+FE0F).
        if first.properties.isEmojiPresentation || (first.properties.isEmoji && scalars.contains("\u{FE0F}")) { return 2 }
        switch first.properties.generalCategory {
        case .nonspacingMark, .enclosingMark, .format: return 0
        default: break
        }
        return wideRanges.contains { $0.contains(first.value) } ? 2 : 1
    }

    /// East Asian Wide and Fullwidth blocks (Unicode's EastAsianWidth.txt, condensed).
    private static let wideRanges: [ClosedRange<UInt32>] = [
        0x1100...0x115F, 0x2329...0x232A, 0x2E80...0x303E, 0x3041...0x33FF, 0x3400...0x4DBF, 0x4E00...0x9FFF,
        0xA000...0xA4CF, 0xA960...0xA97F, 0xAC00...0xD7A3, 0xF900...0xFAFF, 0xFE10...0xFE19, 0xFE30...0xFE6F,
        0xFF00...0xFF60, 0xFFE0...0xFFE6, 0x16FE0...0x16FE4, 0x17000...0x18AFF, 0x1B000...0x1B16F,
        0x1F200...0x1F2FF, 0x20000...0x2FFFD, 0x30000...0x3FFFD,
    ]
}

/// A line diff as text: hunk headers and `-`/`+` lines, coloured on a terminal.
func diffText(_ diff: LineDiff) -> String {
    var out: [String] = []
    for hunk in diff.hunks {
        out.append(Terminal.paint(hunk.header, .cyan))
        for line in hunk.lines {
            switch line {
            case .removed: out.append(Terminal.paint(line.unified, .red))
            case .added: out.append(Terminal.paint(line.unified, .green))
            }
        }
    }
    return out.joined(separator: "\n")
}

/// Collects output lines and writes them to stdout in large pieces, so that
/// printing a long history is not one system call a line.
struct LineBuffer {
    private var text = ""
    private let limit = 64 * 1024

    mutating func append(_ line: String) {
        text += line
        text += "\n"
        if text.utf8.count >= limit { flush() }
    }

    mutating func flush() {
        guard !text.isEmpty else { return }
        Output.stdout(text)
        text = ""
    }
}

/// A dry run's report: the diff on stdout, then `summary(changedLines)` on
/// stderr ("… nothing was written").
func reportDryRun(_ diff: LineDiff, _ summary: (_ changedLines: Int) -> String) {
    if !diff.isEmpty { Output.stdout(diffText(diff)) }
    Output.stderr(summary(diff.hunks.reduce(0) { $0 + $1.lines.count }))
}
