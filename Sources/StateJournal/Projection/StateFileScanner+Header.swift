import StateJournalEngine

extension StateFileScanner {
    // MARK: Header

    mutating func readHeaderLine(_ line: Line) {
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
            unread(line, "unexpected line in the header")
        }
    }

    /// The trimmed value of a `**Label:** value` header line, noting repeats.
    mutating func headerValue(_ line: Line, _ label: String) -> LineText? {
        guard let value = line.text.dropping(label) else { return nil }
        if let first = headerLabels[label] {
            problem(line.number, "a second '\(label)' line (the first is on line \(first))")
        } else {
            headerLabels[label] = line.number
        }
        return value.trimmingBlanks
    }

    mutating func time(_ value: LineText, _ line: Line, _ what: String) -> String {
        let text = value.string
        if !StateMarkdown.isLocalDateTime(text) {
            problem(line.number, "malformed \(what) time '\(text)'; expected YYYY-MM-DD HH:MM:SS")
        }
        return text
    }

    /// Reports what the header lacks; `line` is where the header ends.
    mutating func endHeader(at line: Int) {
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
}
