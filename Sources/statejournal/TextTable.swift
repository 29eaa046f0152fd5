#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Logging
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

/// Columns padded to the widest cell; the last column is not padded.
struct TextTable {
    struct Cell {
        var text: String
        var style: Terminal.Style?
        init(_ text: String, _ style: Terminal.Style? = nil) { self.text = text; self.style = style }
    }

    var header: [String]
    var rows: [[Cell]] = []

    init(_ header: String...) { self.header = header }

    mutating func add(_ cells: Cell...) { rows.append(cells) }

    func lines() -> [String] {
        var widths = header.map(\.count)
        for row in rows {
            for (i, cell) in row.enumerated() where i < widths.count { widths[i] = max(widths[i], cell.text.count) }
        }
        func line(_ cells: [Cell]) -> String {
            var out = ""
            for (i, cell) in cells.enumerated() {
                let last = i == cells.count - 1
                let pad = last ? "" : String(repeating: " ", count: max(0, widths[i] - cell.text.count) + 2)
                out += Terminal.paint(cell.text, cell.style) + pad
            }
            return out
        }
        return [line(header.map { Cell($0, .bold) })] + rows.map(line)
    }
}

extension Event {
    /// A short description of the payload for `log`: the task and what changed.
    var summary: String {
        switch payload {
        case .workflowInitialized(let id, let name, let waves, _):
            let tasks = waves.reduce(0) { $0 + $1.count }
            return "\(id) “\(Terminal.oneLine(name, limit: 40))”: \(tasks) task\(tasks == 1 ? "" : "s") in \(waves.count) wave\(waves.count == 1 ? "" : "s")"
        case .taskAdded(let id, let wave, let description):
            return "\(id) → wave \(wave)" + (description.isEmpty ? "" : ": " + Terminal.oneLine(description, limit: 60))
        case .taskStarted(let id):
            return id
        case .taskCompleted(let id, let commit, let files):
            var parts: [String] = []
            if let commit { parts.append("commit \(commit)") }
            if !files.isEmpty { parts.append("\(files.count) file\(files.count == 1 ? "" : "s")") }
            return id + (parts.isEmpty ? "" : " (" + parts.joined(separator: ", ") + ")")
        case .taskFailed(let id, let error):
            return "\(id): " + Terminal.oneLine(error, limit: 60)
        case .waveSet(let wave):
            return "wave \(wave)"
        case .noteAdded(let text):
            return Terminal.oneLine(text)
        case .metadataSet(let key, let value):
            return Terminal.oneLine(key, limit: 30) + " = " + Terminal.oneLine(value, limit: 50)
        case .stateReplaced(let image):
            return Self.imageSummary(image)
        case .stateRestored(let seq, let image):
            return "state of seq \(seq): " + Self.imageSummary(image)
        }
    }

    private static func imageSummary(_ image: StateImage) -> String {
        "\(image.workflowID), wave \(image.currentWave)/\(image.totalWaves), \(image.tasks.count) task\(image.tasks.count == 1 ? "" : "s")"
    }

    /// The colour of the event type in tables.
    var typeStyle: Terminal.Style {
        switch payload {
        case .taskCompleted: return .green
        case .taskFailed: return .red
        case .taskStarted: return .yellow
        case .stateReplaced, .stateRestored, .workflowInitialized: return .blue
        default: return .cyan
        }
    }
}

/// Reports a write like ``performWrite``: the event as JSON on stdout with
/// `--json`, a line on stderr otherwise.
func reportWrite(_ outcome: StateManager.WriteOutcome, _ flags: WriteFlags, _ manager: StateManager, extra: String = "") {
    if flags.json {
        var members = outcome.event.json().objectValue ?? []
        members.append(JSON.Member("duplicate", .bool(outcome.wasDuplicate)))
        Output.json(.object(members))
    } else {
        let what = outcome.wasDuplicate ? "already recorded as" : "recorded"
        Output.stderr("\(outcome.event.payload.typeName) \(what) seq \(outcome.event.seq) in \(manager.statePath)\(extra)")
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

/// Read commands regenerate a missing, stale or damaged STATE.md first
/// (SPEC §5, self-healing: any command, read or write). A failure to do so is
/// reported but does not stop the read: the journal is what they print.
func healBeforeReading(_ manager: StateManager) {
    do {
        try manager.refreshProjection()
    } catch {
        CLILog.logger.warning("could not regenerate STATE.md before reading", metadata: ["error": "\(error)"])
    }
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
