import StateJournal
import StateJournalEngine
import StateJournalModel

/// A ``SystemCalls`` that fails (EIO), once, the first directory `fsync`
/// after the `segment`-th new segment file is renamed into place — the
/// moment a segment exists whose directory entry is not durable. Everything
/// else goes to `base` (e.g. a ``SimulatedDisk``, to crash afterwards).
package final class DirectorySyncFault: ForwardingSystemCalls, @unchecked Sendable {
    package let base: any SystemCalls
    private struct State { var segments = 0; var armed = false; var fired = false }
    private let segment: Int
    private let state = LockedState(State())

    package init(_ base: any SystemCalls, segment: Int = 2) {
        self.segment = segment
        self.base = base
    }

    /// Whether the fault fired.
    package var fired: Bool { state.withLock { $0.fired } }

    package func rename(_ from: String, _ to: String) -> Result<Void, Errno> {
        let result = base.rename(from, to)
        if case .success = result, to.hasSuffix(".log"), to.contains("/segment-") {
            state.withLock { s in
                s.segments += 1
                if s.segments == segment && !s.fired { s.armed = true }
            }
        }
        return result
    }

    package func fsync(_ fd: Int32) -> Result<Void, Errno> {
        let fire = Self.isDirectory(fd) == true && state.withLock { s in
            guard s.armed else { return false }
            s.armed = false
            s.fired = true
            return true
        }
        return fire ? .failure(.ioError) : base.fsync(fd)
    }
}
