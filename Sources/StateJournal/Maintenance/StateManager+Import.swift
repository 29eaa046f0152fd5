#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Logging
import StateJournalEngine

/// What `import` read.
package enum ImportSourceKind: String, Sendable {
    /// A STATE.md file (StateJournal's or the earlier tool's).
    case stateFile = "state-file"
    /// An `export` file: JSON Lines, one event a line.
    case export
}

/// What an import wrote.
package struct ImportOutcome: Sendable {
    /// What the imported bytes were.
    package let kind: ImportSourceKind
    /// The events written: 1 for a STATE.md, the whole history for an export.
    package let events: [Event]
    /// The state after the last of them.
    package let state: WorkflowState
    /// True when this was a retry (same idempotency key) of an import that
    /// had been written, and nothing was written now.
    package let wasDuplicate: Bool
}

extension StateManager {
    /// Starts a new journal from `bytes`: a STATE.md file or an `export`
    /// file, told apart by content (an export's first non-blank character is
    /// `{`; a STATE.md starts with `# Workflow:`).
    ///
    /// - A STATE.md becomes one `state.replaced` event whose state is the
    ///   file's, stamped with the file's **Updated** time (so `show` prints the
    ///   same `updated`) and this manager's actor and process. Files only
    ///   name the first three files of a task; the `(+N more)` are not known
    ///   and are not imported (a notice is logged).
    /// - An export's events are written as they are — sequence numbers,
    ///   times, actors, process ids, idempotency keys and payloads — so the
    ///   new journal has the same history and state.
    ///
    /// Everything is checked before anything is written, and the events go
    /// in one durable append: a failed import leaves no journal.
    ///
    /// `options` work as on every write: `expectSeq` must be 0 (no journal
    /// yet) when given; an `idempotencyKey` makes a retry succeed without
    /// writing — for a STATE.md the key is recorded on its event, and a
    /// journal holding that key is the earlier try; for an export, a journal
    /// holding exactly the export's events is.
    ///
    /// - Parameter source: names the input in messages, e.g. the file name.
    /// - Throws: `.badInput` when a journal already exists at this path, or
    ///   when the input is neither a STATE.md nor an export, or is malformed
    ///   (the message names the line and what was expected); `.conflict`
    ///   when `expectSeq` does not match.
    @discardableResult
    package func importHistory(_ bytes: [UInt8], source: String, options: WriteOptions = WriteOptions()) throws -> ImportOutcome {
        if Self.looksLikeExport(bytes) {
            let events = try Self.parseExport(bytes, source: source)
            let (state, duplicate) = try appendHistory(events, source: source, options: options) { $0 == events }
            return ImportOutcome(kind: .export, events: events, state: state, wasDuplicate: duplicate)
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw StateJournalError.badInput("\(source) is not UTF-8 text; expected a STATE.md file or an export (JSON Lines)")
        }
        let parsedFile: ParsedStateFile
        do {
            parsedFile = try MarkdownParser.parse(text)
        } catch {
            throw StateJournalError.badInput("\(source) is neither a STATE.md file (\(error.message)) nor an export "
                + "(JSON Lines of events, as 'statejournal export' prints them); give one of those")
        }
        let state = try Self.parse(text)
        for (task, hidden) in parsedFile.filesTruncated.sorted(by: { $0.key < $1.key }) {
            logger.notice("the file names only the first files of a task; the others are not known and are not imported",
                          metadata: ["task": "\(task)", "notShown": "\(hidden)"])
        }
        let event = Event(seq: 1, time: state.updated, actor: configuration.actor, pid: getpid(),
                          idempotencyKey: options.idempotencyKey, payload: .stateReplaced(StateImage(state)))
        do {
            _ = try WorkflowState.applying(event, to: nil)
        } catch {
            throw StateJournalError.badInput("\(source) cannot be imported: \(error.message); fix the file and import it again")
        }
        var original = event
        let (final, duplicate) = try appendHistory([event], source: source, options: options) { existing in
            guard let earlier = existing.first(where: { $0.idempotencyKey == options.idempotencyKey }) else { return false }
            original = earlier
            return true
        }
        return ImportOutcome(kind: .stateFile, events: [original], state: final, wasDuplicate: duplicate)
    }

    /// Whether the first non-blank byte is `{`.
    package static func looksLikeExport(_ bytes: [UInt8]) -> Bool {
        var i = 0
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { i = 3 }  // a byte-order mark
        while i < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[i]) { i += 1 }
        return i < bytes.count && bytes[i] == UInt8(ascii: "{")
    }

    /// The events of an export file, one JSON object a line; blank lines are
    /// skipped.
    package static func parseExport(_ bytes: [UInt8], source: String) throws -> [Event] {
        var events: [Event] = []
        var lineNumber = 0
        for line in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            lineNumber += 1
            guard line.contains(where: { ![0x20, 0x09, 0x0D].contains($0) }) else { continue }
            let json: JSON
            do {
                json = try JSON.parse(Array(line))
            } catch {
                throw StateJournalError.badInput("\(source):\(lineNumber): not valid JSON (\(error)); "
                    + "expected an export: one event a line, as 'statejournal export' prints them")
            }
            do {
                events.append(try Event(json: json))
            } catch {
                throw StateJournalError.badInput("\(source):\(lineNumber): not an event (\(error)); "
                    + "expected an export: one event a line, as 'statejournal export' prints them")
            }
        }
        return events
    }
}
