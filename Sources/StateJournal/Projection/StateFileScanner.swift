import StateJournalEngine

/// One pass over a STATE.md text that both reads it leniently (for
/// ``MarkdownParser``) and records every departure from the format (for
/// ``MarkdownValidator``).
package struct StateFileScanner {
    package struct Result {
        package var file: ParsedStateFile
        /// The line of the `# Workflow:` title, if any.
        package var titleLine: Int?
        /// The first line that is not blank (1 in an empty text).
        package var firstContentLine: Int
        /// In line order.
        package var problems: [ValidationProblem]
    }

    package static func scan(_ text: String) -> Result {
        var scanner = StateFileScanner(text)
        scanner.run()
        return Result(file: scanner.file, titleLine: scanner.titleLine, firstContentLine: scanner.firstContentLine,
                      problems: scanner.problems.enumerated()
                          .sorted { ($0.element.line, $0.offset) < ($1.element.line, $1.offset) }.map(\.element))
    }

    struct Line {
        package let number: Int
        /// The offset of the line's first byte in the text.
        package let offset: Int
        /// The line without its line ending.
        package let text: LineText
    }

    /// A section being read.
    struct OpenSection {
        /// nil for an unknown section, whose lines are skipped.
        package let kind: StateFileSection?
        package let heading: Int
        package let declaredCount: Int?
        /// The wave of the tasks that follow (set by `### Wave W`).
        package var wave: Int
        /// Whether a `### Wave W` heading set `wave` (else it is assumed).
        package var waveShown = false
        package var listed = 0
        /// The index in `file.tasks` of the task detail lines belong to.
        package var lastTask: Int?
        /// For an unknown section: its index in `file.sections` (nil for a
        /// repeated name, whose lines are unread) and its lines so far.
        package var free: Int?
        package var freeLines: [String] = []
    }

    let bytes: [UInt8]
    let lines: [Line]
    let firstContentLine: Int
    /// Whether user text is escaped: the file has a StateJournal footer.
    let escaped: Bool
    var file = ParsedStateFile()
    var problems: [ValidationProblem] = []

    var titleLine: Int?
    var headerLabels: [String: Int] = [:]
    var ruleLine: Int?
    var section: OpenSection?
    var sectionLines: [StateFileSection: Int] = [:]
    var taskLines: [String: Int] = [:]
    var metadataLines: [String: Int] = [:]
    /// The place of the last known section heading read (`header` before any).
    var lastPlace = "header"
    /// The heading line of each free section, and of the last known section.
    var freeSectionLines: [Int] = []
    var lastKnownSectionLine = 0

    init(_ text: String) {
        let bytes = Array(text.utf8)
        var lines: [Line] = []
        var start = 0
        func add(_ end: Int) {
            var stop = end
            if stop > start, bytes[stop - 1] == UInt8(ascii: "\r") { stop -= 1 }
            lines.append(Line(number: lines.count + 1, offset: start, text: LineText(bytes[start..<stop])))
        }
        for (i, byte) in bytes.enumerated() where byte == UInt8(ascii: "\n") {
            add(i)
            start = i + 1
        }
        if start < bytes.count { add(bytes.count) }
        self.bytes = bytes
        self.lines = lines
        firstContentLine = lines.first { !$0.text.isBlank }?.number ?? 1
        escaped = lines.contains { $0.text.hasPrefix(ProjectionFooter.prefix) }
    }

    mutating func problem(_ line: Int, _ message: String) {
        problems.append(ValidationProblem(line: line, message: message))
    }

    /// A line whose text is not read into the state (and a problem).
    mutating func unread(_ line: Line, _ message: String) {
        problem(line.number, message)
        file.unreadLines.append((line.number, line.text.string))
    }

    /// User text as it was before escaping.
    func userText(_ text: LineText) -> String {
        escaped ? MarkdownEscaping.unescape(text.string) : text.string
    }

    mutating func run() {
        readFooters()
        var inHeader = true
        for line in lines where !line.text.hasPrefix(ProjectionFooter.prefix) {
            if line.text.hasPrefix(StateMarkdown.sectionPrefix) {
                if inHeader { endHeader(at: ruleLine ?? line.number) }
                inHeader = false
                openSection(line)
            } else if inHeader {
                readHeaderLine(line)
            } else {
                readSectionLine(line)
            }
        }
        if inHeader { endHeader(at: ruleLine ?? lines.last?.number ?? 1) }
        closeSection()
        // A free section after the last known one stays at the end, wherever
        // later sections appear.
        for i in file.sections.indices where freeSectionLines[i] > lastKnownSectionLine { file.sections[i].after = "metadata" }
        file.tasks = file.tasks.enumerated()
            .sorted { ($0.element.wave, $0.offset) < ($1.element.wave, $1.offset) }.map(\.element)
    }

    // MARK: Footer

    mutating func readFooters() {
        let footers = lines.filter { $0.text.hasPrefix(ProjectionFooter.prefix) }
        for line in footers {
            let isLast = line.number == lines.count
            if !isLast {
                problem(line.number, "the statejournal footer is not the last line; "
                    + "lines after it were added by hand or the file was damaged")
            }
            guard let (seq, crc, event) = ProjectionFooter.parse(line.text.string) else {
                problem(line.number, "malformed statejournal footer; expected '\(ProjectionFooter.template)'")
                continue
            }
            let actual = CRC32C.checksum(bytes[0..<line.offset])
            if actual != crc {
                problem(line.number, "checksum mismatch: the footer records crc32c=\(StateMarkdown.hex8(crc)) "
                    + "but the content before it has crc32c=\(StateMarkdown.hex8(actual)); "
                    + "the file was edited by hand or damaged")
            }
            if line.number == footers.last?.number {
                file.footer = .init(seq: seq, crc32c: crc, matchesContent: isLast && actual == crc, event: event)
            }
        }
    }
}
