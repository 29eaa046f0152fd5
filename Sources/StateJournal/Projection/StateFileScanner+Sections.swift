import StateJournalEngine

extension StateFileScanner {
    // MARK: Sections

    mutating func openSection(_ line: Line) {
        closeSection()
        let title = line.text.dropping(StateMarkdown.sectionPrefix)?.string ?? ""
        let wave = StateMarkdown.defaultWave(currentWave: file.currentWave)
        var kind: StateFileSection?
        var count: Int?
        var free: Int?
        switch StateFileSection.heading(Substring(title)) {
        case .unknown:
            // A free section (`## Decisions`): kept verbatim.
            let name = line.text.dropping(StateMarkdown.sectionPrefix)?.trimmingBlanks.string ?? ""
            if file.sections.contains(where: { $0.name == name }) || name.isEmpty {
                unread(line, "a second section '\(StateMarkdown.sectionPrefix)\(name)'")
            } else {
                free = file.sections.count
                file.sections.append(FreeSection(name: name, after: lastPlace, markdown: ""))
                freeSectionLines.append(line.number)
            }
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
        if let kind {
            lastPlace = kind.place
            lastKnownSectionLine = line.number
        }
        section = OpenSection(kind: kind, heading: line.number, declaredCount: count, wave: wave, free: free)
    }

    mutating func closeSection() {
        if let section, section.kind == nil, let index = section.free {
            var lines = section.freeLines[...]
            while lines.first?.allSatisfy({ $0 == " " || $0 == "\t" }) == true { lines = lines.dropFirst() }
            while lines.last?.allSatisfy({ $0 == " " || $0 == "\t" }) == true { lines = lines.dropLast() }
            file.sections[index].markdown = lines.joined(separator: "\n")
            if lines.isEmpty {
                file.sections.remove(at: index)
                freeSectionLines.remove(at: index)
            }
        }
        guard let section, section.kind?.status != nil, let declared = section.declaredCount,
              declared != section.listed
        else { return }
        problem(section.heading, "the heading says \(StateMarkdown.taskCount(declared)) but the section lists "
            + "\(section.listed)")
    }

    mutating func readSectionLine(_ line: Line) {
        if section != nil, section?.kind == nil {
            if section?.free != nil {
                section?.freeLines.append(line.text.string)
            } else if !line.text.isBlank {
                file.unreadLines.append((line.number, line.text.string))
            }
            return
        }
        guard !line.text.isBlank, let kind = section?.kind else {
            if !line.text.isBlank { unread(line, "a line before any section") }
            return
        }
        switch kind {
        case .notes: readNote(line)
        case .metadata: readMetadata(line)
        default: readTaskSectionLine(line, kind)
        }
    }

    mutating func readNote(_ line: Line) {
        if line.text.string == "-" {
            file.notes.append("")
        } else if let note = line.text.dropping("- ") {
            file.notes.append(userText(note))
        } else {
            unread(line, "unexpected line in Notes; expected '- text'")
        }
    }

    mutating func readMetadata(_ line: Line) {
        guard let entry = line.text.dropping("- **"),
              let end = entry.firstIndex(of: ":**", honoringEscapes: escaped)
        else {
            unread(line, "malformed metadata line; expected '- **key:** value'")
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

    mutating func readTaskSectionLine(_ line: Line, _ kind: StateFileSection) {
        let text = line.text
        if let wave = text.dropping(StateMarkdown.wavePrefix).flatMap({ Int($0.trimmingBlanks.string) }) {
            section?.wave = wave
            section?.waveShown = true
        } else if text.hasPrefix("#") {
            unread(line, "malformed wave heading; expected '\(StateMarkdown.wavePrefix)N'")
        } else if text.startsWithBlank {
            readDetail(line)
        } else {
            switch TaskLine(text) {
            case .task(let checkbox, let id, let description):
                addTask(line, kind, checkbox: checkbox, id: id, description: description.map(userText) ?? "")
            case .malformed(let message):
                unread(line, message)
            case .other:
                unread(line, "unexpected line in \(kind.title); expected a task "
                    + "'- [\(kind.checkbox)] **ID**: description' or '\(StateMarkdown.wavePrefix)N'")
            }
        }
    }

    mutating func addTask(_ line: Line, _ kind: StateFileSection, checkbox: Character, id: String,
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
        if file.checkboxes[id] == nil { file.checkboxes[id] = checkbox }
        if section?.waveShown == true { file.wavesShown.insert(id) }
        file.tasks.append(WorkflowTask(id: id, description: description, status: status, wave: wave))
    }

    mutating func readDetail(_ line: Line) {
        let detail = line.text.trimmingLeadingBlanks
        guard let index = section?.lastTask else {
            unread(line, "a task detail line before any task")
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
        } else if let value = detail.dropping(StateMarkdown.dependsOnLabel)?.trimmingBlanks {
            let ids = value.string.split(separator: ",").map { String($0.drop(while: { $0 == " " })) }
            for id in ids where Identifier.problem(id) != nil {
                problem(line.number, "the dependency '\(id)' \(Identifier.problem(id) ?? "")")
            }
            file.tasks[index].dependsOn = ids
        } else if let value = detail.dropping(StateMarkdown.ownerLabel) {
            file.tasks[index].owner = userText(value.droppingOneSpace)
        } else if let value = detail.dropping(StateMarkdown.leaseLabel)?.trimmingBlanks {
            guard let expiry = Timestamp(parsing: value.string) else {
                problem(line.number, "malformed lease; expected '\(StateMarkdown.leaseLabel) YYYY-MM-DD HH:MM:SS'")
                return
            }
            file.tasks[index].leaseExpires = expiry
        } else {
            unread(line, "unknown task detail; expected '\(StateMarkdown.commitLabel)', "
                + "'\(StateMarkdown.filesLabel)', '\(StateMarkdown.errorLabel)', '\(StateMarkdown.dependsOnLabel)', "
                + "'\(StateMarkdown.ownerLabel)' or '\(StateMarkdown.leaseLabel)'")
        }
    }

    /// `a, b, c (+N more)`.
    mutating func readFiles(_ value: LineText, of index: Int) {
        var list = value
        if let (shown, hidden) = value.splittingTruncation(honoringEscapes: escaped) {
            list = shown
            file.filesTruncated[file.tasks[index].id] = hidden
        }
        file.tasks[index].files = list.split(", ", honoringEscapes: escaped).map(userText)
    }
}

/// A task line: `- [x] **ID**: description` or `- [x] **ID**`.
enum TaskLine {
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
struct LineText {
    package let bytes: ArraySlice<UInt8>

    package init(_ bytes: ArraySlice<UInt8>) { self.bytes = bytes }

    package var string: String { String(decoding: bytes, as: UTF8.self) }
    package var isEmpty: Bool { bytes.isEmpty }
    package var first: UInt8? { bytes.first }
    package var isBlank: Bool { bytes.allSatisfy(Self.isBlank) }
    package var startsWithBlank: Bool { bytes.first.map(Self.isBlank) ?? false }

    static func isBlank(_ byte: UInt8) -> Bool { byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") }

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
    func isUnescaped(_ index: Int) -> Bool {
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
