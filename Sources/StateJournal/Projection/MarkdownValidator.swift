import StateJournalEngine
/// One thing wrong with a STATE.md file, at a line.
package struct ValidationProblem: Sendable, Equatable, CustomStringConvertible {
    /// The line, from 1.
    package let line: Int
    package let message: String

    package init(line: Int, message: String) {
        self.line = line
        self.message = message
    }

    /// `line N: message`.
    package var description: String { "line \(line): \(message)" }
}

/// Checks a markdown file against the STATE.md format (Docs/FORMAT.md, STATE.md).
///
/// Every problem is reported, in line order, with its line number:
/// - a missing or misplaced `# Workflow: NAME` title; a missing or malformed
///   workflow ID, status line, Started or Updated time (missing header lines
///   are reported where the header ends: the `---` line, else the first
///   section);
/// - malformed task lines and checkboxes (`- [y]`, `-[x]`, …), a checkbox that
///   does not match its section, invalid or repeated task IDs, unknown task
///   details, malformed `### Wave N` headings;
/// - unknown sections, repeated sections, task counts in section headings
///   that disagree with the tasks listed, malformed notes and metadata lines;
/// - a malformed footer, a footer that is not the last line, and a checksum
///   that does not match the content.
///
/// A file without a footer (as the earlier tool wrote them) can be valid; its
/// quirks — extra blank lines, "(1 tasks)", sections without wave headings —
/// are not problems.
///
/// ```swift
/// for problem in MarkdownValidator.validate(text) { log(problem.description) }
/// ```
package enum MarkdownValidator {
    /// Every problem of `text`, in line order; empty when the file is valid.
    package static func validate(_ text: String) -> [ValidationProblem] {
        StateFileScanner.scan(text).problems
    }
}
