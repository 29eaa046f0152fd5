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
        /// The identity of event `seq` the footer names (nil: none).
        package var event: UInt32?
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
    /// Sections the format does not know (`## Decisions`), verbatim, each
    /// with the place of the last known section before it.
    package var sections: [FreeSection] = []
    /// The character in each task's checkbox, as written (`x`, `X`, `~`, ` `).
    package var checkboxes: [String: Character] = [:]
    /// The tasks listed under a `### Wave W` heading: the file shows their
    /// wave (a flat section's, e.g. Failed's, is assumed, not shown).
    package var wavesShown: Set<String> = []
    /// Lines with text the parser could not read into the state (line
    /// number, text): an edit's merge keeps them in a conflict file.
    package var unreadLines: [(line: Int, text: String)] = []

    package static func == (a: ParsedStateFile, b: ParsedStateFile) -> Bool {
        a.workflowID == b.workflowID && a.name == b.name && a.currentWave == b.currentWave && a.totalWaves == b.totalWaves
            && a.started == b.started && a.updated == b.updated && a.tasks == b.tasks && a.notes == b.notes
            && a.metadata == b.metadata && a.footer == b.footer && a.filesTruncated == b.filesTruncated
            && a.sections == b.sections && a.checkboxes == b.checkboxes
            && a.unreadLines.map(\.line) == b.unreadLines.map(\.line) && a.unreadLines.map(\.text) == b.unreadLines.map(\.text)
    }

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
                             sections: sections, seq: footer?.seq ?? 0)
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
