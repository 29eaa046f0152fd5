#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Logging
import StateJournalEngine

// An edit of STATE.md — a person's or an agent's — recorded as events
// (Docs/GUARANTEES.md, "An edit of STATE.md"). STATE.md carries the seq it
// was rendered from, so the base of a three-way merge is always known: the
// base (the journal's state at that seq), the edit (the parsed file) and the
// current state (the journal's end) are merged by ``EditMerge``; the events
// are appended through the normal write path under the writers' lock, the
// conflicting parts written to `STATE.md.conflict-<UTC>`, and only then is
// STATE.md rendered again.

/// An edited STATE.md found on disk: a file whose footer checksum does not
/// match but which still parses and names the seq it was rendered from.
package struct StateFileEdit {
    /// The file's bytes, as read.
    package let bytes: [UInt8]
    package let file: ParsedStateFile
    /// The seq and event identity the footer names: the merge's base.
    package let baseSeq: UInt64
    package let baseEvent: UInt32?
    /// The CRC-32C of `bytes`: the edit's identity (`file_crc` in its events).
    package let checksum: UInt32
    /// When the file was last modified, and by whose file (as read with `bytes`).
    package let modified: Timestamp
    package let owner: UInt32

    /// The edit in `bytes`, or nil when they are not one: missing, intact,
    /// cut short (no final newline), not a STATE.md, or without a footer
    /// (the base is then unknown: such a file is kept aside as damaged).
    package init?(bytes: [UInt8]?, status: FileStatus?) {
        guard let bytes, bytes.last == UInt8(ascii: "\n") else { return nil }
        if case .success = ProjectionFooter.inspect(bytes) { return nil }
        guard let file = try? MarkdownParser.parse(String(decoding: bytes, as: UTF8.self)),
              let footer = file.footer, !file.workflowID.isEmpty else { return nil }
        self.bytes = bytes
        self.file = file
        checksum = bytes.withUnsafeBytes { CRC32C.update(0, $0) }
        baseSeq = footer.seq
        baseEvent = footer.event
        modified = Timestamp(microseconds: status?.modifiedMicroseconds ?? 0)
        owner = status?.owner ?? 0
    }
}

/// What recording an edit of STATE.md did — or, for a dry run, would do.
package struct EditSync {
    /// The events recorded, in order (for a dry run: that would be).
    package var events: [Event] = []
    /// The parts of the edit that were not recorded: the journal's value stands.
    package var conflicts: [EditMerge.Conflict] = []
    /// Lines of the edited file that were not read into the state.
    package var unreadLines: [(line: Int, text: String)] = []
    /// Where the conflicts and the whole edited file were kept (nil: nothing to keep, or a dry run).
    package var conflictFile: String?
    /// The seq the edited file was rendered from.
    package var baseSeq: UInt64
    /// The journal's state after the events.
    package var state: WorkflowState?
    /// The edited file's bytes.
    package var bytes: [UInt8]
}

extension StateManager {
    /// Reads STATE.md and returns the edit it holds, if any.
    package func readEdit() throws -> StateFileEdit? {
        guard let read = try readStateFileWhole() else { return nil }
        return StateFileEdit(bytes: read.bytes, status: read.status)
    }

    /// STATE.md's bytes and status (nil: missing), read so that an editor
    /// rewriting it in place meanwhile is not read half old, half new: the
    /// file's size and modification time are the same before and after the
    /// read, else it is read again.
    package func readStateFileWhole() throws -> (bytes: [UInt8], status: FileStatus)? {
        for _ in 0..<100 {
            guard let fd = try fs.openIfExists(statePath, O_RDONLY | O_NONBLOCK) else { return nil }
            defer { fs.closeQuietly(fd) }
            let before = try fs.sys.fstat(fd).get("stat", statePath)
            // One `pread` of a byte more than the file holds: a short count
            // is its end. A full one (it grew) is read again, below.
            var bytes = [UInt8](repeating: 0, count: Int(max(before.size, 0)) + 1)
            let n = try bytes.withUnsafeMutableBytes { try fs.sys.pread(fd, into: $0, offset: 0).get("read", statePath) }
            bytes.removeSubrange(n...)
            let after = try fs.sys.fstat(fd).get("stat", statePath)
            if before.size == after.size, before.modifiedMicroseconds == after.modifiedMicroseconds,
               Int64(bytes.count) == after.size {
                return (bytes, after)
            }
        }
        throw StateJournalError(.io, "'\(statePath)' kept changing while it was read; run the command again once it is saved",
                                path: statePath)
    }

    /// The actor edits are recorded as: the edited file's owner's user name
    /// — the command that happened to notice the edit did not make it, so
    /// its `--actor` is not the editor's (and must not pass the owner check
    /// of its own claims: Docs/GUARANTEES.md, "An edit of STATE.md"). Only
    /// an explicit `sync` (`explicit`) records it as `--actor` (or the
    /// library's configured actor).
    private func editActor(_ edit: StateFileEdit, explicit: Bool) -> String {
        if explicit, let actor = configuration.editActor { return actor }
        if let pw = getpwuid(edit.owner), let name = pw.pointee.pw_name { return String(cString: name) }
        return "uid \(edit.owner)"
    }

    /// Under the writers' lock, with `store`: merges `edit` into the
    /// journal. The events are checked against the fold like any other
    /// (a refused one becomes a conflict), the conflict file is written and
    /// fsynced, then the events are appended durably — all before anything
    /// replaces STATE.md. With `dryRun`, nothing is written. `explicit`:
    /// an explicit `sync`, whose actor the events carry (else the file
    /// owner's user name).
    ///
    /// - Returns: nil when the edit's base is not in this journal (its
    ///   footer names a later seq, or another event at that seq): such a
    ///   file is kept aside as damaged, as before.
    package func recordEdit(_ edit: StateFileEdit, in store: any JournalStore, dryRun: Bool = false,
                            explicit: Bool = false) throws -> EditSync? {
        let current = try currentFold(store)
        guard let now = current.state, edit.baseSeq >= 1, edit.baseSeq <= current.lastSeq else { return nil }
        if let identity = edit.baseEvent {
            guard let event = try event(edit.baseSeq, in: store), event.identity == identity else { return nil }
        }
        let base: WorkflowState?
        if edit.baseSeq == current.lastSeq {
            base = now
        } else {
            base = try fold(store, upTo: edit.baseSeq).state
        }
        guard let base else { return nil }
        // Recorded already — by this process (the same bytes), or by one
        // that stopped before it rendered STATE.md (events from this very
        // file, by the checksum of its bytes; a journal written before
        // events carried it: by its modification time): not merged twice.
        // Never by the modification time alone when the checksum is known:
        // a second save within the clock's granularity (or by `cp -p`)
        // has the first's time and other bytes.
        if lastRecordedEdit.withLock({ $0 }) == edit.bytes {
            return EditSync(baseSeq: edit.baseSeq, state: now, bytes: edit.bytes)
        }
        var recorded = false
        do {
            try store.readEvents(after: edit.baseSeq, upTo: current.lastSeq) { event in
                guard event.via == Event.viaEdit else { return }
                if let checksum = event.fileChecksum {
                    if checksum == edit.checksum { recorded = true }
                } else if edit.modified.microseconds != 0, event.fileModified == edit.modified {
                    recorded = true
                }
            }
        }
        if recorded { return EditSync(baseSeq: edit.baseSeq, state: now, bytes: edit.bytes) }
        let merge = EditMerge(base: base, edit: edit.file, current: now)
        var sync = EditSync(conflicts: merge.conflicts, unreadLines: edit.file.unreadLines, baseSeq: edit.baseSeq,
                            state: now, bytes: edit.bytes)
        var folded = current
        let actor = editActor(edit, explicit: explicit)
        for payload in merge.payloads {
            let time = max(Timestamp.now(), folded.lastTime)
            var event = Event(seq: folded.lastSeq + 1, time: time, actor: actor, pid: getpid(), payload: payload)
            event.via = Event.viaEdit
            event.fileModified = edit.modified
            event.fileChecksum = edit.checksum
            let encoded = event.json().encoded()
            event.identity = encoded.withUnsafeBytes { CRC32C.maskedFramed($0) }
            do {
                try store.checkFits(event, encoded: encoded)
                try folded.apply(event)
                sync.events.append(event)
            } catch {
                let message = (error as? StateJournalError)?.message ?? "\(error)"
                sync.conflicts.append(EditMerge.Conflict(item: payload.typeName + " " + Self.itemName(payload),
                                                         edit: Self.itemValue(payload), journal: "(unchanged)",
                                                         reason: "refused: " + message))
            }
        }
        sync.state = folded.state
        if dryRun { return sync }
        if !sync.conflicts.isEmpty || !sync.unreadLines.isEmpty {
            sync.conflictFile = try keepConflicts(sync, edit)
        }
        if let state = folded.state, !sync.events.isEmpty {
            folded.snapshotSeq = try appendEvents(sync.events, after: current, reaching: state, to: store)
            remember(folded, store)
        }
        editsRecorded.withLock { $0 += 1 }
        lastRecordedEdit.withLock { $0 = edit.bytes }
        let range = sync.events.isEmpty ? "no event" : "seq \(sync.events[0].seq)…\(sync.events[sync.events.count - 1].seq)"
        if let file = sync.conflictFile {
            logger.warning("STATE.md was edited; recorded \(range); parts of the edit were not recorded (the journal changed them since, or no event expresses them): they are kept in \(file)")
        } else {
            logger.notice("STATE.md was edited; recorded \(range)")
        }
        return sync
    }

    /// A writer's check, under the writers' lock, before it folds: records
    /// an edit of STATE.md first, so the write applies on top of it. Only
    /// when the projectors' lock is free (taken without waiting: a writer
    /// never waits for it while it holds the writers' lock): a holder of it
    /// may be rewriting STATE.md — or an editor that takes it, as
    /// Docs/GUARANTEES.md suggests, may be saving — and the next projector
    /// records the edit before it renders anyway.
    ///
    /// A STATE.md this process rendered, or found without an edit, is not
    /// read again while `lstat` finds it the same file with the same size
    /// and modification time (the steady-state write: one `lstat`). An edit
    /// that slips past that (saved within the same clock tick, same size) is
    /// recorded when STATE.md is rendered after the write, as ever.
    ///
    /// - Returns: what `lstat` of STATE.md said (nil: nothing there), for
    ///   the `.eager` writer's look before its append.
    @discardableResult
    package func recordEditBeforeWriting(_ store: any JournalStore) throws -> FileStatus? {
        let status = try fs.lstat(statePath)
        guard let status, status.isRegularFile, !isKnownClean(status) else { return status }
        guard let read = try readStateFileWhole() else { return status }
        guard StateFileEdit(bytes: read.bytes, status: read.status) != nil else {
            if case .intact = Self.status(of: read.bytes) { rememberClean(read.status) }
            return status
        }
        let lock = FileLock(path: projectorLockPath, fileSystem: fs)
        guard try lock.tryAcquire(command: configuration.command + " (recording an edit of STATE.md)") else { return status }
        defer { lock.release() }
        // Read again under the projectors' lock: the file is complete now.
        guard let complete = try readEdit(), true else { return status }
        _ = try recordEdit(complete, in: store)
        return status
    }

    /// Whether `status` is STATE.md as this process last found it without an edit.
    package func isKnownClean(_ status: FileStatus) -> Bool {
        guard let clean = cleanStateFile.withLock({ $0 }) else { return false }
        return clean == status && clean.modifiedMicroseconds == status.modifiedMicroseconds && status.modifiedMicroseconds != 0
    }

    /// Remembers STATE.md as holding no edit (nil: forget).
    package func rememberClean(_ status: FileStatus?) {
        cleanStateFile.withLock { $0 = status }
    }

    /// Runs `body` under `store`'s writers' lock. When the hold fails — also
    /// at its release, which for a database is the commit — an edit of
    /// STATE.md recorded inside it is no longer taken as recorded by this
    /// process (the journal, searched by the file's checksum, decides next
    /// time), and the folded state is dropped: neither may have been kept.
    package func withWritersLock<T>(_ store: any JournalStore, command: String, _ body: () throws -> T) throws -> T {
        let before = lastRecordedEdit.withLock { $0 }
        do {
            return try store.withWriteLock(configuration.lock, command: command, body)
        } catch {
            lastRecordedEdit.withLock { $0 = before }
            foldCache.withLock { $0 = nil }
            throw error
        }
    }

    /// Takes the writers' lock and records the edit STATE.md holds, if any
    /// (``recordEdit(_:in:dryRun:explicit:)``); nil when there is none.
    package func recordEditTakingLock(dryRun: Bool = false, explicit: Bool = false) throws -> EditSync? {
        guard let edit = try readEdit() else { return nil }
        let store = makeStore()
        return try withWritersLock(store, command: configuration.command + " (recording an edit of STATE.md)") {
            try recordEdit(edit, in: store, dryRun: dryRun, explicit: explicit)
        }
    }

    /// `sync`: records an edit of STATE.md, if there is one, and renders
    /// STATE.md from the journal; with `dryRun`, only says what it would
    /// record. Nil when STATE.md holds no edit (it is then made current).
    package func syncEdits(dryRun: Bool) throws -> EditSync? {
        try fs.refuseSymbolicLink(statePath, as: "the state file")
        if dryRun { return try recordEditTakingLock(dryRun: true, explicit: true) }
        var result: EditSync?
        try publish(nil, policy: .eager, onEdit: { result = $0 })
        return result
    }

    /// Writes the conflicts, the lines not understood and the whole edited
    /// file to `STATE.md.conflict-<UTC>` (a new name; fsynced with its directory).
    private func keepConflicts(_ sync: EditSync, _ edit: StateFileEdit) throws -> String {
        var text = "# Conflicts of an edit of \(statePath)\n\n"
        text += "The edit (file modified \(edit.modified.rfc3339), rendered from seq \(edit.baseSeq)) was recorded as "
        text += "\(sync.events.count) event\(sync.events.count == 1 ? "" : "s")"
        text += sync.events.isEmpty ? "" : " (seq \(sync.events[0].seq)…\(sync.events[sync.events.count - 1].seq))"
        text += ". The parts below were not: the journal's value stands.\n"
        if !sync.conflicts.isEmpty {
            text += "\n## Not recorded\n\n"
            for conflict in sync.conflicts {
                text += "- \(conflict.item)\n  - the edit: \(conflict.edit)\n  - the journal: \(conflict.journal)\n  - why: \(conflict.reason)\n"
            }
        }
        if !sync.unreadLines.isEmpty {
            text += "\n## Lines not understood\n\n"
            for (line, content) in sync.unreadLines { text += "- line \(line): \(content)\n" }
        }
        text += "\n## The edited file, as it was\n\n~~~~~~~~ markdown\n" + String(decoding: edit.bytes, as: UTF8.self) + "~~~~~~~~\n"
        return try keepUnderNewName(statePath + ".conflict-" + Timestamp.now().compactUTC) { name throws(StateJournalError) in
            try fs.writeNewFile(name, Array(text.utf8))
        }
    }

    private static func itemName(_ payload: Event.Payload) -> String {
        if !payload.taskIDs.isEmpty { return payload.taskIDs.joined(separator: ", ") }
        switch payload {
        case .noteAdded(let text), .noteRemoved(let text): return "“\(text)”"
        case .metadataSet(let key, _), .metadataRemoved(let key): return key
        case .sectionSet(let section): return "## " + section.name
        default: return ""
        }
    }

    private static func itemValue(_ payload: Event.Payload) -> String {
        switch payload {
        case .taskStarted: return "in_progress"
        case .taskCompleted: return "completed"
        case .taskFailed(_, let error, _): return "failed: \(error)"
        case .metadataSet(_, let value): return value
        case .waveSet(let wave): return "wave \(wave)"
        case .sectionSet(let section): return section.markdown.isEmpty ? "(removed)" : section.markdown
        case .workflowRenamed(let name): return name
        default: return Self.itemName(payload)
        }
    }
}
