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
    /// visible marks, cut to `limit` characters.
    static func oneLine(_ text: String, limit: Int = 80) -> String {
        var out = ""
        for ch in text {
            if ch == "\n" || ch == "\r\n" { out += "⏎ " }
            else if ch.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) { out += " " }
            else { out.append(ch) }
        }
        return out.count > limit ? String(out.prefix(limit - 1)) + "…" : out
    }
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
