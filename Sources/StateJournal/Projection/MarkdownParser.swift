import StateJournalEngine
/// A STATE.md file read back by ``MarkdownParser``: what it says, as written.
package struct ParsedStateFile: Sendable, Equatable {
    /// The last line of a file StateJournal wrote:
    /// `<!-- statejournal v1 seq=N event=xxxxxxxx crc32c=xxxxxxxx -->`.
    package struct Footer: Sendable, Equatable {
        /// The sequence number of the last journal event the file reflects.
        package var seq: UInt64
        /// The CRC-32C the footer records for the bytes before it.
        package var crc32c: UInt32
        /// Whether `crc32c` is the checksum of every byte before the footer
        /// line and the footer is the file's last line: the file is exactly
        /// as StateJournal wrote it.
        package var matchesContent: Bool
    }

    /// The workflow ID; empty when the file has no `**Workflow ID:**` line.
    package var workflowID = ""
    package var name = ""
    /// `C` of `**Status:** Wave C/T`.
    package var currentWave = 0
    /// `T` of `**Status:** Wave C/T`.
    package var totalWaves = 0
    /// The `**Started:**` time as written (local time, `YYYY-MM-DD HH:MM:SS`).
    package var started = ""
    /// The `**Updated:**` time as written.
    package var updated = ""
    /// The tasks in plan order: in file order, then sorted stably by wave.
    /// A task's status is the section it is listed in; its files are the ones
    /// shown (see ``filesTruncated``).
    package var tasks: [WorkflowTask] = []
    package var notes: [String] = []
    /// Metadata in file order (a repeated key appears twice).
    package var metadata: [MetadataEntry] = []
    /// The footer, when the file has a well-formed one.
    package var footer: Footer?
    /// For each task whose file list ends in `(+N more)`, that N: the number
    /// of its files the file does not show.
    package var filesTruncated: [String: Int] = [:]

    /// The file as a ``WorkflowState`` — times read as local time, `seq` from
    /// the footer (0 without one) — or nil when the file has no workflow ID
    /// or its times cannot be read.
    ///
    /// Tasks keep only the files shown; a repeated task ID or metadata key
    /// keeps its first position and its last value.
    package func state() -> WorkflowState? {
        guard !workflowID.isEmpty, let started = Timestamp(parsing: started),
              let updated = Timestamp(parsing: updated)
        else { return nil }
        return WorkflowState(workflowID: workflowID, name: name, currentWave: currentWave, totalWaves: totalWaves,
                             started: started, updated: updated, tasks: tasks, notes: notes, metadata: metadata,
                             seq: footer?.seq ?? 0)
    }
}

/// Reads STATE.md files (Docs/FORMAT.md, STATE.md): the ones ``MarkdownRenderer`` writes and
/// the ones the earlier Python tool wrote.
///
/// Parsing is lenient — it reads what it can and skips what it does not
/// understand; ``MarkdownValidator`` reports those lines. Only a text that is
/// not a STATE.md at all (no `# Workflow:` title) is an error.
///
/// User text is unescaped (the inverse of ``MarkdownRenderer``'s escaping)
/// only in files that carry a StateJournal footer line. Files of the earlier
/// tool are read literally, with its quirks: any number of blank lines
/// anywhere, "(1 tasks)", and tasks in a section without `### Wave` headers
/// belonging to the current wave (wave 1 while the current wave is 0).
///
/// ```swift
/// let file = try MarkdownParser.parse(text)
/// if file.footer?.matchesContent != true { /* hand-edited or damaged */ }
/// ```
package enum MarkdownParser {
    /// Reads `text`; throws a ``StateJournalError/Code/badInput`` error naming
    /// the line when `text` has no `# Workflow: NAME` title.
    package static func parse(_ text: String) throws(StateJournalError) -> ParsedStateFile {
        let scan = StateFileScanner.scan(text)
        guard scan.titleLine != nil else {
            throw .badInput("line \(scan.firstContentLine): not a STATE.md file: "
                + "there is no '\(StateMarkdown.titlePrefix) NAME' title")
        }
        return scan.file
    }
}

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

    private struct Line {
        package let number: Int
        /// The offset of the line's first byte in the text.
        package let offset: Int
        /// The line without its line ending.
        package let text: LineText
    }

    /// A section being read.
    private struct OpenSection {
        /// nil for an unknown section, whose lines are skipped.
        package let kind: StateFileSection?
        package let heading: Int
        package let declaredCount: Int?
        /// The wave of the tasks that follow (set by `### Wave W`).
        package var wave: Int
        package var listed = 0
        /// The index in `file.tasks` of the task detail lines belong to.
        package var lastTask: Int?
    }

    private let bytes: [UInt8]
    private let lines: [Line]
    private let firstContentLine: Int
    /// Whether user text is escaped: the file has a StateJournal footer.
    private let escaped: Bool
    private var file = ParsedStateFile()
    private var problems: [ValidationProblem] = []

    private var titleLine: Int?
    private var headerLabels: [String: Int] = [:]
    private var ruleLine: Int?
    private var section: OpenSection?
    private var sectionLines: [StateFileSection: Int] = [:]
    private var taskLines: [String: Int] = [:]
    private var metadataLines: [String: Int] = [:]

    private init(_ text: String) {
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

    private mutating func problem(_ line: Int, _ message: String) {
        problems.append(ValidationProblem(line: line, message: message))
    }

    /// User text as it was before escaping.
    private func userText(_ text: LineText) -> String {
        escaped ? MarkdownEscaping.unescape(text.string) : text.string
    }

    private mutating func run() {
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
        file.tasks = file.tasks.enumerated()
            .sorted { ($0.element.wave, $0.offset) < ($1.element.wave, $1.offset) }.map(\.element)
    }

    // MARK: Footer

    private mutating func readFooters() {
        let footers = lines.filter { $0.text.hasPrefix(ProjectionFooter.prefix) }
        for line in footers {
            let isLast = line.number == lines.count
            if !isLast {
                problem(line.number, "the statejournal footer is not the last line; "
                    + "lines after it were added by hand or the file was damaged")
            }
            guard let (seq, crc, _) = ProjectionFooter.parse(line.text.string) else {
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
                file.footer = .init(seq: seq, crc32c: crc, matchesContent: isLast && actual == crc)
            }
        }
    }

    // MARK: Header

    private mutating func readHeaderLine(_ line: Line) {
        let text = line.text
        guard !text.isBlank else { return }
        if let name = text.dropping(StateMarkdown.titlePrefix) {
            if let first = titleLine {
                problem(line.number, "a second title (the first is on line \(first))")
            } else {
                titleLine = line.number
                file.name = userText(name.droppingOneSpace)
            }
        } else if let value = headerValue(line, StateMarkdown.workflowIDLabel) {
            var id = value.string
            if value.isQuoted(by: UInt8(ascii: "`")) {
                id = value.dropping("`")?.droppingLast(1).string ?? id
            } else {
                problem(line.number, "malformed workflow ID line; expected '\(StateMarkdown.workflowIDLabel) `ID`'")
            }
            if let reason = Identifier.problem(id) { problem(line.number, "the workflow ID '\(id)' \(reason)") }
            file.workflowID = id
        } else if let value = headerValue(line, StateMarkdown.statusLabel) {
            let parts = value.dropping("Wave ")?.string.split(separator: "/", omittingEmptySubsequences: false)
            if let parts, parts.count == 2, let current = Int(parts[0]), let total = Int(parts[1]),
               current >= 0, total >= 0 {
                file.currentWave = current
                file.totalWaves = total
            } else {
                problem(line.number, "malformed status line; expected '\(StateMarkdown.statusLabel) Wave C/T'")
            }
        } else if let value = headerValue(line, StateMarkdown.startedLabel) {
            file.started = time(value, line, "Started")
        } else if let value = headerValue(line, StateMarkdown.updatedLabel) {
            file.updated = time(value, line, "Updated")
        } else if text.trimmingBlanks.string == StateMarkdown.rule {
            ruleLine = ruleLine ?? line.number
        } else if text.hasPrefix(StateMarkdown.progressLabel) {
            if !StateMarkdown.isProgressLine(text.string) {
                problem(line.number, "malformed progress line; expected '\(StateMarkdown.progressLabel) `BAR` P%' "
                    + "with \(StateMarkdown.progressCells) cells of █ and ░")
            }
        } else if line.number != firstContentLine {
            // (An unknown first line is reported as the missing title.)
            problem(line.number, "unexpected line in the header")
        }
    }

    /// The trimmed value of a `**Label:** value` header line, noting repeats.
    private mutating func headerValue(_ line: Line, _ label: String) -> LineText? {
        guard let value = line.text.dropping(label) else { return nil }
        if let first = headerLabels[label] {
            problem(line.number, "a second '\(label)' line (the first is on line \(first))")
        } else {
            headerLabels[label] = line.number
        }
        return value.trimmingBlanks
    }

    private mutating func time(_ value: LineText, _ line: Line, _ what: String) -> String {
        let text = value.string
        if !StateMarkdown.isLocalDateTime(text) {
            problem(line.number, "malformed \(what) time '\(text)'; expected YYYY-MM-DD HH:MM:SS")
        }
        return text
    }

    /// Reports what the header lacks; `line` is where the header ends.
    private mutating func endHeader(at line: Int) {
        if titleLine == nil || titleLine != firstContentLine {
            problem(firstContentLine, "missing title; the file must begin with '\(StateMarkdown.titlePrefix) NAME'")
        }
        let required = [
            (StateMarkdown.workflowIDLabel, "`ID`"), (StateMarkdown.statusLabel, "Wave C/T"),
            (StateMarkdown.startedLabel, "YYYY-MM-DD HH:MM:SS"), (StateMarkdown.updatedLabel, "YYYY-MM-DD HH:MM:SS"),
        ]
        for (label, shape) in required where headerLabels[label] == nil {
            problem(line, "the header has no '\(label) \(shape)' line")
        }
    }

    // MARK: Sections

    private mutating func openSection(_ line: Line) {
        closeSection()
        let title = line.text.dropping(StateMarkdown.sectionPrefix)?.string ?? ""
        let wave = StateMarkdown.defaultWave(currentWave: file.currentWave)
        var kind: StateFileSection?
        var count: Int?
        switch StateFileSection.heading(Substring(title)) {
        case .unknown:
            problem(line.number, "unknown section '\(StateMarkdown.sectionPrefix)\(title)'")
        case .malformedCount(let section):
            kind = section
            problem(line.number, "malformed task count in '\(StateMarkdown.sectionPrefix)\(title)'; "
                + "expected '(N tasks)'")
        case .section(let section, let declared):
            kind = section
            count = declared
            if section.status != nil && declared == nil {
                problem(line.number, "the section heading has no task count; expected '(N tasks)'")
            }
        }
        if let kind {
            if let first = sectionLines[kind] {
                problem(line.number, "a second '\(kind.title)' section (the first is on line \(first))")
            } else {
                sectionLines[kind] = line.number
            }
        }
        section = OpenSection(kind: kind, heading: line.number, declaredCount: count, wave: wave)
    }

    private mutating func closeSection() {
        guard let section, section.kind?.status != nil, let declared = section.declaredCount,
              declared != section.listed
        else { return }
        problem(section.heading, "the heading says \(StateMarkdown.taskCount(declared)) but the section lists "
            + "\(section.listed)")
    }

    private mutating func readSectionLine(_ line: Line) {
        guard !line.text.isBlank, let kind = section?.kind else { return }
        switch kind {
        case .notes: readNote(line)
        case .metadata: readMetadata(line)
        default: readTaskSectionLine(line, kind)
        }
    }

    private mutating func readNote(_ line: Line) {
        if line.text.string == "-" {
            file.notes.append("")
        } else if let note = line.text.dropping("- ") {
            file.notes.append(userText(note))
        } else {
            problem(line.number, "unexpected line in Notes; expected '- text'")
        }
    }

    private mutating func readMetadata(_ line: Line) {
        guard let entry = line.text.dropping("- **"),
              let end = entry.firstIndex(of: ":**", honoringEscapes: escaped)
        else {
            problem(line.number, "malformed metadata line; expected '- **key:** value'")
            return
        }
        let key = userText(entry.prefix(upTo: end))
        let value = userText(entry.suffix(from: end + 3).droppingOneSpace)
        if let first = metadataLines[key] {
            problem(line.number, "the metadata key '\(key)' appears twice (first on line \(first))")
        } else {
            metadataLines[key] = line.number
        }
        file.metadata.append(MetadataEntry(key: key, value: value))
    }

    private mutating func readTaskSectionLine(_ line: Line, _ kind: StateFileSection) {
        let text = line.text
        if let wave = text.dropping(StateMarkdown.wavePrefix).flatMap({ Int($0.trimmingBlanks.string) }) {
            section?.wave = wave
        } else if text.hasPrefix("#") {
            problem(line.number, "malformed wave heading; expected '\(StateMarkdown.wavePrefix)N'")
        } else if text.startsWithBlank {
            readDetail(line)
        } else {
            switch TaskLine(text) {
            case .task(let checkbox, let id, let description):
                addTask(line, kind, checkbox: checkbox, id: id, description: description.map(userText) ?? "")
            case .malformed(let message):
                problem(line.number, message)
            case .other:
                problem(line.number, "unexpected line in \(kind.title); expected a task "
                    + "'- [\(kind.checkbox)] **ID**: description' or '\(StateMarkdown.wavePrefix)N'")
            }
        }
    }

    private mutating func addTask(_ line: Line, _ kind: StateFileSection, checkbox: Character, id: String,
                                  description: String) {
        guard let status = kind.status, let wave = section?.wave else { return }
        if checkbox.lowercased() != String(kind.checkbox) {
            problem(line.number, "task '\(id)' is marked [\(checkbox)] but listed under \(kind.title), "
                + "where tasks are marked [\(kind.checkbox)]")
        }
        if let reason = Identifier.problem(id) { problem(line.number, "the task ID '\(id)' \(reason)") }
        if let first = taskLines[id] {
            problem(line.number, "task '\(id)' is listed twice (first on line \(first))")
        } else {
            taskLines[id] = line.number
        }
        section?.listed += 1
        section?.lastTask = file.tasks.count
        file.tasks.append(WorkflowTask(id: id, description: description, status: status, wave: wave))
    }

    private mutating func readDetail(_ line: Line) {
        let detail = line.text.trimmingLeadingBlanks
        guard let index = section?.lastTask else {
            problem(line.number, "a task detail line before any task")
            return
        }
        if let value = detail.dropping(StateMarkdown.commitLabel)?.trimmingBlanks {
            var commit = value.string
            if value.isQuoted(by: UInt8(ascii: "`")) {
                commit = value.dropping("`")?.droppingLast(1).string ?? commit
            } else {
                problem(line.number, "malformed commit; expected '\(StateMarkdown.commitLabel) `SHA`'")
            }
            if let reason = Identifier.problem(commit) { problem(line.number, "the commit '\(commit)' \(reason)") }
            file.tasks[index].commit = commit
        } else if let value = detail.dropping(StateMarkdown.filesLabel) {
            readFiles(value.droppingOneSpace, of: index)
        } else if let value = detail.dropping(StateMarkdown.errorLabel) {
            file.tasks[index].error = userText(value.droppingOneSpace)
        } else {
            problem(line.number, "unknown task detail; expected '\(StateMarkdown.commitLabel)', "
                + "'\(StateMarkdown.filesLabel)' or '\(StateMarkdown.errorLabel)'")
        }
    }

    /// `a, b, c (+N more)`.
    private mutating func readFiles(_ value: LineText, of index: Int) {
        var list = value
        if let (shown, hidden) = value.splittingTruncation(honoringEscapes: escaped) {
            list = shown
            file.filesTruncated[file.tasks[index].id] = hidden
        }
        file.tasks[index].files = list.split(", ", honoringEscapes: escaped).map(userText)
    }
}

/// A task line: `- [x] **ID**: description` or `- [x] **ID**`.
private enum TaskLine {
    case task(checkbox: Character, id: String, description: LineText?)
    case malformed(String)
    /// Not a list item at all.
    case other

    package init(_ text: LineText) {
        guard let first = text.first, [UInt8(ascii: "-"), UInt8(ascii: "*"), UInt8(ascii: "+")].contains(first) else {
            self = .other
            return
        }
        let malformed = TaskLine.malformed("malformed task line; expected '- [x] **ID**: description'")
        guard let box = text.dropping("- ["), let close = box.firstIndex(of: "]", honoringEscapes: false) else {
            self = malformed
            return
        }
        let mark = box.prefix(upTo: close).string
        guard mark.count == 1, let checkbox = mark.first, "xX~ ".contains(checkbox) else {
            self = .malformed("malformed checkbox '[\(mark)]'; expected [x], [~] or [ ]")
            return
        }
        guard let idStart = box.suffix(from: close + 1).dropping(" **"),
              let idEnd = idStart.firstIndex(of: "**", honoringEscapes: false), idEnd > 0
        else {
            self = malformed
            return
        }
        let rest = idStart.suffix(from: idEnd + 2)
        let description: LineText?
        if rest.isEmpty {
            description = nil
        } else if let text = rest.dropping(":") {
            description = text.droppingOneSpace
        } else {
            self = malformed
            return
        }
        self = .task(checkbox: checkbox, id: idStart.prefix(upTo: idEnd).string, description: description)
    }
}

/// Part of a line as UTF-8 bytes, with the few operations the scanner needs.
/// Indices passed to and returned by its methods are relative to its start.
private struct LineText {
    package let bytes: ArraySlice<UInt8>

    package init(_ bytes: ArraySlice<UInt8>) { self.bytes = bytes }

    package var string: String { String(decoding: bytes, as: UTF8.self) }
    package var isEmpty: Bool { bytes.isEmpty }
    package var first: UInt8? { bytes.first }
    package var isBlank: Bool { bytes.allSatisfy(Self.isBlank) }
    package var startsWithBlank: Bool { bytes.first.map(Self.isBlank) ?? false }

    private static func isBlank(_ byte: UInt8) -> Bool { byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }

    package func hasPrefix(_ prefix: String) -> Bool { bytes.starts(with: prefix.utf8) }
    package func hasSuffix(_ suffix: String) -> Bool {
        bytes.count >= suffix.utf8.count && bytes.suffix(suffix.utf8.count).elementsEqual(suffix.utf8)
    }

    /// The text after `prefix`, or nil when it does not start with it.
    package func dropping(_ prefix: String) -> LineText? {
        hasPrefix(prefix) ? LineText(bytes.dropFirst(prefix.utf8.count)) : nil
    }

    package func droppingLast(_ count: Int) -> LineText { LineText(bytes.dropLast(count)) }
    package func prefix(upTo index: Int) -> LineText { LineText(bytes.prefix(index)) }
    package func suffix(from index: Int) -> LineText { LineText(bytes.dropFirst(index)) }

    /// Without the one space that separates a label from its value.
    package var droppingOneSpace: LineText { dropping(" ") ?? self }
    package var trimmingLeadingBlanks: LineText { LineText(bytes.drop(while: Self.isBlank)) }
    package var trimmingBlanks: LineText {
        let trimmed = trimmingLeadingBlanks.bytes
        var end = trimmed.endIndex
        while end > trimmed.startIndex, Self.isBlank(trimmed[end - 1]) { end -= 1 }
        return LineText(trimmed[..<end])
    }

    /// Whether the text is at least two bytes long and starts and ends with `quote`.
    package func isQuoted(by quote: UInt8) -> Bool { bytes.count >= 2 && bytes.first == quote && bytes.last == quote }

    /// Whether the byte at `index` is not escaped: not preceded by an odd
    /// number of backslashes.
    private func isUnescaped(_ index: Int) -> Bool {
        var backslashes = 0
        var i = bytes.startIndex + index
        while i > bytes.startIndex, bytes[i - 1] == UInt8(ascii: "\\") {
            backslashes += 1
            i -= 1
        }
        return backslashes % 2 == 0
    }

    /// The index of the first occurrence of `pattern`; with `honoringEscapes`,
    /// of the first whose first byte is not escaped.
    package func firstIndex(of pattern: String, honoringEscapes: Bool) -> Int? {
        let needle = Array(pattern.utf8)
        guard bytes.count >= needle.count else { return nil }
        for offset in 0...(bytes.count - needle.count) {
            let start = bytes.startIndex + offset
            if bytes[start..<(start + needle.count)].elementsEqual(needle),
               !honoringEscapes || isUnescaped(offset) {
                return offset
            }
        }
        return nil
    }

    /// The pieces between occurrences of `separator` (unescaped ones, with
    /// `honoringEscapes`).
    package func split(_ separator: String, honoringEscapes: Bool) -> [LineText] {
        var pieces: [LineText] = []
        var rest = self
        while let index = rest.firstIndex(of: separator, honoringEscapes: honoringEscapes) {
            pieces.append(rest.prefix(upTo: index))
            rest = rest.suffix(from: index + separator.utf8.count)
        }
        return pieces + [rest]
    }

    /// Splits `a, b, c (+N more)` into `a, b, c` and N.
    package func splittingTruncation(honoringEscapes: Bool) -> (LineText, Int)? {
        let end = " more)"
        let open = " (+"
        guard hasSuffix(end) else { return nil }
        let body = droppingLast(end.utf8.count)
        let digits = body.bytes.reversed().prefix { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }
        let beforeDigits = body.droppingLast(digits.count)
        guard !digits.isEmpty, beforeDigits.hasSuffix(open),
              let hidden = Int(String(decoding: digits.reversed(), as: UTF8.self))
        else { return nil }
        let space = beforeDigits.bytes.count - open.utf8.count
        guard !honoringEscapes || beforeDigits.isUnescaped(space) else { return nil }
        return (beforeDigits.prefix(upTo: space), hidden)
    }
}
