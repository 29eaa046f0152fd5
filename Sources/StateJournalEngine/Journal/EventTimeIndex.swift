import StateJournalModel
/// Sequence numbers by time: which event was the last one at a given time.
///
/// Built from the events of one segment (the store's per-segment index
/// finds the segment a time falls in), then answered by binary search.
///
/// Writers stamp events with `max(now, last event's time)`, so times never
/// go backwards. An imported history might; the index therefore works on the
/// running maximum of the times, which keeps "the last event at or before T"
/// well defined and the search valid.
package struct EventTimeIndex {
    package private(set) var seqs: [UInt64] = []
    /// Running maximum of the event times, parallel to `seqs`.
    package private(set) var times: [Timestamp] = []

    package init() {}

    package mutating func add(_ event: Event) {
        seqs.append(event.seq)
        times.append(max(times.last ?? event.time, event.time))
    }

    package var isEmpty: Bool { seqs.isEmpty }
    package var firstTime: Timestamp? { times.first }
    package var lastTime: Timestamp? { times.last }
    package var lastSeq: UInt64 { seqs.last ?? 0 }

    /// How many events are at or before `time`.
    package func countAtOrBefore(_ time: Timestamp) -> Int {
        var low = 0, high = times.count
        while low < high {
            let mid = (low + high) / 2
            if times[mid] <= time { low = mid + 1 } else { high = mid }
        }
        return low
    }

    /// The sequence number of the last event at or before `time`, or nil when
    /// `time` is before the first event.
    package func lastSeq(atOrBefore time: Timestamp) -> UInt64? {
        let count = countAtOrBefore(time)
        return count == 0 ? nil : seqs[count - 1]
    }

    /// The time of event `seq` (as indexed: the running maximum).
    package func time(ofSeq seq: UInt64) -> Timestamp? {
        guard let first = seqs.first, seq >= first else { return nil }
        let i = Int(seq - first)
        guard i < seqs.count, seqs[i] == seq else { return nil }
        return times[i]
    }
}

