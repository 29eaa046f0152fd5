#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import StateJournalModel

/// A value only one thread at a time may use: ``withLock(_:)`` holds a
/// `pthread_mutex_t` while it runs.
///
/// The same shape as the standard library's `Synchronization.Mutex`, which
/// the library used before: on Linux that one waits with `futex` calls that
/// ThreadSanitizer cannot see, so every value it protects was reported as a
/// data race (`swift test --sanitize=thread`, issue 7). ThreadSanitizer
/// intercepts pthread mutexes, so it checks what this one protects instead
/// of flagging it.
package final class Locked<Value>: @unchecked Sendable {
    private var value: Value
    private let mutex = PthreadObject<pthread_mutex_t>.mutex()

    package init(_ value: Value) { self.value = value }

    /// Runs `body` with the value, holding the lock.
    package func withLock<Result, E: Error>(_ body: (inout Value) throws(E) -> Result) throws(E) -> Result {
        pthread_mutex_lock(mutex.pointer)
        defer { pthread_mutex_unlock(mutex.pointer) }
        return try body(&value)
    }
}

/// A pthread mutex or condition variable at a stable address, destroyed
/// with its owner.
private final class PthreadObject<Object> {
    let pointer: UnsafeMutablePointer<Object>
    private let destroy: (UnsafeMutablePointer<Object>) -> Int32

    init(_ blank: Object, create: (UnsafeMutablePointer<Object>) -> Int32,
         destroy: @escaping (UnsafeMutablePointer<Object>) -> Int32) {
        pointer = .allocate(capacity: 1)
        pointer.initialize(to: blank)
        _ = create(pointer)
        self.destroy = destroy
    }

    deinit {
        _ = destroy(pointer)
        pointer.deinitialize(count: 1)
        pointer.deallocate()
    }

    static func mutex() -> PthreadObject<pthread_mutex_t> {
        .init(pthread_mutex_t(), create: { pthread_mutex_init($0, nil) }, destroy: { pthread_mutex_destroy($0) })
    }

    static func condition() -> PthreadObject<pthread_cond_t> {
        .init(pthread_cond_t(), create: { pthread_cond_init($0, nil) }, destroy: { pthread_cond_destroy($0) })
    }
}

/// A counting semaphore on a pthread mutex and condition variable: the
/// `wait()`/`signal()` of `DispatchSemaphore`, which group commit used
/// before, but visible to ThreadSanitizer (on Linux libdispatch waits with
/// `futex` calls it cannot see, so every hand-over between a group-commit
/// leader and the threads it woke was reported as a data race).
package final class Semaphore: @unchecked Sendable {
    private var count: Int
    private let lock = PthreadObject<pthread_mutex_t>.mutex()
    private let signalled = PthreadObject<pthread_cond_t>.condition()
    private var mutex: UnsafeMutablePointer<pthread_mutex_t> { lock.pointer }
    private var condition: UnsafeMutablePointer<pthread_cond_t> { signalled.pointer }

    package init(value: Int = 0) { count = value }

    /// Waits until the count is above zero, then decrements it.
    package func wait() {
        pthread_mutex_lock(mutex)
        while count == 0 { pthread_cond_wait(condition, mutex) }
        count -= 1
        pthread_mutex_unlock(mutex)
    }

    /// Like ``wait()``, but gives up after `timeoutSeconds`; returns whether
    /// the count was taken. (A bound for tests' handshakes, never a timing.)
    package func wait(timeoutSeconds: Double) -> Bool {
        var deadline = timespec()
        clock_gettime(CLOCK_REALTIME, &deadline)
        let nanos = Int(deadline.tv_nsec) + Int((timeoutSeconds - timeoutSeconds.rounded(.down)) * 1e9)
        deadline.tv_sec += Int(timeoutSeconds) + nanos / 1_000_000_000
        deadline.tv_nsec = nanos % 1_000_000_000
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        while count == 0 {
            if pthread_cond_timedwait(condition, mutex, &deadline) == ETIMEDOUT { return false }
        }
        count -= 1
        return true
    }

    /// Increments the count, waking one waiter.
    package func signal() {
        pthread_mutex_lock(mutex)
        count += 1
        pthread_cond_signal(condition)
        pthread_mutex_unlock(mutex)
    }
}
