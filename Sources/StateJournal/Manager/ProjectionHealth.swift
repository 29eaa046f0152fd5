#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Logging
import Synchronization
import StateJournalEngine

/// How STATE.md on disk relates to the journal.
package enum ProjectionStatus: Equatable {
    /// Intact (its checksum matches) and shows the journal at `seq`, whose
    /// event had identity `event` (nil in files written before identities).
    case intact(seq: UInt64, event: UInt32?)
    /// Missing: there is nothing to keep, only to regenerate.
    case missing
    /// Truncated, garbled or edited by hand: kept aside, then regenerated.
    case damaged(String)
}

extension StateManager {
    package var projectorLockPath: String { configuration.projectorLockPath }

    /// Reads STATE.md's footer (sequence number, event identity, checksum).
    ///
    /// - Parameter known: what `lstat` of STATE.md just returned (a regular
    ///   file: its size sizes the one read; nil: there is none).
    package func projectionStatus(known: FileStatus?? = .none) throws -> ProjectionStatus {
        try readProjection(known: known).status
    }

    /// STATE.md's bytes (nil: missing) and what they say.
    package func readProjection(known: FileStatus?? = .none) throws -> (status: ProjectionStatus, bytes: [UInt8]?) {
        let bytes: [UInt8]?
        if case .some(let status) = known, status?.isSymbolicLink != true {
            guard let status else { return (.missing, nil) }
            bytes = try readStateFile(sizeHint: status.size)
        } else {
            bytes = try readStateFileWhole()?.bytes
        }
        return (Self.status(of: bytes), bytes)
    }

    /// STATE.md's bytes (nil when it is missing), read with one `pread`
    /// when it is `sizeHint` bytes long, as `lstat` just said.
    private func readStateFile(sizeHint: Int64) throws -> [UInt8]? {
        guard let fd = try fs.openIfExists(statePath, O_RDONLY | O_NONBLOCK) else { return nil }
        defer { fs.closeQuietly(fd) }
        var bytes = [UInt8](repeating: 0, count: Int(max(sizeHint, 0)) + 1)
        let n = try bytes.withUnsafeMutableBytes { try fs.sys.pread(fd, into: $0, offset: 0).get("read", statePath) }
        // Longer than it was a moment ago: read it whole.
        if n == bytes.count { return try fs.readAll(fd, statePath) }
        bytes.removeSubrange(n...)
        return bytes
    }

    /// The seq and event identity STATE.md's last line claims, read from the
    /// end of the file only (not checked against the content); nil when
    /// there is no file or no footer.
    package func footerPosition() throws -> (seq: UInt64, event: UInt32?)? {
        guard let fd = try fs.openIfExists(statePath, O_RDONLY | O_NONBLOCK) else { return nil }
        defer { fs.closeQuietly(fd) }
        let size = try fs.sys.fstat(fd).get("stat", statePath).size
        let tailLength = Int(min(size, Int64(ProjectionFooter.maximumLineLength)))
        var tail = [UInt8](repeating: 0, count: tailLength)
        let n = try tail.withUnsafeMutableBytes { try fs.sys.pread(fd, into: $0, offset: size - Int64(tailLength)).get("read", statePath) }
        guard n == tailLength else { return nil }
        return ProjectionFooter.claimedPosition(inTail: tail)
    }

    /// Rewrites STATE.md now if it does not show the journal's last event.
    /// Also removes temporary files a killed writer left beside STATE.md.
    public func refreshProjection() throws {
        try publish(nil, policy: .eager, cleanUp: true)
    }

    /// Before a read answers: makes STATE.md show the journal's committed
    /// state, regenerating a missing, stale or damaged one (Docs/GUARANTEES.md,
    /// Self-healing: any command, read or write). The current state is
    /// folded from `store` — the read's own session — and STATE.md's footer
    /// compared with it; only a file that does not show it is rewritten
    /// (by ``publish(_:policy:cleanUp:previousIsProjection:store:onEdit:)``).
    ///
    /// A failure is logged, not thrown: the journal, not STATE.md, is what
    /// the read answers from (and a damaged journal fails the read itself).
    /// - Returns: the current fold, nil when folding failed.
    @discardableResult
    package func healBeforeReading(_ store: any JournalStore) -> Folded? {
        func failed(_ error: any Error) {
            logger.warning("could not regenerate STATE.md before reading", metadata: ["error": "\(error)"])
        }
        var current: Folded
        do { current = try currentFold(store) } catch {
            failed(error)
            return nil
        }
        let edits = editsRecorded.withLock { $0 }
        do {
            if current.state != nil { try publish(current.position, policy: .eager) }
        } catch {
            failed(error)
        }
        // An edit of STATE.md was recorded: the read answers with it.
        if editsRecorded.withLock({ $0 }) != edits {
            do { current = try currentFold(store) } catch {
                failed(error)
                return nil
            }
        }
        return current
    }

    /// Makes STATE.md show `shown` — a committed event's sequence number and
    /// identity — or a later state of the same journal, as `policy` says.
    /// With `shown` nil, STATE.md is made to show the journal's last event.
    ///
    /// Projectors take their own lock (not the writers'), so writers keep
    /// appending meanwhile; a projector renders the newest *committed* state
    /// (the store takes the writers' lock for a moment to learn what is
    /// durable, see ``FileJournal/committedBoundary()``), so one rewrite
    /// covers every writer that finished before it — the others find STATE.md
    /// showing their event or the same journal's later one and return.
    ///
    /// STATE.md is current only when its footer names the journal's last
    /// event by sequence number *and* identity. A file that claims a later
    /// event than the journal holds, or the same sequence number with
    /// another identity (the journal was put back from an older copy, or its
    /// tail was lost), is kept as `STATE.md.damaged-<UTC time>` and
    /// regenerated, as is a damaged or hand-edited file.
    ///
    /// With `cleanUp`, it always takes the projectors' lock and removes the
    /// temporary files (`STATE.md.tmp-…`, `STATE.md.backup.tmp-…`) that a
    /// writer killed while replacing STATE.md left behind: only holders of
    /// that lock create them, so under it none is in use. With
    /// `previousIsProjection`, a file without a footer at the path is the
    /// previous projection (an import's source), kept as the backup rather
    /// than as damaged.
    ///
    /// The new STATE.md is fsynced, and the directory after its rename, only
    /// for `cleanUp` (compact, verify, refresh) and `previousIsProjection`
    /// (import). The rewrites that follow writes and reads are not: STATE.md
    /// is a projection of the journal, whose events are durable before
    /// anything shows them, and any command regenerates a STATE.md a power
    /// loss left behind, missing or damaged (Docs/GUARANTEES.md, "What a
    /// power loss can and cannot do").
    package func publish(_ shown: (seq: UInt64, event: UInt32)?, policy: ProjectionPolicy, cleanUp: Bool = false,
                 previousIsProjection: Bool = false, store: (any JournalStore)? = nil,
                 onEdit: ((EditSync) -> Void)? = nil) throws {
        // Before anything is read or kept aside through it.
        try fs.refuseSymbolicLink(statePath, as: "the state file")
        if let shown, !cleanUp, policy != .eager {
            // Deciding to wait needs only the footer's seq (the last line),
            // not the whole file's checksum; a missing file is written anyway.
            if let onDisk = try footerPosition(), onDisk.seq <= shown.seq {
                switch policy {
                case .manual: return
                case .everyEvents(let n): if shown.seq - onDisk.seq < n { return }
                case .interval(let ms):
                    let last = lastProjection.withLock { $0 }
                    if Timestamp.now().microseconds - last < ms * 1000 { return }
                case .eager: break
                }
            }
        }
        let status = try projectionStatus()
        if let shown, !cleanUp, status == .intact(seq: shown.seq, event: shown.event) { return }
        let lock = FileLock(path: projectorLockPath, fileSystem: fs)
        try lock.acquire(configuration.lock, command: configuration.command + " (projecting STATE.md)")
        defer { lock.release() }
        var isIntact = false
        if case .intact = status { isIntact = true }
        if cleanUp || !isIntact { try removeStaleTemporaries() }
        // Committed events only: never a write that may yet fail. (A writer's
        // store, after its lock hold, takes a new committed boundary.)
        let reader = store ?? makeStore()
        let folded = try currentFold(reader)
        guard let state = folded.state else { return }
        // A reader that could not take the writers' lock (no lock file it
        // may open or create) read every record, a write in progress
        // included: it may answer from them, but projects nothing.
        if (reader as? FileJournal)?.readPastUnknownBoundary == true {
            logger.debug("STATE.md not regenerated: without the lock file the journal's committed end is unknown",
                         metadata: ["path": "\(statePath)"])
            return
        }
        let read = try readProjection()
        try replaceProjection(showing: state, lastSeq: folded.lastSeq, status: read.status,
                              previousIsProjection: previousIsProjection, lock: lock, durable: cleanUp || previousIsProjection,
                              seen: read.bytes, onEdit: onEdit)
    }

    /// Under the projectors' lock `lock`: makes STATE.md show `state`, the
    /// journal's state at `lastSeq` — unless it already does — keeping a
    /// damaged file, or one that claims an event the journal does not hold,
    /// under a new name first. An *edit* (a file whose checksum fails but
    /// which parses and names its seq) is recorded first, under the writers'
    /// lock (``recordEdit(_:in:dryRun:explicit:)``), and the state it led to is
    /// rendered; the edited file becomes `STATE.md.backup`.
    ///
    /// The decision is made on the bytes read here; right before the rename
    /// STATE.md is read again and, if it changed meanwhile (an editor saved),
    /// the decision is made anew. An edit saved after that last read — the
    /// width of a `link` and a `rename` — is replaced (an in-place write then
    /// lands in `STATE.md.backup`): Docs/GUARANTEES.md, "An edit of STATE.md".
    ///
    /// - Parameter durable: fsync the new file and the directory (see
    ///   ``publish(_:policy:cleanUp:previousIsProjection:store:onEdit:)``).
    private func replaceProjection(showing state: WorkflowState, lastSeq: UInt64, status: ProjectionStatus,
                                   previousIsProjection: Bool, lock: FileLock, known: FileStatus?? = .none,
                                   durable: Bool, seen: [UInt8]?? = .none, onEdit: ((EditSync) -> Void)? = nil) throws {
        var state = state
        var lastSeq = lastSeq
        var status = status
        var known = known
        var seen: [UInt8]? = try seen ?? readStateFileWhole()?.bytes
        // The status read together with `seen` (never a later `lstat`: an
        // editor may have saved again since).
        var seenStatus: FileStatus?
        if case .damaged = status {
            // Read as a whole (not half before, half after an editor's save).
            let whole = try readStateFileWhole()
            seen = whole?.bytes
            seenStatus = whole?.status
            status = Self.status(of: seen)
        }
        if case .none = seen { status = .missing }
        for attempt in 1...Self.projectionAttempts {
            var backup: String? = backupPath
            switch status {
            case .intact(let seq, let event) where seq == lastSeq && event == state.eventIdentity:
                return  // current (another projector got there first)
            case .intact(let seq, let event) where seq > lastSeq || (seq == lastSeq && event != nil):
                let kept = try keepDamagedCopy()
                backup = nil
                logger.warning("STATE.md shows an event the journal does not hold (the journal was put back from an older copy, or lost its tail); kept it and regenerated it",
                               metadata: ["path": "\(statePath)", "fileSeq": "\(seq)", "journalSeq": "\(lastSeq)", "keptAs": "\(kept)"])
            case .intact:
                break  // behind the journal, or written before identities: the previous projection
            case .missing:
                logger.debug("STATE.md was missing; regenerating it from the journal", metadata: ["path": "\(statePath)"])
            case .damaged where previousIsProjection:
                break
            case .damaged(let reason):
                if attempt < Self.projectionAttempts,
                   let edit = StateFileEdit(bytes: seen, status: seenStatus) {
                    let store = makeStore()
                    let sync: EditSync?
                    do {
                        sync = try withWritersLock(store, command: configuration.command + " (recording an edit of STATE.md)") {
                            // Only `sync` asks for the edit (`onEdit`): its actor is the editor's.
                            try recordEdit(edit, in: store, explicit: onEdit != nil)
                        }
                    } catch {
                        throw StateJournalError(.io, "STATE.md was edited, but the edit could not be recorded in the journal: \(error); "
                            + "STATE.md was left as it is — run 'statejournal sync' where the journal can be written", path: statePath)
                    }
                    if let sync, let merged = sync.state {
                        onEdit?(sync)
                        state = merged
                        lastSeq = merged.seq
                        break  // the edited file becomes the backup
                    }
                }
                let kept = try keepDamagedCopy()
                backup = nil  // the backup keeps the last good projection
                logger.warning("STATE.md was damaged or edited by hand; kept it and regenerated it from the journal",
                               metadata: ["path": "\(statePath)", "reason": "\(reason)", "keptAs": "\(kept)"])
            }
            try lock.validate()
            let pending = try fs.prepareReplacement(of: statePath, with: MarkdownRenderer.renderBytes(state), known: known,
                                                    durable: durable)
            // The last check: STATE.md is still the file the decision was made on.
            let now: [UInt8]?
            var nowStatus = seenStatus
            do {
                if try stateFileIsStill(seen) {
                    now = seen
                } else {
                    let whole = try readStateFileWhole()
                    now = whole?.bytes
                    nowStatus = whole?.status
                }
            } catch {
                fs.discard(pending)
                throw error
            }
            if now != seen, attempt < Self.projectionAttempts {
                fs.discard(pending)
                logger.notice("STATE.md changed while it was being rewritten (an editor saved); deciding again")
                seen = now
                seenStatus = nowStatus
                known = .none
                status = Self.status(of: now)
                continue
            }
            if now != seen, let now, !now.isEmpty {
                // Still changing after every attempt: kept, never lost.
                _ = try keepDamagedCopy()
            }
            try fs.commit(pending, backup: backup, durable: durable)
            lastProjection.withLock { $0 = Timestamp.now().microseconds }
            rememberClean(try? fs.lstat(statePath))
            return
        }
    }

    /// Whether STATE.md holds exactly `bytes` (nil: is missing): one `pread`.
    private func stateFileIsStill(_ bytes: [UInt8]?) throws -> Bool {
        guard let fd = try fs.openIfExists(statePath, O_RDONLY | O_NONBLOCK) else { return bytes == nil }
        defer { fs.closeQuietly(fd) }
        guard let bytes else { return false }
        var now = [UInt8](repeating: 0, count: bytes.count + 1)
        let n = try now.withUnsafeMutableBytes { try fs.sys.pread(fd, into: $0, offset: 0).get("read", statePath) }
        return n == bytes.count && now.prefix(n).elementsEqual(bytes)
    }

    /// How many times a projector decides again when STATE.md keeps changing under it.
    private static let projectionAttempts = 8

    /// What STATE.md's bytes say (nil: missing).
    package static func status(of bytes: [UInt8]?) -> ProjectionStatus {
        guard let bytes else { return .missing }
        switch ProjectionFooter.inspect(bytes) {
        case .success(let footer): return .intact(seq: footer.seq, event: footer.event)
        case .failure(let reason): return .damaged(reason.message)
        }
    }

    /// A writer's projection of its own state (``ProjectionPolicy/eager``),
    /// under the projectors' lock `lock`, which it took while it still held
    /// the writers' lock with `state` the journal's newest committed state
    /// (its own append, confirmed): no projector was at work then, and any
    /// that comes later waits for `lock` and renders this state or a later
    /// one. So `state` need not be folded again: STATE.md is made to show
    /// it, as ``publish(_:policy:cleanUp:previousIsProjection:store:onEdit:)``
    /// would, with what STATE.md is read once.
    ///
    /// - Parameter known: what `lstat` of STATE.md said under the writers'
    ///   lock, before the append (before `lock` was taken: STATE.md may have
    ///   changed since, so nothing is decided on it — it sizes the read and
    ///   gives the new file's permissions).
    package func replaceProjection(showing state: WorkflowState, underProjectorLock lock: FileLock, known: FileStatus?) throws {
        // Before anything is read or kept aside through it.
        if known?.isSymbolicLink == true { try fs.refuseSymbolicLink(statePath, as: "the state file") }
        // The usual case — STATE.md is the previous projection — rendered
        // first and STATE.md read once, right before the rename: that read
        // is both the decision and the last check of the usual way (below),
        // so an edit saved before it is seen, and the window left is the
        // same `link` and `rename`. `known` only sizes the read and gives
        // the new file's permissions. Anything else: the usual way, from
        // what was read.
        var seen: (status: ProjectionStatus, bytes: [UInt8]?)?
        if let known, known.isRegularFile {
            try lock.validate()
            let pending = try fs.prepareReplacement(of: statePath, with: MarkdownRenderer.renderBytes(state), known: .some(known),
                                                    durable: false)
            let read: (status: ProjectionStatus, bytes: [UInt8]?)
            do {
                read = try readProjection(known: .some(known))
            } catch {
                fs.discard(pending)
                throw error
            }
            if case .intact(let seq, let event) = read.status, seq < state.seq || (seq == state.seq && event == nil) {
                try fs.commit(pending, backup: backupPath, durable: false)
                lastProjection.withLock { $0 = Timestamp.now().microseconds }
                rememberClean(try? fs.lstat(statePath))
                return
            }
            fs.discard(pending)
            seen = read
        }
        let read = try seen ?? readProjection(known: known)
        if read.status == .intact(seq: state.seq, event: state.eventIdentity) { return }
        if case .intact = read.status {} else { try removeStaleTemporaries() }
        try replaceProjection(showing: state, lastSeq: state.seq, status: read.status, previousIsProjection: false, lock: lock,
                              known: seen == nil ? known : .none, durable: false, seen: read.bytes)
    }

    /// Under the projectors' lock: removes temporaries of STATE.md and its backup.
    private func removeStaleTemporaries() throws {
        let dir = FileSystem.directory(of: statePath)
        let base = String(statePath.split(separator: "/").last ?? "")
        let prefixes = [base + ".tmp-", base + ".backup.tmp-"]
        for name in try fs.list(dir) where prefixes.contains(where: { name.hasPrefix($0) }) {
            try fs.unlinkIfExists(FileSystem.join(dir, name))
            logger.notice("removed a temporary file left by an interrupted write", metadata: ["file": "\(FileSystem.join(dir, name))"])
        }
    }

    /// Keeps the current STATE.md under a name never used before.
    package func keepDamagedCopy() throws -> String {
        try keepUnderNewName(statePath + ".damaged-" + Timestamp.now().compactUTC) { name throws(StateJournalError) in
            try fs.keepCopy(of: statePath, as: name, replacing: false)
        }
    }

    /// Writes a file beside STATE.md under `base`, or `base-2`, `base-3`, …
    /// when that name is taken (`write` must refuse an existing name), then
    /// makes its directory entry durable. Returns the name used.
    package func keepUnderNewName(_ base: String, _ write: (String) throws(StateJournalError) -> Void) throws -> String {
        var name = base
        var attempt = 1
        while true {
            do throws(StateJournalError) {
                try write(name)
                try fs.fsyncDirectory(FileSystem.directory(of: statePath))
                return name
            } catch {
                guard error.errno == .fileExists, attempt < 1000 else { throw error }
                attempt += 1
                name = base + "-\(attempt)"
            }
        }
    }
}
