import StateJournal
import StateJournalEngine
import StateJournalModel

/// A ``SystemCalls`` that forwards to another one, records which paths were
/// opened, and can stand in for the file system in ways a fault injector
/// cannot: report little free space, make chosen files unreadable, or answer
/// `flock` itself.
///
/// Tests use it to prove what the library *did not* do (it never opened the
/// segments before a snapshot; it never appended on a nearly full disk) and
/// to count lock attempts without timing anything.
///
/// ```swift
/// let sys = ObservingSystemCalls()
/// sys.availableSpace = 4096                              // the disk is nearly full
/// sys.unreadable = { $0.hasSuffix("00000000000000000001.log.zst") }
/// sys.flockAnswer = { op in op & LOCK_NB != 0 ? .failure(.wouldBlock) : nil }
/// ```
package final class ObservingSystemCalls: ForwardingSystemCalls, @unchecked Sendable {
    package let base: any SystemCalls
    private struct State {
        var availableSpace: Int64?
        var unreadable: (@Sendable (String) -> Bool)?
        var flockAnswer: (@Sendable (Int32) -> Result<Void, Errno>?)?
        var opened: [String] = []
        var flockCalls = 0
    }

    private let state = LockedState(State())

    package init(_ base: any SystemCalls = RealSystemCalls()) { self.base = base }

    /// When set, what `availableSpace` reports for every path.
    package var availableSpace: Int64? {
        get { state.withLock { $0.availableSpace } }
        set { state.withLock { $0.availableSpace = newValue } }
    }

    /// Paths for which `open` fails with EIO, as if the file could not be read.
    package var unreadable: (@Sendable (String) -> Bool)? {
        get { state.withLock { $0.unreadable } }
        set { state.withLock { $0.unreadable = newValue } }
    }

    /// Answers `flock(fd, operation)` instead of the kernel when it returns
    /// non-nil (gets the operation: `LOCK_EX`, `LOCK_UN`, `| LOCK_NB`).
    package var flockAnswer: (@Sendable (Int32) -> Result<Void, Errno>?)? {
        get { state.withLock { $0.flockAnswer } }
        set { state.withLock { $0.flockAnswer = newValue } }
    }

    /// Every path passed to `open`, in order (also the ones refused).
    package var openedPaths: [String] { state.withLock { $0.opened } }

    /// How many times `flock` was called.
    package var flockCalls: Int { state.withLock { $0.flockCalls } }

    /// Forgets the paths opened so far.
    package func resetObservations() { state.withLock { $0.opened = []; $0.flockCalls = 0 } }

    package func open(_ path: String, flags: Int32, mode: UInt32) -> Result<Int32, Errno> {
        let refuse = state.withLock { s -> Bool in
            s.opened.append(path)
            return s.unreadable?(path) ?? false
        }
        if refuse { return .failure(.ioError) }
        return base.open(path, flags: flags, mode: mode)
    }
    package func flock(_ fd: Int32, operation: Int32) -> Result<Void, Errno> {
        let answer = state.withLock { s -> (@Sendable (Int32) -> Result<Void, Errno>?)? in
            s.flockCalls += 1
            return s.flockAnswer
        }
        if let answer, let result = answer(operation) { return result }
        return base.flock(fd, operation: operation)
    }
    package func availableSpace(_ path: String) -> Result<Int64, Errno> {
        if let space = availableSpace { return .success(space) }
        return base.availableSpace(path)
    }
}
