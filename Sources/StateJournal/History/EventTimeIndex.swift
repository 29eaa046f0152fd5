/// Sequence numbers by time: which event was the last one at a given time.
///
/// Built from the events of one segment (the store's per-segment index
/// finds the segment a time falls in), then answered by binary search.
///
/// Writers stamp events with `max(now, last event's time)`, so times never
/// go backwards. An imported history might; the index therefore works on the
/// running maximum of the times, which keeps "the last event at or before T"
/// well defined and the search valid.
struct EventTimeIndex {
    private(set) var seqs: [UInt64] = []
    /// Running maximum of the event times, parallel to `seqs`.
    private(set) var times: [Timestamp] = []

    init() {}

    mutating func add(_ event: Event) {
        seqs.append(event.seq)
        times.append(max(times.last ?? event.time, event.time))
    }

    var isEmpty: Bool { seqs.isEmpty }
    var firstTime: Timestamp? { times.first }
    var lastTime: Timestamp? { times.last }
    var lastSeq: UInt64 { seqs.last ?? 0 }

    /// How many events are at or before `time`.
    func countAtOrBefore(_ time: Timestamp) -> Int {
        var low = 0, high = times.count
        while low < high {
            let mid = (low + high) / 2
            if times[mid] <= time { low = mid + 1 } else { high = mid }
        }
        return low
    }

    /// The sequence number of the last event at or before `time`, or nil when
    /// `time` is before the first event.
    func lastSeq(atOrBefore time: Timestamp) -> UInt64? {
        let count = countAtOrBefore(time)
        return count == 0 ? nil : seqs[count - 1]
    }

    /// The time of event `seq` (as indexed: the running maximum).
    func time(ofSeq seq: UInt64) -> Timestamp? {
        guard let first = seqs.first, seq >= first else { return nil }
        let i = Int(seq - first)
        guard i < seqs.count, seqs[i] == seq else { return nil }
        return times[i]
    }
}

extension StateManager {
    /// The sequence number of the last event at or before `time`, from the
    /// store's sequence ↔ time index (it decodes at most one segment).
    ///
    /// - Throws: `.notInitialized` when the journal is empty; `.badInput`
    ///   when `time` is before the first event (the message names that
    ///   event's time).
    public func lastSeq(atOrBefore time: Timestamp) throws -> UInt64 {
        try resolve(time, in: makeStore())
    }

    func resolve(_ time: Timestamp, in store: any JournalStore) throws -> UInt64 {
        guard let bounds = try store.bounds() else {
            throw StateJournalError(.notInitialized,
                "the journal at '\(statePath)' is empty; there is no state at \(time.rfc3339) — run 'statejournal init' or 'statejournal import' first")
        }
        guard let seq = try store.lastSeq(atOrBefore: time) else {
            throw StateJournalError.badInput(
                "\(time.rfc3339) is before the first event (seq \(bounds.firstSeq) at \(bounds.firstTime.rfc3339), "
                + "\(bounds.firstTime.localDateTime) local); give a time at or after it")
        }
        return seq
    }
}
