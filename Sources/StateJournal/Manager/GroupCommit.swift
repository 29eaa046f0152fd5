#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch
import Synchronization
import Logging
import StateJournalEngine

/// Group commit: writes from many threads of one process share a lock
/// acquisition, one append and one `fdatasync`, instead of queuing for one
/// each.
///
/// A writer enqueues its request. If no thread is committing, it becomes the
/// *leader*: it takes every queued request, checks each against the state the
/// ones before it produced, appends the accepted events in one write, rewrites
/// STATE.md once, and wakes their threads. Requests that arrive meanwhile
/// form the next batch, led by the first of them, so no thread commits for
/// others indefinitely.
///
/// ```
/// thread A ─ enqueue ─ lead: lock · fold · check A,B,C · append+fdatasync · unlock · publish ─ wake B,C
/// thread B ─ enqueue ─ wait ──────────────────────────────────────────────────────────────── ─ return
/// thread C ─ enqueue ─ wait ──────────────────────────────────────────────────────────────── ─ return
/// ```
package final class WriteQueue: Sendable {
    /// One thread's write, waiting to be committed.
    package final class Request: @unchecked Sendable {
        // Set by the enqueuing thread before it is queued; read by the leader
        // while that thread waits; the semaphore orders the hand-over.
        package let options: StateManager.WriteOptions
        /// The store the write asked to go through (see
        /// ``StateManager/writeDerived(options:store:_:)``); dropped with `makePayload`.
        package var store: (any JournalStore)?
        /// Dropped by the leader before the request's thread is woken: the
        /// closure must not outlive the call that made it.
        package var makePayload: ((WorkflowState?, Timestamp) throws -> Event.Payload)?
        package var result: Answer?
        /// The leader's bookkeeping: what the request will be answered with
        /// once the batch is durable (and STATE.md shows it).
        package var outcome: StateManager.WriteOutcome?
        package var promoted = false
        package let done = Semaphore(value: 0)

        package init(options: StateManager.WriteOptions, store: (any JournalStore)? = nil,
                     makePayload: @escaping (WorkflowState?, Timestamp) throws -> Event.Payload) {
            self.options = options
            self.store = store
            self.makePayload = makePayload
        }
    }

    /// A request's answer. (Not `Result<WriteOutcome, any Error>`: a
    /// command line process would instantiate that generic type at run time,
    /// with a conformance scan of the whole binary for `any Error: Error`.)
    package enum Answer {
        case success(StateManager.WriteOutcome)
        case failure(any Error)

        package func get() throws -> StateManager.WriteOutcome {
            switch self {
            case .success(let outcome): return outcome
            case .failure(let error): throw error
            }
        }
    }

    private struct State {
        package var pending: [Request] = []
        package var leaderActive = false
        package var enqueued = 0
    }

    private let state = Locked(State())

    /// Queues `request`; returns true when the caller must lead a batch now.
    package func enqueue(_ request: Request) -> Bool {
        state.withLock { s in
            s.pending.append(request)
            if s.leaderActive { return false }
            s.leaderActive = true
            return true
        }
    }

    /// Takes every queued request (the next batch).
    package func takeBatch() -> [Request] {
        state.withLock { s in
            let batch = s.pending
            s.pending = []
            return batch
        }
    }

    /// After a batch: hands leadership to the first queued request, or ends it.
    package func handOff() {
        let next: Request? = state.withLock { s in
            guard let first = s.pending.first else {
                s.leaderActive = false
                return nil
            }
            return first
        }
        if let next {
            next.promoted = true
            next.done.signal()
        }
    }
}

extension StateManager {
    /// Runs one write through the group commit queue.
    package func commitThroughQueue(options: WriteOptions, store: (any JournalStore)? = nil,
                            _ makePayload: (WorkflowState?, Timestamp) throws -> Event.Payload) throws -> WriteOutcome {
        try withoutActuallyEscaping(makePayload) { makePayload in
            let request = WriteQueue.Request(options: options, store: store, makePayload: makePayload)
            var lead = writeQueue.enqueue(request)
            logger.trace("write queued", metadata: ["leads": "\(lead)"])
            while true {
                if lead {
                    commit(writeQueue.takeBatch())
                    writeQueue.handOff()
                }
                request.done.wait()
                if let result = request.result { return try result.get() }
                // Woken without a result: promoted to lead the next batch.
                lead = request.promoted
                request.promoted = false
            }
        }
    }

    /// Commits one batch: one lock, one fold, one append, one STATE.md
    /// rewrite; then wakes every request's thread.
    ///
    /// A request is answered "success" only once what it reports is durable:
    /// a new event after the batch's append returned; a repeated idempotency
    /// key whose original event is in the journal at once (the fold under the
    /// lock read only durable events), one whose original is earlier in this
    /// batch only if the append succeeded. And only once STATE.md shows it.
    private func commit(_ batch: [WriteQueue.Request]) {
        guard !batch.isEmpty else { return }
        var reached: (seq: UInt64, event: UInt32)?
        // One store for the lock hold and the STATE.md rewrite after it: the
        // projector reads on from where the writer's fold ended, with the
        // listing the writer took (while it is current). Unless a request
        // brought its own, the leaders' store, kept from batch to batch.
        let given = batch.lazy.compactMap(\.store).first
        let context = given == nil ? takeWriterContext() : nil
        defer { if let context { returnWriterContext(context) } }
        let store = given ?? context?.store ?? makeStore()
        // The state this batch reached, and whether the projectors' lock was
        // taken for it while the writers' lock was still held.
        var reachedState: WorkflowState?
        var projectorHeld = false
        defer { if projectorHeld { context?.projectorLock.release() } }
        do {
            try store.withWriteLock(configuration.lock, command: configuration.command) {
                // An edit of STATE.md is recorded before the batch, which applies on top of it.
                let stateFile = try recordEditBeforeWriting(store)
                let start = try currentFold(store)
                var folded = start
                var events: [Event] = []
                for request in batch {
                    do {
                        guard let makePayload = request.makePayload else { continue }
                        request.outcome = try prepare(request.options, makePayload, on: &folded, pending: events, store: store)
                        if let outcome = request.outcome, !outcome.wasDuplicate { events.append(outcome.event) }
                    } catch {
                        request.result = .failure(error)
                    }
                }
                // Duplicates of events already in the journal are answered
                // whatever happens to the append: their originals are durable.
                reached = start.state == nil ? nil : start.position
                if let state = folded.state, !events.isEmpty {
                    do {
                        // `.eager`: STATE.md is looked at before the append
                        // (a symbolic link is refused before anything is
                        // written; the look for an edit just made), and what
                        // was seen sizes its rewrite.
                        var linksChecked = false
                        if configuration.projection == .eager, let context {
                            let known = stateFile
                            if known?.isSymbolicLink == true { try fs.refuseSymbolicLink(statePath, as: "the state file") }
                            try fs.refuseSymbolicLink(projectorLockPath, as: "a lock file")
                            context.stateFile = known
                            linksChecked = true
                        }
                        // The cadence counts from the newest snapshot, also one this batch wrote.
                        folded.snapshotSeq = try appendEvents(events, after: start, reaching: state, to: store, context: context,
                                                              linksChecked: linksChecked)
                    } catch {
                        foldCache.withLock { $0 = nil }
                        // Only what was durable before the batch stands.
                        for request in batch {
                            if let outcome = request.outcome, outcome.event.seq > start.lastSeq {
                                request.outcome = nil
                                request.result = .failure(error)
                            }
                        }
                        throw error
                    }
                }
                remember(folded, store)
                reached = folded.state == nil ? nil : folded.position
                reachedState = folded.state
                // STATE.md for the state this batch reached, by the writer
                // itself (`.eager`): with the projectors' lock taken now,
                // without waiting, while the writers' lock is still held —
                // the journal holds nothing newer and no projector is at
                // work, so none can have shown a later state, and any that
                // comes later waits for this one. (A projector at work keeps
                // it: then the usual way, below.)
                if configuration.projection == .eager, let context, !events.isEmpty, reachedState != nil {
                    projectorHeld = (try? context.projectorLock.tryAcquire(command: configuration.command + " (projecting STATE.md)")) ?? false
                }
            }
        } catch {
            // The lock, the fold or the append failed: nothing of the batch
            // was written; requests not answered yet (and not duplicates of
            // durable events) say so.
            for request in batch where request.result == nil && request.outcome == nil {
                request.result = .failure(error)
            }
        }
        // A write — also a repeated one, found by its idempotency key —
        // returns only once STATE.md shows it (or a later state).
        let succeeded = batch.filter { $0.outcome != nil }
        if !succeeded.isEmpty, let reached {
            do {
                if projectorHeld, let context, let state = reachedState {
                    try replaceProjection(showing: state, underProjectorLock: context.projectorLock, known: context.stateFile)
                } else if configuration.projection == .manual, context?.stateFileSeen == true {
                    // `.manual`: STATE.md is rewritten only when asked.
                } else {
                    // (The projectors' lock, if this batch took it, is taken again there.)
                    if projectorHeld { context?.projectorLock.release(); projectorHeld = false }
                    try publish(reached, policy: configuration.projection, store: store)
                    context?.stateFileSeen = true
                }
                for request in succeeded { request.result = request.outcome.map { .success($0) } }
            } catch {
                for request in succeeded {
                    guard let outcome = request.outcome else { continue }
                    let seq = outcome.event.seq
                    // The cause's errno is in its description already: not repeated.
                    let failure = StateJournalError(.io,
                        "the event is durable in the journal (seq \(seq)) and will not be lost, but rewriting '\(statePath)' failed: \(error); "
                        + "do not write it again (that would record it twice) — STATE.md is regenerated by the next statejournal command that can write its directory",
                        path: statePath, durableSeq: seq)
                    request.result = .failure(failure)
                }
            }
        } else {
            for request in succeeded { request.result = request.outcome.map { .success($0) } }
        }
        for request in batch {
            if request.result == nil { request.result = .failure(StateJournalError(.io, "internal: a write was not answered")) }
            request.makePayload = nil
            request.store = nil
            request.outcome = nil
            request.done.signal()
        }
    }

    /// Checks one request against the state the batch has reached, and
    /// advances that state by its event.
    private func prepare(_ options: WriteOptions, _ makePayload: (WorkflowState?, Timestamp) throws -> Event.Payload,
                         on folded: inout Folded, pending: [Event], store: any JournalStore) throws -> WriteOutcome {
        if let key = options.idempotencyKey, let seq = folded.idempotencyKeys[key], let state = folded.state {
            let original = try pending.first(where: { $0.seq == seq }) ?? event(seq, in: store)
            if let original {
                // A key reused for a different write is a conflict, not a
                // retry (like a payment API's): the payloads are compared,
                // never the envelope (time, pid, actor).
                try checkSameWrite(original, key: key, makePayload, now: folded.state, in: pending.contains { $0.seq == seq } ? nil : store)
                return WriteOutcome(event: original, state: state, wasDuplicate: true)
            }
        }
        if let expected = options.expectSeq, expected != folded.lastSeq {
            throw StateJournalError(.conflict,
                "the journal is at seq \(folded.lastSeq), not \(expected) as expected; nothing was written — reread the state and retry")
        }
        let time = max(Timestamp.now(), folded.lastTime)
        let payload = try makePayload(folded.state, time)
        var event = Event(seq: folded.lastSeq + 1, time: time, actor: configuration.actor, pid: getpid(),
                          idempotencyKey: options.idempotencyKey, payload: payload)
        // Here, not only at the append: an event too large for one record
        // fails alone instead of failing every write of its batch.
        let encoded = event.encoded()
        try store.checkFits(event, encoded: encoded)
        event.identity = encoded.withUnsafeBytes { CRC32C.maskedFramed($0) }
        try folded.apply(event)
        guard let state = folded.state else { throw StateJournalError(.io, "internal: the fold produced no state") }
        return WriteOutcome(event: event, state: state, wasDuplicate: false)
    }
}
